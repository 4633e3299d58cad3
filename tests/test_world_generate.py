"""Creator-world generator: settings, the season's dynamics, videos, answer key, bad input."""

from __future__ import annotations

import collections
import errno
import gzip
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from inference.types import follower_tier
from world.config import WorldError, parse_overrides, preset_names, world_config
from world.generate import INCOMPLETE, DiskFullError, generate_world
from world.society import TIER_RANGES, appeal, plan_world
from world.styles import style_signature

TINY = {"workers": 1}


def _plan(preset: str = "demo", seed: int = 0, **overrides):
    return plan_world(world_config(preset, seed, overrides=overrides or None))


# --------------------------------------------------------------------------- settings


def test_presets_load_and_differ_in_size():
    assert {"tiny", "demo", "bench"} <= set(preset_names())
    demo, bench = world_config("demo"), world_config("bench")
    assert bench.creators >= 200 and bench.videos >= 1000 > demo.videos
    assert demo.preset == "demo" and demo.render.height <= 1280


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"videos": -5}, "videos must be >= 1"),
        ({"creators": -1}, "creators must be >= 2"),
        ({"render": {"width": 101}}, "render.width"),
        ({"lookalike_rate": 1.5}, "lookalike_rate"),
        ({"colours": 3}, "unknown WorldConfig settings: colours"),
        ({"tier_mix": {"giga": 1.0}}, "tier_mix"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(overrides, message):
    with pytest.raises(WorldError, match=message):
        world_config("tiny", overrides=overrides)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(WorldError, match=r"unknown preset 'huge'; choose from .*demo"):
        world_config("huge")


def test_set_overrides_are_typed_and_nested():
    assert parse_overrides(["videos=40", "render.fps=10", "render.fashion_mnist=true"]) == {
        "videos": 40,
        "render": {"fps": 10, "fashion_mnist": True},
    }
    with pytest.raises(WorldError, match="key=value"):
        parse_overrides(["videos"])


# --------------------------------------------------------------------------- the season


def test_plan_is_deterministic_in_the_seed():
    first, again, other = _plan(seed=3), _plan(seed=3), _plan(seed=4)
    assert [(p.creator, p.day, p.style) for p in first.posts] == [(p.creator, p.day, p.style) for p in again.posts]
    assert [(p.creator, p.day, p.style) for p in first.posts] != [(p.creator, p.day, p.style) for p in other.posts]


def test_follower_counts_follow_the_tiers():
    plan = _plan("bench")
    tiers = collections.Counter(c.tier for c in plan.creators)
    assert tiers["micro"] > tiers["mid"] > tiers["mega"] >= 1
    for creator in plan.creators:
        low, high = TIER_RANGES[creator.tier]
        assert low <= creator.followers < high
        assert follower_tier(creator.followers) == {"mid": "mid"}.get(creator.tier, creator.tier)


def test_video_budget_is_exact_and_one_post_a_day_per_creator():
    plan = _plan("bench")
    season = [p for p in plan.posts if not p.held_out]
    assert len(season) == plan.config.videos
    assert len({(p.creator, p.day) for p in season}) == len(season)
    assert sum(p.held_out for p in plan.posts) == plan.config.query_videos


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_originator_posts_the_style_first_on_its_start_day(seed):
    plan = _plan("bench", seed)
    season = [p for p in plan.posts if not p.held_out]
    for trend in plan.trends:
        worn = [p for p in season if p.style == trend.style]
        if trend.start_day < 0:  # faded in before the season: its first post is not the origin
            continue
        first_day = min(p.day for p in worn)
        assert first_day == trend.start_day
        assert {p.creator for p in worn if p.day == first_day} == {trend.originator}


def test_trends_rise_and_background_styles_stay_flat():
    plan = _plan("bench", 0)
    season = [p for p in plan.posts if not p.held_out]
    days = plan.config.days
    rising = [t for t in plan.trends if t.shape == "rising"]
    grew = 0
    for trend in rising:
        early = sum(1 for p in season if p.style == trend.style and p.day < trend.start_day + 14)
        late = sum(1 for p in season if p.style == trend.style and p.day >= days - 14)
        grew += late > early
    assert grew >= 0.7 * len(rising)
    background = [p for p in season if not plan.styles[p.style].trending]
    halves = [sum(1 for p in background if p.day < days // 2), sum(1 for p in background if p.day >= days // 2)]
    assert abs(halves[0] - halves[1]) < 0.25 * max(halves)


def test_peaking_appeal_decays_after_the_peak():
    plan = _plan("bench", 0)
    peaking = next(t for t in plan.trends if t.shape == "peaking")
    assert appeal(peaking, peaking.start_day - 1) == 0.0
    assert appeal(peaking, peaking.peak_day) == 1.0
    assert appeal(peaking, peaking.peak_day + 20) < 0.5


def test_trendsetters_start_most_styles_and_lookalikes_exist():
    plan = _plan("bench", 0)
    setters = {c.index for c in plan.creators if c.trendsetter}
    assert 0.05 * len(plan.creators) <= len(setters) <= 0.12 * len(plan.creators)
    assert sum(t.originator in setters for t in plan.trends) >= 0.6 * len(plan.trends)
    lookalikes = [s for s in plan.styles if s.lookalike_of is not None]
    assert lookalikes
    assert len({style_signature(s) for s in plan.styles}) == len(plan.styles)  # none identical
    for style in lookalikes:
        base = plan.styles[style.lookalike_of]
        assert style.top.type == base.top.type and style.top.pattern == base.top.pattern
        colours = {(a.colour, a.colour2) for a in (style.top, style.bottom) if a} ^ {(b.colour, b.colour2) for b in (base.top, base.bottom) if b}
        assert len(colours) == 2  # exactly one garment moved to a near colour


# --------------------------------------------------------------------------- files


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world") / "tiny"
    config = world_config("tiny", 5, overrides=TINY)
    summary = generate_world(config, out, progress=False)
    return out, summary


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "world.yaml"
    }


def test_world_folder_has_videos_manifest_and_answer_key(tiny_world):
    out, summary = tiny_world
    assert not (out / INCOMPLETE).exists()
    assert summary.videos == 10 and summary.query_videos == 2
    assert len(list((out / "videos").glob("*.mp4"))) == 10
    assert len(list((out / "queries").glob("*.mp4"))) == 2
    truth = json.loads((out / "answers" / "world.json").read_text())
    assert {"season", "creators", "styles", "videos", "config"} <= set(truth)
    for style in truth["styles"]:
        assert len(style["daily_videos"]) == truth["season"]["days"]
    assert sum(sum(s["daily_videos"]) for s in truth["styles"]) == 10


def test_manifest_reads_as_ingest_input(tiny_world):
    from inference.manifest import read_manifest

    out, _ = tiny_world
    manifest = read_manifest(out / "manifest.csv")
    assert len(manifest.videos) == 10 and not manifest.rejected
    assert all(v.path.is_file() for v in manifest.videos)


def test_answer_key_loads_in_the_scorer(tiny_world):
    from world import scorer

    out, _ = tiny_world
    key = scorer.load_answer_key(out)
    assert len(key.videos) == 12
    truth = json.loads((out / "answers" / "world.json").read_text())
    assert sum(1 for v in truth["videos"] if not v["held_out"]) == 10


def test_videos_are_h264_portrait_with_a_box_per_frame(tiny_world):
    import av
    import pyarrow.parquet as pq

    out, _ = tiny_world
    truth = json.loads((out / "answers" / "world.json").read_text())
    boxes = pq.read_table(out / "answers" / "boxes.parquet").to_pylist()
    by_video = collections.defaultdict(list)
    for row in boxes:
        by_video[row["video"]].append(row)
    for video in truth["videos"][:4]:
        with av.open(str(out / video["file"])) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert len(frames) == video["frames"] and frames[0].shape == (256, 144, 3)
        rows = by_video[video["name"]]
        assert len(rows) == 3 * video["frames"]
        for row in rows:
            if row["x0"] is None:
                continue
            assert 0 <= row["x0"] < row["x1"] <= 144 and 0 <= row["y0"] < row["y1"] <= 256
            if row["shot"] == "title":
                raise AssertionError("a title card has no garments")


def test_garment_box_covers_garment_pixels_not_background(tmp_path):
    """Where the truth puts the top, the pixels differ from the empty room there."""
    from world.scene import VideoSpec, render_video

    plan = _plan("tiny", 1)
    config = plan.config.render
    config.title_card_rate = config.closeup_rate = config.occlusion_rate = config.blur_rate = 0.0
    config.sensor_noise = config.lighting = config.shake_px = 0.0
    config.walk_rate = 0.0
    post = plan.posts[0]
    creator = plan.creators[post.creator]
    spec = VideoSpec("v", plan.styles[post.style], creator.look, 7, 7, creator.handle, 0)
    frame, truth = next(iter(render_video(spec, config)))
    top = truth.boxes["top"]
    assert top is not None and truth.boxes["bottom"] is not None and truth.boxes["full"] is not None
    assert truth.boxes["full"].area > top.area
    from world.scene import _room

    empty = _room(creator.look, config.height + 4, config.width + 4)[2:-2, 2:-2]
    inside = np.abs(frame[top.y0 : top.y1, top.x0 : top.x1].astype(int) - empty[top.y0 : top.y1, top.x0 : top.x1]).sum(-1)
    assert (inside > 30).mean() > 0.5


@pytest.mark.slow
def test_same_seed_gives_byte_identical_world(tiny_world, tmp_path):
    out, _ = tiny_world
    again = tmp_path / "again"
    generate_world(world_config("tiny", 5, overrides=TINY), again, progress=False)
    assert _digest(again) == _digest(out)
    other = tmp_path / "other"
    generate_world(world_config("tiny", 6, overrides=TINY), other, progress=False)
    assert _digest(other) != _digest(out)


@pytest.mark.slow
def test_two_workers_render_the_same_bytes_as_one(tiny_world, tmp_path):
    out, _ = tiny_world
    parallel = tmp_path / "parallel"
    generate_world(world_config("tiny", 5, overrides={"workers": 2}), parallel, progress=False)
    assert _digest(parallel) == _digest(out)


@pytest.mark.slow
def test_world_videos_ingest(tiny_world, tmp_path):
    from inference.ingest import ingest
    from inference.manifest import read_manifest

    out, _ = tiny_world
    report = ingest(read_manifest(out / "manifest.csv").videos, tmp_path / "data", progress=False)
    assert report.count("failed") == 0
    assert len(report.outcomes) == 10 and all(o.garments > 0 for o in report.outcomes)


# --------------------------------------------------------------------------- bad input


def test_non_empty_output_folder_is_refused_unless_overwrite(tiny_world, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    config = world_config("tiny", 1, overrides={**TINY, "videos": 2, "query_videos": 0})
    with pytest.raises(WorldError, match="not empty; pass --overwrite"):
        generate_world(config, out, progress=False)
    with pytest.raises(WorldError, match="does not hold a creator world"):
        generate_world(config, out, overwrite=True, progress=False)
    assert (out / "notes.txt").read_text() == "mine"
    world = tmp_path / "world"
    shutil.copytree(tiny_world[0], world)
    summary = generate_world(config, world, overwrite=True, progress=False)
    assert summary.videos == 2 and len(list((world / "videos").glob("*.mp4"))) == 2


def test_disk_full_midway_is_a_clear_error_and_marks_output_incomplete(tmp_path, monkeypatch):
    from world import generate

    written = []

    def fake_write(path, frames, render):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written.append(path)
        return real_write(path, frames, render)

    real_write = generate.write_mp4
    monkeypatch.setattr(generate, "write_mp4", fake_write)
    out = tmp_path / "full"
    with pytest.raises(DiskFullError, match=r"disk filled up.*marked incomplete"):
        generate_world(world_config("tiny", 1, overrides=TINY), out, progress=False)
    assert "disk full" in (out / INCOMPLETE).read_text()
    assert not (out / "answers" / "world.json").exists()
    from world import scorer

    with pytest.raises(scorer.AnswerKeyError, match="incomplete"):
        scorer.load_answer_key(out)


def test_too_little_free_space_is_refused_before_rendering(tmp_path, monkeypatch):
    from world import generate

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(generate.shutil, "disk_usage", lambda path: usage._replace(free=1000))
    with pytest.raises(DiskFullError, match="not enough free space"):
        generate_world(world_config("tiny", 1, overrides=TINY), tmp_path / "w", progress=False)
    assert (tmp_path / "w" / INCOMPLETE).exists()


def test_fashion_mnist_missing_is_a_clear_error(tmp_path):
    config = world_config("tiny", 1, overrides={**TINY, "render": {"fashion_mnist": True, "fashion_mnist_dir": str(tmp_path / "none")}})
    with pytest.raises(WorldError, match="dataset-fashion-mnist"):
        generate_world(config, tmp_path / "w", progress=False)


def _fake_fashion_mnist(folder: Path) -> None:
    folder.mkdir()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (20, 28, 28), dtype=np.uint8)
    labels = np.arange(20, dtype=np.uint8) % 10
    header = b"\x00\x00\x08\x03" + b"".join(int(n).to_bytes(4, "big") for n in images.shape)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images.tobytes()))
    header = b"\x00\x00\x08\x01" + (20).to_bytes(4, "big")
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(header + labels.tobytes()))


