"""The offline default's text side in NumPy: same vectors and results as torch, and a text
search from the command line that never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from models import create_encoder
from models.minilm_numpy import erf, gelu
from models.offline import HeadsConfig, build_heads, head_shapes, project_numpy, save_heads

REPO = Path(__file__).resolve().parents[1]
TINY_HEADS = HeadsConfig(image_tower="random-conv:8", text_tower="hash-bow:8", embed_dim=16, hidden_dim=32)
QUERIES = [
    "red plaid mini skirt", "a photo of a dress.", "oversized denim jacket", "Café crème blazer, oversized!",
    "black leather trousers", "white sneakers", "striped t-shirt", "", "wide-leg jeans " * 100,
    "a green and yellow checked top", "floral summer dress with ruffles", "navy blue suit",
]


def test_erf_and_gelu_match_torch():
    values = np.linspace(-12, 12, 100_001, dtype=np.float32)
    exact = torch.erf(torch.from_numpy(values).double()).numpy()
    assert np.abs(erf(values) - exact).max() < 5e-7
    reference = torch.nn.functional.gelu(torch.from_numpy(values)).numpy()
    np.testing.assert_allclose(gelu(values), reference, atol=5e-6, rtol=1e-6)


def test_head_shapes_are_the_shapes_build_heads_makes():
    heads = build_heads(TINY_HEADS, 12, 8)
    assert {name: tuple(value.shape) for name, value in heads.state_dict().items()} == head_shapes(TINY_HEADS, 12, 8)


def test_numpy_projection_equals_the_torch_head():
    heads = build_heads(TINY_HEADS, 12, 8, seed=4).eval()
    features = np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32) * 3
    weights = {name: value.numpy() for name, value in heads.text.state_dict().items()}
    with torch.inference_mode():
        expected = heads.text(torch.from_numpy(features)).numpy()
    np.testing.assert_allclose(project_numpy(weights, features), expected, atol=1e-5, rtol=1e-5)


def test_a_heads_file_builds_no_torch_heads_until_they_are_needed(tmp_path):
    path = tmp_path / "tiny.safetensors"
    save_heads(build_heads(TINY_HEADS, 8, 8, seed=3), TINY_HEADS, path)
    encoder = create_encoder(f"stylescope-default:{path}")
    assert encoder._heads is None  # type: ignore[attr-defined]
    images = [np.full((30, 20, 3), 90, np.uint8)]
    assert encoder.encode_images(images).shape == (1, 16)
    assert encoder._heads is not None  # type: ignore[attr-defined]


def test_a_torch_only_tower_refuses_the_numpy_engine(tmp_path):
    path = tmp_path / "tiny.safetensors"
    save_heads(build_heads(TINY_HEADS, 8, 8, seed=3), TINY_HEADS, path)
    encoder = create_encoder(f"stylescope-default:{path}")
    encoder.text_engine = "numpy"  # type: ignore[attr-defined]
    assert not encoder.text_in_numpy()  # type: ignore[attr-defined]
    assert encoder.encode_text(["a red skirt"]).shape == (1, 16)  # hash-bow runs in torch


# --------------------------------------------------------------------------- the real text tower
@pytest.fixture(scope="module")
def default_encoder():
    return create_encoder()


@pytest.mark.slow
def test_numpy_minilm_matches_the_torch_module(default_encoder):
    from models.minilm import tokenize

    tower = default_encoder.text_tower
    ids, mask = tokenize(tower.tokenizer, QUERIES, tower.max_tokens)
    with torch.inference_mode():
        expected = tower.network(ids, mask).numpy()
    hidden = tower.numpy_network(ids.numpy(), mask.numpy())
    real = mask.numpy().astype(bool)
    np.testing.assert_allclose(hidden[real], expected[real], atol=2e-5, rtol=1e-4)


@pytest.mark.slow
def test_the_two_engines_give_the_same_text_vectors(default_encoder):
    vectors = {}
    for engine in ("numpy", "torch"):
        default_encoder.text_engine = engine
        vectors[engine] = default_encoder.encode_text(QUERIES)
    default_encoder.text_engine = "auto"
    np.testing.assert_allclose(np.linalg.norm(vectors["numpy"], axis=1), 1.0, atol=1e-5)
    assert np.abs(vectors["numpy"] - vectors["torch"]).max() < 1e-4


# --------------------------------------------------------------------------- search
@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """A small catalog indexed with the offline default encoder."""
    from inference.embed import CropEmbedder
    from inference.index import rebuild_index
    from tests.index_helpers import index_config, make_world

    data_dir = tmp_path_factory.mktemp("deployment")
    make_world(data_dir, videos=12, per_video=5)
    rebuild_index(data_dir, CropEmbedder(create_encoder()), config=index_config(), progress=False)
    return data_dir


SEARCHES = ["red and white striped top", "black checked skirt", "green dress", "yellow stripes"]


def _hits(result) -> tuple[list[int], np.ndarray]:
    return [hit.garment_id for hit in result.hits], np.array([hit.score for hit in result.hits])


def _same_hits(found: tuple[list[int], np.ndarray], expected: tuple[list[int], np.ndarray]) -> bool:
    return len(found[0]) == 10 and found[0] == expected[0] and np.abs(found[1] - expected[1]).max() < 1e-4


@pytest.mark.slow
def test_both_engines_find_the_same_garments(deployment):
    from inference.search import SearchConfig, Searcher
    from tests.index_helpers import index_config

    searcher = Searcher(deployment, create_encoder(), SearchConfig.load(), index_config())
    try:
        for text in SEARCHES:
            for dedupe in (True, False):
                found = {}
                for engine in ("numpy", "torch"):
                    searcher.encoder.text_engine = engine  # type: ignore[attr-defined]
                    found[engine] = _hits(searcher.search(text=text, k=10, dedupe=dedupe))
                assert _same_hits(found["numpy"], found["torch"]), text
    finally:
        searcher.close()


PROBE = """
import contextlib, io, json, sys
from app.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "out": out.getvalue(),
                  "loaded": sorted(m for m in ("torch", "transformers", "efficientnet_lite_pytorch") if m in sys.modules)}))
"""


@pytest.mark.slow
def test_a_cli_text_search_never_imports_torch(deployment):
    from inference.search import SearchConfig, Searcher
    from tests.index_helpers import index_config

    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    argv = ["search", "--text", SEARCHES[0], "--k", "10", "--json", "--data-dir", str(deployment)]
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    probed = json.loads(done.stdout.strip().splitlines()[-1])
    assert probed["code"] == 0 and probed["loaded"] == []
    hits = json.loads(probed["out"])["hits"]
    cli_hits = [hit["garment_id"] for hit in hits], np.array([hit["score"] for hit in hits])
    encoder = create_encoder()
    encoder.text_engine = "torch"  # type: ignore[attr-defined]
    searcher = Searcher(deployment, encoder, SearchConfig.load(), index_config())
    try:
        assert _same_hits(cli_hits, _hits(searcher.search(text=SEARCHES[0], k=10)))
    finally:
        searcher.close()
