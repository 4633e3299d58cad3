"""Named fault points for the fault-injection tests.

Code that must survive being killed calls ``fault_point("ingest.committed")`` at the moments
between two writes. When ``$STYLESCOPE_KILL_AT`` names that point, the process kills itself
there with SIGKILL (no cleanup, no ``finally``), as a power cut or the OOM killer would.
Unset, a fault point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV_VAR = "STYLESCOPE_KILL_AT"

POINTS = (
    "ingest.claimed",  # a video's processing row is claimed, nothing else written
    "ingest.crops_written",  # its crops are on disk, the catalog does not name them yet
    "ingest.committed",  # frames and garments committed as done, not yet in the index
    "ingest.indexed",  # garments in the index, the claim not yet released
    "index.version_built",  # a rebuilt version is on disk, not yet live
    "index.staging",  # a version is being written in its staging folder
    "sync.embedded",  # sync has embedded the missing garments, not yet added them
)


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL if ``$STYLESCOPE_KILL_AT`` is ``name``."""
    if os.environ.get(ENV_VAR) == name:
        os.kill(os.getpid(), signal.SIGKILL)
