"""Calibrate and measure search match strength (strong / fair / weak) on creator worlds.

Each world folder is a data directory whose catalog and index were built by ``stylescope
demo`` (or ``world generate`` + ``ingest``) with its answer key under ``world/``. Queries
come in three modes, each for outfits the catalog HOLDS and outfits it LACKS:

- image: present = garments cut from the world's own held-out query videos (the true
  top, bottom and full boxes, ``world.scorer.search_queries``); absent = the same cut from
  ANOTHER world's query videos where none of the garments shown exists in this world
  (type x colour x pattern), plus non-fashion photos (``skimage.data``);
- text: present = the world's style descriptions and each garment's caption; absent =
  outfit descriptions drawn from ``world.vocabulary`` (one garment, or a top and a bottom)
  whose every garment's type x colour x pattern no style of this world has;
- image+text: each image query with the caption of what it shows (photos: an absent text).

Every query runs through :class:`inference.search.Searcher` (localisation, de-duplication
and all). A catalog garment "matches" a query when they share a garment (type x colour x
pattern; a full-outfit crop shows both garments) -- known from the answer key through the
true boxes. Per query the bench keeps the best score overall, the best score among
matching garments (same-style pairs) and among the others (different-style pairs), and
whether each of the top 10 hits matches.

Calibration (worlds given with ``--calibrate``) derives, per mode, the cut-offs of
:func:`models.match.derive_cutoffs` from those pairs; ``--write`` records them in
``configs/encoders.yaml`` under the encoder's version. Measurement (``--measure``, worlds
never used to calibrate) reports how often the "no close match" notice appears for absent
and for present queries, per world, mean and worst.

Usage::

    python bench/calibrate_match.py [--calibrate DIR ...] [--measure DIR ...] [--write]
        [--json OUT] [--markdown]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import platform
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.catalog import Catalog  # noqa: E402
from inference.index import load_embeddings  # noqa: E402
from inference.search import SearchConfig, Searcher  # noqa: E402
from models.match import MODES, Cutoffs, MatchThresholds, derive_cutoffs  # noqa: E402
from models.settings import load_settings  # noqa: E402
from world import scorer  # noqa: E402
from world.vocabulary import COLOURS, GARMENT_TYPES, PATTERNS, SILHOUETTES_BY_TYPE, GarmentSpec  # noqa: E402

logger = logging.getLogger("calibrate_match")

CALIBRATE = ["/tmp/base/before/data", "/work/eval/demo-s11"]  # demo seed 0 and seed 11
MEASURE = ["/work/eval/demo-s101", "/work/eval/demo-s202", "/work/eval/demo-s303"]
KINDS = ("top", "bottom", "full")
K = 10
# skimage.data photos that ship inside the package (no download); grey ones become RGB.
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "horse", "clock", "coins", "brick",
          "grass", "gravel", "moon", "page", "text", "hubble_deep_field", "immunohistochemistry",
          "retina", "cell", "logo", "colorwheel", "cat", "checkerboard")

GarmentKey = tuple[str, str, str]  # type, colour, pattern


def key(spec: GarmentSpec) -> GarmentKey:
    return (spec.type, spec.colour, spec.pattern)


# --------------------------------------------------------------------------- the world's outfits
@dataclasses.dataclass
class World:
    """A catalog with its answer key: which garment each style wears, each catalog garment shows."""

    name: str
    data_dir: Path
    answer: scorer.AnswerKey
    outfits: dict[str, list[GarmentSpec]]  # style id -> its garments (a dress: one)
    garment_keys: dict[int, frozenset[GarmentKey]]  # catalog garment id -> garments it shows

    @property
    def keys(self) -> set[GarmentKey]:
        return {key(g) for outfit in self.outfits.values() for g in outfit}

    def shown(self, style: str, kind: str) -> list[GarmentSpec]:
        """The garments a ``kind`` box of ``style`` shows."""
        outfit = self.outfits[style]
        if len(outfit) == 1 or kind == "full":
            return outfit
        return [g for g in outfit if g.kind == kind]

    def description(self, style: str) -> str:
        return self.answer.style(style).name


def world_label(data_dir: str | Path) -> str:
    """``preset-sSEED`` of the world a data directory holds, e.g. ``demo-s11``."""
    config = json.loads((Path(data_dir) / "world" / "answers" / "world.json").read_text())["config"]
    return f"{config['preset']}-s{config['seed']}"


def load_world(data_dir: Path) -> World:
    answer = scorer.load_answer_key(data_dir / "world")
    payload = json.loads((data_dir / "world" / "answers" / "world.json").read_text())
    outfits = {str(s["id"]): [_spec(s[part]) for part in ("top", "bottom") if s.get(part)]
               for s in payload["styles"]}
    with Catalog(data_dir) as catalog:
        found = scorer.found_garments(catalog.garments())
    truth = scorer.true_styles_of(found, answer.matcher())
    kinds = {g.id: g.kind for g in found}
    world = World(world_label(data_dir), data_dir, answer, outfits, {})
    world.garment_keys = {gid: frozenset(key(g) for g in world.shown(style, kinds[gid]))
                          for gid, style in truth.items()}
    return world


def _spec(part: dict[str, Any]) -> GarmentSpec:
    return GarmentSpec(part["type"], part["colour"], part["pattern"], part["silhouette"])


def outfit_text(garments: Sequence[GarmentSpec]) -> str:
    """As the world describes outfits: the bottom first, then the top."""
    order = sorted(garments, key=lambda g: {"bottom": 0, "full": 0, "top": 1}[g.kind])
    return ", ".join(g.caption() for g in order)


# --------------------------------------------------------------------------- queries
@dataclasses.dataclass
class Query:
    """One search and what a right answer would show."""

    mode: str  # image, text or image+text
    source: str  # own-video, other-world, photo, style-text, drawn-text
    keys: frozenset[GarmentKey]  # garments the query asks for (empty: a photo)
    present: bool  # the catalog holds every garment asked for (absent: none of them)
    label: str  # what it is, for the report
    image: np.ndarray | None = None
    text: str | None = None


def crop_queries(world: World, per_video: int) -> list[tuple[np.ndarray, list[GarmentSpec], str]]:
    """(crop, garments it shows, label) cut from the world's held-out query videos."""
    crops = []
    for kind in KINDS:
        for query in scorer.search_queries(world.answer, kind, per_video):
            shown = world.shown(query.style, kind)
            crops.append((query.image, shown, f"{world.name}:{query.video}:{kind}"))
    return crops


