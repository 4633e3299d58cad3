"""A sharded FAISS index: one IVF quantizer trained once on a sample, shards built in parallel
Ray tasks (``add_with_ids``), searched together by fan-out with a merged top-k.

Every shard is a copy of the trained (empty) index with its own slice of the vectors, so
the shards share centroids and their scores compare. Filters work as on one index: an
allowed-id selector goes to every shard's search. ``nlist=0`` builds exact (flat) shards,
whose merged top-k is exactly one flat index's.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from core.errors import BadInputError


@dataclasses.dataclass
class ShardSpec:
    """How a sharded index is built."""

    shards: int = 4  # shards built in parallel
    nlist: int = 1024  # IVF lists (0: exact flat shards)
    train_size: int = 100_000  # vectors the quantizer is trained on (a random sample)
    seed: int = 0  # sample seed


def trained_index(vectors: np.ndarray, spec: ShardSpec) -> faiss.Index:
    """An empty index whose quantizer is trained once on a sample of ``vectors``."""
    dim = vectors.shape[1]
    if spec.nlist == 0:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(vectors) < spec.nlist:
        raise BadInputError(f"{len(vectors)} vectors cannot train {spec.nlist} IVF lists: lower nlist")
    rng = np.random.default_rng(spec.seed)
    sample = vectors[rng.choice(len(vectors), min(spec.train_size, len(vectors)), replace=False)]
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, spec.nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(np.ascontiguousarray(sample, np.float32))
    return index


def fill_shard(trained: bytes, ids: np.ndarray, vectors: np.ndarray) -> bytes:
    """One shard: the trained index with ``ids``/``vectors`` added (a Ray task; bytes in and out)."""
    index = faiss.deserialize_index(np.frombuffer(trained, np.uint8))
    index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.asarray(ids, np.int64))
    return faiss.serialize_index(index).tobytes()


@dataclasses.dataclass
class BuildTimes:
    """Where a sharded build's time went."""

    train_s: float
    shard_s: list[float]  # per shard, as its task measured it
    total_s: float  # train + all shards built (in parallel) + gathered


def build_shards(ids: np.ndarray, vectors: np.ndarray, spec: ShardSpec, use_ray: bool = True
                 ) -> tuple[ShardedIndex, BuildTimes]:
    """Train once, then fill ``spec.shards`` shards (in Ray tasks, or one after another here)."""
    if len(ids) != len(vectors):
        raise BadInputError(f"{len(ids)} ids for {len(vectors)} vectors")
    clock = time.perf_counter()
    trained = faiss.serialize_index(trained_index(vectors, spec)).tobytes()
    train_s = time.perf_counter() - clock
    parts = np.array_split(np.arange(len(ids)), spec.shards)
    if use_ray:
        import ray

        task = ray.remote(num_cpus=1)(_timed_fill)
        trained_ref = ray.put(trained)
        built = ray.get([task.remote(trained_ref, ids[p], vectors[p]) for p in parts])
    else:
        built = [_timed_fill(trained, ids[p], vectors[p]) for p in parts]
    shards = [faiss.deserialize_index(np.frombuffer(data, np.uint8)) for data, _ in built]
    return ShardedIndex(shards), BuildTimes(train_s, [s for _, s in built], time.perf_counter() - clock)


def _timed_fill(trained: bytes, ids: np.ndarray, vectors: np.ndarray) -> tuple[bytes, float]:
    clock = time.perf_counter()
    data = fill_shard(trained, ids, vectors)
    return data, time.perf_counter() - clock


class ShardedIndex:
    """Shards searched together: each returns its top-k, the merge keeps the best k."""

    def __init__(self, shards: Sequence[faiss.Index]):
        if not shards:
            raise BadInputError("a sharded index needs at least one shard")
        self.shards = list(shards)

    def __len__(self) -> int:
        return sum(s.ntotal for s in self.shards)

    def search(self, queries: np.ndarray, k: int, nprobe: int = 32,
               allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query over all shards; ``allowed_ids`` filters (-1 pads)."""
        queries = np.ascontiguousarray(queries, np.float32)
        params = self._params(nprobe, allowed_ids)
        # One shard after another: FAISS already spreads a batch of queries over all cores with
        # OpenMP, and threads on top of it oversubscribe them. On a cluster each shard lives on
        # its own node and the fan-out is across nodes (docs/CLUSTER.md).
        found = [shard.search(queries, k, params=params) for shard in self.shards]
        scores = np.concatenate([s for s, _ in found], axis=1)
        ids = np.concatenate([i for _, i in found], axis=1)
        scores = np.where(ids < 0, -np.inf, scores)
        best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, best, 1), np.take_along_axis(ids, best, 1)

    def _params(self, nprobe: int, allowed_ids: np.ndarray | None) -> Any:
        module: Any = faiss  # its SWIG stubs do not know the keyword constructors
        selector = None if allowed_ids is None else module.IDSelectorBatch(np.asarray(allowed_ids, np.int64))
        kwargs: dict[str, Any] = {} if selector is None else {"sel": selector}
        if isinstance(self.shards[0], faiss.IndexIVF):
            return module.SearchParametersIVF(nprobe=nprobe, **kwargs)
        return module.SearchParameters(**kwargs) if kwargs else None

    def save(self, folder: str | Path) -> None:
        """One file per shard and a meta.json naming them."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        names = [f"shard-{i:03d}.faiss" for i in range(len(self.shards))]
        for name, shard in zip(names, self.shards, strict=True):
            faiss.write_index(shard, str(folder / name))
        (folder / "meta.json").write_text(json.dumps({"shards": names, "ntotal": len(self)}, indent=1))

    @classmethod
    def load(cls, folder: str | Path) -> ShardedIndex:
        folder = Path(folder)
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError) as exc:
            raise BadInputError(f"{folder}: not a sharded index ({exc})") from None
        return cls([faiss.read_index(str(folder / name)) for name in meta["shards"]])
