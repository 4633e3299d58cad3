"""Contrastive training of encoders: the offline default's heads, or open_clip models.

- Offline default (LiT: towers locked): tower features are cached once
  (:mod:`training.features`), then the projection heads train on them with the CLIP loss
  and a learnable temperature. An epoch over ~13k pairs takes seconds on 2 CPU cores.
- open_clip: full fine-tune, or a locked-image-tower fine-tune (``lock_image``).
- Anti-forgetting: every run is scored on the previous model's eval sets too, and the
  new weights can be interpolated with the old ones (WiSE-FT, Wortsman et al. 2022) with
  the mixing ratio chosen on held-out data (best new-data score whose drop on the old
  eval sets stays within ``max_old_drop``).

The loss treats pairs that share a meaning (same class, same attribute combination) as
positives of each other, so a batch with several "dress" images does not push them apart.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from training.data import PairSet
from training.evaluate import EmbedView, EvalSet, SuiteResult, run_eval

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class OptimConfig:
    """Optimiser and schedule."""

    epochs: int = 40  # passes over the training pairs
    batch_size: int = 256  # pairs per step (in-batch negatives)
    lr: float = 1e-3  # peak learning rate (AdamW), cosine decay after warm-up
    weight_decay: float = 0.05  # AdamW weight decay
    warmup_steps: int = 50  # linear warm-up steps
    max_steps: int = 0  # stop after this many steps (0: run all epochs)
    seed: int = 0  # shuffling, caption choice and initialisation seed


@dataclasses.dataclass
class WiseConfig:
    """WiSE-FT: interpolate old and new weights, ratio chosen on held-out data."""

    enabled: bool = True  # try interpolations when there is a parent model
    ratios: list[float] = dataclasses.field(
        default_factory=lambda: [0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    )  # candidate weights of the new model (0 = old model, 1 = new model)
    max_old_drop: float = 0.02  # largest allowed drop of an old eval set's headline score


def clip_loss(image_embeddings: Any, text_embeddings: Any, logit_scale: Any,
              groups: Any | None = None) -> Any:
    """Symmetric InfoNCE over a batch; same-group pairs count as positives.

    Args:
        image_embeddings: (B, D) L2-normalised.
        text_embeddings: (B, D) L2-normalised.
        logit_scale: log of the inverse temperature (learnable scalar).
        groups: (B,) meaning ids; None means every pair is its own group.
    """
    import torch
    import torch.nn.functional as F

    scale = logit_scale.clamp(max=math.log(100.0)).exp()
    logits = scale * image_embeddings @ text_embeddings.T
    if groups is None:
        targets = torch.eye(len(logits), device=logits.device)
    else:
        targets = (groups[:, None] == groups[None, :]).float()
    image_loss = F.cross_entropy(logits, targets / targets.sum(1, keepdim=True))
    text_loss = F.cross_entropy(logits.T, targets.T / targets.T.sum(1, keepdim=True))
    return (image_loss + text_loss) / 2


def _contrastive_step(optimiser: Any, lr: float, image_emb: Any, text_emb: Any,
                      logit_scale: Any, groups: Any) -> float:
    """One optimiser step on the CLIP loss at learning rate ``lr``; returns the loss."""
    for group in optimiser.param_groups:
        group["lr"] = lr
    loss = clip_loss(image_emb, text_emb, logit_scale, groups)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def _schedule(step: int, total: int, config: OptimConfig) -> float:
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@dataclasses.dataclass
class TrainLog:
    """What a training run did."""

    steps: int = 0  # optimiser steps taken
    epochs: float = 0.0  # passes over the data
    seconds: float = 0.0  # wall time of the training loop (features excluded)
    seconds_per_epoch: float = 0.0  # wall time per epoch
    final_loss: float = float("nan")  # mean loss over the last epoch
    temperature: float = float("nan")  # learned softmax temperature at the end


# --------------------------------------------------------------------------- heads on cached features
def train_heads(heads: Any, image_features: np.ndarray, text_table: np.ndarray,
                caption_ids: Sequence[np.ndarray], groups: np.ndarray, config: OptimConfig,
                on_epoch: Callable[[int, Any], None] | None = None) -> TrainLog:
    """Train projection heads in place on cached tower features.

    Args:
        heads: module with ``image``, ``text`` and ``logit_scale`` (see models.offline.build_heads).
        image_features: (N, image tower dim).
        text_table: (U, text tower dim) features of every distinct caption.
        caption_ids: per pair, rows of ``text_table`` holding its alternative captions;
            each step picks one at random.
        groups: (N,) meaning ids (positives share one).
        config: optimiser settings.
        on_epoch: called after each epoch with (epoch, heads).
    """
    import torch
    import torch.nn.functional as F

    count = len(image_features)
    if count < 2:
        raise ValueError("training needs at least 2 pairs")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    images = torch.from_numpy(np.ascontiguousarray(image_features, np.float32))
    table = torch.from_numpy(np.ascontiguousarray(text_table, np.float32))
    flat_ids = torch.from_numpy(np.concatenate([np.asarray(c, np.int64) for c in caption_ids]))
    sizes = np.array([len(c) for c in caption_ids])
    offsets = np.concatenate([[0], np.cumsum(sizes[:-1])]).astype(np.int64)
    group_ids = torch.from_numpy(groups.astype(np.int64))
    batch_size = min(config.batch_size, count)
    steps_per_epoch = max(1, count // batch_size)
    total = steps_per_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    parameters = [p for p in heads.parameters() if p.requires_grad]
    decay = [p for p in parameters if p.ndim >= 2]
    no_decay = [p for p in parameters if p.ndim < 2]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    log = TrainLog()
    heads.train()
    from tqdm import tqdm

    bar = tqdm(total=math.ceil(total / steps_per_epoch), desc="train heads", unit="epoch", leave=False)
    started = time.perf_counter()
    step, epoch = 0, 0
    losses: list[float] = []
    while step < total:
        order = rng.permutation(count)
        losses = []
        for start in range(0, steps_per_epoch * batch_size, batch_size):
            if step >= total:
                break
            batch = order[start : start + batch_size]
            choice = offsets[batch] + (rng.random(len(batch)) * sizes[batch]).astype(np.int64)
            image_emb = F.normalize(heads.image(images[batch]), dim=-1)
            text_emb = F.normalize(heads.text(table[flat_ids[choice]]), dim=-1)
            lr = config.lr * _schedule(step, total, config)
            losses.append(_contrastive_step(optimiser, lr, image_emb, text_emb, heads.logit_scale, group_ids[batch]))
            step += 1
        epoch += 1
        logger.debug("epoch %d: loss %.4f", epoch, float(np.mean(losses)) if losses else float("nan"))
        bar.update(1)
        if on_epoch is not None:
            on_epoch(epoch, heads)
    bar.close()
    heads.eval()
    log.steps, log.epochs = step, step / steps_per_epoch
    log.seconds = time.perf_counter() - started
    log.seconds_per_epoch = log.seconds / max(log.epochs, 1e-9)
    log.final_loss = float(np.mean(losses)) if losses else float("nan")
    log.temperature = float(1.0 / heads.logit_scale.detach().clamp(max=math.log(100.0)).exp())
    logger.info("trained heads: %d steps, %.1f epochs, %.2f s/epoch, loss %.3f, temperature %.4f",
                log.steps, log.epochs, log.seconds_per_epoch, log.final_loss, log.temperature)
    return log


def caption_features(pairs: PairSet, text_features: Callable[[Sequence[str]], np.ndarray]
                     ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Text-tower features of every distinct caption, and per pair the rows of its captions."""
    unique = list(dict.fromkeys(caption for captions in pairs.captions for caption in captions))
    row = {text: n for n, text in enumerate(unique)}
    table = text_features(unique) if unique else np.zeros((0, 1), np.float32)
    return table, [np.array([row[c] for c in captions], np.int64) for captions in pairs.captions]