def drawn_outfits(rng: np.random.Generator, avoid: set[GarmentKey], count: int) -> list[list[GarmentSpec]]:
    """``count`` outfits (half one garment, half a top and a bottom) from the vocabulary,
    no garment of which has a type x colour x pattern in ``avoid``."""
    tops = [t for t, k in GARMENT_TYPES.items() if k == "top"]
    bottoms = [t for t, k in GARMENT_TYPES.items() if k != "top"]

    def garment(types: Sequence[str]) -> GarmentSpec:
        while True:
            kind = str(rng.choice(types))
            spec = GarmentSpec(kind, str(rng.choice(list(COLOURS))), str(rng.choice(list(PATTERNS))),
                               str(rng.choice(SILHOUETTES_BY_TYPE[kind])))
            if key(spec) not in avoid:
                return spec

    outfits = []
    for n in range(count):
        if n % 2 == 0:
            outfits.append([garment(list(GARMENT_TYPES))])
        else:
            bottom = garment(bottoms)
            outfits.append([bottom] if bottom.kind == "full" else [garment(tops), bottom])
    return outfits


def photos(names: Iterable[str]) -> list[tuple[np.ndarray, str]]:
    import skimage.data

    found = []
    for name in names:
        image = np.asarray(getattr(skimage.data, name)())
        if image.dtype == bool:
            image = image.astype(np.uint8) * 255
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        found.append((np.ascontiguousarray(image[..., :3]).astype(np.uint8), f"photo:{name}"))
    return found


