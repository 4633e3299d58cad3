"""Season retraining experiment: does a season with unseen styles get learnt without forgetting?

    .venv/bin/python bench/bench_retrain.py --data-dir /tmp/ss-retrain [--cache-dir DIR]

1. Train base heads (the default recipe) with one pattern (``camo``) left out of training
   entirely: camo garments are styles the base model has never seen.
2. Render a season of camo garments in a few colours, write it as a caption folder
   (JPEG + captions.csv), and run ``retrain --season`` on it.
3. Report text->image recall@10 on the season's held-out test slice before/after, and the
   old eval sets (Fashion-MNIST zero-shot, creator-world held-out combos) before/after.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cache-dir", default="")
    parser.add_argument("--pattern", default="camo", help="pattern held out of base training")
    parser.add_argument("--season-crops", type=int, default=800)
    parser.add_argument("--base-epochs", type=int, default=40, help="epochs of the base model")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from models.versions import current_version
    from training import data as datasets
    from training.runs import load_config, run_retrain, run_train

    data_dir = Path(args.data_dir)
    config = load_config(None, {"data": {"exclude_patterns": [args.pattern]}, "cache_dir": args.cache_dir,
                                "optim": {"epochs": args.base_epochs}})
    if current_version(data_dir) is None:
        base = run_train(config, data_dir)
        logging.info("base version %s:\n%s", base.version, base.markdown)
    season_dir = data_dir / f"season-{args.pattern}"
    if not (season_dir / "captions.csv").is_file():
        colours = ["black", "olive", "beige", "pink"]
        season = datasets.creator_world(args.season_crops, seed=7, only=[(c, args.pattern) for c in colours],
                                        name=f"season-{args.pattern}")
        datasets.write_caption_folder(season_dir, season.images, [c[0] for c in season.captions])
    result = run_retrain(season_dir, data_dir, config)
    print(result.markdown)
    print(json.dumps({"version": result.version, "wise_ratio": result.wise_ratio,
                      "train_log": vars(result.train_log)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
