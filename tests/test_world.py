"""Tests for the creator world: garment crops, world plans, rendered videos, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from training.render import random_garment, render_garment_crops
from training.vocabulary import VOCABULARY, GarmentSpec


def test_vocabulary_lists_every_attribute():
    for key in ("garment_types", "colours", "patterns", "silhouettes", "kinds"):
        assert VOCABULARY[key], key
    assert "plaid" in VOCABULARY["patterns"] and "skirt" in VOCABULARY["garment_types"]


def test_caption_reads_like_a_description():
    assert GarmentSpec("skirt", "red", "plaid", "mini").caption() == "a red plaid mini skirt"
    assert GarmentSpec("crop top", "navy", "stripes", "fitted").caption() == "a navy striped fitted crop top"
    assert GarmentSpec("jeans", "blue", "denim", "wide-leg").caption() == "blue denim wide-leg jeans"
    assert GarmentSpec("t-shirt", "orange", "solid", "oversized").caption() == "an orange oversized t-shirt"


def test_garment_spec_rejects_impossible_silhouette():
    with pytest.raises(ValueError, match="cannot be"):
        GarmentSpec("jeans", "blue", "denim", "mini")


def test_garment_crops_have_images_captions_and_attributes():
    samples = render_garment_crops(12, seed=3, size=96)
    assert len(samples) == 12
    for sample in samples:
        assert sample.image.shape == (96, 96, 3) and sample.image.dtype == np.uint8
        assert sample.image.std() > 5  # not a blank square
        attrs = sample.attributes
        assert attrs["colour"] in sample.caption and attrs["type"] in sample.caption
        assert attrs["kind"] in ("top", "bottom", "full")
        assert attrs["silhouette"] in VOCABULARY["silhouettes"]


def test_garment_crops_are_deterministic_and_seed_dependent():
    a = render_garment_crops(4, seed=7, size=64)
    b = render_garment_crops(4, seed=7, size=64)
    c = render_garment_crops(4, seed=8, size=64)
    assert all(np.array_equal(x.image, y.image) and x.caption == y.caption for x, y in zip(a, b, strict=True))
    assert any(not np.array_equal(x.image, y.image) for x, y in zip(a, c, strict=True))


def test_garment_crops_with_workers_match_single_process():
    single = render_garment_crops(70, seed=1, size=48)
    pooled = render_garment_crops(70, seed=1, size=48, workers=2)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(single, pooled, strict=True))


def test_held_out_combinations_never_appear_and_only_restricts():
    held_out = {("red", "plaid"), ("navy", "stripes")}
    pairs = {(s.attributes["colour"], s.attributes["pattern"]) for s in render_garment_crops(60, seed=2, size=32, exclude=held_out)}
    assert not pairs & held_out
    only = render_garment_crops(10, seed=2, size=32, only=held_out)
    assert {(s.attributes["colour"], s.attributes["pattern"]) for s in only} <= held_out


def test_crop_kinds_filter_and_bad_arguments():
    assert {s.attributes["kind"] for s in render_garment_crops(8, size=32, kinds=["bottom"])} == {"bottom"}
    with pytest.raises(ValueError):
        render_garment_crops(-1)
    with pytest.raises(ValueError):
        render_garment_crops(2, kinds=["hat"])
    with pytest.raises(ValueError, match="leave no"):
        render_garment_crops(2, only={("red", "plaid")}, exclude={("red", "plaid")})
    with pytest.raises(ValueError, match="unknown"):
        render_garment_crops(2, exclude={("red", "tartan")})


def test_random_garment_respects_kind():
    rng = np.random.default_rng(0)
    assert all(random_garment(rng, "full").kind == "full" for _ in range(5))