def build_queries(world: World, donors: Sequence[World], photo_names: Sequence[str], seed: int,
                  per_video: int, drawn: int) -> list[Query]:
    """Present and absent queries of every mode for ``world``; absent crops come from ``donors``."""
    have = world.keys
    queries: list[Query] = []
    for image, shown, label in crop_queries(world, per_video):
        keys = frozenset(map(key, shown))
        queries.append(Query("image", "own-video", keys, True, label, image=image))
        queries.append(Query("image+text", "own-video", keys, True, label, image=image, text=outfit_text(shown)))
    for donor in donors:
        for image, shown, label in crop_queries(donor, per_video):
            keys = frozenset(map(key, shown))
            if keys & have:
                continue  # the world holds some of it: neither present nor absent
            queries.append(Query("image", "other-world", keys, False, label, image=image))
            queries.append(Query("image+text", "other-world", keys, False, label, image=image,
                                 text=outfit_text(shown)))
    rng = np.random.default_rng(seed)
    for image, label in photos(photo_names):
        text = outfit_text(drawn_outfits(rng, have, 1)[0])
        queries.append(Query("image", "photo", frozenset(), False, label, image=image))
        queries.append(Query("image+text", "photo", frozenset(), False, f"{label} + {text}", image=image, text=text))
    for style, outfit in world.outfits.items():
        texts = {world.description(style): outfit} | ({g.caption(): [g] for g in outfit} if len(outfit) > 1 else {})
        for text, shown in texts.items():
            queries.append(Query("text", "style-text", frozenset(map(key, shown)), True, text, text=text))
    for outfit in drawn_outfits(rng, have, drawn):
        text = outfit_text(outfit)
        queries.append(Query("text", "drawn-text", frozenset(map(key, outfit)), False, text, text=text))
    return queries


# --------------------------------------------------------------------------- running them
@dataclasses.dataclass
class Outcome:
    """What one query found."""

    world: str
    mode: str
    source: str
    present: bool
    label: str
    closest: int  # most of type, colour, pattern a held garment shares with one asked for (3: held)
    best: float  # the best hit's score
    best_same: float | None  # best score among garments the query asks for (None: none in the catalog)
    best_other: float  # best score among the other garments (known true style)
    top_scores: list[float]  # the top-10 hits' scores
    top_same: list[bool]  # per top-10 hit: shows a garment the query asks for
    catalog_mean: float  # mean score over the whole catalog (how close "anything" is)


def query_vector(searcher: Searcher, query: Query, images: dict[int, np.ndarray]) -> np.ndarray:
    """The query embedding as search makes it; an image shared by two queries is embedded once
    (image+text: the image's and the text's embeddings weighted as ``embed_query`` does)."""
    if query.image is None:
        return searcher.embed_query(text=query.text)[0]
    if id(query.image) not in images:
        images[id(query.image)] = searcher.embed_query(query.image)[0]
    if query.text is None:
        return images[id(query.image)]
    weight = searcher.config.text_weight
    vector = (1 - weight) * images[id(query.image)] + weight * searcher.embed_query(text=query.text)[0]
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def closest(asked: Iterable[GarmentKey], held: Iterable[GarmentKey]) -> int:
    """How many of type, colour and pattern the closest held garment shares with one asked for."""
    return max((sum(a == b for a, b in zip(x, y, strict=True)) for x in asked for y in held), default=0)


