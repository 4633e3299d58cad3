"""Which encoder a command uses: one policy for every command, the app and the ingest sink.

1. the encoder (or spec) the user named (``--encoder``);
2. else the data directory's current trained model version (``stylescope train`` / ``retrain``
   / the app's model switch make one current);
3. else the encoder that built the live index;
4. else the default encoder (``default`` in ``configs/encoders.yaml``).

A current model version that the live index was not built with (a retrain without
``--reindex``) does not take over the index silently: the index's encoder stays in use, with a
warning saying how to switch, so that search and ingest keep working on the vectors they have.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from inference.index import GarmentIndexError, index_root, read_current, read_meta
from models.base import Encoder
from models.registry import create_encoder
from models.settings import load_settings
from models.versions import current_encoder_spec

logger = logging.getLogger(__name__)


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
        built, indexed = _live_index(data_dir)
        if current and built and indexed and built != current:
            logger.warning("the current model version (%s) has not indexed the garments yet; using the index's "
                           "encoder (%s): run `stylescope index rebuild` to switch", current, built)
            return built
        if current or built:
            return current or built or ""
    return load_settings().default


def _live_index(data_dir: str | Path) -> tuple[str | None, int]:
    """The live index's encoder spec and how many garments it holds ((None, 0) without one)."""
    with contextlib.suppress(GarmentIndexError, KeyError, ValueError):  # a damaged index is reported where it is used
        name = read_current(data_dir)
        if name is not None:
            meta = read_meta(index_root(data_dir) / name)
            return str(meta["encoder"]["name"]), int(meta.get("count", 0))
    return None, 0


def resolve_encoder(spec: Encoder | str | None, data_dir: str | Path | None) -> Encoder:
    """``spec`` itself when it is an encoder, else the encoder :func:`encoder_spec` names, built."""
    if spec is not None and not isinstance(spec, str):
        return spec
    return create_encoder(encoder_spec(spec, data_dir))
