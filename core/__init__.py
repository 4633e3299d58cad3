"""Ground helpers every layer may import: user-facing errors and the data directory's files.

Nothing here imports another stylescope package, so ``models``, ``inference``, ``world``,
``training`` and ``app`` can all stand on it.
"""