# --------------------------------------------------------------------------- WiSE-FT
def interpolate_state(old: dict[str, Any], new: dict[str, Any], ratio: float) -> dict[str, Any]:
    """``(1 - ratio) * old + ratio * new`` for every floating tensor (others from ``new``)."""
    mixed = {}
    for key, value in new.items():
        if key not in old or old[key].shape != value.shape:
            raise ValueError(f"cannot interpolate: {key} differs between old and new weights")
        if value.is_floating_point():
            mixed[key] = old[key] * (1.0 - ratio) + value * ratio
        else:
            mixed[key] = value.clone()
    return mixed


@dataclasses.dataclass
class WiseChoice:
    """The chosen interpolation and the scores of every candidate."""

    ratio: float  # weight of the new model in the final weights
    candidates: list[dict[str, Any]]  # per ratio: new-data score, old-set scores, allowed


def choose_wise_ratio(model: Any, old_state: dict[str, Any], new_state: dict[str, Any],
                      make_view: Callable[[Any], EmbedView], select_sets: Sequence[EvalSet],
                      old_sets: Sequence[EvalSet], old_scores: dict[str, float],
                      config: WiseConfig) -> WiseChoice:
    """Pick the WiSE-FT ratio: best selection score with old-set drops within the limit.

    ``model`` is loaded with each candidate's weights in turn and finally with the chosen
    ones. ``select_sets`` are held-out new data (not the sets reported afterwards).
    """
    candidates: list[dict[str, Any]] = []
    for ratio in sorted(set(config.ratios)):
        model.load_state_dict(interpolate_state(old_state, new_state, ratio))
        view = make_view(model)
        new_score = float(np.mean([r.score for r in run_eval(view, select_sets).values()])) if select_sets else 0.0
        old_now = {name: r.score for name, r in run_eval(view, old_sets).items()}
        drops = {name: old_scores[name] - score for name, score in old_now.items()}
        allowed = all(drop <= config.max_old_drop + 1e-9 for drop in drops.values())
        candidates.append({"ratio": ratio, "new_score": new_score, "old_scores": old_now,
                           "old_drops": drops, "allowed": allowed})
        logger.info("WiSE-FT ratio %.2f: new %.3f, old drops %s%s", ratio, new_score,
                    {k: round(v, 3) for k, v in drops.items()}, "" if allowed else " (too much forgetting)")
    permitted = [c for c in candidates if c["allowed"]]
    if permitted:
        best = max(permitted, key=lambda c: (c["new_score"], c["ratio"]))
    else:  # nothing keeps the old sets: forget the least
        best = min(candidates, key=lambda c: (max(c["old_drops"].values(), default=0.0), -c["ratio"]))
    model.load_state_dict(interpolate_state(old_state, new_state, best["ratio"]))
    return WiseChoice(best["ratio"], candidates)


