"""Training: data readers, loss, metrics, WiSE-FT, versioned runs, season retraining, re-indexing."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from core.errors import BadInputError
from inference.encoders import resolve_encoder
from models import create_encoder
from models.match import MatchThresholds, recorded_thresholds
from models.versions import current_version, list_versions, read_version
from training import data as datasets
from training.evaluate import (
    EmbedView,
    EvalSet,
    match_thresholds,
    retrieval_scores,
    zero_shot_accuracy,
)
from training.runs import load_config, run_retrain, run_train, split_season
from training.train import clip_loss, interpolate_state

COLOURS = {"red": (200, 30, 30), "blue": (30, 60, 200), "green": (40, 160, 60), "yellow": (230, 200, 40)}
SHAPES = ("square", "stripe")


def _swatch(colour: str, shape: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((40, 40, 3), 235, np.int16)
    if shape == "square":
        image[8:32, 8:32] = COLOURS[colour]
    else:
        image[::6] = COLOURS[colour]
        image[1::6] = COLOURS[colour]
    image += rng.integers(-10, 11, image.shape, dtype=np.int16)
    return np.clip(image, 0, 255).astype(np.uint8)


def _season(folder, colours=tuple(COLOURS), per_style: int = 5, seed: int = 0):
    images, captions = [], []
    for colour in colours:
        for shape in SHAPES:
            for n in range(per_style):
                images.append(_swatch(colour, shape, seed + n))
                captions.append(f"a {colour} {shape}")
    datasets.write_caption_folder(folder, images, captions)
    return folder


def _tiny_config(tmp_path, **extra):
    overrides = {
        "heads": {"image_tower": "random-conv:8", "text_tower": "hash-bow:8", "embed_dim": 16, "hidden_dim": 32},
        "data": {"fashion_mnist_train": 0, "fashion_mnist_eval": 0, "creator_world_train": 0,
                 "creator_world_eval": 0, "folders": [str(_season(tmp_path / "base-folder"))]},
        "optim": {"epochs": 2, "batch_size": 8, "warmup_steps": 1},
        "retrain_optim": {"epochs": 2, "batch_size": 8, "warmup_steps": 1},
        "season": {"replay": 0.5},
        "cache_dir": str(tmp_path / "features"),
    }
    for key, value in extra.items():
        overrides[key] = {**overrides.get(key, {}), **value} if isinstance(value, dict) else value
    return load_config(None, overrides)


# --------------------------------------------------------------------------- data
def test_caption_folder_reads_csv_and_jsonl(tmp_path):
    folder = _season(tmp_path / "s", per_style=2)
    pairs, report = datasets.read_caption_folder(folder)
    assert len(pairs) == report.kept == 16 and not report.missing_images
    assert len(pairs.group_names) == 8
    jsonl = tmp_path / "j"
    jsonl.mkdir()
    (jsonl / "a.png").write_bytes((folder / "00000.jpg").read_bytes())
    (jsonl / "captions.jsonl").write_text(
        json.dumps({"image": "a.png", "captions": ["a red square", "red box"]}) + "\n", encoding="utf-8")
    pairs, _ = datasets.read_caption_folder(jsonl)
    assert pairs.captions == [["a red square", "red box"]]


def test_caption_folder_skips_missing_images_and_empty_captions(tmp_path):
    folder = _season(tmp_path / "s", per_style=1)
    with open(folder / "captions.csv", "a", encoding="utf-8") as handle:
        handle.write("gone.jpg,a lost image\n00000.jpg,\n,orphan caption\n")
    pairs, report = datasets.read_caption_folder(folder)
    assert len(pairs) == 8
    assert report.missing_images == ["gone.jpg"]
    assert len(report.bad_rows) == 2


@pytest.mark.parametrize("problem, message", [
    ("no-folder", "not found"), ("no-captions", "no captions file"), ("not-utf8", "not UTF-8"),
    ("all-missing", "no usable pairs"), ("bad-header", "header row"), ("bad-json", "not JSON"),
])
def test_bad_season_folders_are_clear_errors(tmp_path, problem, message):
    folder = tmp_path / "season"
    if problem != "no-folder":
        folder.mkdir()
    if problem == "not-utf8":
        (folder / "captions.csv").write_bytes(b"image,caption\nx.jpg,caf\xe9 \xff\n")
    elif problem == "all-missing":
        (folder / "captions.csv").write_text("image,caption\nx.jpg,a red dress\n", encoding="utf-8")
    elif problem == "bad-header":
        (folder / "captions.csv").write_text("file,text\nx.jpg,a red dress\n", encoding="utf-8")
    elif problem == "bad-json":
        (folder / "captions.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=message):
        datasets.read_caption_folder(folder)


def test_fashion_mnist_pairs_use_varied_prompts():
    if not datasets.FASHION_MNIST_DIR.is_dir():
        pytest.skip("dataset-fashion-mnist is not installed")
    pairs = datasets.fashion_mnist("train", 100, seed=0)
    assert len(pairs) == 100 and pairs.images[0].shape == (28, 28, 3)
    assert np.bincount(pairs.groups).tolist() == [10] * 10  # class balanced
    captions = pairs.captions[0]
    assert len(set(captions)) > 20 and any("photo" in c for c in captions)
    test_names = set(datasets.EVAL_TEMPLATES)
    assert not test_names & set(datasets.TRAIN_TEMPLATES)  # evaluation prompts are never trained on


def test_caption_variants_and_held_out_pairs():
    attributes = {"type": "skirt", "colour": "red", "pattern": "plaid", "silhouette": "mini", "kind": "bottom"}
    variants = datasets.caption_variants("a red plaid mini skirt", attributes, 8, seed=1)
    assert variants[0] == "a red plaid mini skirt" and len(variants) > 3
    assert variants == datasets.caption_variants("a red plaid mini skirt", attributes, 8, seed=1)
    held = datasets.held_out_pairs(0, 0.15)
    assert held == datasets.held_out_pairs(0, 0.15) and 5 < len(held) < 50


# --------------------------------------------------------------------------- loss and metrics
def test_clip_loss_prefers_aligned_pairs():
    import torch

    torch.manual_seed(0)
    images = torch.nn.functional.normalize(torch.randn(8, 16), dim=-1)
    scale = torch.tensor(np.log(1 / 0.07), dtype=torch.float32)
    aligned = clip_loss(images, images, scale)
    shuffled = clip_loss(images, images[torch.randperm(8)], scale)
    assert float(aligned) < float(shuffled)
    groups = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    swapped = images[[1, 0, 3, 2, 5, 4, 7, 6]]  # captions swapped inside each group
    # same-group pairs share a meaning: swapping them costs nothing with groups, a lot without
    assert float(clip_loss(images, swapped, scale, groups)) == pytest.approx(
        float(clip_loss(images, images, scale, groups)), abs=1e-5)
    assert float(clip_loss(images, swapped, scale)) > float(clip_loss(images, images, scale)) + 0.5


def test_retrieval_and_zero_shot_metrics():
    gallery = np.array([[1, 0], [0.6, 0.8], [0.8, 0.6], [0, 1]], np.float32)
    groups = np.array([0, 1, 0, 1])
    queries = np.array([[1, 0], [0, 1]], np.float32)  # finds both of group 0 / only group 1
    scores = retrieval_scores(queries, np.array([0, 0]), gallery, groups, k=2)
    assert scores["hit@2"] == 0.5 and scores["recall@2"] == 0.5
    scores = retrieval_scores(queries, np.array([0, 1]), gallery, groups, k=1)
    assert scores["hit@1"] == 1.0 and scores["recall@1"] == 1.0
    assert zero_shot_accuracy(gallery, np.array([0, 1, 0, 1]), gallery[[0, 3]]) == 1.0


def test_match_thresholds_come_from_same_style_and_different_style_pairs():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((6, 16))
    groups = np.repeat(np.arange(6), 8)
    images = centres[groups] + 0.3 * rng.standard_normal((len(groups), 16))
    images /= np.linalg.norm(images, axis=1, keepdims=True)

    class View(EmbedView):
        def images(self, pairs):
            return images.astype(np.float32)

        def texts(self, texts):
            rows = centres[[int(t.split()[-1]) for t in texts]]
            return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    pairs = datasets.PairSet("styles", [None] * len(groups), [[f"style {g}"] for g in groups], groups,
                             [f"style {g}" for g in range(6)])
    assert match_thresholds(View(), [EvalSet("fmnist", "fashion-mnist", pairs)]) is None
    thresholds = match_thresholds(View(), [EvalSet("styles", "folder", pairs)])
    assert thresholds is not None and "styles" in thresholds.derived_by
    for mode in ("image", "text", "image+text"):
        cutoffs = thresholds.cutoffs(mode)
        assert cutoffs is not None and cutoffs.fair <= cutoffs.strong
    same = images @ images.T  # image queries: neighbours of the same style clear "fair", others do not
    np.fill_diagonal(same, np.nan)
    fair = thresholds.cutoffs("image").fair
    assert np.nanmax(np.where(groups[:, None] == groups[None, :], same, np.nan), axis=1).min() > fair - 0.1
    assert np.nanmax(np.where(groups[:, None] != groups[None, :], same, np.nan), axis=1).mean() < fair


def test_wise_interpolation_endpoints():
    import torch

    old, new = {"w": torch.zeros(3), "n": torch.tensor([1])}, {"w": torch.ones(3), "n": torch.tensor([2])}
    assert torch.equal(interpolate_state(old, new, 0.0)["w"], old["w"])
    assert torch.equal(interpolate_state(old, new, 1.0)["w"], new["w"])
    assert torch.allclose(interpolate_state(old, new, 0.25)["w"], torch.full((3,), 0.25))


def test_season_split_keeps_every_style_in_each_part(tmp_path):
    pairs, _ = datasets.read_caption_folder(_season(tmp_path / "s", per_style=7))
    config = load_config().season
    train, select, test = split_season(pairs, config)
    assert len(train) + len(select) + len(test) == len(pairs)
    for part in (train, select, test):
        assert set(part.groups) == set(pairs.groups)


# --------------------------------------------------------------------------- runs and versions
def test_two_step_training_writes_a_loadable_version(tmp_path, data_dir):
    config = _tiny_config(tmp_path, optim={"max_steps": 2})
    result = run_train(config, data_dir)
    assert result.train_log.steps == 2
    assert current_version(data_dir) == result.version == "v0001"
    for name in ("heads.safetensors", "config.yaml", "eval.json", "eval.md", "version.json"):
        assert (result.path / name).is_file()
    info = read_version(data_dir, result.version)
    assert info["parent"] is None and info["train_log"]["steps"] == 2
    encoder = resolve_encoder(None, data_dir)
    assert encoder.dim == 16
    vectors = encoder.encode_text(["a red square"])
    assert vectors.shape == (1, 16)


@pytest.mark.slow
def test_retrain_writes_a_child_version_with_before_after(tmp_path, data_dir):
    config = _tiny_config(tmp_path)
    first = run_train(config, data_dir)
    season = _season(tmp_path / "season-1", colours=("red", "blue"), per_style=8, seed=50)
    second = run_retrain(season, data_dir, config)
    assert list_versions(data_dir) == ["v0001", "v0002"] and current_version(data_dir) == "v0002"
    info = read_version(data_dir, second.version)
    assert info["parent"] == first.version
    assert set(second.report) == {"before", "after"}
    assert "season-season-1" in second.report["after"]
    assert 0.0 <= second.wise_ratio <= 1.0 and info["wise_candidates"]
    # the search's match cut-offs, derived from this version's eval sets, recorded with it
    match = info["match_strength"]
    modes = set(match) - {"derived_by"}
    assert "text" in modes <= {"image", "text", "image+text"} and "season-season-1" in match["derived_by"]
    assert all(-1 <= match[mode]["fair"] <= match[mode]["strong"] <= 1 for mode in modes)
    assert recorded_thresholds(second.encoder, "unused", data_dir) == MatchThresholds.from_dict(match)
    assert (second.path / "eval_sets" / "season-season-1" / "captions.csv").is_file()
    # the next season is also scored on this season's eval set (the old eval set)
    third = run_retrain(_season(tmp_path / "season-2", colours=("green",), per_style=8, seed=90), data_dir, config)
    assert "season-season-1" in third.report["before"] and "season-season-2" in third.report["after"]
    assert read_version(data_dir, third.version)["parent"] == "v0002"


def test_retrain_cli_exit_codes(tmp_path, data_dir):
    import yaml

    from app.cli import main

    config_file = tmp_path / "train.yaml"
    overrides = _tiny_config(tmp_path)
    import configs

    config_file.write_text(yaml.safe_dump(configs.to_dict(overrides)), encoding="utf-8")
    assert main(["train", "--data-dir", str(data_dir), "--config", str(config_file), "--json"]) == 0
    season = _season(tmp_path / "season", per_style=4)
    assert main(["retrain", "--season", str(season), "--data-dir", str(data_dir),
                 "--config", str(config_file), "--json"]) == 0
    assert main(["retrain", "--season", str(tmp_path / "nope"), "--data-dir", str(data_dir),
                 "--config", str(config_file)]) == 2
    assert len(list_versions(data_dir)) == 2


def test_retrain_reindex_switches_atomically_under_concurrent_search(tmp_path, data_dir):
    from inference.embed import CropEmbedder
    from inference.index import GarmentIndex, read_current, rebuild_index
    from tests.index_helpers import index_config, make_world

    config = _tiny_config(tmp_path)
    run_train(config, data_dir)
    make_world(data_dir, videos=6, per_video=4)
    parent = resolve_encoder(None, data_dir)
    old_index = rebuild_index(data_dir, CropEmbedder(parent), progress=False)
    index = GarmentIndex(data_dir, index_config())
    query = parent.encode_text(["a red square"])
    failures, searches, stop = [], [0], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                _scores, ids = index.search(query, 5)
                assert ids.shape == (1, 5) and (ids >= 0).all()
                searches[0] += 1
            except Exception as exc:  # any failure during the switch is a bug
                failures.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result = run_retrain(_season(tmp_path / "season", per_style=4), data_dir, config, reindex=True)
    finally:
        stop.set()
        thread.join()
    assert not failures and searches[0] > 0
    assert result.reindexed and read_current(data_dir) == result.reindexed != old_index
    assert index.version().encoder_info["version"] == create_encoder(result.encoder).version


@pytest.mark.slow
def test_open_clip_locked_image_fine_tune_writes_a_version(tmp_path, data_dir):
    config = _tiny_config(tmp_path, encoder="open_clip:stylescope-tiny-vit:random",
                          optim={"max_steps": 2}, open_clip={"lock_image": True, "lr": 1e-3})
    config.data.folders = [str(_season(tmp_path / "clip-folder", per_style=4))]
    before = create_encoder("open_clip:stylescope-tiny-vit:random")
    result = run_train(config, data_dir)
    assert result.train_log.steps == 2 and result.wise_ratio is not None
    assert (result.path / "model.safetensors").is_file()
    trained = create_encoder(result.encoder)
    assert trained.name.endswith("model.safetensors") and trained.dim == before.dim
    for key, value in before.model.state_dict().items():  # the locked image tower did not move
        if key.startswith("visual."):
            assert np.allclose(trained.model.state_dict()[key].numpy(), value.numpy())
    assert "train-holdout" in result.report["after"]
    assert "text" in read_version(data_dir, result.version)["match_strength"]