def run_queries(world: World, queries: Sequence[Query]) -> list[Outcome]:
    searcher = Searcher(world.data_dir, config=SearchConfig.load())
    ids, vectors, _ = load_embeddings(world.data_dir)
    known = np.array([int(i) in world.garment_keys for i in ids])
    images: dict[int, np.ndarray] = {}
    outcomes = []
    try:
        for query in queries:
            vector = query_vector(searcher, query, images)
            hits = searcher.search_vector(vector, K).hits
            scores = vectors @ vector
            same = np.array([bool(world.garment_keys.get(int(i), frozenset()) & query.keys) for i in ids])
            if query.present and not same.any():
                continue  # the answer key has it, the catalog caught none of it: neither present nor absent
            outcomes.append(Outcome(
                world.name, query.mode, query.source, query.present, query.label,
                closest=closest(query.keys, world.keys),
                best=float(hits[0].score),
                best_same=float(scores[same].max()) if same.any() else None,
                best_other=float(scores[known & ~same].max()),
                top_scores=[float(h.score) for h in hits],
                top_same=[bool(world.garment_keys.get(h.garment_id, frozenset()) & query.keys) for h in hits],
                catalog_mean=float(scores.mean()),
            ))
    finally:
        searcher.close()
    return outcomes


def encoder_of(paths: Sequence[str]) -> str:
    """The version of the encoder the worlds' indexes were built with (one for all)."""
    versions = {str(load_embeddings(p)[2]["version"]) for p in paths}
    if len(versions) != 1:
        raise SystemExit(f"the worlds were indexed by different encoders: {sorted(versions)}")
    return versions.pop()


def collect(paths: Sequence[str], photo_names: Sequence[str], seed: int, per_video: int,
            drawn: int) -> list[Outcome]:
    worlds = [load_world(Path(p)) for p in paths]
    outcomes: list[Outcome] = []
    for n, world in enumerate(worlds):
        donors = [w for w in worlds if w is not world]
        started = time.perf_counter()
        queries = build_queries(world, donors, photo_names, seed + n, per_video, drawn)
        outcomes += run_queries(world, queries)
        logger.info("%s: %d queries in %.0f s", world.name, len(queries), time.perf_counter() - started)
    return outcomes


# --------------------------------------------------------------------------- deriving and measuring
def derive(outcomes: Sequence[Outcome]) -> dict[str, Cutoffs]:
    """Cut-offs per mode: same-style pairs are present queries' best match among the garments
    they ask for; different-style pairs are absent queries' best match (none of the catalog's
    garments is what they ask for); hits are every query's top 10."""
    cutoffs = {}
    for mode in MODES:
        mine = [o for o in outcomes if o.mode == mode]
        cutoffs[mode] = derive_cutoffs(
            [o.best_same for o in mine if o.present and o.best_same is not None],
            [o.best for o in mine if not o.present],
            [s for o in mine for s in o.top_scores],
            [same for o in mine for same in o.top_same],
        )
    return cutoffs


@dataclasses.dataclass
class Rates:
    """How often the notice appears, for one world and mode (or all modes)."""

    absent: int  # absent queries
    absent_notice: float  # share of them that got the notice (want >= 0.9)
    present: int  # present queries
    present_notice: float  # share of them that got the notice (want < 0.05)
    present_strong: float  # share of present queries whose best hit is strong


def rates(outcomes: Sequence[Outcome], cutoffs: dict[str, Cutoffs]) -> Rates:
    def weak(o: Outcome) -> bool:
        return cutoffs[o.mode].strength(o.best) == "weak"

    absent = [o for o in outcomes if not o.present]
    present = [o for o in outcomes if o.present]
    return Rates(len(absent), float(np.mean([weak(o) for o in absent])) if absent else float("nan"),
                 len(present), float(np.mean([weak(o) for o in present])) if present else float("nan"),
                 float(np.mean([cutoffs[o.mode].strength(o.best) == "strong" for o in present]))
                 if present else float("nan"))


def measure(outcomes: Sequence[Outcome], cutoffs: dict[str, Cutoffs]) -> dict[str, dict[str, Rates]]:
    """Rates per world (and "all") and per mode (and "all")."""
    worlds = sorted({o.world for o in outcomes})
    table: dict[str, dict[str, Rates]] = {}
    for world in [*worlds, "all"]:
        mine = [o for o in outcomes if world in ("all", o.world)]
        table[world] = {mode: rates([o for o in mine if mode in ("all", o.mode)], cutoffs)
                        for mode in [*MODES, "all"]}
    return table


