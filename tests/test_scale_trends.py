"""Trends from the Parquet tables on Ray: given the local run's clusters, the Ray run gives the
same assignments, series, rising states and originators; on its own sample it finds the
same styles; and its outputs are tables plus the local report."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

from inference.trends.settings import ClusterConfig, TrendsConfig
from tests.trends_helpers import WorldBuilder

DIM = 16
INFO = {"name": "test:16", "version": "test-16", "dim": DIM}
CREATORS = ("ann", "bea", "cid", "dee", "eli", "fay", "gus", "hal")


def _config(group_by: str = "outfit") -> TrendsConfig:
    cluster = ClusterConfig(group_by=group_by, k_min=2, k_max=10, kmeans_restarts=2, skip_methods=["fallback_center"])
    return TrendsConfig(cluster=cluster)


def _world(data_dir):
    """Three outfits over five weeks: one steady, one rising late, one worn twice (dissolved);
    a stray garment, a title card (fallback_center: never clustered), every creator posting."""
    from inference.catalog import Catalog
    from inference.index import IndexConfig
    from inference.index.version import activate_version, write_version

    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog, dim=DIM, seed=3, noise=0.05)
        steady, rising = {"top": "plaid", "bottom": "denim"}, {"top": "mesh", "bottom": "cargo"}
        for day in range(35):
            creator = CREATORS[day % len(CREATORS)]
            world.post(creator, day, steady, frames=2, followers=1000 * (1 + day % 5))
            if day >= 21 or day == 3:
                world.post(CREATORS[(day * 3) % len(CREATORS)], day, rising, frames=3)
        world.post("ivy", 10, {"top": "rare", "bottom": "rare2"}, frames=1)
        world.post("jon", 12, {"full": "stray"}, frames=1, noise=0.5)
        world.post("kai", 13, {"top": "card"}, frames=2, method="fallback_center")
        ids, vectors = world.arrays()
        for video in catalog.videos():
            for garment in catalog.garments(video_id=video.id):
                (data_dir / garment.crop_path).parent.mkdir(parents=True, exist_ok=True)
                (data_dir / garment.crop_path).write_bytes(b"jpeg")
    config = IndexConfig.load()
    activate_version(data_dir, write_version(data_dir, ids, vectors, INFO, config, progress=False).name)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The world as a deployment and as its Parquet export; the local full run done on the deployment."""
    from inference.catalog import Catalog
    from inference.index.live import load_embeddings
    from inference.scale.interchange import export_tables
    from inference.trends import recluster

    root = tmp_path_factory.mktemp("trends")
    data_dir = root / "data"
    data_dir.mkdir()
    _world(data_dir)
    ids, vectors, _ = load_embeddings(data_dir)  # as stored: what both paths read
    export_tables(data_dir, root / "tables", INFO["name"])
    with Catalog(data_dir) as catalog:
        recluster(catalog, ids, vectors, _config())
    return data_dir, root / "tables", ids, vectors


def _local_fit(data_dir, ids, vectors, config: TrendsConfig):
    """The local full run's fit, from the same garments in the same order."""
    from inference.catalog import Catalog
    from inference.trends.clustering import fit_units, outfit_vectors
    from inference.trends.identity import garment_kinds
    from inference.trends.kmeans import normalise

    with Catalog(data_dir) as catalog:
        kinds, frames, mask = garment_kinds(catalog, ids, config.cluster.skip_methods)
    units, _ = outfit_vectors(normalise(vectors[mask]), frames, kinds, config.cluster.outfit_kinds)
    fit, _, _ = fit_units(units, ["outfit"] * len(units), dataclasses.replace(config.cluster, group_by="all"))
    return fit


