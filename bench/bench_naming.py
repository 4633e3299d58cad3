"""Naming accuracy on ingested creator worlds: facet names (inference/facets.py) vs today's names.

For every predicted style of a catalog, the true outfit is the majority true style of its
garments (answer key, world.scorer.GarmentMatcher); each true slot (top, bottom or dress)
has a true type, colour, pattern and silhouette (majority over the style's garments of
that kind). Reported per facet:

- accuracy: share of style slots whose named facet equals the true one (a facet left out
  counts as a miss); a palette colour is read as its nearest world colour (CIEDE2000);
- named: share of style slots where the facet is named at all, and precision among them;
- wrong: share of style names carrying a facet value none of its garments has (colour: the
  main colour; ``wrong_lenient`` also accepts a garment's second, pattern colour).

The new names use the facet probe of the encoder (``--probe``) or its text tower. Today's names (the ``styles.name`` column, written by inference/trends.py name_styles) are
parsed with the fashion vocabulary and scored the same way; their facets belong to the slot
of their garment word (none when the word is no top, bottom or dress type).

    PYTHONPATH=. .venv/bin/python bench/bench_naming.py DATA_DIR [DATA_DIR ...] [--json out.json]

Each DATA_DIR holds catalog.sqlite, crops/, index/ and the world folder ``world/`` (or pass
``--world`` once per data dir).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from inference.catalog import Catalog
from inference.facet_probe import FacetProbe, probe_for
from inference.facets import (
    FacetConfig,
    SlotGarments,
    StyleName,
    embed_facet_prompts,
    load_facet_vocabulary,
    name_style_facets,
)
from inference.images import load_image
from inference.index import load_embeddings
from inference.palette import Palette, load_palette
from inference.trends import load_vocabulary
from world import scorer
from world.naming_scorer import (
    FACETS,
    WorldColours,
    named_facets,
    score_claims,
    slot_claims,
    slot_truth,
    summarise,
)
from world.styles import Garment, style_from_json
from world.vocabulary import GARMENT_TYPES

logger = logging.getLogger("bench_naming")


# ----------------------------------------------------------------------------- truth


def true_outfits(data_dir: Path, world_dir: Path, catalog: Catalog) -> tuple[dict[int, dict[str, Garment]], dict[int, str]]:
    """Catalog garment id -> the true outfit's slots; and garment id -> its catalog kind."""
    key = scorer.load_answer_key(world_dir)
    payload = json.loads((world_dir / "answers" / "world.json").read_text(encoding="utf-8"))
    recipes = {str(s["id"]): style_from_json(s) for s in payload["styles"]}
    matcher = key.matcher()
    records = catalog.garments()
    truth: dict[int, dict[str, Garment]] = {}
    for found in scorer.found_garments(records):
        true = matcher.match(found)
        if true is None:
            continue
        recipe = recipes[true.style]
        truth[found.id] = {"dress": recipe.top} if recipe.bottom is None else {"top": recipe.top, "bottom": recipe.bottom}
    return truth, {r.id: r.kind for r in records}


# ----------------------------------------------------------------------------- claims


def new_claims(name: StyleName, colours: WorldColours) -> dict[str, dict[str, str | None]]:
    """slot -> facet -> world value (None: a word the world does not have)."""
    return {slot.slot: slot_claims(slot.slot, named_facets(slot.to_dict()["facets"]), colours) for slot in name.slots}


def old_claims(name: str, words: dict[str, list[str]], colours: WorldColours) -> dict[str, dict[str, str | None]]:
    """Today's name parsed by vocabulary category, on the slot of its garment word."""
    found: dict[str, str] = {}
    rest = f" {name} "
    for category, facet in (("garments", "type"), ("colours", "colour"), ("patterns", "pattern"),
                            ("silhouettes", "silhouette"), ("materials", "material")):
        for word in sorted(words.get(category, []), key=len, reverse=True):
            if f" {word} " in rest:
                found[facet] = word
                rest = rest.replace(f" {word} ", " ", 1)
                break
    kind = GARMENT_TYPES.get(found.get("type", ""))
    slot = {"top": "top", "bottom": "bottom", "full": "dress"}.get(kind or "", "none")
    return {slot: slot_claims(slot, found, colours)}


# ----------------------------------------------------------------------------- one world


