"""Which encoder a command uses: one policy for every command, the app and the ingest sink.

1. the encoder (or spec) the user named (``--encoder``);
2. else the data directory's current trained model version (``stylescope train`` / ``retrain``
   / the app's model switch make one current);
3. else the encoder that built the live index;
4. else the default encoder (``default`` in ``configs/encoders.yaml``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from inference.index import GarmentIndexError, live_encoder_info
from models.base import Encoder
from models.registry import create_encoder
from models.settings import load_settings
from models.versions import current_encoder_spec


def encoder_spec(spec: str | None, data_dir: str | Path | None) -> str:
    """The registry spec of the encoder to use (see the module's policy).

    Without ``data_dir`` only the named spec and the default count.

    Raises:
        VersionError: the current model version's ``version.json`` is missing or unreadable.
    """
    if spec:
        return spec
    if data_dir is not None:
        current = current_encoder_spec(data_dir)
        if current:
            return current
        with contextlib.suppress(GarmentIndexError):  # a damaged index is reported where it is used
            built = live_encoder_info(data_dir)
            if built:
                return str(built["name"])
    return load_settings().default


def resolve_encoder(spec: Encoder | str | None, data_dir: str | Path | None) -> Encoder:
    """``spec`` itself when it is an encoder, else the encoder :func:`encoder_spec` names, built."""
    if spec is not None and not isinstance(spec, str):
        return spec
    return create_encoder(encoder_spec(spec, data_dir))