def _shared_ids(data_dir):
    """Local garment id -> the tables' garment id, and local video id -> the tables' video key."""
    from inference.catalog import Catalog
    from inference.scale.tables import garment_id
    from inference.scale.trend_rows import video_key

    garments, videos = {}, {}
    with Catalog(data_dir) as catalog:
        for video in catalog.videos():
            videos[video.id] = video_key(video.content_hash)
            for ordinal, garment in enumerate(sorted(catalog.garments(video_id=video.id), key=lambda g: g.id)):
                garments[garment.id] = garment_id(video.content_hash, ordinal)
    return garments, videos


def _order(sighting):
    return sighting.day, sighting.video_id, sighting.style_id


@pytest.mark.slow
def test_given_the_local_clusters_ray_gives_the_local_assignments_series_and_originators(ray_cluster, world):
    from inference.catalog import Catalog
    from inference.scale.ray_trends import ray_trends
    from inference.trends import load_creators_config, load_forecast_config
    from inference.trends.reports import checked, creators_of, styles_report
    from inference.trends.series import load_trend_data, style_series

    data_dir, tables, ids, vectors = world
    config = _config()
    run = ray_trends(tables, INFO["name"], config, fit=_local_fit(data_dir, ids, vectors, config))
    garments, videos = _shared_ids(data_dir)
    with Catalog(data_dir) as catalog:
        local_styles = {(garments[g], s) for g, s in catalog.garment_style_ids().items()}
        local = load_trend_data(catalog, None, config.series.min_frames_per_video)
    ray_styles = {(r["garment_id"], r["style_id"]) for r in run.assignments.take_all()}
    assert len(local_styles) > 100 and ray_styles == local_styles
    assert sorted((s.id, s.size, s.kind) for s in run.styles) == sorted((s.id, s.size, s.kind) for s in local.styles.values())
    assert run.unassigned > 0  # the stray and the dissolved outfit
    as_local = [dataclasses.replace(s, video_id=videos[s.video_id], garment_id=garments[s.garment_id], crop_path="")
                for s in local.sightings]
    # the same sightings; within a day they come in video id order, and the ids differ
    ray_sightings, as_local = sorted(run.data.sightings, key=_order), sorted(as_local, key=_order)
    assert [dataclasses.replace(s, distance=0.0) for s in ray_sightings] == [
        dataclasses.replace(s, distance=0.0) for s in as_local]
    np.testing.assert_allclose([s.distance for s in ray_sightings], [s.distance for s in as_local], atol=1e-6)
    assert len(run.data.posts) == len(local.posts)
    local_series, ray_series = style_series(local, config.series), style_series(run.data, config.series)
    assert ray_series.periods == local_series.periods and ray_series.styles.keys() == local_series.styles.keys()
    for style_id, series in local_series.styles.items():
        np.testing.assert_allclose(ray_series.styles[style_id].share, series.share)
        np.testing.assert_array_equal(ray_series.styles[style_id].creators, series.creators)
    forecast, creators = load_forecast_config(), load_creators_config()
    ray_report = styles_report(checked(run.data), config, forecast, None, None, None, lambda _: [])
    local_report = styles_report(checked(local), config, forecast, None, None, None, lambda _: [])
    assert [(s.id, s.state, s.takeoff, s.score) for s in ray_report.styles] == [
        (s.id, s.state, s.takeoff, s.score) for s in local_report.styles]
    assert any(s.state in ("rising", "emerging") for s in ray_report.styles)
    ray_origins = creators_of(run.data, config, creators).originators
    local_origins = creators_of(local, config, creators).originators
    assert ray_origins and [(o.origin.style_id, o.origin.originator.creator, o.origin.originator.day,
                             o.origin.tied_with, o.origin.adopters) for o in ray_origins] == [
        (o.origin.style_id, o.origin.originator.creator, o.origin.originator.day, o.origin.tied_with,
         o.origin.adopters) for o in local_origins]


