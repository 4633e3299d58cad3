"""Lookalike styles told apart by measured colour (inference/trends/lookalikes.py), on hand-built styles."""

from __future__ import annotations

import dataclasses

import numpy as np

from inference.trends.clustering import Cluster, Clustering, outfit_vectors
from inference.trends.kmeans import normalise
from inference.trends.lookalikes import held_out_agreement, split_lookalikes, two_colour_groups
from inference.trends.settings import ClusterConfig

WHITE, BEIGE, NAVY = (242, 242, 236), (222, 204, 168), (30, 40, 90)
CONFIG = ClusterConfig(lookalikes=True)


def _crop(rgb: tuple[int, int, int], rng: np.random.Generator, shade: float = 1.0) -> np.ndarray:
    """A 40x32 crop of one garment colour with sensor noise (and a lighting shade)."""
    pixels = np.asarray(rgb, np.float64) * shade + rng.normal(0, 4, (40, 32, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


@dataclasses.dataclass
class World:
    """Outfits (a top and a bottom per frame) merged into one style, as k-means leaves lookalikes."""

    vectors: np.ndarray
    kinds: list[str]
    frames: np.ndarray
    creators: list[str]
    days: list[int]
    crops: dict[int, str]
    images: dict[str, np.ndarray]
    truth: list[str]  # true style per garment

    def merged(self) -> Clustering:
        unit, _ = outfit_vectors(self.vectors, self.frames, self.kinds, ["top", "bottom"])
        centroid = normalise(unit.mean(axis=0, keepdims=True))[0]
        distances = (1.0 - unit @ centroid)[np.unique(self.frames, return_inverse=True)[1]].astype(np.float32)
        labels = np.zeros(len(self.vectors), np.int64)
        return Clustering(labels, distances, [Cluster("outfit", centroid, len(labels), 1.0)], {})


def _world(styles: list[tuple[str, tuple[int, int, int], int, int, int]], seed: int = 0,
           step: float = 0.15, dark_share: float = 0.0, bottoms: dict[str, tuple[int, int, int]] | None = None) -> World:
    """Frames of each (name, top colour, creators, frames per creator, first day) style (bottoms
    navy unless ``bottoms`` names another colour); the
    top's embedding moves by ``step`` between styles (a lookalike barely shows in it); a
    ``dark_share`` of crops is shot in dim light."""
    rng = np.random.default_rng(seed)
    dim = 64
    base, top_shift, bottom = (normalise(rng.normal(size=(1, dim)))[0] for _ in range(3))
    vectors, kinds, frames, creators, days, truth = [], [], [], [], [], []
    images: dict[str, np.ndarray] = {}
    crops: dict[int, str] = {}
    frame = 0
    for number, (name, colour, makers, per_creator, first_day) in enumerate(styles):
        top = base + number * step * top_shift
        for creator in range(makers):
            for shot in range(per_creator):
                shade = 0.6 if rng.random() < dark_share else 1.0
                for kind, mean, rgb in (("top", top, colour), ("bottom", bottom, (bottoms or {}).get(name, NAVY))):
                    row = len(vectors)
                    vectors.append(mean + rng.normal(0, 0.02, dim))
                    kinds.append(kind)
                    frames.append(frame)
                    creators.append(f"{name}-{creator}")
                    days.append(first_day + creator * 3 + shot)
                    truth.append(name)
                    crops[row] = f"{row}.png"
                    images[f"{row}.png"] = _crop(rgb, rng, shade)
                frame += 1
    return World(normalise(np.asarray(vectors)), kinds, np.asarray(frames), creators, days, crops, images, truth)


def _split(world: World, config: ClusterConfig = CONFIG) -> Clustering:
    return split_lookalikes(world.merged(), world.vectors, world.kinds, world.frames, world.creators, world.crops,
                            world.images.__getitem__, config)


def _originator(world: World, labels: np.ndarray, style: int) -> str:
    """The creator who wore the style first (the simplest originator rule)."""
    members = np.flatnonzero(labels == style)
    return world.creators[members[np.argmin(np.asarray(world.days)[members])]]


def test_two_lookalikes_one_colour_step_apart_are_split_and_the_originator_found() -> None:
    # a big white-top style and a small risen beige one, worn by 4 creators, started by beige-0 on day 20
    world = _world([("white", WHITE, 12, 6, 0), ("beige", BEIGE, 4, 6, 20)])
    merged = world.merged()
    assert _originator(world, merged.labels, 0) == "white-0"  # merged: the beige originator is lost
    result = _split(world)
    assert len(result.clusters) == 2
    truth = np.asarray(world.truth)
    beige_style = int(np.bincount(result.labels[truth == "beige"]).argmax())
    assert (result.labels[truth == "beige"] == beige_style).mean() >= 0.95
    assert (result.labels[truth == "white"] != beige_style).mean() >= 0.95
    assert _originator(world, result.labels, beige_style) == "beige-0"
    assert sum(c.size for c in result.clusters) == len(world.vectors)
    # the new centroids keep new garments apart: each side's frames are nearest their own centroid
    unit, unit_of = outfit_vectors(world.vectors, world.frames, world.kinds, ["top", "bottom"])
    nearest = np.argmax(unit @ np.stack([c.centroid for c in result.clusters]).T, axis=1)[unit_of]
    assert (nearest == result.labels).mean() >= 0.95


def test_a_single_colour_style_with_noise_and_dim_shots_is_not_split() -> None:
    world = _world([("white", WHITE, 14, 6, 0)], seed=3, dark_share=0.3)
    result = _split(world)
    assert len(result.clusters) == 1
    assert np.array_equal(result.labels, world.merged().labels)


def test_a_lookalike_worn_by_fewer_creators_than_asked_is_not_split() -> None:
    world = _world([("white", WHITE, 12, 6, 0), ("beige", BEIGE, 3, 8, 20)])
    assert len(_split(world).clusters) == 1
    assert len(_split(world, dataclasses.replace(CONFIG, lookalike_creators=3)).clusters) == 2


def test_two_groups_whose_every_garment_changes_colour_are_not_split() -> None:
    # the whole outfit a shade darker (a dim room, a camera): the scene, not a lookalike
    dim_white, dim_navy = (170, 170, 165), (20, 28, 63)
    world = _world([("white", WHITE, 12, 6, 0), ("dim", dim_white, 6, 6, 20)], bottoms={"dim": dim_navy})
    assert len(_split(world).clusters) == 1
    assert len(_split(world, dataclasses.replace(CONFIG, lookalike_other_delta_e=100.0)).clusters) == 2


def test_a_small_style_of_another_colour_altogether_is_split_though_its_top_differs_a_little() -> None:
    # black vs yellow skirts (dE ~74) under navy tops a shade apart (dE ~7): two styles, not the
    # light (which moves both garments alike); the small one, worn by 4 creators, started by yellow-0
    navy, lighter_navy, black, yellow = (30, 40, 90), (50, 60, 120), (25, 25, 25), (230, 200, 40)
    world = _world([("black", navy, 12, 6, 0), ("yellow", lighter_navy, 4, 6, 20)],
                   bottoms={"black": black, "yellow": yellow})
    assert len(_split(world, dataclasses.replace(CONFIG, lookalike_other_share=0.0)).clusters) == 1
    result = _split(world)
    assert len(result.clusters) == 2
    truth = np.asarray(world.truth)
    yellow_style = int(np.bincount(result.labels[truth == "yellow"]).argmax())
    assert (result.labels[truth == "yellow"] == yellow_style).all() and (result.labels[truth == "black"] != yellow_style).all()
    assert _originator(world, result.labels, yellow_style) == "yellow-0"


def test_the_split_is_off_by_default() -> None:
    assert not ClusterConfig().lookalikes  # on 4 demo worlds: rising precision down, no originator gain


def test_two_colour_groups_measures_separation_and_colour_difference() -> None:
    rng = np.random.default_rng(1)
    one = rng.normal([70, 0, 10], 1.5, (60, 3))
    side, separation, delta_e = two_colour_groups(np.vstack([one, rng.normal([80, 3, 20], 1.5, (20, 3))]), 4) or (
        None, 0.0, 0.0)
    assert side is not None and side.sum() in (20, 60)
    assert separation > 6 and delta_e > 8
    found = two_colour_groups(one, 4)
    assert found is not None and found[1] < 4
    assert two_colour_groups(one[:7], 4) is None


def test_held_out_agreement_is_near_chance_for_an_arbitrary_cut() -> None:
    rng = np.random.default_rng(2)
    unit = normalise(rng.normal(size=(200, 32)) * 0.05 + 1.0)
    arbitrary = held_out_agreement(unit, [np.arange(0, 100), np.arange(100, 200)])
    unit[100:, 0] += 0.2
    real = held_out_agreement(normalise(unit), [np.arange(0, 100), np.arange(100, 200)])
    assert arbitrary < 0.75 and real > 0.95
