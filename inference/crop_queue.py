"""The crop queue: garment crops of successive videos, embedded in batches that span videos.

Ingest decodes and localises one video after another on its own thread; each video's crops
are preprocessed there (:meth:`models.base.Encoder.preprocess_images`, numpy) and put on the
queue, and a worker thread runs the encoder's forward pass on batches of ``batch_size``
crops taken in order, across video boundaries, while the next videos decode. A video comes
back (:meth:`CropQueue.ready`) once every one of its crops is embedded, with its vectors in
the order of its crops, and videos come back in the order they were put, so the index takes
each video whole and in submission order.

Batches are cut by count only (full batches while crops keep coming, the rest when the
queue is drained), never by timing, so the same crops always make the same batches and the
same vectors. Memory is bounded: :meth:`CropQueue.put` waits while ``max_waiting`` crops
wait for the encoder. A batch whose forward pass fails with a :class:`StylescopeError`
fails the videos with crops in it, and only those.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from core.errors import StylescopeError
from models.base import torch_threads

K = TypeVar("K")


@dataclasses.dataclass
class Embedded(Generic[K]):
    """One video's crops through the encoder: vectors in crop order, or the error of a batch."""

    key: K  # what the caller put the crops under
    vectors: np.ndarray  # (crops, dim), or (0, 0) when there were none or a batch failed
    error: StylescopeError | None = None
    seconds: float = 0.0  # this video's share of the forward passes its crops went through


@dataclasses.dataclass
class QueueStats:
    """What the encoder thread did: for benchmarks and the ingest log."""

    batch_sizes: list[int] = dataclasses.field(default_factory=list)
    forward_s: float = 0.0  # in the forward pass
    idle_s: float = 0.0  # waiting for crops

    @property
    def crops(self) -> int:
        return sum(self.batch_sizes)


@dataclasses.dataclass
class _Video(Generic[K]):
    key: K
    waiting: int  # crops not embedded yet
    parts: list[np.ndarray] = dataclasses.field(default_factory=list)
    error: StylescopeError | None = None
    seconds: float = 0.0


@dataclasses.dataclass
class _Slice:
    video: _Video[Any]
    prepared: Any  # a run of the video's preprocessed crops (an array or a list: sliceable)
    count: int