def by_source(outcomes: Sequence[Outcome], cutoffs: dict[str, Cutoffs]) -> dict[str, tuple[int, float]]:
    """Per (mode, source): queries and the share that got the notice."""
    shares: dict[str, tuple[int, float]] = {}
    for mode in MODES:
        for source in sorted({o.source for o in outcomes}):
            mine = [o for o in outcomes if o.mode == mode and o.source == source]
            if mine:
                shares[f"{mode} / {source}"] = (len(mine), float(np.mean(
                    [cutoffs[mode].strength(o.best) == "weak" for o in mine])))
    return shares


def write_record(version: str, cutoffs: dict[str, Cutoffs], derived_by: str) -> Path:
    """Record the cut-offs in configs/encoders.yaml under ``match_strength.<version>``
    (other versions' entries are kept; the section is the file's last)."""
    path = ROOT / "configs" / "encoders.yaml"
    text = path.read_text(encoding="utf-8")
    head, _, _ = text.partition("\nmatch_strength:")
    entries = dict(load_settings().match_strength)
    entries[version] = MatchThresholds(cutoffs, derived_by).to_dict()
    lines = ["match_strength:               # search match cut-offs (strong / fair / weak) per query mode, by "
             "encoder version; bench/calibrate_match.py --write"]
    for name, entry in entries.items():
        lines.append(f"  {name}:")
        lines.append(f"    derived_by: {json.dumps(entry['derived_by'])}")
        lines += [f"    {mode}: {{fair: {entry[mode]['fair']}, strong: {entry[mode]['strong']}}}"
                  for mode in MODES if mode in entry]
    path.write_text(head.rstrip("\n") + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def markdown(cutoffs: dict[str, Cutoffs], calibration: Sequence[Outcome], measured: Sequence[Outcome],
             args: argparse.Namespace, version: str, seconds: float) -> str:
    def pct(value: float) -> str:
        return f"{100 * value:.1f}%"

    out = [f"Machine: {platform.node()} ({platform.machine()}, {platform.processor() or 'cpu'}), "
           f"encoder {version}; {seconds / 60:.0f} min for {len(calibration) + len(measured)} queries.", "",
           "| mode | fair from | strong from |", "|---|---|---|"]
    out += [f"| {mode} | {c.fair:.3f} | {c.strong:.3f} |" for mode, c in cutoffs.items()]
    for title, outcomes in (("calibration worlds (derived here)", calibration),
                            ("held-out worlds (never used to derive)", measured)):
        table = measure(outcomes, cutoffs)
        out += ["", f"Notice rate, {title}: absent (want >= 90%) / present (want < 5%); "
                "present queries whose best hit is strong", "",
                "| world | mode | absent queries | notice on absent | present queries | notice on present | present best strong |",
                "|---|---|---|---|---|---|---|"]
        for world, modes in table.items():
            for mode, r in modes.items():
                out.append(f"| {world} | {mode} | {r.absent} | {pct(r.absent_notice)} | {r.present} | "
                           f"{pct(r.present_notice)} | {pct(r.present_strong)} |")
        worlds = [w for w in table if w != "all"]
        if len(worlds) > 1:
            absent = [table[w]["all"].absent_notice for w in worlds]
            present = [table[w]["all"].present_notice for w in worlds]
            out += ["", f"Over the {len(worlds)} worlds, all modes: notice on absent mean {pct(float(np.mean(absent)))}, "
                    f"worst {pct(min(absent))}; notice on present mean {pct(float(np.mean(present)))}, "
                    f"worst {pct(max(present))}."]
    out += ["", "Notice rate by kind of query, held-out worlds:", "", "| mode / source | queries | notice |",
            "|---|---|---|"]
    out += [f"| {name} | {n} | {pct(share)} |" for name, (n, share) in by_source(measured, cutoffs).items()]
    out += ["", "What a strength says, held-out worlds: share of the top-10 hits rated so that show a garment "
            "the query asked for", "", "| mode | strong | fair | weak |", "|---|---|---|---|"]
    for mode in MODES:
        rated = [(cutoffs[mode].strength(score), same) for o in measured if o.mode == mode
                 for score, same in zip(o.top_scores, o.top_same, strict=True)]
        cells = []
        for strength in ("strong", "fair", "weak"):
            mine = [same for rating, same in rated if rating == strength]
            cells.append(f"{pct(float(np.mean(mine)))} of {len(mine)}" if mine else "-")
        out.append(f"| {mode} | " + " | ".join(cells) + " |")
    out += ["", "Notice rate on absent queries of the held-out worlds by how close the catalog comes: the most "
            "of type, colour and pattern that one held garment shares with one asked for (photos: 0)", "",
            "| mode | shares 0 | shares 1 | shares 2 |", "|---|---|---|---|"]
    for mode in MODES:
        cells = []
        for shared in range(3):
            mine = [o for o in measured if o.mode == mode and not o.present and o.closest == shared]
            weak = [cutoffs[mode].strength(o.best) == "weak" for o in mine]
            cells.append(f"{pct(float(np.mean(weak)))} of {len(mine)}" if mine else "-")
        out.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calibrate", nargs="*", default=CALIBRATE, help="world data dirs to derive cut-offs on")
    parser.add_argument("--measure", nargs="*", default=MEASURE, help="world data dirs to measure on")
    parser.add_argument("--per-video", type=int, default=2, help="frames cut per held-out video and kind")
    parser.add_argument("--drawn", type=int, default=60, help="absent text queries drawn per world")
    parser.add_argument("--dump", help="write every query's outcome here (JSON)")
    parser.add_argument("--load", help="read the outcomes from an earlier --dump instead of searching")
    parser.add_argument("--write", action="store_true", help="record the cut-offs in configs/encoders.yaml")
    parser.add_argument("--markdown", help="write the report here (Markdown)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    started = time.perf_counter()
    overlap = set(args.calibrate) & set(args.measure)
    if overlap:
        raise SystemExit(f"calibrate only on worlds not used for measuring: {sorted(overlap)}")
    version = encoder_of([*args.calibrate, *args.measure])
    if args.load:
        dumped = json.loads(Path(args.load).read_text())
        labels = {Path(p).name: world_label(p) for p in [*args.calibrate, *args.measure]}  # older dumps
        calibration = [Outcome(**dict(o, world=labels.get(o["world"], o["world"]))) for o in dumped["calibration"]]
        measured = [Outcome(**dict(o, world=labels.get(o["world"], o["world"]))) for o in dumped["measured"]]
        started -= float(dumped.get("seconds", 0))
    else:
        calibration = collect(args.calibrate, PHOTOS[0::2], 1000, args.per_video, args.drawn)
        measured = collect(args.measure, PHOTOS[1::2], 2000, args.per_video, args.drawn)
    seconds = time.perf_counter() - started
    if args.dump:
        Path(args.dump).write_text(json.dumps({"calibration": [dataclasses.asdict(o) for o in calibration],
                                               "measured": [dataclasses.asdict(o) for o in measured],
                                               "seconds": seconds, "machine": platform.node()}))
    cutoffs = derive(calibration)
    report = markdown(cutoffs, calibration, measured, args, version, seconds)
    print(report)
    if args.markdown:
        Path(args.markdown).write_text(report, encoding="utf-8")
    if args.write:
        names = ", ".join(world_label(p) for p in args.calibrate)
        counts = {mode: sum(o.mode == mode for o in calibration) for mode in MODES}
        derived_by = (f"bench/calibrate_match.py on {names} "
                      f"({', '.join(f'{n} {mode}' for mode, n in counts.items())} queries)")
        logger.info("recorded in %s", write_record(version, cutoffs, derived_by))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
