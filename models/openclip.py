"""open_clip encoders: any architecture, pretrained tag, hf-hub repo or local checkpoint.

Specs::

    open_clip:ViT-B-32:laion2b_s34b_b79k          pretrained tag (weights must be cached)
    open_clip:hf-hub:Marqo/marqo-fashionSigLIP    Hugging Face repo (must be cached)
    open_clip:ViT-B-32:/path/to/model.safetensors local checkpoint (.safetensors, .pt, .bin)
    open_clip:ViT-B-32:random                     random init (benchmarks only)

No network is touched: the Hugging Face hub is put in offline mode before open_clip is
imported, weights are looked up in the local caches first, and a missing file is an
immediate :class:`EncoderError` naming the file and how to provide it. Checkpoints are
read with safetensors or ``torch.load(weights_only=True)`` (no arbitrary unpickling); a
checkpoint of another architecture or embedding size is a clear error.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.base import Encoder, EncoderError, encode_in_batches, l2_normalise
from models.registry import register_encoder
from models.text import clean_texts

logger = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
RANDOM_WEIGHTS = ("random", "none", "")
# A tiny architecture for tests and CI (registered into open_clip's config table).
TINY_ARCH = "stylescope-tiny-vit"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def _offline_open_clip() -> Any:
    """Import open_clip with the Hugging Face hub switched to offline mode."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import huggingface_hub.constants as hub_constants
    import open_clip
    from open_clip import factory

    hub_constants.HF_HUB_OFFLINE = True
    factory._MODEL_CONFIGS.setdefault(TINY_ARCH, TINY_CONFIG)
    return open_clip


def _missing(what: str, how: str) -> EncoderError:
    return EncoderError(f"{what} is not available offline. {how}")


def _hf_cached(repo: str, filename: str, cache_dir: str | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename, cache_dir=cache_dir)
    return Path(found) if isinstance(found, str) else None


def resolve_tag(arch: str, tag: str, cache_dir: str | None = None) -> Path:
    """Local file holding ``arch``'s weights for pretrained ``tag``; error if not cached."""
    open_clip = _offline_open_clip()
    if arch not in open_clip.list_models():
        raise EncoderError(f"unknown open_clip architecture {arch!r}; see open_clip.list_models()")
    config = open_clip.get_pretrained_cfg(arch, tag)
    if not config:
        known = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
        raise EncoderError(f"open_clip has no pretrained tag {tag!r} for {arch} (known: {known}); "
                           f"or give a checkpoint path: open_clip:{arch}:/path/to/model.safetensors")
    wanted = []
    if config.get("hf_hub"):
        repo, filename = os.path.split(config["hf_hub"])
        filename = filename or "open_clip_pytorch_model.bin"
        stem = filename.rsplit(".", 1)[0]
        for name in (f"{stem}.safetensors", "open_clip_model.safetensors", filename):
            found = _hf_cached(repo, name, cache_dir)
            if found:
                return found
        wanted.append(f"{filename} of the Hugging Face repo {repo}")
    if config.get("url"):
        cached = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(config["url"])
        if cached.is_file():
            return cached
        wanted.append(f"{cached} (from {config['url']})")
    raise _missing(
        f"open_clip weights {arch}/{tag} ({' or '.join(wanted)})",
        "Download them on a machine with internet (python -c \"import open_clip; "
        f"open_clip.create_model('{arch}', pretrained='{tag}')\") and copy the Hugging Face cache "
        "(~/.cache/huggingface/hub) here, or pass the file directly: "
        f"open_clip:{arch}:/path/to/checkpoint.safetensors",
    )