class CropQueue(Generic[K]):
    """Embeds the crops put on it on a worker thread, ``batch_size`` at a time across videos.

    Args:
        prepare: crops -> the encoder's input batch (runs on the thread calling :meth:`put`).
        forward: an input batch -> (n, dim) vectors (runs on the worker thread).
        batch_size: crops per forward pass.
        max_waiting: :meth:`put` waits while this many crops wait (at least ``batch_size``).
        threads: torch intra-op threads for the forward passes (0: leave torch's setting).
    """

    def __init__(self, prepare: Callable[[Sequence[np.ndarray]], Any], forward: Callable[[Any], np.ndarray],
                 batch_size: int, max_waiting: int, threads: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.prepare, self.forward = prepare, forward
        self.batch_size, self.max_waiting = batch_size, max(max_waiting, batch_size)
        self.threads = threads
        self.stats = QueueStats()
        self._videos: deque[_Video[K]] = deque()  # put, not yet handed back, in order
        self._slices: deque[_Slice] = deque()  # crops waiting for the encoder, in order
        self._waiting = 0  # crops in _slices
        self._draining = False  # no more puts: the last batch may be short
        self._stopped = False  # drop what waits and end the worker
        self._fault: BaseException | None = None  # a bug on the worker, raised on the caller's thread
        self._lock = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="crop-queue", daemon=True)
        self._worker.start()

    def __enter__(self) -> CropQueue[K]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, key: K, crops: Sequence[np.ndarray]) -> None:
        """Queue one video's crops (none is fine: it comes back in its turn with no vectors)."""
        prepared = self.prepare(crops) if len(crops) else None
        with self._lock:
            self._lock.wait_for(lambda: self._waiting < self.max_waiting or self._fault is not None)
            self._raise_fault()
            video = _Video(key, len(crops))
            self._videos.append(video)
            if len(crops):
                self._slices.append(_Slice(video, prepared, len(crops)))
                self._waiting += len(crops)
                self._lock.notify_all()

    def ready(self) -> list[Embedded[K]]:
        """The videos at the head of the queue whose crops are all embedded (never waits)."""
        with self._lock:
            self._raise_fault()
            return self._pop_done()

    def drain(self) -> Iterator[Embedded[K]]:
        """Embed what is left (the last batch may be short), yielding videos as they come back."""
        with self._lock:
            self._draining = True
            self._lock.notify_all()
        while True:
            with self._lock:
                self._lock.wait_for(lambda: not self._videos or self._videos[0].waiting == 0
                                    or self._fault is not None)
                self._raise_fault()
                done = self._pop_done()
                if not done and not self._videos:
                    return
            yield from done

    def close(self) -> None:
        """Stop the worker; crops still waiting are dropped."""
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        self._worker.join()

    # -- the worker ------------------------------------------------------------------------
    def _raise_fault(self) -> None:
        if self._fault is not None:
            raise RuntimeError("the crop queue's encoder thread failed") from self._fault

    def _pop_done(self) -> list[Embedded[K]]:
        done = []
        while self._videos and self._videos[0].waiting == 0:
            video = self._videos.popleft()
            vectors = np.concatenate(video.parts) if video.parts and video.error is None else np.zeros((0, 0), np.float32)
            done.append(Embedded(video.key, vectors, video.error, video.seconds))
        return done

    def _run(self) -> None:
        with torch_threads(self.threads):
            try:
                while (batch := self._next_batch()) is not None:
                    self._embed(batch)
            except BaseException as exc:  # a bug, not a bad video: the caller's next call raises it
                with self._lock:
                    self._fault = exc
                    self._lock.notify_all()

    def _next_batch(self) -> list[_Slice] | None:
        """The next ``batch_size`` waiting crops (fewer once draining); None when done."""
        clock = time.perf_counter()
        with self._lock:
            self._lock.wait_for(lambda: self._stopped or self._draining or self._waiting >= self.batch_size)
            self.stats.idle_s += time.perf_counter() - clock
            if self._stopped or self._waiting == 0:
                return None
            batch, wanted = [], self.batch_size
            while wanted and self._slices:
                head = self._slices[0]
                if head.count <= wanted:
                    batch.append(self._slices.popleft())
                else:  # split the video: the rest waits for the next batch
                    batch.append(_Slice(head.video, head.prepared[:wanted], wanted))
                    self._slices[0] = _Slice(head.video, head.prepared[wanted:], head.count - wanted)
                wanted -= batch[-1].count
            self._waiting -= self.batch_size - wanted
            self._lock.notify_all()  # room for the next put
            return batch

    def _embed(self, batch: list[_Slice]) -> None:
        clock = time.perf_counter()
        error: StylescopeError | None = None
        vectors = np.zeros((0, 0), np.float32)
        try:
            vectors = np.asarray(self.forward(_join([s.prepared for s in batch])), np.float32)
        except StylescopeError as exc:
            error = exc
        seconds = time.perf_counter() - clock
        size = sum(s.count for s in batch)
        with self._lock:
            self.stats.forward_s += seconds
            self.stats.batch_sizes.append(size)
            start = 0
            for part in batch:
                video = part.video
                if error is None:
                    video.parts.append(vectors[start : start + part.count])
                video.error = video.error or error
                video.seconds += seconds * part.count / size
                video.waiting -= part.count
                start += part.count
            self._lock.notify_all()


def _join(parts: list[Any]) -> Any:
    """Runs of preprocessed crops as one input batch (arrays stacked, lists chained)."""
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)
    return list(itertools.chain.from_iterable(parts))
