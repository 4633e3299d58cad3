"""What a search is asked to do: the search settings and the user's metadata filters."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import configs
from configs import setting
from core.errors import BadInputError
from inference.types import GARMENT_KINDS, TIER_ALIASES, tier_bounds


@dataclasses.dataclass
class SearchConfig:
    """Settings of search (the ``search`` section of configs/index.yaml)."""

    k: int = setting(10, low=1)  # results returned when the caller does not say
    text_weight: float = setting(0.5, low=0, high=1)  # image + text queries: weight of the text embedding
    dedup_threshold: float = setting(0.97, low=-1, high=1)  # hits of one video at least this similar (cosine) count as one garment
    dedup_fetch_factor: int = setting(3, low=1)  # hits fetched per result kept, so de-duplication can drop some
    localise: bool = True  # image queries: cut the garment out first when a person is found
    selection_cache: int = setting(32, low=0)  # compiled filters kept in memory
    catalog_check_s: float = setting(0.5, low=0)  # seconds between asks whether another process changed the catalog (this process's writes show at once)
    query_threads: int = setting(1, low=0)  # FAISS threads per single query (0: FAISS's default, one per core); the CLI's torch too

    @classmethod
    def load(cls, user_file: str | Path | None = None) -> SearchConfig:
        """The packaged search config, with a user file merged over it."""
        return configs.from_dict(cls, configs.load("index", user_file).get("search", {}))


DATE_LABELS = {"from": "the from date", "to": "the to date"}  # the date fields' names in messages


@dataclasses.dataclass(frozen=True)
class SearchFilters:
    """Which garments a search may return; empty fields do not filter."""

    date_from: dt.date | None = None  # posted on or after this day
    date_to: dt.date | None = None  # posted on or before this day
    creators: tuple[str, ...] = ()  # creator handles (without '@')
    tiers: tuple[str, ...] = ()  # follower tiers: nano, micro, mid (macro), mega
    kinds: tuple[str, ...] = ()  # garment kinds: top, bottom, full
    styles: tuple[int, ...] = ()  # style ids (from `stylescope trends`)
    set_aside: bool = False  # also crops set aside as no garment (walls, title cards, blurs): hidden unless asked

    @classmethod
    def build(
        cls,
        date_from: dt.date | str | None = None,
        date_to: dt.date | str | None = None,
        creators: Sequence[str] = (),
        tiers: Sequence[str] = (),
        kinds: Sequence[str] = (),
        styles: Sequence[int | str] = (),
        date_labels: Mapping[str, str] | None = None,
        set_aside: bool = False,
    ) -> SearchFilters:
        """Filters from user input, checked: dates parsed, range order, tier and kind names.

        ``date_labels`` names the two date fields (keys ``from`` and ``to``) in the
        messages, as the interface calls them (a CLI flag, a form field).
        """
        labels = {**DATE_LABELS, **(date_labels or {})}
        start, end = _parse_date(date_from, labels["from"]), _parse_date(date_to, labels["to"])
        if start and end and start > end:
            raise BadInputError(f"the date range is reversed: from {start} is after to {end}")
        for tier in tiers:
            try:
                tier_bounds(tier)
            except ValueError as exc:
                raise BadInputError(str(exc)) from None
        unknown_kinds = sorted(set(kinds) - set(GARMENT_KINDS))
        if unknown_kinds:
            raise BadInputError(
                f"unknown garment kind {unknown_kinds[0]!r}; choose from {', '.join(GARMENT_KINDS)}"
            )
        try:
            style_ids = tuple(sorted({int(s) for s in styles}))
        except ValueError:
            raise BadInputError(f"style ids are numbers, got {list(styles)}") from None
        return cls(
            start,
            end,
            tuple(sorted({c.lstrip("@") for c in creators})),
            tuple(sorted({TIER_ALIASES.get(t.lower(), t.lower()) for t in tiers})),
            tuple(sorted(set(kinds))),
            style_ids,
            bool(set_aside),
        )

    def __bool__(self) -> bool:
        """Whether any field narrows the garments searched (``set_aside`` widens them)."""
        return bool(
            self.date_from
            or self.date_to
            or self.creators
            or self.tiers
            or self.kinds
            or self.styles
        )


def _parse_date(value: dt.date | str | None, label: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"{label} must look like 2024-05-31, got {value!r}") from None