def resolve_hf_hub(repo: str, cache_dir: str | None = None) -> Path:
    """Local snapshot folder of an open_clip hf-hub repo (config + weights); error if not cached."""
    config = _hf_cached(repo, "open_clip_config.json", cache_dir)
    weights = None
    for name in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        weights = weights or _hf_cached(repo, name, cache_dir)
    if config is None or weights is None:
        missing = "open_clip_config.json" if config is None else "open_clip_model.safetensors"
        raise _missing(
            f"{missing} of the Hugging Face repo {repo}",
            f"Run `huggingface-cli download {repo}` on a machine with internet and copy "
            "~/.cache/huggingface/hub here, or download the repo's files into a folder and use "
            f"open_clip:<arch>:/folder/open_clip_model.safetensors",
        )
    return config.parent


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A state dict from a .safetensors or a torch checkpoint, without unpickling code."""
    import pickle

    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise EncoderError(f"checkpoint file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            checkpoint: Any = load_file(str(path))
        else:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise EncoderError(f"{path} holds more than tensors and was not loaded (only weights are "
                           f"read, never code): {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # safetensors/torch raise many types for a corrupt file
        raise EncoderError(f"{path} is not a readable checkpoint: {exc}") from None
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise EncoderError(f"{path} does not hold a state dict")
    if all(str(key).startswith("module.") for key in checkpoint):
        checkpoint = {key[len("module."):]: value for key, value in checkpoint.items()}
    return checkpoint


def _check_fits(model: Any, state: dict[str, Any], arch: str, path: Path) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in expected.items()
                  if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if not (missing or unexpected or mismatched):
        return
    details = []
    if mismatched:
        key, got, want = mismatched[0]
        details.append(f"{len(mismatched)} tensors have other shapes (e.g. {key}: {got} in the "
                       f"checkpoint, {want} for {arch})")
    if missing:
        details.append(f"{len(missing)} tensors missing (e.g. {missing[0]})")
    if unexpected:
        details.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
    raise EncoderError(f"{path} is not a {arch} checkpoint (wrong architecture or embedding size): "
                       + "; ".join(details))


class OpenClipEncoder(Encoder):
    """An open_clip model behind the :class:`Encoder` interface."""

    def __init__(self, model: Any, tokenizer: Any, *, arch: str, name: str, version: str):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.arch, self.name, self.version = arch, name, version
        self.dim = int(model.text_projection.shape[1]) if getattr(model, "text_projection", None) is not None \
            else int(self._probe_dim())
        cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
        size = cfg.get("size", getattr(model.visual, "image_size", 224))
        self.image_size = int(size[0] if isinstance(size, list | tuple) else size)
        self.mean = np.asarray(cfg.get("mean", (0.48145466, 0.4578275, 0.40821073)), np.float32)
        self.std = np.asarray(cfg.get("std", (0.26862954, 0.26130258, 0.27577711)), np.float32)
        self.resize_mode = cfg.get("resize_mode", "shortest")
        self.device = "cpu"

    def to(self, device: str) -> OpenClipEncoder:
        """Run the model on ``device`` (e.g. "cuda"); returns self."""
        self.model.to(device)
        self.device = device
        return self

    def _probe_dim(self) -> int:
        import torch

        with torch.inference_mode():
            return int(self.model.encode_text(self.tokenize(["a"])).shape[-1])

    # -- images ----------------------------------------------------------------------
    def _resize(self, image: np.ndarray) -> np.ndarray:
        import cv2

        from models.offline import letterbox

        size = self.image_size
        image = np.ascontiguousarray(image[..., :3])
        if self.resize_mode == "longest":
            return letterbox(image, size)
        height, width = image.shape[:2]
        if self.resize_mode == "squash":
            return cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
        scale = size / min(height, width)  # shortest side to `size`, then centre crop (CLIP eval)
        new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
        top, left = (new_h - size) // 2, (new_w - size) // 2
        return resized[top : top + size, left : left + size]

    def preprocess_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """RGB uint8 images -> normalised float32 (N, 3, S, S) (numpy only, thread-safe)."""
        batch = np.stack([self._resize(img) for img in images]).astype(np.float32) * (1.0 / 255.0)
        batch = (batch - self.mean) / self.std
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))

    def encode_preprocessed(self, batch: np.ndarray) -> np.ndarray:
        """The image forward pass on a batch from :meth:`preprocess_images`."""
        import torch

        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        with torch.inference_mode():
            tensor = torch.from_numpy(batch).to(self.device, non_blocking=True)
            return l2_normalise(self.model.encode_image(tensor).float().cpu().numpy())

    def encode_images(self, images: Iterable[np.ndarray]) -> np.ndarray:
        return encode_in_batches(images, self.batch_size, self.dim,
                                 lambda batch: self.encode_preprocessed(self.preprocess_images(batch)))

    def resize_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """RGB uint8 images -> uint8 (N, S, S, 3) at the model's input size (numpy only)."""
        return np.stack([self._resize(img) for img in images])

    def encode_resized(self, batch: np.ndarray) -> np.ndarray:
        """Forward pass from :meth:`resize_images`, normalising where the model runs."""
        import torch

        with torch.inference_mode():
            tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, non_blocking=True)
            mean = torch.as_tensor(self.mean, device=tensor.device).view(1, 3, 1, 1)
            std = torch.as_tensor(self.std, device=tensor.device).view(1, 3, 1, 1)
            pixels = (tensor.permute(0, 3, 1, 2).float() * (1.0 / 255.0) - mean) / std
            return l2_normalise(self.model.encode_image(pixels).float().cpu().numpy())

    # -- text ------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> Any:
        """Token ids for the model's text tower."""
        return self.tokenizer(list(texts))

    def encode_text(self, texts: Iterable[str]) -> np.ndarray:
        return encode_in_batches(clean_texts(texts), self.batch_size, self.dim, self._encode_text_batch)

    def _encode_text_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            tokens = self.tokenize(texts).to(self.device)
            return l2_normalise(self.model.encode_text(tokens).float().cpu().numpy())

    def save(self, path: str | Path) -> None:
        """Write the model's weights as safetensors (atomically)."""
        from safetensors.torch import save_file

        from core.storage import atomic_path

        state = {k: v.detach().contiguous().clone() for k, v in self.model.state_dict().items()}
        with atomic_path(path) as tmp:
            save_file(state, str(tmp), metadata={"arch": self.arch})


