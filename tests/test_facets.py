"""Facet names (inference/facets.py) and measured colours (inference/palette.py) on hand-built cases."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from core.errors import BadInputError
from inference.facets import (
    FacetConfig,
    FacetVocabulary,
    SlotGarments,
    SlotVocabulary,
    embed_facet_prompts,
    load_facet_vocabulary,
    name_style_facets,
)
from inference.palette import (
    ColourReading,
    ciede2000,
    load_palette,
    measure_colour,
    read_colour,
    srgb_to_lab,
)

PALETTE = load_palette()


def rgb(name: str) -> tuple[int, int, int]:
    hex_ = PALETTE.colour(name).hex.lstrip("#")
    return int(hex_[0:2], 16), int(hex_[2:4], 16), int(hex_[4:6], 16)


def garment_crop(garment: tuple[int, int, int], wall: tuple[int, int, int] = (200, 200, 196),
                 skin: tuple[int, int, int] | None = None, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """A crop as a localiser cuts it: wall all round, the garment in the middle, arms at its sides."""
    h, w = size
    crop = np.empty((h, w, 3), np.uint8)
    crop[:] = wall
    crop[int(0.12 * h) : int(0.95 * h), int(0.22 * w) : int(0.78 * w)] = garment
    if skin is not None:
        crop[int(0.15 * h) : int(0.8 * h), int(0.12 * w) : int(0.22 * w)] = skin
        crop[int(0.15 * h) : int(0.8 * h), int(0.78 * w) : int(0.88 * w)] = skin
    return crop


# ----------------------------------------------------------------------------- colour


def test_ciede2000_matches_published_pairs():
    # Sharma, Wu & Dalal (2005) test data, pairs 1, 2, 3 and 18
    first = np.array([[50, 2.6772, -79.7751], [50, 3.1571, -77.2803], [50, 2.8361, -74.0200], [50, 2.5, 0]])
    second = np.array([[50, 0, -82.7485], [50, 0, -82.7485], [50, 0, -82.7485], [73, 25, -18]])
    np.testing.assert_allclose(ciede2000(first, second), [2.0425, 2.8615, 3.4412, 27.1492], atol=1e-4)


def test_palette_lab_values_match_their_swatches_and_families_exist():
    for colour in PALETTE.colours:
        np.testing.assert_allclose(srgb_to_lab(np.array(rgb(colour.name))), colour.lab, atol=0.15)
        assert colour.family in PALETTE.names
    for fashion_name in ("butter yellow", "sage", "camel", "burgundy", "navy", "cream"):
        assert fashion_name in PALETTE.names


@pytest.mark.parametrize("name", ["navy", "butter yellow", "sage", "camel", "burgundy", "cream", "red", "lavender"])
def test_a_colour_patch_maps_to_its_palette_name(name):
    patch = np.empty((40, 40, 3), np.uint8)
    patch[:] = rgb(name)
    lab = measure_colour(patch, "top")
    assert lab is not None
    assert PALETTE.nearest(lab)[0] == [name]


@pytest.mark.parametrize("slot", ["top", "bottom", "full"])
def test_the_garment_not_the_wall_nor_the_arms(slot):
    crop = garment_crop(rgb("navy"), wall=rgb("baby pink"), skin=(224, 172, 140))
    lab = measure_colour(crop, slot)
    assert lab is not None and PALETTE.nearest(lab)[0] == ["navy"]


def test_a_skin_toned_garment_is_still_measured():
    crop = garment_crop(rgb("camel"), wall=(60, 60, 64))
    lab = measure_colour(crop, "top")
    assert lab is not None and PALETTE.nearest(lab)[0] == ["camel"]


def test_the_top_showing_above_a_bottom_counts_for_little():
    crop = np.empty((160, 120, 3), np.uint8)
    crop[:] = (200, 200, 196)
    crop[:75, 20:100] = rgb("red")  # the top, down to the waist
    crop[75:, 30:90] = rgb("olive")  # the trousers
    above = srgb_to_lab(np.array(rgb("red"), float))
    lab = measure_colour(crop, "bottom", above=above)
    assert lab is not None and PALETTE.nearest(lab)[0] == ["olive"]


def test_plain_and_patterned_garments_differ_in_main_colour_share():
    plain = garment_crop(rgb("green"))
    striped = plain.copy()
    striped[::8] = rgb("white")
    striped[1::8] = rgb("white")
    striped[2::8] = rgb("white")
    plain_reading, striped_reading = read_colour(plain, "top"), read_colour(striped, "top")
    assert plain_reading is not None and striped_reading is not None
    assert plain_reading.main_share > 0.95 > 0.8 > striped_reading.main_share


def test_colour_of_fashion_mnist_garments_tinted_with_known_colours():
    """Real garment shapes from another source (skipped where the dataset is not installed)."""
    from world.fashion_mnist import FASHION_MNIST_DIR, read_idx

    path = FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        pytest.skip("Fashion-MNIST is not installed")
    images = read_idx(path)[:40]
    names = ["navy", "red", "sage", "mustard", "burgundy", "light blue", "camel", "lavender"]
    hits = 0
    for n, image in enumerate(images):
        name = names[n % len(names)]
        # the garment's colour, shaded by the photo's brightness, on a light wall
        garment = np.kron((image > 30)[..., None], np.ones((4, 4, 1)))
        shade = np.kron((0.75 + 0.25 * image / 255.0)[..., None], np.ones((4, 4, 1)))
        crop = np.where(garment > 0, shade * np.array(rgb(name)), np.array([230, 228, 222])).astype(np.uint8)
        lab = measure_colour(crop, "full")
        hits += lab is not None and PALETTE.family(PALETTE.nearest(lab)[0][0]) == PALETTE.family(name)
    assert hits / len(images) >= 0.9


def test_bad_palette_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "palette.yaml"
    bad.write_text("colours:\n  - {name: teal}\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="entry 1"):
        load_palette(bad)


# ----------------------------------------------------------------------------- naming


class WordEncoder:
    """A text tower that gives each text its own random unit vector (no model needed)."""

    dim = 64

    def encode_text(self, texts):
        return np.stack([self.vector(t) for t in texts])

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        v = np.random.default_rng(seed).normal(size=self.dim)
        return v / np.linalg.norm(v)


VOCABULARY = FacetVocabulary(
    slots={
        "top": SlotVocabulary({"tank top": ("fitted", "oversized"), "t-shirt": ("fitted", "oversized"),
                               "hoodie": ("fitted", "oversized")}),
        "bottom": SlotVocabulary({"jeans": ("skinny", "straight"), "skirt": ("mini", "midi")}),
        "dress": SlotVocabulary({"dress": ("mini", "midi")}),
    },
    patterns={"solid": "", "striped": "striped", "denim": "denim", "floral": "floral"},
)
ENCODER = WordEncoder()
PROMPTS = embed_facet_prompts(VOCABULARY, ENCODER)


def wearing(phrases: list[str], colours: list[str], main_share: float = 0.7, noise: float = 0.05, seed: int = 0) -> SlotGarments:
    """Garments whose embeddings sit near the given phrases, with measured colours."""
    rng = np.random.default_rng(seed)
    vectors = np.stack([ENCODER.vector(p) + rng.normal(scale=noise, size=ENCODER.dim) for p in phrases])
    readings = [ColourReading(np.asarray(PALETTE.colour(c).lab), main_share) for c in colours]
    return SlotGarments(vectors, colours=readings)


def test_top_and_bottom_are_named_from_their_own_vocabularies():
    name = name_style_facets(
        {"top": wearing(["striped oversized tank top"] * 10, ["pink"] * 10),
         "bottom": wearing(["denim skinny jeans"] * 10, ["light blue"] * 10, main_share=0.97),
         "full": wearing(["striped oversized tank top"] * 10, ["pink"] * 10)},
        PROMPTS, PALETTE)
    assert name.text == "pink striped oversized tank top + light blue denim skinny jeans"
    top, bottom = name.slot("top"), name.slot("bottom")
    assert top is not None and bottom is not None and name.slot("dress") is None
    assert top.facets["type"].value in VOCABULARY.slots["top"].types
    assert bottom.facets["type"].value in VOCABULARY.slots["bottom"].types
    assert top.facets["colour"].evidence == 1.0
    facets = name.to_dict()["slots"]["bottom"]["facets"]
    assert facets["type"] == {"value": "jeans", "evidence": 1.0, "margin": facets["type"]["margin"]}


def test_a_facet_with_too_little_evidence_is_left_out():
    phrases = ["striped oversized tank top", "striped oversized t-shirt", "striped oversized hoodie"] * 4
    colours = ["pink", "navy", "sage", "mustard"] * 3
    name = name_style_facets({"top": wearing(phrases, colours)}, PROMPTS, PALETTE)
    top = name.slot("top")
    assert top is not None
    assert "type" not in top.facets and "colour" not in top.facets
    assert top.facets["pattern"].value == "striped" and top.facets["silhouette"].value == "oversized"
    assert name.text == "striped oversized top"


def test_neighbouring_shades_agree_on_the_shade_between_them():
    # blue, cobalt and royal blue lie within the colour match of each other: "blue" for 6 of 10
    colours = ["navy", "blue", "cobalt", "royal blue", "navy", "blue", "cobalt", "royal blue", "navy", "light blue"]
    name = name_style_facets({"top": wearing(["fitted t-shirt"] * 10, colours, main_share=0.99)}, PROMPTS, PALETTE)
    top = name.slot("top")
    assert top is not None and top.facets["colour"].value == "blue"
    assert top.facets["colour"].evidence == 0.6
    assert name.text == "blue fitted t-shirt"


def test_olive_garments_are_named_olive_not_their_familys_green():
    # olive and khaki green garments (a light pulls the shades apart): their family is green, but they are olive
    colours = ["olive", "khaki green", "olive", "khaki green", "forest green", "olive", "khaki green", "navy", "red", "pink"]
    name = name_style_facets({"top": wearing(["fitted t-shirt"] * 10, colours, main_share=0.99)}, PROMPTS, PALETTE)
    top = name.slot("top")
    assert top is not None and top.facets["colour"].value in ("olive", "khaki green")


def test_plain_pixels_keep_a_patterned_word_out():
    # the encoder leans to "floral", but the pixels show one colour: plain patterns only
    phrases = ["floral fitted t-shirt"] * 8 + ["fitted t-shirt"] * 2
    patterned = name_style_facets({"top": wearing(phrases, ["white"] * 10, main_share=0.6)}, PROMPTS, PALETTE).slot("top")
    plain = name_style_facets({"top": wearing(phrases, ["white"] * 10, main_share=0.99)}, PROMPTS, PALETTE).slot("top")
    assert patterned is not None and patterned.facets["pattern"].value == "floral"
    assert plain is not None
    assert "pattern" not in plain.facets or plain.facets["pattern"].value in ("solid", "denim")


def test_a_dress_is_one_slot():
    name = name_style_facets(
        {"top": wearing(["floral midi dress"] * 8, ["red"] * 8),
         "bottom": wearing(["floral midi skirt"] * 8, ["red"] * 8),
         "full": wearing(["floral midi dress"] * 8, ["red"] * 8)},
        PROMPTS, PALETTE)
    assert [s.slot for s in name.slots] == ["dress"]
    assert name.text == "red floral midi dress"


def test_thresholds_are_bounded():
    from configs import ConfigError, from_dict

    with pytest.raises(ConfigError, match="min_evidence must be in"):
        from_dict(FacetConfig, {"min_evidence": 1.5})


def test_packaged_vocabulary_has_every_slot(tmp_path: Path):
    vocabulary = load_facet_vocabulary()
    assert set(vocabulary.slots) == {"top", "bottom", "dress"}
    assert not set(vocabulary.slots["top"].types) & set(vocabulary.slots["bottom"].types)
    bad = tmp_path / "facets.yaml"
    bad.write_text("slots: {top: {types: {}}}\npatterns: {solid: ''}\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="facet vocabulary"):
        load_facet_vocabulary(bad)
