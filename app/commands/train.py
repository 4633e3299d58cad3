"""``stylescope train`` and ``stylescope retrain``: build and retrain encoders.

    stylescope train [--encoder SPEC] [--init SPEC] [--epochs N] [--folder DIR ...]
                     [--export FILE] [--no-activate]
    stylescope retrain --season DIR [--reindex] [--no-activate]
    stylescope train-facets --from DATA_DIR [--from DATA_DIR ...] --out FILE
"""

from __future__ import annotations

import argparse
from typing import Any

from app.commands import add_common, open_data_dir, print_json


def register(subparsers: Any) -> None:
    """Add the ``train`` and ``retrain`` commands."""
    train = subparsers.add_parser("train", help="train an encoder (offline default heads or open_clip)",
                                  description="Train an encoder and write it as a new model version.")
    add_common(train)
    train.add_argument("--encoder", help="model to train: stylescope-default (default) or open_clip:<arch>:<weights>")
    train.add_argument("--init", help="start from this encoder spec (default: fresh heads / the named model)")
    train.add_argument("--epochs", type=int, help="passes over the training pairs")
    train.add_argument("--max-steps", type=int, help="stop after this many optimiser steps")
    train.add_argument("--folder", action="append", default=[],
                       help="extra caption folder to train on (images + captions.csv/jsonl); repeatable")
    train.add_argument("--fashion-mnist", type=int, help="Fashion-MNIST training images (0 = none)")
    train.add_argument("--creator-world", type=int, help="creator-world training crops (0 = none)")
    train.add_argument("--eval-fashion-mnist", type=int, help="Fashion-MNIST test images to score (0 = skip)")
    train.add_argument("--eval-creator-world", type=int, help="held-out creator-world crops to score (0 = skip)")
    train.add_argument("--lock-image", action="store_true", help="open_clip: freeze the image tower")
    train.add_argument("--cache-dir", help="tower feature cache (default DATA_DIR/cache/features)")
    train.add_argument("--export", help="also copy the trained heads to this file")
    train.add_argument("--no-activate", action="store_true", help="do not make the new version current")
    train.set_defaults(func=run_train)

    retrain = subparsers.add_parser(
        "retrain", help="retrain the current model on a new season's images and captions",
        description="Train on a season folder starting from the current model, report before/after "
                    "on the season and the old eval sets, and optionally re-index the catalog.")
    add_common(retrain)
    retrain.add_argument("--season", required=True, help="folder of images + captions.csv or captions.jsonl")
    retrain.add_argument("--reindex", action="store_true",
                         help="re-embed every garment with the new model and switch the index atomically")
    retrain.add_argument("--epochs", type=int, help="passes over the season's pairs")
    retrain.add_argument("--cache-dir", help="tower feature cache (default DATA_DIR/cache/features)")
    retrain.add_argument("--no-activate", action="store_true", help="do not make the new version current")
    retrain.set_defaults(func=run_retrain)

    facets = subparsers.add_parser(
        "train-facets", help="train the facet probes that name styles (type, pattern, silhouette)",
        description="Fit a linear probe per garment kind and facet on the labelled crops of ingested "
                    "creator worlds (each DATA_DIR with its world/ answer key, all embedded by one "
                    "encoder) and write it as an .npz; styles are named with it when it matches the "
                    "index's encoder version (`naming.facet_probe`, or models/weights/<model>.facets.npz).")
    add_common(facets)
    facets.add_argument("--from", dest="sources", action="append", required=True, metavar="DATA_DIR",
                        help="an ingested creator world with its answer key in DATA_DIR/world; repeatable")
    facets.add_argument("--out", required=True, help="probe file to write (.npz)")
    facets.add_argument("--regularisation", type=float, default=1.0,
                        help="inverse L2 strength of the logistic regressions (default 1.0)")
    facets.set_defaults(func=run_train_facets)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {"data": {}, "optim": {}, "retrain_optim": {}, "open_clip": {}}
    if getattr(args, "encoder", None):
        overrides["encoder"] = args.encoder
    if getattr(args, "init", None):
        overrides["init"] = args.init
    if args.epochs is not None:
        overrides["optim"]["epochs"] = overrides["retrain_optim"]["epochs"] = args.epochs
    if getattr(args, "max_steps", None) is not None:
        overrides["optim"]["max_steps"] = args.max_steps
    for flag, key in (("fashion_mnist", "fashion_mnist_train"), ("creator_world", "creator_world_train"),
                      ("eval_fashion_mnist", "fashion_mnist_eval"),
                      ("eval_creator_world", "creator_world_eval")):
        if getattr(args, flag, None) is not None:
            overrides["data"][key] = getattr(args, flag)
    if getattr(args, "folder", None):
        overrides["data"]["folders"] = list(args.folder)
    if getattr(args, "lock_image", False):
        overrides["open_clip"]["lock_image"] = True
    if args.cache_dir:
        overrides["cache_dir"] = args.cache_dir
    return overrides


def _print_result(args: argparse.Namespace, result: Any) -> None:
    payload = {"version": result.version, "path": str(result.path), "encoder": result.encoder,
               "eval": result.report, "train": vars(result.train_log),
               "wise_ratio": result.wise_ratio, "index_version": result.reindexed}
    if args.json:
        print_json(payload)
        return
    print(f"model version {result.version} written to {result.path}")
    print(f"encoder: {result.encoder}")
    print(f"training: {result.train_log.steps} steps, {result.train_log.seconds_per_epoch:.2f} s/epoch")
    if result.wise_ratio is not None:
        print(f"WiSE-FT ratio (weight of the new model): {result.wise_ratio:.2f}")
    if result.reindexed:
        print(f"index version {result.reindexed} is live")
    print()
    print(result.markdown, end="")


def run_train(args: argparse.Namespace) -> int:
    """Train and write a model version."""
    from training.runs import load_config
    from training.runs import run_train as train

    config = load_config(args.config, _overrides(args))
    result = train(config, open_data_dir(args.data_dir), activate=not args.no_activate,
                   export=args.export)
    _print_result(args, result)
    return 0


def run_retrain(args: argparse.Namespace) -> int:
    """Retrain the current model on a season folder."""
    from training.runs import load_config
    from training.runs import run_retrain as retrain

    config = load_config(args.config, _overrides(args))
    result = retrain(args.season, open_data_dir(args.data_dir), config, reindex=args.reindex,
                     activate=not args.no_activate)
    _print_result(args, result)
    return 0


def run_train_facets(args: argparse.Namespace) -> int:
    """Train facet probes on ingested worlds and write them."""
    from core.errors import BadInputError
    from training.facet_probe import train_facet_probe

    if args.regularisation <= 0:
        raise BadInputError("--regularisation must be above 0")
    probe, report = train_facet_probe(args.sources, args.regularisation)
    path = probe.save(args.out)
    if args.json:
        print_json({"path": str(path), "encoder_version": probe.encoder_version, "heads": report})
        return 0
    print(f"facet probe for {probe.encoder_version} written to {path}")
    for head, facts in report.items():
        print(f"  {head}: {facts['garments']} garments, {len(facts['classes'])} values, "
              f"train accuracy {facts['train_accuracy']:.2f}")
    return 0
