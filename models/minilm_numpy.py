"""all-MiniLM-L6-v2 in NumPy: the offline default's text tower without torch.

A text search needs one forward pass of a 6-layer BERT on a few tokens; importing torch for
it costs more time and memory than everything else the search does (this CUDA build of torch
alone peaks at over 600 MB resident). This module runs the same layers as
:mod:`models.minilm` (post-LayerNorm, exact GELU, absolute positions, mean pooling) in
float32 NumPy, from the same ``model.safetensors`` read with ``safetensors.numpy``, and
tokenizes with the same ``tokenizers`` WordPiece file. It also holds what both versions share:
the weight renaming, the config and the tokenizer. ``tests/test_encoders.py`` checks the two
agree to float rounding.

Only the paths a frozen sentence encoder uses are here: no dropout, no pooler, no training.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

LAYER_NORM_EPS = 1e-5  # torch's nn.LayerNorm default, which the projection heads use


def renamed(name: str) -> str | None:
    """The parameter name here for a ``transformers`` BertModel name (None: not used here)."""
    if name.startswith(("pooler.", "embeddings.position_ids")):
        return None
    name = name.removeprefix("embeddings.").replace("encoder.layer.", "layers.")
    for theirs, ours in (("LayerNorm", "embedding_norm"),):
        if name.startswith(theirs):
            name = ours + name[len(theirs):]
    for theirs, ours in (
        ("attention.self.", ""), ("attention.output.dense", "attention_out"),
        ("attention.output.LayerNorm", "attention_norm"), ("intermediate.dense", "intermediate"),
        ("output.dense", "output"), ("output.LayerNorm", "output_norm"),
    ):
        name = name.replace(theirs, ours)
    return name


def read_config(model_dir: str | Path) -> dict[str, Any]:
    """The BERT config (sizes, LayerNorm epsilon) the package ships."""
    return json.loads((Path(model_dir) / "config.json").read_text())  # type: ignore[no-any-return]


def load_tokenizer(model_dir: str | Path) -> Any:
    """The WordPiece tokenizer the package ships (``tokenizers``: no torch)."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))


def token_ids(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask, int64 (N, L), padded to the longest text, cut at ``max_tokens``."""
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    encoded = tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encoded], dtype=np.int64).reshape(len(encoded), -1)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64).reshape(len(encoded), -1)
    return ids, mask


def layer_norm(states: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis (biased variance, as torch computes it)."""
    mean = states.mean(-1, keepdims=True)
    centred = states - mean
    variance = np.square(centred).mean(-1, keepdims=True)
    return centred / np.sqrt(variance + eps) * weight + bias  # type: ignore[no-any-return]


def erf(values: np.ndarray) -> np.ndarray:
    """The error function, to 4e-7 in float32 (Numerical Recipes' Chebyshev fit of erfc, 1.2e-7
    in exact arithmetic).

    NumPy has no erf, and scipy.special costs a third of a second to import. The hidden
    states this feeds differ from torch's exact GELU by about 3e-6 after six layers.
    """
    x = np.abs(values)
    t = 1.0 / (1.0 + 0.5 * x)
    poly = np.float32(0.17087277)
    for coefficient in (-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
                        0.37409196, 1.00002368):
        poly = poly * t + np.float32(coefficient)
    poly = poly * t - np.float32(1.26551223) - x * x
    return np.copysign(1.0 - t * np.exp(poly), values)  # type: ignore[no-any-return]


def gelu(values: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, torch's ``nn.functional.gelu`` default."""
    return values * 0.5 * (1.0 + erf(values * (1.0 / math.sqrt(2.0))))  # type: ignore[no-any-return]


class Linear:
    """``x @ W.T + b``, as torch's ``nn.Linear`` (``W`` is (out, in))."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        self.weight = np.asarray(weight, np.float32)
        self.bias = np.asarray(bias, np.float32)

    def __call__(self, states: np.ndarray) -> np.ndarray:
        # One 2-D matmul (BLAS takes the transposed view as is); NumPy runs a 3-D @ 2-D
        # product as a slow loop of small ones.
        flat = states.reshape(-1, states.shape[-1]) @ self.weight.T
        flat += self.bias
        return flat.reshape(*states.shape[:-1], -1)


class NumpyMiniLM:
    """A BERT encoder in float32 NumPy: embeddings, then ``num_hidden_layers`` layers."""

    def __init__(self, config: dict[str, Any], weights: dict[str, np.ndarray]):
        self.heads = config["num_attention_heads"]
        self.eps = config["layer_norm_eps"]
        self.weights = {name: np.asarray(value, np.float32) for name, value in weights.items()}
        self.layers = [self._layer(f"layers.{i}.") for i in range(config["num_hidden_layers"])]

    def _linear(self, prefix: str) -> Linear:
        return Linear(self.weights.pop(prefix + "weight"), self.weights.pop(prefix + "bias"))

    def _norm(self, prefix: str) -> Callable[[np.ndarray], np.ndarray]:
        weight, bias = self.weights.pop(prefix + "weight"), self.weights.pop(prefix + "bias")
        return lambda states: layer_norm(states, weight, bias, self.eps)

    def _layer(self, prefix: str) -> dict[str, Any]:
        linears = ("query", "key", "value", "attention_out", "intermediate", "output")
        norms = ("attention_norm", "output_norm")
        return ({name: self._linear(f"{prefix}{name}.") for name in linears}
                | {name: self._norm(f"{prefix}{name}.") for name in norms})

    def _attention(self, layer: dict[str, Any], states: np.ndarray, blocked: np.ndarray) -> np.ndarray:
        batch, length, hidden = states.shape
        size = hidden // self.heads

        def split(projected: np.ndarray) -> np.ndarray:
            return projected.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

        query, key, value = (split(layer[name](states)) for name in ("query", "key", "value"))
        scores = query @ key.transpose(0, 1, 3, 2) * np.float32(1.0 / math.sqrt(size))
        scores = np.where(blocked, np.finfo(np.float32).min, scores)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        return layer["attention_out"](context)  # type: ignore[no-any-return]

    def _layer_forward(self, layer: dict[str, Any], states: np.ndarray, blocked: np.ndarray) -> np.ndarray:
        states = layer["attention_norm"](states + self._attention(layer, states, blocked))
        return layer["output_norm"](states + layer["output"](gelu(layer["intermediate"](states))))  # type: ignore[no-any-return]

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token ids and attention mask (N, L) -> last hidden states, float32 (N, L, hidden)."""
        w = self.weights
        states = (w["word_embeddings.weight"][ids] + w["position_embeddings.weight"][: ids.shape[1]][None]
                  + w["token_type_embeddings.weight"][0])
        states = layer_norm(states, w["embedding_norm.weight"], w["embedding_norm.bias"], self.eps)
        blocked = (mask == 0)[:, None, None, :]
        for layer in self.layers:
            states = self._layer_forward(layer, states, blocked)
        return states


def load_numpy_minilm(model_dir: str | Path) -> tuple[NumpyMiniLM, Any]:
    """The network and its tokenizer, from the package's model folder, without torch."""
    from safetensors.numpy import load_file

    model_dir = Path(model_dir)
    weights = {ours: tensor for name, tensor in load_file(str(model_dir / "model.safetensors")).items()
               if (ours := renamed(name)) is not None}
    return NumpyMiniLM(read_config(model_dir), weights), load_tokenizer(model_dir)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the real tokens' states (sentence-transformers' pooling), L2-normalised."""
    weights = mask[..., None].astype(hidden.dtype)
    pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)  # type: ignore[no-any-return]