def bench_world(data_dir: Path, world_dir: Path, encoder: Any, palette: Palette, limit: int,
                probe: FacetProbe | None = None, facet_config: FacetConfig | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    catalog = Catalog(data_dir)
    truth, kinds = true_outfits(data_dir, world_dir, catalog)
    ids, vectors, _ = load_embeddings(data_dir)
    vector_of = dict(zip(ids.tolist(), vectors, strict=True))
    records = {r.id: r for r in catalog.garments()}
    references = {kind: np.mean([vector_of[i] for i, k in kinds.items() if k == kind and i in vector_of], axis=0)
                  for kind in ("top", "bottom", "full")}
    members: dict[int, list[int]] = defaultdict(list)
    for garment, style in sorted(catalog.garment_style_ids().items()):
        members[style].append(garment)
    old_names = {style.id: style.name for style in catalog.style_names()}
    prompts = embed_facet_prompts(load_facet_vocabulary(), encoder)
    words = load_vocabulary().words
    colours = WorldColours(palette)
    styles = []
    for style, garment_ids in sorted(members.items()):
        facts = slot_truth(garment_ids, kinds, truth)
        if not facts:
            continue
        by_kind: dict[str, SlotGarments] = {}
        for kind in ("top", "bottom", "full"):
            chosen = [i for i in garment_ids if kinds[i] == kind and i in vector_of][:limit]
            if chosen:
                by_kind[kind] = SlotGarments(
                    np.stack([vector_of[i] for i in chosen]),
                    [load_image(data_dir / records[i].crop_path) for i in chosen],
                    reference=references[kind], frames=[records[i].frame_id for i in chosen])
        name = name_style_facets(by_kind, prompts, palette, facet_config, probe)
        styles.append({
            "style": style, "garments": len(garment_ids),
            "true": {slot: f["majority"] for slot, f in facts.items()},
            "old": {"name": old_names.get(style, ""), **score_claims(old_claims(old_names.get(style, ""), words, colours), facts)},
            "new": {"name": name.text, "facets": name.to_dict(), **score_claims(new_claims(name, colours), facts)},
        })
    return {"data_dir": str(data_dir), "styles": styles, "summary": {v: summarise([s[v] for s in styles]) for v in ("old", "new")},
            "seconds": round(time.perf_counter() - started, 1)}


def table(results: list[dict[str, Any]]) -> str:
    lines = ["world | names | type | colour | pattern | silhouette | wrong (strict/lenient)", "---|---|---|---|---|---|---"]
    for result in results:
        for variant in ("old", "new"):
            s = result["summary"][variant]
            cells = [f"{s[f]['accuracy']:.2f} ({s[f]['precision'] if s[f]['precision'] is not None else '-'})" for f in FACETS]
            lines.append(f"{Path(result['data_dir']).name} | {variant} | {' | '.join(cells)} | {s['wrong']:.2f}/{s['wrong_lenient']:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dirs", nargs="+", type=Path, help="ingested creator-world data directories")
    parser.add_argument("--world", action="append", type=Path, default=None, help="world folder per data dir (default DATA_DIR/world)")
    parser.add_argument("--encoder", default=None, help="encoder spec (default: the offline default)")
    parser.add_argument("--limit", type=int, default=60, help="garments per kind per style read for naming")
    parser.add_argument("--json", type=Path, default=None, help="write every style's names and scores here")
    parser.add_argument("--probe", default=None,
                        help="facet probe file for the new names; 'none': the text tower only "
                             "(default: the packaged probe of the encoder, if any)")
    parser.add_argument("--facet", action="append", default=[], metavar="KEY=VALUE",
                        help="override a FacetConfig threshold, e.g. --facet min_evidence=0.5 (repeatable)")
    args = parser.parse_args(argv)
    def value(text: str) -> float | str:
        try:
            return float(text)
        except ValueError:
            return text

    facet_config = FacetConfig(**{k: value(v) for k, v in (item.split("=", 1) for item in args.facet)})  # type: ignore[arg-type]
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from models import create_encoder

    encoder = create_encoder(args.encoder)
    palette = load_palette()
    worlds = args.world or [d / "world" for d in args.data_dirs]
    probe = None if args.probe == "none" else probe_for(encoder.version, args.probe)
    print(f"new names: {'facet probe ' + probe.trained_on if probe else 'text tower'}")
    results = [bench_world(d, w, encoder, palette, args.limit, probe, facet_config) for d, w in zip(args.data_dirs, worlds, strict=True)]
    print(table(results))
    print("cells: accuracy over style slots (precision among named facets)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
