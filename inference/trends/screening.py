"""Keep crops that are not garments out of styles: the garment check's verdict on each garment.

The ingest checks each video's crops as it commits them when ``ingest.garment_check`` is on
(:func:`check_garments`); :func:`screen_garments` catches up with the rest before clustering;
:func:`garment_verdicts` gives the verdicts of chosen garments only (measuring what it must),
for the rules that judge styles after clustering (:mod:`inference.trends.style_check`).

:func:`screen_garments` measures every garment whose signals were not yet measured by the
current classifier (its crop from the data directory, in batches), judges every stored
verdict that the current thresholds did not make (from the stored signals: no pixels, no
classifier), stores both, and returns the ids of the garments found not to be garments with
counts per reason and per kind. A crop is measured once; a re-run only measures garments
ingested since, and a change of thresholds only re-judges.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from inference.catalog import Catalog, GarmentCheckRecord, GarmentEvidenceRecord
from inference.garment_check import (
    CropEvidence,
    CropSignals,
    GarmentCheckConfig,
    GarmentChecker,
    GarmentVerdict,
    judge,
    judged_by,
    load_config,
    measured_by,
)

logger = logging.getLogger(__name__)

BATCH = 256  # crops read and checked at a time (a frame's crops stay in one batch)


@dataclasses.dataclass
class Screening:
    """What the garment check set aside."""

    excluded: frozenset[int]  # ids of every garment found not to be a garment (this run or before)
    checked: int  # garments whose crops were measured this run
    rejudged: int  # stored verdicts judged again under changed thresholds
    seconds: float  # time this run's checks took
    reasons: dict[str, int]  # non-garments per reason
    by_kind: dict[str, int]  # non-garments per garment kind (top, bottom, full)

    def to_dict(self) -> dict[str, Any]:
        return {"set_aside": len(self.excluded), "reasons": dict(self.reasons), "by_kind": dict(self.by_kind),
                "checked": self.checked, "rejudged": self.rejudged, "seconds": round(self.seconds, 2)}

    def summary(self) -> str:
        """One line for the text report."""
        why = ", ".join(f"{n} {reason}" for reason, n in self.reasons.items())
        return f"garment check: {len(self.excluded)} crops set aside as non-garments" + (f" ({why})" if why else "")


def screen_garments(catalog: Catalog, checker: GarmentChecker | None = None) -> Screening:
    """Measure the garments without signals, re-judge stale verdicts, and return what is set aside."""
    start = time.perf_counter()
    checker = checker or GarmentChecker(load_config())
    config = checker.config
    unchecked = catalog.unchecked_garment_ids(measured_by(config))
    check_garments(catalog, unchecked, checker)
    stale = [c for c in catalog.garment_checks() if c.judged_by != judged_by(config)]
    if stale:
        catalog.save_garment_checks([_record(c.garment_id, judge(_signals(c), config), config) for c in stale])
    screening = _summarise(catalog, len(unchecked), len(stale), time.perf_counter() - start)
    logger.info("garment check: %d crops measured, %d re-judged in %.1f s; %d set aside %s", screening.checked,
                screening.rejudged, screening.seconds, len(screening.excluded), screening.reasons)
    return screening


def garment_verdicts(catalog: Catalog, garment_ids: Sequence[int], checker: GarmentChecker) -> dict[int, GarmentCheckRecord]:
    """The garment check's verdict on each of ``garment_ids``: the stored one, judged again
    when the thresholds changed, else measured now together with every crop of its frame
    (a person's crops are judged together). A garment never measured whose crop is gone or
    cannot be read gets no verdict (there is nothing to judge)."""
    config = checker.config
    wanted = {int(i) for i in garment_ids}
    unmeasured = wanted & set(catalog.unchecked_garment_ids(measured_by(config)))
    if unmeasured:
        garments = catalog.clusterable_garments()
        frames = {g.frame_id for g in garments if g.id in unmeasured}
        todo = sorted((g.frame_id, g.id) for g in garments if g.frame_id in frames)
        check_garments(catalog, [garment_id for _, garment_id in todo], checker, unreadable="skip")
    stored = {c.garment_id: c for c in catalog.garment_checks() if c.garment_id in wanted}
    stale = [c for c in stored.values() if c.judged_by != judged_by(config)]
    if stale:
        fresh = [_record(c.garment_id, judge(_signals(c), config), config) for c in stale]
        catalog.save_garment_checks(fresh)
        stored.update({c.garment_id: c for c in fresh})
    return stored


def check_garments(catalog: Catalog, garment_ids: Sequence[int], checker: GarmentChecker,
                   unreadable: str = "black") -> None:
    """Measure and judge the stored crops of ``garment_ids`` (garments of done videos) and store the verdicts.

    A crop that cannot be read is judged as a black pixel (``unreadable="black"``: a
    non-garment), or gets no verdict (``"skip"``).
    """
    for batch in _batches(catalog.garment_evidence(garment_ids)):
        read = [_read_rgb(catalog, r.crop_path, warn=unreadable == "black") for r in batch]
        if unreadable == "skip":
            batch = [r for r, image in zip(batch, read, strict=True) if image is not None]
            read = [image for image in read if image is not None]
            if not batch:
                continue
        images = [np.zeros((8, 8, 3), np.uint8) if image is None else image for image in read]
        verdicts = checker.check_many(images, [crop_evidence(r) for r in batch])
        catalog.save_garment_checks([_record(r.garment_id, v, checker.config) for r, v in zip(batch, verdicts,
                                                                                            strict=True)])


def crop_evidence(record: GarmentEvidenceRecord) -> CropEvidence:
    """What the check weighs besides a stored garment's pixels."""
    return CropEvidence(record.method, record.kind, record.person, (record.frame_width, record.frame_height),
                        record.frame_sharpness, (record.frame_id, record.method))


def _summarise(catalog: Catalog, checked: int, rejudged: int, seconds: float) -> Screening:
    kinds = {g.id: g.kind for g in catalog.clusterable_garments()}
    rejected = [c for c in catalog.garment_checks() if not c.is_garment]
    reasons = collections.Counter(c.reason for c in rejected)
    by_kind = collections.Counter(kinds.get(c.garment_id, "?") for c in rejected)
    return Screening(frozenset(c.garment_id for c in rejected), checked, rejudged, seconds,
                     dict(sorted(reasons.items())), dict(sorted(by_kind.items())))


def _record(garment_id: int, verdict: GarmentVerdict, config: GarmentCheckConfig) -> GarmentCheckRecord:
    s = verdict.signals
    return GarmentCheckRecord(garment_id, verdict.is_garment, verdict.reason, verdict.score, s.clothing,
                              s.outfit_clothing, s.printed, s.sharpness, s.detected, s.face, s.partial,
                              measured_by(config), judged_by(config))


def _signals(record: GarmentCheckRecord) -> CropSignals:
    return CropSignals(record.clothing, record.outfit_clothing, record.printed, record.sharpness,
                       record.detected, record.face, record.partial)


def _batches(records: list[GarmentEvidenceRecord]) -> list[list[GarmentEvidenceRecord]]:
    """Records in batches of about BATCH, never splitting one frame's crops (siblings judge together)."""
    batches: list[list[GarmentEvidenceRecord]] = []
    current: list[GarmentEvidenceRecord] = []
    for r in records:
        if len(current) >= BATCH and current[-1].frame_id != r.frame_id:
            batches.append(current)
            current = []
        current.append(r)
    if current:
        batches.append(current)
    return batches


def _read_rgb(catalog: Catalog, crop_path: str, warn: bool = True) -> np.ndarray | None:
    """A stored crop as RGB, or None when it is missing or cannot be read."""
    image = cv2.imread(str(catalog.data_dir / crop_path), cv2.IMREAD_COLOR)
    if image is None:
        if warn:
            logger.warning("garment check: cannot read crop %s", crop_path)
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
