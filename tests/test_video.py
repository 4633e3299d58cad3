"""Frame sampling on real encoded videos: codecs, containers, rotation, blur, duplicates, cuts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.errors import VideoError
from inference.video import (
    SamplerConfig,
    _Candidate,
    dhash,
    hamming,
    sample_video,
    select_segment,
    sharpness,
)
from world.clips import marker_frames, remux, walking_clip, write_video


def _is_upright_marker(image: np.ndarray) -> bool:
    h, w = image.shape[:2]
    corner = image[: h // 5, : w // 4].reshape(-1, 3).mean(axis=0)
    other = image[-h // 5 :, -w // 4 :].reshape(-1, 3).mean(axis=0)
    return corner[0] > 150 and corner[1] < 90 and other[0] > 200 and other[1] > 200


@pytest.mark.parametrize("reader", ["pyav", "opencv"])
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_is_honoured(tmp_path, reader, rotation):
    upright = marker_frames()
    # Store the frames turned the other way, as a phone does, and tag them with the rotation.
    turns = (-rotation // 90) % 4
    stored = [np.ascontiguousarray(np.rot90(f, turns)) for f in upright]
    plain = write_video(tmp_path / "plain.mp4", stored)
    rotated = remux(plain, tmp_path / "rotated.mp4", before_input=["-display_rotation", str(rotation)])
    result = sample_video(rotated, SamplerConfig(reader=reader))
    assert result.info.rotation == rotation
    assert (result.info.width, result.info.height) == (96, 160)
    assert all(f.image.shape[:2] == (160, 96) for f in result.frames)
    assert all(_is_upright_marker(f.image) for f in result.frames)


@pytest.mark.parametrize(
    ("name", "codec", "extra"),
    [
        ("h264.mp4", "libx264", []),
        ("hevc.mov", "libx265", ["-x265-params", "log-level=error"]),
        ("vp9.webm", "libvpx-vp9", []),
        ("av1.mkv", "libsvtav1", []),
        ("mpeg4.avi", "mpeg4", []),
    ],
)
def test_codecs_and_containers_decode(tmp_path, name, codec, extra):
    path = write_video(tmp_path / name, walking_clip(n=30, w=128, h=224), codec=codec, extra=extra)
    result = sample_video(path)
    assert result.frames, f"{name}: no frames kept"
    assert result.info.width == 128 and result.info.height == 224
    assert result.info.duration_s == pytest.approx(2.0, abs=0.2)
    # Candidates every 0.5 s over 2 s.
    assert 3 <= result.candidates <= 5


def test_static_video_keeps_one_frame(tmp_path):
    path = write_video(tmp_path / "still.mp4", marker_frames(n=60))
    result = sample_video(path)
    assert len(result.frames) == 1
    assert result.candidates == 8


def test_a_kept_frame_holds_back_its_near_duplicates(tmp_path):
    path = write_video(tmp_path / "still.mp4", marker_frames(n=60))
    frame = sample_video(path).frames[0]
    assert len(frame.alternates) == SamplerConfig().alternates == 2
    alternates = [make() for make in frame.alternates]
    assert [a.t_s for a in alternates] == sorted(a.t_s for a in alternates)
    assert all(a.t_s > frame.t_s and a.segment == frame.segment for a in alternates)
    assert all(a.image.shape == frame.image.shape and hamming(a.phash, frame.phash) <= 5 for a in alternates)
    assert all(a.alternates == () for a in alternates)
    assert sample_video(path, SamplerConfig(alternates=0)).frames[0].alternates == ()


def test_an_alternate_is_its_own_frame_and_never_a_blurry_one(tmp_path):
    # a steady shot whose frames differ only in a small patch's grey level (the frame number),
    # with the candidate at 1.0 s blurred: alternates must carry their own pixels
    frames = []
    for i, frame in enumerate(marker_frames(n=60)):
        frame[120:150, 10:40] = 40 + 3 * i
        frames.append(cv2.GaussianBlur(frame, (0, 0), 5) if 13 <= i <= 17 else frame)
    path = write_video(tmp_path / "steady.mp4", frames, extra=["-crf", "10"])
    kept = sample_video(path).frames[0]
    alternates = [make() for make in kept.alternates]
    assert kept.t_s == 0.0 and [round(a.t_s, 2) for a in alternates] == [0.53, 1.53]  # 1.0 s is blurry
    for frame in [kept, *alternates]:
        level = float(frame.image[125:145, 15:35].mean())
        assert abs(level - (40 + 3 * round(frame.t_s * 15))) < 4, (frame.t_s, level)


def _candidate(t_s: float, phash: int, sharp: float = 100.0) -> _Candidate:
    return _Candidate(t_s, None, sharp, phash, np.zeros(1, np.float32))  # type: ignore[arg-type]


def test_alternates_stay_between_their_frame_and_the_next_one():
    far = (1 << 40) - 1  # 40 bits away from 0
    candidates = lambda: [  # noqa: E731 - fresh ones per call: selecting fills their alternates
        _candidate(0.0, 0),  # kept
        _candidate(0.5, 0b1),  # repeats 0.0: its alternate
        _candidate(1.0, far),  # kept
        _candidate(1.5, 0b11),  # repeats 0.0, which is no longer the latest kept frame: dropped
        _candidate(2.0, far ^ 0b1),  # repeats 1.0: its alternate
        _candidate(2.5, far, sharp=1.0),  # blurry: dropped
        _candidate(3.0, far ^ 0b10),  # repeats 1.0: its second alternate
        _candidate(3.5, far ^ 0b100),  # a third: over the limit of 2
    ]
    kept = select_segment(candidates(), SamplerConfig())
    assert [k.t_s for k in kept] == [0.0, 1.0]
    assert [[a.t_s for a in k.alternates] for k in kept] == [[0.5], [2.0, 3.0]]
    assert all(not k.alternates for k in select_segment(candidates(), SamplerConfig(alternates=0)))


def test_cut_starts_a_segment_and_each_segment_keeps_a_frame(tmp_path):
    first = marker_frames(n=30)
    second = [np.full_like(first[0], (20, 120, 40)) for _ in range(30)]
    for frame in second:
        cv2.circle(frame, (48, 80), 30, (250, 250, 0), -1)
    path = write_video(tmp_path / "cut.mp4", first + second)
    result = sample_video(path)
    assert result.segments == 2
    assert sorted({f.segment for f in result.frames}) == [0, 1]


def test_blurry_frames_are_dropped_but_a_segment_is_never_empty(tmp_path):
    sharp = walking_clip(n=45, w=216, h=384)
    frames = [cv2.GaussianBlur(f, (0, 0), 6) if (i // 8) % 2 else f for i, f in enumerate(sharp)]
    path = write_video(tmp_path / "blur.mp4", frames, extra=["-crf", "12"])
    result = sample_video(path, SamplerConfig(dup_hamming=0, cut_hamming=64, cut_hist=2.0))
    kept_times = [f.t_s for f in result.frames]
    # Candidates at 0.5 s steps; frames 8-15, 24-31, 40-44 (15 fps) are blurred.
    blurred = [t for t in kept_times if (round(t * 15) // 8) % 2]
    assert kept_times and not blurred
    all_blurry = write_video(tmp_path / "allblur.mp4", [cv2.GaussianBlur(f, (0, 0), 8) for f in sharp])
    assert len(sample_video(all_blurry).frames) >= 1


def test_large_video_is_scaled_down(tmp_path):
    frames = [cv2.resize(f, (2160, 3840)) for f in walking_clip(n=6, w=216, h=384)]
    path = write_video(tmp_path / "uhd.mp4", frames, fps=60, extra=["-preset", "ultrafast"])
    result = sample_video(path, SamplerConfig(max_side=640))
    assert result.info.width == 2160 and result.info.height == 3840
    assert max(result.frames[0].image.shape[:2]) == 640


def test_variable_frame_rate_timestamps(tmp_path):
    clip = walking_clip(n=40, w=128, h=224)
    constant = write_video(tmp_path / "cfr.mkv", clip, fps=20)
    # Re-time the stream irregularly: frames speed up and slow down.
    vfr = tmp_path / "vfr.mkv"
    import subprocess

    from world.clips import FFMPEG

    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-i", str(constant),
         "-vf", "setpts='if(lt(N,20),N*0.02/TB,(0.4+(N-20)*0.1)/TB)'", "-fps_mode", "vfr",
         "-c:v", "libx264", str(vfr)],
        check=True, capture_output=True,
    )
    result = sample_video(vfr, SamplerConfig(dup_hamming=0))
    times = [f.t_s for f in result.frames]
    assert times == sorted(times)
    assert result.info.duration_s == pytest.approx(2.4, abs=0.2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable video"),
        (b"this is a text file, not a video\n" * 10, "not a readable video"),
        (bytes(range(256)) * 40, "not a readable video"),
    ],
)
def test_not_a_video(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match=message):
        sample_video(path)


def test_audio_only_file(tmp_path):
    import subprocess

    from world.clips import FFMPEG

    path = tmp_path / "audio.mp4"
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=1", str(path)], check=True, capture_output=True)
    with pytest.raises(VideoError, match=r"no video stream.*audio"):
        sample_video(path)


def test_truncated_video_keeps_what_decodes(tmp_path):
    # A stream container (mkv) with its index at the front: the cut-off tail is just missing.
    path = write_video(tmp_path / "full.mkv", walking_clip(n=60, w=128, h=224), extra=["-g", "5"])
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    result = sample_video(cut)
    assert result.frames
    assert max(f.t_s for f in result.frames) < 3.5


def test_absurd_dimensions_are_refused_before_decoding(tmp_path):
    tiny = write_video(tmp_path / "tiny.mp4", [np.zeros((16, 16, 3), np.uint8)] * 5)
    with pytest.raises(VideoError, match="smaller than"):
        sample_video(tiny)
    normal = write_video(tmp_path / "normal.mp4", marker_frames(n=5))
    with pytest.raises(VideoError, match="Mpx limit"):
        sample_video(normal, SamplerConfig(max_pixels=100 * 100))


def test_hash_and_sharpness_behave():
    rng = np.random.default_rng(0)
    textured = rng.integers(0, 255, (128, 128), dtype=np.uint8)
    assert sharpness(textured) > sharpness(cv2.GaussianBlur(textured, (0, 0), 4)) * 10
    shifted = np.roll(textured, 1, axis=1)
    assert hamming(dhash(textured), dhash(textured)) == 0
    assert hamming(dhash(textured), dhash(255 - textured)) > 40
    assert hamming(dhash(textured), dhash(shifted)) < hamming(dhash(textured), dhash(255 - textured))


def test_sampler_config_rejects_nonsense():
    with pytest.raises(ValueError):
        SamplerConfig(every_s=0)
    with pytest.raises(ValueError):
        SamplerConfig(max_frames=0)
    with pytest.raises(ValueError, match="alternates"):
        SamplerConfig(alternates=-1)