@pytest.mark.slow
def test_on_its_own_sample_ray_finds_the_local_styles(ray_cluster, world):
    from inference.catalog import Catalog
    from inference.scale.ray_trends import ray_trends

    data_dir, tables, _, _ = world
    garments, _ = _shared_ids(data_dir)
    with Catalog(data_dir) as catalog:
        local = catalog.garment_style_ids()
    run = ray_trends(tables, INFO["name"], _config(), sample=150)  # about half of the videos
    assert run.fit.clusters and sum(c.size for c in run.fit.clusters) < len(local) / 2  # units fitted: frames
    ray = {r["garment_id"]: r["style_id"] for r in run.assignments.take_all()}
    # the same partition of the garments, whatever the numbering
    pairs = {(garments[g], s) for g, s in local.items()}
    assert {g for g, _ in pairs} == set(ray)
    assert len({(s, ray[g]) for g, s in pairs}) == len(set(local.values())) == len(set(ray.values()))


@pytest.mark.slow
def test_trends_cli_on_ray_writes_tables_and_the_local_report(ray_cluster, world, tmp_path):
    """The command a user runs, in a process of its own joining the running cluster: its JSON on
    stdout and its tables agree (a process of its own: nothing another test left in this one's
    stdout can swallow the report)."""
    import subprocess
    import sys
    from pathlib import Path

    import pyarrow.parquet as pq

    _, tables, _, _ = world
    out = tmp_path / "out"
    config = tmp_path / "trends.yaml"
    config.write_text("cluster:\n  k_min: 2\n  k_max: 10\n")
    repo = Path(__file__).resolve().parents[1]
    address = ray_cluster.get_runtime_context().gcs_address

    def trends_cli(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "app.cli", "trends", "--backend", "ray", "--ray-address", address,
                               "--out", str(out), "-q", *argv], cwd=repo, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "PYTHONPATH": str(repo)})

    done = trends_cli("--tables", str(tables), "--config", str(config), "--encoder", INFO["name"], "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["update"]["mode"] == "recluster" and len(payload["styles"]) == payload["update"]["styles"] >= 2
    assert payload["originators"] and payload["states"]
    styles = pq.read_table(out / "styles.parquet").to_pylist()
    assert sorted(s["style_id"] for s in styles) == sorted(s["id"] for s in payload["styles"])
    assignments = pq.read_table(out / "assignments")
    assert assignments.num_rows == sum(s["size"] for s in styles)
    series = pq.read_table(out / "series.parquet")
    assert set(series.column("style_id").to_pylist()) <= {s["style_id"] for s in styles}
    missing = trends_cli("--tables", str(tmp_path / "none"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "error:" in missing.stderr


def test_assigning_the_fitted_units_gives_the_fits_own_labels():
    """The map every video goes through (assign_units) is what the fit did to its own units:
    nearest cluster of the unit's group, noise beyond the cluster's limit."""
    from inference.trends.clustering import assign_units, fit_units

    rng = np.random.default_rng(5)
    centres = rng.normal(size=(4, DIM))
    vectors = np.concatenate([centres[i % 4] + 0.15 * rng.normal(size=(60, DIM)) for i in range(8)])
    vectors = np.concatenate([vectors, rng.normal(size=(10, DIM))]).astype(np.float32)  # strays
    kinds = ["top", "bottom"] * (len(vectors) // 2)
    for group_by in ("kind", "all"):
        config = dataclasses.replace(_config(group_by).cluster, noise_mads=2.0)
        fit, labels, distances = fit_units(vectors, kinds, config)
        again, again_distances = assign_units(fit, vectors, kinds)
        assert (labels < 0).any() and (labels >= 0).sum() > len(vectors) / 2
        np.testing.assert_array_equal(again, labels)
        np.testing.assert_allclose(again_distances, distances, atol=1e-6)


def test_the_fit_sample_is_whole_videos_drawn_by_hash():
    import hashlib

    from inference.scale.ray_trends import sample_threshold

    assert sample_threshold(1_000, 100_000) is None  # every video
    threshold = sample_threshold(100_000, 25_000)
    assert threshold is not None
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(4_000)]
    assert abs(np.mean([h < threshold for h in hashes]) - 0.25) < 0.03
