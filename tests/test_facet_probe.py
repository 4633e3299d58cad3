"""Facet probes (inference/facet_probe.py, training/facet_probe.py): garment type, pattern and
silhouette read from embeddings by linear heads trained on labelled pipeline crops."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli import main
from core.errors import BadInputError
from inference.catalog import Catalog
from inference.facet_probe import FacetProbe, LinearHead, load_facet_probe, probe_for
from inference.facets import (
    FacetConfig,
    SlotGarments,
    load_facet_vocabulary,
    name_style_facets,
    probe_facets,
)
from inference.trends import ClusterConfig, NamingConfig, TrendsConfig, load_styles, recluster
from tests.test_style_facets import DIM, ENCODER
from tests.trends_helpers import WorldBuilder

VOCABULARY = load_facet_vocabulary()
AXES = np.eye(DIM, dtype=np.float32)


def _head(classes: list[str], start: int) -> LinearHead:
    """Class i fires along axis ``start + i`` (a sharp softmax)."""
    return LinearHead(AXES[start:start + len(classes)] * 20.0, np.zeros(len(classes), np.float32), tuple(classes))


def _probe(version: str = "hash-1") -> FacetProbe:
    return FacetProbe(version, {
        ("top", "type"): _head(["t-shirt", "tank top", "blouse"], 0),
        ("top", "pattern"): _head(["solid", "striped", "floral"], 3),
        ("top", "silhouette"): _head(["fitted", "oversized"], 6),
        ("bottom", "type"): _head(["jeans", "trousers", "skirt"], 8),
        ("bottom", "pattern"): _head(["solid", "plaid"], 11),
        ("bottom", "silhouette"): _head(["straight", "wide-leg", "mini"], 13),
        ("full", "type"): _head(["dress", "outfit"], 16),
        ("full", "silhouette"): _head(["mini", "maxi"], 18),
    }, "hand-built")


def _garments(axes: list[list[int]], rng: np.random.Generator) -> SlotGarments:
    """One garment per row of ``axes``: a unit vector along the sum of those axes, plus noise."""
    vectors = np.stack([AXES[a].sum(axis=0) for a in axes]) + rng.normal(0, 0.02, (len(axes), DIM))
    return SlotGarments(vectors.astype(np.float32), colours=[None] * len(axes))


def test_head_probabilities_and_a_probe_file_round_trip(tmp_path):
    probe = _probe()
    p = probe.head("top", "type").probabilities(np.stack([AXES[1], AXES[0] + AXES[1]]))
    assert np.allclose(p.sum(axis=1), 1) and p[0].argmax() == 1 and abs(p[1, 0] - p[1, 1]) < 1e-5
    path = probe.save(tmp_path / "p.npz")
    loaded = load_facet_probe(path)
    assert loaded.encoder_version == "hash-1" and loaded.trained_on == "hand-built"
    assert set(loaded.heads) == set(probe.heads) and loaded.head("bottom", "type").classes == ("jeans", "trousers", "skirt")
    assert probe_for("hash-1", path) is not None
    assert probe_for("another-encoder-2", path) is None  # another encoder's embeddings are not read with it
    assert probe_for(None, path) is None


def test_bad_probe_files_are_clear_errors(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        load_facet_probe(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(BadInputError, match="not a probe file"):
        load_facet_probe(tmp_path / "junk.npz")
    np.savez(tmp_path / "empty.npz", encoder_version=np.asarray("v"))
    with pytest.raises(BadInputError, match="no heads"):
        load_facet_probe(tmp_path / "empty.npz")
    np.savez(tmp_path / "bad.npz", encoder_version=np.asarray("v"), **{
        "top/type/weight": np.zeros((3, 4)), "top/type/bias": np.zeros(2), "top/type/classes": np.asarray(["a", "b", "c"])})
    with pytest.raises(BadInputError, match="mismatched"):
        load_facet_probe(tmp_path / "bad.npz")


def test_a_slot_is_named_from_the_probe_and_a_split_facet_is_left_out():
    rng = np.random.default_rng(0)
    # 10 striped oversized tops: 5 read as t-shirts, 5 as tank tops
    tops = _garments([[0 if i < 5 else 1, 4, 7] for i in range(10)], rng)
    facets = probe_facets("top", tops, _probe(), VOCABULARY, FacetConfig())
    assert facets["pattern"].value == "striped" and facets["pattern"].evidence == 1.0
    assert facets["silhouette"].value == "oversized"
    assert "type" not in facets  # half and half: too little agreement, never guessed
    # 9 of 10 agree: named, with the share agreeing as its evidence
    tops = _garments([[0 if i < 9 else 1, 4, 7] for i in range(10)], rng)
    assert probe_facets("top", tops, _probe(), VOCABULARY, FacetConfig())["type"].evidence == pytest.approx(0.9)


def test_a_value_the_probe_got_wrong_on_unseen_worlds_is_never_named(tmp_path):
    rng = np.random.default_rng(3)
    probe = _probe()
    heads = dict(probe.heads)
    heads[("top", "type")] = LinearHead(heads[("top", "type")].weight, heads[("top", "type")].bias,
                                        heads[("top", "type")].classes, np.asarray([0.3, 0.9, np.nan], np.float32))
    probe = load_facet_probe(FacetProbe("hash-1", heads).save(tmp_path / "p.npz"))  # precision survives the file
    assert probe.head("top", "type").trusted(0.6).tolist() == [False, True, False]
    t_shirts = _garments([[0, 3, 6]] * 8, rng)  # all agree: a t-shirt, but the probe often called tank tops so
    assert "type" not in probe_facets("top", t_shirts, probe, VOCABULARY, FacetConfig())
    tanks = _garments([[1, 3, 6]] * 8, rng)
    assert probe_facets("top", tanks, probe, VOCABULARY, FacetConfig())["type"].value == "tank top"


def test_a_silhouette_the_type_does_not_come_in_is_dropped():
    rng = np.random.default_rng(1)
    bottoms = _garments([[8, 11, 15]] * 6, rng)  # jeans, but "mini"
    facets = probe_facets("bottom", bottoms, _probe(), VOCABULARY, FacetConfig())
    assert facets["type"].value == "jeans" and "silhouette" not in facets


def test_the_probe_decides_dress_or_top_and_bottom(tmp_path):
    from inference.facets import embed_facet_prompts
    from inference.palette import load_palette

    rng = np.random.default_rng(2)
    prompts, palette = embed_facet_prompts(VOCABULARY, ENCODER), load_palette()
    dress = {"full": _garments([[16, 19]] * 8, rng), "top": _garments([[0, 3, 6]] * 8, rng),
             "bottom": _garments([[10, 11, 15]] * 8, rng)}
    name = name_style_facets(dress, prompts, palette, probe=_probe())
    assert [s.slot for s in name.slots] == ["dress"] and name.text == "maxi dress"
    outfit = dict(dress, full=_garments([[17]] * 8, rng))
    name = name_style_facets(outfit, prompts, palette, probe=_probe())
    assert name.text == "fitted t-shirt + mini skirt"


def test_recluster_names_styles_with_the_probe_of_the_encoder(data_dir, tmp_path):
    class VersionedEncoder:
        name, version = "hash:512", "hash-1"
        encode_text = staticmethod(ENCODER.encode_text)

    path = _probe().save(tmp_path / "probe.npz")
    config = TrendsConfig(cluster=ClusterConfig(method="kmeans", group_by="outfit", k_min=2, k_max=4,
                                                kmeans_restarts=2, noise_mads=0.0),
                          naming=NamingConfig(facet_probe=str(path)))
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog, dim=DIM, noise=0.01)
        world.centres.update({"a-top": AXES[2] * 0.6 + AXES[5] * 0.6 + AXES[6] * 0.5, "a-bottom": AXES[9] + AXES[12],
                              "b-top": AXES[1] + AXES[4] + AXES[7], "b-bottom": AXES[8] + AXES[11] + AXES[13]})
        for day in range(12):
            world.post(f"a{day}", day, {"top": "a-top", "bottom": "a-bottom"})
            world.post(f"b{day}", day, {"top": "b-top", "bottom": "b-bottom"})
        ids, vectors = world.arrays()
        recluster(catalog, ids, vectors, config, encoder=VersionedEncoder())
        names = sorted(s.name for s in load_styles(catalog))
    assert names == ["floral fitted blouse + plaid trousers", "striped oversized tank top + straight jeans"]


@pytest.mark.slow
def test_train_facets_on_a_generated_world_and_its_bad_inputs(tmp_path, capsys):
    world, data = tmp_path / "world", tmp_path / "data"
    assert main(["-q", "world", "generate", "--preset", "tiny", "--seed", "5", "--out", str(world),
                 "--set", "videos=30", "--set", "background_styles=4"]) == 0
    # the answer key is read from DATA_DIR/world
    (data / "world").parent.mkdir(parents=True)
    world.rename(data / "world")
    manifest = data / "world" / "manifest.csv"
    assert main(["-q", "ingest", "--manifest", str(manifest), "--data-dir", str(data), "--encoder", "tiny"]) == 0
    capsys.readouterr()
    out = tmp_path / "probe.npz"
    assert main(["-q", "train-facets", "--from", str(data), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    probe = load_facet_probe(out)
    assert probe.encoder_version == report["encoder_version"] and probe.encoder_version.startswith("tiny")
    assert ("full", "type") in probe.heads and report["heads"]["full/type"]["garments"] > 0
    assert all(0 <= head["train_accuracy"] <= 1 for head in report["heads"].values())
    assert all(head["held_out_precision"] is None for head in report["heads"].values())  # one world: not measured
    # two worlds: each class's precision on the world the head was not fitted on is kept
    assert main(["-q", "train-facets", "--from", str(data), "--from", str(data), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert load_facet_probe(out).head("full", "type").precision is not None
    assert all(p is None or 0 <= p <= 1 for p in report["heads"]["full/type"]["held_out_precision"].values())
    # bad inputs: a folder that is no ingested world, a regularisation of 0
    assert main(["-q", "train-facets", "--from", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert main(["-q", "train-facets", "--from", str(data), "--out", str(out), "--regularisation", "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "regularisation" in err


def test_tops_and_bottoms_cut_from_a_dress_vote_for_a_dress():
    heads = dict(_probe().heads)
    heads[("top", "type")] = _head(["t-shirt", "tank top", "dress"], 0)  # axis 2: half of a dress
    probe = FacetProbe("hash-1", heads)
    rng = np.random.default_rng(4)
    full_outfit, tops_of_a_dress = _garments([[17]] * 4, rng).embeddings, _garments([[2]] * 6, rng).embeddings
    assert probe.dress_share({"full": full_outfit}) == 0.0
    assert probe.dress_share({"full": full_outfit, "top": tops_of_a_dress}) == pytest.approx(0.6)
    assert probe.dress_share({"bottom": tops_of_a_dress}) == 0.0  # the bottom head knows no dress: no vote


def test_the_packaged_probe_belongs_to_the_packaged_default_heads():
    import hashlib

    from models.offline import PACKAGED_HEADS

    version = f"stylescope-default-{hashlib.sha256(PACKAGED_HEADS.read_bytes()).hexdigest()[:12]}"
    probe = probe_for(version)
    assert probe is not None, "models/weights/stylescope-default.facets.npz is missing or for other heads"
    for kind in ("top", "bottom", "full"):
        head = probe.head(kind, "type")
        assert head is not None and head.precision is not None and head.weight.shape[1] == 256
    assert "dress" in probe.head("top", "type").classes and "outfit" in probe.head("full", "type").classes
    assert probe.head("top", "colour") is not None and "navy" in probe.head("bottom", "colour").classes


def test_a_style_with_no_facet_agreed_says_so_instead_of_top_plus_bottom():
    from inference.facets import Facet, SlotName, StyleName

    nothing = StyleName((SlotName("top", {}, 3), SlotName("bottom", {}, 3)))
    assert nothing.text == "unnamed style (no facet agreed)"
    one = StyleName((SlotName("top", {}, 3), SlotName("bottom", {"type": Facet("jeans", 0.9)}, 3)))
    assert one.text == "top + jeans"
    assert StyleName((SlotName("dress", {}, 3),)).text == "dress"  # being a dress was decided: it says something
    plain = StyleName((SlotName("top", {"pattern": Facet("solid", 0.9)}, 3), SlotName("bottom", {}, 3)))
    assert plain.text == "unnamed style (no facet agreed)"  # 'solid' is not written in a name


def test_a_pattern_the_pixels_and_an_unsure_probe_disagree_on_is_left_out():
    rng = np.random.default_rng(1)
    config = FacetConfig()
    striped = _garments([[0, 4, 7]] * 7 + [[0, 5, 7]] * 3, rng)  # 7 of 10 read striped: not sure (probe_sure 0.8)
    assert probe_facets("top", striped, _probe(), VOCABULARY, config)["pattern"].value == "striped"
    # the pixels say the garments are plain: no plain pattern is forced on the probe's striped reading
    assert "pattern" not in probe_facets("top", striped, _probe(), VOCABULARY, config, patterns={"solid", "denim"})
    assert probe_facets("top", striped, _probe(), VOCABULARY, config, patterns={"striped", "floral"})["pattern"].value == "striped"
    solid = _garments([[0, 3, 7]] * 7 + [[0, 4, 7]] * 3, rng)  # read as solid, the pixels say patterned: no print guessed
    assert "pattern" not in probe_facets("top", solid, _probe(), VOCABULARY, config, patterns={"striped", "floral"})


def test_a_probe_sure_of_a_print_overrules_pixels_that_see_plain():
    # every garment reads striped: a low-contrast print (navy on purple) the colour measure sees as plain
    sure = _garments([[0, 4, 7]] * 10, np.random.default_rng(2))
    named = probe_facets("top", sure, _probe(), VOCABULARY, FacetConfig(), patterns={"solid", "denim"})
    assert named["pattern"].value == "striped"
    strict = FacetConfig(probe_sure=1.0)
    mostly = _garments([[0, 4, 7]] * 9 + [[0, 5, 7]], np.random.default_rng(3))
    assert "pattern" not in probe_facets("top", mostly, _probe(), VOCABULARY, strict, patterns={"solid", "denim"})


def test_the_probe_checks_the_pixel_colour_and_fills_one_the_pixels_could_not_settle():
    from inference.facets import embed_facet_prompts, name_slot
    from inference.palette import ColourReading, load_palette

    palette = load_palette()
    heads = dict(_probe().heads)
    heads[("top", "colour")] = _head(["red", "navy"], 20)
    probe, prompts = FacetProbe("hash-1", heads), embed_facet_prompts(VOCABULARY, ENCODER)
    rng = np.random.default_rng(5)

    def named_colour(reading_of: str | None, embedding_says: int) -> str | None:
        readings = [None if reading_of is None else ColourReading(np.asarray(palette.colour(reading_of).lab), 0.95)] * 8
        garments = _garments([[0, 3, 6, embedding_says]] * 8, rng)
        slot = name_slot("top", garments, prompts, palette, FacetConfig(), readings, probe)
        return slot.facets["colour"].value if "colour" in slot.facets else None

    assert named_colour("navy", 21) == "navy"  # both agree
    assert named_colour("blue", 21) == "blue"  # same family: the pixels' shade stays
    assert named_colour("navy", 20) is None  # the probe is sure of red: the pixels were misled, left out
    assert named_colour(None, 20) == "red"  # the pixels could not settle: the probe's colour
    off = FacetConfig(probe_colour="off")
    readings = [ColourReading(np.asarray(palette.colour("navy").lab), 0.95)] * 8
    slot = name_slot("top", _garments([[0, 3, 6, 20]] * 8, rng), prompts, palette, off, readings, probe)
    assert slot.facets["colour"].value == "navy"


def test_a_bottom_type_is_read_among_bottom_types_only():
    """A bottom crop the type head reads mostly as a dress's half (the pixels say top and
    bottom): the dress class is no bottom type, so the type is chosen, and its margin measured,
    among the bottom types' probabilities renormalised (0.18 vs 0.12 of 0.30: trousers)."""
    bias = np.log(np.asarray([0.12, 0.18, 0.70], np.float32))
    head = LinearHead(np.zeros((3, DIM), np.float32), bias, ("jeans", "trousers", "dress"))
    probe = FacetProbe("hash-1", {("bottom", "type"): head})
    assert "dress" not in VOCABULARY.slots["bottom"].silhouettes
    bottoms = _garments([[8]] * 6, np.random.default_rng(2))
    facets = probe_facets("bottom", bottoms, probe, VOCABULARY, FacetConfig())
    assert facets["type"].value == "trousers" and facets["type"].margin == pytest.approx(0.2, abs=1e-3)