# --------------------------------------------------------------------------- open_clip
@dataclasses.dataclass
class OpenClipTrainConfig:
    """open_clip fine-tuning options."""

    lock_image: bool = False  # freeze the image tower (LiT-style), train text tower + projections
    lock_text: bool = False  # freeze the text tower
    lr: float = 1e-5  # learning rate for the unlocked towers


def train_open_clip(encoder: Any, pairs: PairSet, optim: OptimConfig,
                    config: OpenClipTrainConfig) -> TrainLog:
    """Fine-tune an :class:`models.openclip.OpenClipEncoder`'s model in place on ``pairs``."""
    import torch
    import torch.nn.functional as F

    model = encoder.model
    if len(pairs) < 2:
        raise ValueError("training needs at least 2 pairs")
    torch.manual_seed(optim.seed)
    rng = np.random.default_rng(optim.seed)
    pick = random.Random(optim.seed)
    for name, parameter in model.named_parameters():
        in_image = name.startswith("visual.")
        parameter.requires_grad_(not ((in_image and config.lock_image) or
                                      (not in_image and config.lock_text and name != "logit_scale")))
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("both towers are locked: nothing to train")
    optimiser = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=optim.weight_decay)
    batch_size = min(optim.batch_size, len(pairs))
    steps_per_epoch = max(1, len(pairs) // batch_size)
    total = steps_per_epoch * optim.epochs
    if optim.max_steps:
        total = min(total, optim.max_steps)
    groups = torch.from_numpy(pairs.groups.astype(np.int64))
    model.train()
    if config.lock_image:
        model.visual.eval()
    started, step = time.perf_counter(), 0
    losses: list[float] = []
    while step < total:
        order = rng.permutation(len(pairs))
        losses = []
        for start in range(0, steps_per_epoch * batch_size, batch_size):
            if step >= total:
                break
            batch = order[start : start + batch_size]
            pixels = torch.from_numpy(encoder.preprocess_images([pairs.load(int(i)) for i in batch]))
            tokens = encoder.tokenize([pick.choice(pairs.captions[int(i)]) for i in batch])
            image_emb = F.normalize(model.encode_image(pixels), dim=-1)
            text_emb = F.normalize(model.encode_text(tokens), dim=-1)
            lr = config.lr * _schedule(step, total, optim)
            losses.append(_contrastive_step(optimiser, lr, image_emb, text_emb, model.logit_scale, groups[batch]))
            step += 1
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    seconds = time.perf_counter() - started
    epochs = step / steps_per_epoch
    return TrainLog(step, epochs, seconds, seconds / max(epochs, 1e-9),
                    float(np.mean(losses)) if losses else float("nan"),
                    float(1.0 / model.logit_scale.detach().exp()))


def state_copy(module: Any) -> dict[str, Any]:
    """A detached deep copy of a module's state dict."""
    return {key: value.detach().clone() for key, value in copy.deepcopy(module.state_dict()).items()}


def scores(results: dict[str, SuiteResult]) -> dict[str, float]:
    """Headline score per eval set."""
    return {name: result.score for name, result in results.items()}
