"""A style's colours and whether it is a dress (inference/facet_colour.py) on hand-built crops and a real photo."""

from __future__ import annotations

import numpy as np
import pytest

from inference.facet_colour import Facet, colour_facet, one_garment_share, second_opinion
from inference.facet_probe import FacetProbe, LinearHead
from inference.facets import FacetConfig, SlotGarments, name_style_facets
from inference.palette import ColourReading, load_palette, read_colour, srgb_to_lab
from tests.test_facets import ENCODER, PROMPTS, garment_crop, rgb

PALETTE = load_palette()
WALL = (120, 128, 140)  # a mid grey-blue wall (a white garment on a white wall is another matter)
SIZE = (240, 180)
SKIN = (224, 172, 140)


def named(reading: ColourReading | None) -> str | None:
    return None if reading is None else PALETTE.nearest(reading.lab)[0][0]


def dotted(base: str, dots: str, period: int = 16, radius: float = 3.5) -> np.ndarray:
    """A garment crop of ``base`` cloth with ``dots`` of another colour (about 15% of it)."""
    crop = garment_crop(rgb(base), wall=WALL, size=SIZE)
    yy, xx = np.mgrid[: crop.shape[0], : crop.shape[1]]
    spots = ((yy % period - period / 2) ** 2 + (xx % period - period / 2) ** 2) <= radius**2
    inside = np.all(crop == rgb(base), axis=-1)
    crop[spots & inside] = rgb(dots)
    return crop


def striped(base: str, stripe: str, period: int = 16, band: int = 6) -> np.ndarray:
    """``stripe`` bands over ``base`` cloth, filling ``band / period`` of it."""
    crop = garment_crop(rgb(base), wall=WALL, size=SIZE)
    inside = np.all(crop == rgb(base), axis=-1)
    rows = (np.arange(crop.shape[0]) % period < band)[:, None]
    crop[inside & rows] = rgb(stripe)
    return crop


