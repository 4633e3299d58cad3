"""Settings of the garment index (the ``index`` section of ``configs/index.yaml``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import configs


@dataclasses.dataclass
class IndexConfig:
    """Settings of the garment index (the ``index`` section of configs/index.yaml)."""

    flat_factory: str = "IDMap2,Flat"  # FAISS factory while small: exact inner product
    approx_factory: str = "IVF{nlist},SQ8"  # factory past the threshold ({nlist} {pq_m} {dim})
    approx_threshold: int = configs.setting(50_000, low=1)  # garments from which a (re)build uses approx_factory
    nlist_per_sqrt: float = configs.setting(1.0, low=0, low_open=True)  # IVF lists = this x sqrt(garments), rounded to a power of two
    pq_bytes_per_dim: float = configs.setting(0.25, low=0, low_open=True)  # PQ factories: code bytes per dimension (64 at dim 256)
    nprobe: int = configs.setting(32, low=1)  # IVF lists visited per query
    ef_search: int = configs.setting(128, low=1)  # HNSW search breadth, for HNSW factories
    rerank_factor: int = configs.setting(2, low=1)  # approximate search fetches k x this candidates, re-ranked exactly
    train_sample: int = configs.setting(65_536, low=1)  # at most this many embeddings train an approximate index
    auto_upgrade: bool = True  # an add crossing the threshold rebuilds approximate, from the store
    max_segments: int = configs.setting(32, low=1)  # embedding segments past which they are all merged into one file (a backstop:
    # appends merge a new segment into the one before it while that one is no larger, so adds of
    # similar size keep about log2(N) segments and rewrite a row about log2(N) times, not N / add)
    checkpoint_share: float = configs.setting(0.2, low=0)  # the FAISS file is rewritten once the rows added since it was written
    checkpoint_rows: int = configs.setting(20_000, low=0)  # exceed both this share of the index and this many; loading adds them
    verify_checksums: bool = True  # check every file's sha256 when a version is loaded
    keep_versions: int = configs.setting(2, low=0)  # older versions kept on disk after a switch, besides the live one
    embed_batch_size: int = configs.setting(64, low=1)  # crops per encoder batch when (re-)embedding from crop files
    exact_filter_max: int = configs.setting(20_000, low=0)  # filters selecting at most this many garments search exactly
    reload_check_s: float = configs.setting(1.0, low=0)  # seconds between checks for a newer version written elsewhere
    seed: int = configs.setting(0, low=0)  # seed of the training sample

    @classmethod
    def load(cls, user_file: str | Path | None = None) -> IndexConfig:
        """The packaged index config, with a user file merged over it."""
        return configs.from_dict(cls, configs.load("index", user_file).get("index", {}), prefix="index.")