def _file_version(arch: str, path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"open_clip-{arch}-{digest.hexdigest()[:12]}"


def build_open_clip(args: str, cache_dir: str | None = None) -> OpenClipEncoder:
    """Build an open_clip encoder from the text after ``open_clip:`` (see module docs)."""
    if not args:
        raise EncoderError("open_clip spec needs an architecture: open_clip:<arch>:<pretrained|path>")
    open_clip = _offline_open_clip()
    if args.startswith("hf-hub:"):
        repo = args[len("hf-hub:"):]
        folder = resolve_hf_hub(repo, cache_dir)
        try:
            model, _, _ = open_clip.create_model_and_transforms(f"local-dir:{folder}", pretrained=None)
            tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
        except Exception as exc:
            raise EncoderError(f"cannot build open_clip model from {repo} ({folder}): {exc}") from None
        weights = next(p for p in (folder / "open_clip_model.safetensors",
                                   folder / "open_clip_pytorch_model.bin") if p.is_file())
        return _finish(model, tokenizer, f"hf-hub:{repo}", f"open_clip:{args}", weights)
    arch, _, weights_arg = args.partition(":")
    if arch not in open_clip.list_models():
        raise EncoderError(f"unknown open_clip architecture {arch!r}; see open_clip.list_models()")
    if weights_arg.lower() in RANDOM_WEIGHTS:
        path = None
    elif weights_arg.endswith(CHECKPOINT_SUFFIXES) or os.sep in weights_arg:
        path = Path(weights_arg).expanduser()
        if not path.is_file():
            raise EncoderError(f"checkpoint file not found: {path} (give the path of a .safetensors "
                               f"or .pt file holding {arch} weights)")
    else:
        path = resolve_tag(arch, weights_arg, cache_dir)
    import torch

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(0)  # "random" weights are the same every time (tests, benchmarks)
    try:
        model = open_clip.create_model(arch, pretrained=None)
    finally:
        torch.random.set_rng_state(generator_state)
    tokenizer = open_clip.get_tokenizer(arch)
    return _finish(model, tokenizer, arch, f"open_clip:{args}", path)


def _finish(model: Any, tokenizer: Any, arch: str, name: str, path: Path | None) -> OpenClipEncoder:
    if path is None:
        version = f"open_clip-{arch}-random"
    else:
        state = load_checkpoint(path)
        _check_fits(model, state, arch, path)
        model.load_state_dict(state, strict=True)
        version = _file_version(arch, path)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return OpenClipEncoder(model, tokenizer, arch=arch, name=name, version=version)


@register_encoder("open_clip", "open_clip model: open_clip:<arch>:<pretrained tag | checkpoint path>, "
                  "open_clip:hf-hub:<repo> (weights must be cached or local)")
def _build(args: str) -> Encoder:
    from models.settings import load_settings

    return build_open_clip(args, load_settings().open_clip.cache_dir or None)