def checked(first: str, second: str, cell: int = 14) -> np.ndarray:
    """Checks of two colours, half and half."""
    crop = garment_crop(rgb(first), wall=WALL, size=SIZE)
    inside = np.all(crop == rgb(first), axis=-1)
    yy, xx = np.mgrid[: crop.shape[0], : crop.shape[1]]
    crop[inside & (((yy // cell) + (xx // cell)) % 2 == 1)] = rgb(second)
    return crop


def softened(crop: np.ndarray) -> np.ndarray:
    """Blurred like a video frame, so that a print's edges blend."""
    import cv2

    return cv2.GaussianBlur(crop, (5, 5), 1.2)


# ----------------------------------------------------------------------------- one garment


@pytest.mark.parametrize(("crop", "base", "slot"), [
    (lambda: dotted("white", "purple"), "white", "bottom"),
    (lambda: dotted("beige", "purple"), "beige", "bottom"),
    (lambda: striped("white", "green"), "white", "top"),
    (lambda: striped("orange", "pink"), "orange", "top"),
])
def test_a_patterned_garment_is_read_by_its_base_colour_not_its_print(crop, base, slot):
    reading = read_colour(softened(crop()), slot)
    assert named(reading) == base
    assert reading is not None and reading.second is None  # the print fills too little to be a toss-up


def test_a_two_colour_check_is_a_toss_up_between_its_colours():
    reading = read_colour(softened(checked("black", "purple")), "top")
    assert reading is not None and reading.second is not None
    assert {named(reading), PALETTE.nearest(reading.second)[0][0]} == {"black", "purple"}


def test_a_brown_garment_is_the_garment_not_skin():
    # brown sits in the skin-tone range; it fills the middle of the crop, the arms its sides
    reading = read_colour(garment_crop(rgb("brown"), wall=WALL, skin=SKIN), "top")
    assert named(reading) == "brown"
    bottom = np.empty((160, 120, 3), np.uint8)
    bottom[:] = WALL
    bottom[:, 25:95] = rgb("brown")  # a brown skirt ...
    bottom[130:, 35:85] = SKIN  # ... and the legs below it
    assert named(read_colour(bottom, "bottom")) == "brown"


def test_a_bottom_of_the_tops_colour_is_still_its_own_colour():
    crop = np.empty((160, 120, 3), np.uint8)
    crop[:] = WALL
    crop[:, 25:95] = rgb("olive")  # olive top above the waist, olive trousers below
    above = srgb_to_lab(np.array(rgb("olive"), float))
    assert named(read_colour(crop, "bottom", above=above)) == "olive"


def test_a_short_tops_crop_is_read_as_the_top_not_the_jeans_below_it():
    """A crop top's box reaches the jeans: most of the crop is the bottom. Knowing the bottom
    read in the same frame (``below``), its colour low in the crop counts for little."""
    crop = np.empty((160, 120, 3), np.uint8)
    crop[:] = WALL
    crop[:60, 25:95] = rgb("purple")  # the top
    crop[60:72, 30:90] = SKIN  # the midriff
    crop[72:, 25:95] = rgb("blue")  # the jeans, more than half of the crop
    assert named(read_colour(crop, "top")) == "blue"
    below = srgb_to_lab(np.array(rgb("blue"), float))
    assert named(read_colour(crop, "top", below=below)) == "purple"
    # a blue top over blue jeans fills both halves: still blue
    crop[:60, 25:95] = rgb("blue")
    assert named(read_colour(crop, "top", below=below)) == "blue"


def test_a_real_photo_garment_is_read_not_the_face_nor_the_backdrop():
    """scikit-image's astronaut photo: an orange-red flight suit, a face, a grey backdrop, a flag."""
    data = pytest.importorskip("skimage.data")
    photo = data.astronaut()
    reading = read_colour(photo[130:512, 10:370], "top")  # shoulders down: the suit fills the middle
    assert reading is not None
    lightness, a, b = reading.lab
    hue = np.degrees(np.arctan2(b, a))
    assert PALETTE.family(named(reading) or "") in ("orange", "red")
    assert 25 <= hue <= 65 and np.hypot(a, b) > 40 and 35 < lightness < 75  # saturated orange-red, not skin (chroma < 40)


# ----------------------------------------------------------------------------- a style's colour


def readings(names: list[str], seconds: list[str | None] | None = None) -> list[ColourReading | None]:
    seconds = seconds or [None] * len(names)
    return [ColourReading(np.asarray(PALETTE.colour(n).lab), 0.6,
                          None if s is None else np.asarray(PALETTE.colour(s).lab)) for n, s in zip(names, seconds, strict=True)]


def test_two_colours_backed_equally_are_left_out_or_named_together_never_one_guessed():
    tossed = readings(["black", "purple"] * 5, ["purple", "black"] * 5)
    assert colour_facet(tossed, PALETTE, FacetConfig()) is None  # the default: left out
    config = FacetConfig(two_colours=True)
    facet = colour_facet(tossed, PALETTE, config)
    assert facet is not None and {facet.value, facet.second} == {"black", "purple"}
    assert facet.words in ("black and purple", "purple and black")
    assert facet.to_dict()["second"] == facet.second
    # the colour that is more often a crop's main one comes first
    leaning = readings(["black"] * 7 + ["purple"] * 3, ["purple"] * 7 + ["black"] * 3)
    facet = colour_facet(leaning, PALETTE, config)
    assert facet is not None and (facet.value, facet.second) == ("black", "purple")
    # a toss-up between two shades of one family is one colour printed light and dark (camo): the family
    shades = readings(["forest green", "sage"] * 5, ["sage", "forest green"] * 5)
    assert PALETTE.family("forest green") == PALETTE.family("sage") == "green"
    for either in (config, FacetConfig()):
        facet = colour_facet(shades, PALETTE, either)
        assert facet is not None and (facet.value, facet.second) == ("green", None)
    # a toss-up whose colours each hold too few garments (most crops unread) is left out
    thin = readings(["black", "purple"] * 2, ["purple", "black"] * 2) + [None] * 6
    assert colour_facet(thin, PALETTE, config) is None
    # one colour of the print winning nearly everywhere is named
    clear = readings(["black"] * 9 + ["purple"], [None] * 10)
    facet = colour_facet(clear, PALETTE, config)
    assert facet is not None and facet.value == "black" and facet.evidence == 0.9


def test_a_toss_up_is_not_filled_in_by_the_probe():
    """The probe's colour fills a colour the pixels could not settle, but not a toss-up (left
    out, or its two colours named with ``two_colours``)."""
    dim = ENCODER.dim
    weight = np.zeros((2, dim), np.float32)
    head = LinearHead(weight, np.array([5.0, 0.0], np.float32), ("purple", "black"))  # always "purple"
    probe = FacetProbe("v", {("top", "colour"): head})
    garments = SlotGarments(np.stack([ENCODER.vector("checked t-shirt")] * 10),
                            colours=readings(["black", "purple"] * 5, ["purple", "black"] * 5))
    assert "colour" not in name_style_facets({"top": garments}, PROMPTS, PALETTE, probe=probe).slot("top").facets
    name = name_style_facets({"top": garments}, PROMPTS, PALETTE, FacetConfig(two_colours=True), probe=probe)
    top = name.slot("top")
    assert top is not None and {top.facets["colour"].value, top.facets["colour"].second} == {"black", "purple"}
    assert top.text == f"{top.facets['colour'].value} and {top.facets['colour'].second} top"
    # where the pixels read nothing at all, the sure probe fills in
    unread = SlotGarments(garments.embeddings, colours=[None] * 10)
    filled = name_style_facets({"top": unread}, PROMPTS, PALETTE, probe=probe).slot("top")
    assert filled is not None and filled.facets["colour"].value == "purple"


def test_the_probe_vetoes_only_a_far_colour():
    dim = ENCODER.dim
    head = LinearHead(np.zeros((2, dim), np.float32), np.array([5.0, 0.0], np.float32), ("white", "red"))
    probe = FacetProbe("v", {("top", "colour"): head})
    embeddings = np.stack([ENCODER.vector("t-shirt")] * 5)
    config = FacetConfig(probe_veto=15.0)
    assert second_opinion(Facet("light grey", 1.0), "top", embeddings, probe, PALETTE, config) == Facet("light grey", 1.0)
    assert second_opinion(Facet("navy", 1.0), "top", embeddings, probe, PALETTE, config) is None
    strict = FacetConfig()  # the default: a sure probe vetoes any colour of another family
    assert second_opinion(Facet("light grey", 1.0), "top", embeddings, probe, PALETTE, strict) is None


def test_the_probe_reading_the_other_garment_neither_vetoes_nor_fills():
    """A short top's crop reaches the jeans: a probe sure of the bottom's colour family is
    reading the bottom, so the top's pixel colour stands and an unsettled one stays empty."""
    head = LinearHead(np.zeros((2, ENCODER.dim), np.float32), np.array([5.0, 0.0], np.float32), ("blue", "red"))
    probe = FacetProbe("v", {("top", "colour"): head})
    embeddings = np.stack([ENCODER.vector("crop top")] * 5)
    config = FacetConfig()
    assert second_opinion(Facet("purple", 0.7), "top", embeddings, probe, PALETTE, config) is None
    assert second_opinion(Facet("purple", 0.7), "top", embeddings, probe, PALETTE, config, "cobalt") == Facet("purple", 0.7)
    # a bottom of the same family but another shade (light blue jeans): the probe reads the top, and vetoes
    assert second_opinion(Facet("olive", 0.8), "top", embeddings, probe, PALETTE, config, "light blue") is None
    fill = FacetConfig(probe_colour="fill")
    assert second_opinion(None, "top", embeddings, probe, PALETTE, fill) == Facet("blue", 1.0)
    assert second_opinion(None, "top", embeddings, probe, PALETTE, fill, "denim blue") is None


# ----------------------------------------------------------------------------- dress or top + bottom


class SaysDress(FacetProbe):
    """A probe whose every head is missing and which calls every style a dress."""

    def dress_share(self, garments):
        return 1.0


def outfit(top: str, bottom: str, frames: int = 6) -> dict[str, SlotGarments]:
    """A style's crops: per frame a top crop, a bottom crop and a full-body crop of both."""
    full = np.empty((320, 140, 3), np.uint8)
    full[:] = WALL
    full[60:170, 35:105] = rgb(top)
    full[170:300, 40:100] = rgb(bottom)
    vectors = np.stack([ENCODER.vector("an outfit")] * frames)
    ids = list(range(frames))
    return {
        "top": SlotGarments(vectors, [striped(top, "pink")] * frames, frames=ids),
        "bottom": SlotGarments(vectors, [garment_crop(rgb(bottom), wall=WALL)] * frames, frames=ids),
        "full": SlotGarments(vectors, [full] * frames, frames=ids),
    }


def test_a_full_body_crop_of_a_top_and_a_bottom_is_not_called_a_dress():
    probe = SaysDress("v", {})
    name = name_style_facets(outfit("lavender", "light blue"), PROMPTS, PALETTE, probe=probe)
    assert name.slot("dress") is None and "dress" not in name.text
    assert name.slot("top").facets["colour"].value == "lavender"  # type: ignore[union-attr]
    assert name.slot("bottom").facets["colour"].value == "light blue"  # type: ignore[union-attr]
    # with only the full-body crops, each half of them names its garment
    only_full = {"full": outfit("lavender", "light blue")["full"]}
    name = name_style_facets(only_full, PROMPTS, PALETTE, probe=probe)
    assert name.text == "lavender top + light blue bottom"


def test_a_dress_is_still_a_dress():
    name = name_style_facets(outfit("red", "red"), PROMPTS, PALETTE, probe=SaysDress("v", {}))
    assert [s.slot for s in name.slots] == ["dress"]
    assert name.text == "red dress"


def test_one_garment_share_reads_frames_with_both_crops():
    red, blue = readings(["red"])[0], readings(["blue"])[0]
    assert one_garment_share({1: red, 2: red}, {1: red, 2: blue, 3: blue}, 15.0) == 0.5
    assert one_garment_share({1: red}, {2: red}, 15.0) is None


def test_a_printed_dress_is_still_a_dress():
    """The top and bottom crops of a polka-dot or checked dress show one print: one garment."""
    for print_ in (lambda: softened(dotted("yellow", "black")), lambda: softened(checked("grey", "black"))):
        vectors = np.stack([ENCODER.vector("a dress")] * 6)
        crops = [print_()] * 6
        garments = {kind: SlotGarments(vectors, crops, frames=list(range(6))) for kind in ("top", "bottom", "full")}
        name = name_style_facets(garments, PROMPTS, PALETTE, probe=SaysDress("v", {}))
        assert [s.slot for s in name.slots] == ["dress"]


def mini_dress(colour: str, frames: int = 6) -> dict[str, SlotGarments]:
    """A mini dress as the localiser cuts it: the top crop is all dress; the bottom crop shows
    the skirt of the dress at the hips, then bare legs and the wall."""
    top = garment_crop(rgb(colour), wall=WALL, skin=SKIN)
    bottom = np.empty((160, 120, 3), np.uint8)
    bottom[:] = WALL
    bottom[:70, 25:95] = rgb(colour)  # the dress down to its hem
    bottom[70:, 35:55] = SKIN  # the legs
    bottom[70:, 65:85] = SKIN
    full = np.empty((320, 140, 3), np.uint8)
    full[:] = WALL
    full[60:230, 35:105] = rgb(colour)
    full[230:300, 45:95] = SKIN
    vectors = np.stack([ENCODER.vector("a dress")] * frames)
    ids = list(range(frames))
    return {"top": SlotGarments(vectors, [top] * frames, frames=ids),
            "bottom": SlotGarments(vectors, [bottom] * frames, frames=ids),
            "full": SlotGarments(vectors, [full] * frames, frames=ids)}


def test_a_mini_dress_is_a_dress_though_its_bottom_crop_is_mostly_legs():
    """Read knowing the top above, the bottom crop's dress colour sits in its upper half like a
    top showing through a waist, and the legs would be its colour: whether the two crops are one
    fabric is judged on the bottom crop read by itself."""
    for colour in ("olive", "yellow"):
        name = name_style_facets(mini_dress(colour), PROMPTS, PALETTE, probe=SaysDress("v", {}))
        assert [s.slot for s in name.slots] == ["dress"], name.text
        assert name.text == f"{colour} dress"


def test_a_crop_top_over_jeans_is_still_a_top_and_a_bottom():
    """The other way round: a crop top's box reaches the jeans, so read by itself the top crop
    is mostly jeans; read knowing the bottom below, it is the top's colour, another fabric."""
    top = np.empty((160, 120, 3), np.uint8)
    top[:] = WALL
    top[:60, 25:95] = rgb("purple")
    top[60:72, 30:90] = SKIN
    top[72:, 25:95] = rgb("blue")
    vectors = np.stack([ENCODER.vector("an outfit")] * 6)
    garments = {"top": SlotGarments(vectors, [top] * 6, frames=list(range(6))),
                "bottom": SlotGarments(vectors, [garment_crop(rgb("blue"), wall=WALL)] * 6, frames=list(range(6)))}
    name = name_style_facets(garments, PROMPTS, PALETTE, probe=SaysDress("v", {}))
    assert [s.slot for s in name.slots] == ["top", "bottom"], name.text
    assert name.slot("top").facets["colour"].value == "purple"  # type: ignore[union-attr]


def test_a_camo_or_plaid_toss_up_leaves_the_colour_out():
    """A camo's dark patches and a plaid's crossing bands read as a second colour that is the
    first blended or shaded, not a colour of the garment: such a toss-up names no colour (which
    one is the garment's is a guess); a check's two colours are both named."""
    dim = ENCODER.dim
    tossed = readings(["black"] * 6 + ["olive"] * 4, ["olive"] * 6 + ["black"] * 4)
    embeddings = np.stack([ENCODER.vector("camo skirt")] * 10)
    for pattern, expected in (("camo", None), ("checked", ("black", "olive"))):
        bias = np.array([5.0, 0.0] if pattern == "camo" else [0.0, 5.0], np.float32)
        head = LinearHead(np.zeros((2, dim), np.float32), bias, ("camo", "checked"))
        probe = FacetProbe("v", {("bottom", "pattern"): head})
        name = name_style_facets({"bottom": SlotGarments(embeddings, colours=tossed)}, PROMPTS, PALETTE,
                                 FacetConfig(two_colours=True), probe=probe)
        bottom = name.slot("bottom")
        colour = bottom.facets.get("colour") if bottom is not None else None
        if expected is None:
            assert colour is None
        else:
            assert colour is not None and (colour.value, colour.second) == expected