def test_fashion_mnist_textures_change_garment_pixels(tmp_path):
    from world.fmnist import FashionMnist
    from world.generate import _video_spec
    from world.scene import render_video

    _fake_fashion_mnist(tmp_path / "fm")
    fm = FashionMnist(tmp_path / "fm")
    assert fm.shading("jeans", 3) is not None and fm.shading("skirt", 3) is None
    plan = _plan("tiny", 2)
    spec = _video_spec(plan, plan.posts[0])
    plain = [f for f, _ in render_video(spec, plan.config.render)]
    textured = [f for f, _ in render_video(spec, plan.config.render, fm)]
    assert len(plain) == len(textured)
    assert any(not np.array_equal(a, b) for a, b in zip(plain, textured, strict=True))


# --------------------------------------------------------------------------- CLI


def test_cli_generate_describe_and_presets(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["world", "generate", "--preset", "tiny", "--seed", "2", "--out", str(out), "--set", "videos=3", "--set", "query_videos=1", "--workers", "1", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["videos"] == 3 and summary["query_videos"] == 1
    assert main(["world", "describe", str(out)]) == 0
    assert "originator" in capsys.readouterr().out
    assert main(["world", "presets"]) == 0
    assert "bench" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "nope"], "unknown preset"),
        (["--set", "videos=-3"], "videos must be >= 1"),
        (["--set", "creators=-1"], "creators must be >= 2"),
    ],
)
def test_cli_bad_input_exits_2_with_a_message(tmp_path, capsys, args, message):
    assert main(["world", "generate", "--out", str(tmp_path / "x"), *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_a_non_empty_folder(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    assert main(["world", "generate", "--preset", "tiny", "--out", str(tmp_path)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_ffmpeg_failing_on_a_full_disk_reads_as_disk_full(tmp_path, monkeypatch):
    """ffmpeg's broken pipe says nothing about the disk: the free space decides."""
    from world import generate

    render = world_config("tiny").render
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(generate.shutil, "disk_usage", lambda path: usage._replace(free=1000))

    def frames():
        yield np.zeros((render.height, render.width, 3), np.uint8)
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    with pytest.raises(OSError, match="No space left") as caught:
        generate.write_mp4(tmp_path / "v.mp4", frames(), render)
    assert caught.value.errno == errno.ENOSPC
    assert not list(tmp_path.glob("*.mp4"))
