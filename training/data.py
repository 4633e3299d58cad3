"""Image-caption pairs for training and evaluating encoders.

Three sources, one shape (:class:`PairSet`):

- a folder of images with ``captions.csv`` / ``captions.jsonl`` (columns ``image`` and
  ``caption``; image paths relative to the folder): the ML engineer's season data;
- Fashion-MNIST from the Debian package ``dataset-fashion-mnist``: class names (with
  synonyms) as captions under varied prompt templates;
- creator-world garment crops rendered by :mod:`world.render` with attribute captions
  ("a red plaid mini skirt") and phrasing variants, split by held-out attribute combinations.

Each image may carry several alternative captions (phrasings of the same meaning); training
picks one at random per step. ``groups`` marks images that share a meaning (a class, an
attribute combination, a caption), so the contrastive loss does not push them apart.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import random
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError
from inference.images import load_image
from world.fashion_mnist import FASHION_MNIST_DIR, read_idx

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


@dataclasses.dataclass
class PairSet:
    """Images with alternative captions, grouped by meaning."""

    name: str  # stable identifier: names feature caches and eval reports
    images: list[Any]  # RGB uint8 arrays or image file paths (loaded lazily)
    captions: list[list[str]]  # per image: alternative phrasings, the first is canonical
    groups: np.ndarray  # int64 (N,): same group == same meaning
    group_names: list[str]  # canonical caption of each group id
    attributes: list[dict[str, str]] = dataclasses.field(default_factory=list)  # per image, if known

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: Sequence[int] | np.ndarray, name: str) -> PairSet:
        """The pairs at ``indices`` (group ids keep their meaning)."""
        indices = [int(i) for i in indices]
        return PairSet(
            name=name,
            images=[self.images[i] for i in indices],
            captions=[self.captions[i] for i in indices],
            groups=self.groups[indices] if indices else np.zeros(0, np.int64),
            group_names=self.group_names,
            attributes=[self.attributes[i] for i in indices] if self.attributes else [],
        )

    def load(self, index: int) -> np.ndarray:
        """The RGB image at ``index``."""
        image = self.images[index]
        return image if isinstance(image, np.ndarray) else load_image(image)

    def fingerprint(self) -> str:
        """Hash of the images' identities (arrays: bytes; files: path, size, mtime)."""
        digest = hashlib.sha256(self.name.encode())
        for image in self.images:
            if isinstance(image, np.ndarray):
                digest.update(hashlib.sha1(np.ascontiguousarray(image).tobytes()).digest())
            else:
                stat = Path(image).stat()
                digest.update(f"{image}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        return digest.hexdigest()[:16]


def concat(sets: Sequence[PairSet], name: str) -> PairSet:
    """Several pair sets as one; group ids are renumbered so they stay distinct."""
    images: list[Any] = []
    captions: list[list[str]] = []
    groups: list[np.ndarray] = []
    group_names: list[str] = []
    attributes: list[dict[str, str]] = []
    for part in sets:
        images.extend(part.images)
        captions.extend(part.captions)
        groups.append(part.groups + len(group_names))
        group_names.extend(part.group_names)
        attributes.extend(part.attributes or [{} for _ in part.images])
    return PairSet(name, images, captions,
                   np.concatenate(groups) if groups else np.zeros(0, np.int64),
                   group_names, attributes)


def _group_ids(keys: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    names: dict[str, int] = {}
    ids = [names.setdefault(key, len(names)) for key in keys]
    return np.asarray(ids, np.int64), list(names)


def normalise_caption(caption: str) -> str:
    """Caption key for grouping: lower case, single spaces, no trailing full stop."""
    return " ".join(caption.lower().split()).rstrip(".")


# --------------------------------------------------------------------------- folders
@dataclasses.dataclass
class FolderReport:
    """What reading a caption folder kept and skipped, and why."""

    kept: int = 0
    missing_images: list[str] = dataclasses.field(default_factory=list)
    bad_rows: list[str] = dataclasses.field(default_factory=list)  # "line 7: empty caption"


def _caption_rows(folder: Path) -> tuple[Path, list[tuple[int, dict[str, Any]]]]:
    for candidate in ("captions.jsonl", "pairs.jsonl", "captions.csv", "pairs.csv"):
        path = folder / candidate
        if path.is_file():
            break
    else:
        raise BadInputError(
            f"{folder} has no captions file: add captions.csv (columns image,caption) or "
            f"captions.jsonl ({{\"image\": ..., \"caption\": ...}} per line)"
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise BadInputError(f"{path} is not UTF-8 text (first bad byte on line {bad_line})") from None
    rows: list[tuple[int, dict[str, Any]]] = []
    if path.suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInputError(f"{path} line {number} is not JSON: {exc.msg}") from None
            rows.append((number, record if isinstance(record, dict) else {}))
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"image", "caption"} <= set(reader.fieldnames):
            raise BadInputError(f"{path} needs a header row with the columns image and caption")
        rows = [(number, dict(record)) for number, record in enumerate(reader, start=2)]
    return path, rows


def read_caption_folder(folder: str | Path, name: str | None = None) -> tuple[PairSet, FolderReport]:
    """Pairs from a folder of images and a captions file.

    Rows whose image is missing or unreadable, or whose caption is empty, are skipped and
    listed in the report; several captions per image (repeated rows, or a list in JSONL)
    become alternative phrasings.

    Raises:
        BadInputError: no folder, no captions file, undecodable file, or no usable pair.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise BadInputError(f"season folder not found: {folder}")
    captions_path, rows = _caption_rows(folder)
    report = FolderReport()
    by_image: dict[Path, list[str]] = {}
    for number, record in rows:
        image_name = str(record.get("image") or "").strip()
        raw = record.get("caption") if "caption" in record else record.get("captions")
        captions = [raw] if isinstance(raw, str) else list(raw or [])
        captions = [" ".join(str(c).split()) for c in captions if isinstance(c, str) and c.strip()]
        if not image_name:
            report.bad_rows.append(f"line {number}: no image named")
            continue
        if not captions:
            report.bad_rows.append(f"line {number}: empty caption for {image_name}")
            continue
        image_path = (folder / image_name).resolve()
        if not image_path.is_file():
            report.missing_images.append(image_name)
            continue
        by_image.setdefault(image_path, []).extend(c[:1000] for c in captions)
    if report.missing_images or report.bad_rows:
        logger.warning("%s: skipped %d rows with missing images and %d bad rows",
                       captions_path, len(report.missing_images), len(report.bad_rows))
    if not by_image:
        raise BadInputError(
            f"{captions_path} has no usable pairs ({len(report.missing_images)} missing images, "
            f"{len(report.bad_rows)} rows without caption)"
        )
    images = sorted(by_image)
    alternatives = [list(dict.fromkeys(by_image[p])) for p in images]
    groups, group_names = _group_ids([normalise_caption(c[0]) for c in alternatives])
    report.kept = len(images)
    return PairSet(name or f"folder-{folder.name}", list(images), alternatives, groups, group_names), report


def write_caption_folder(folder: str | Path, images: Sequence[np.ndarray],
                         captions: Sequence[str]) -> Path:
    """Write images as JPEGs plus ``captions.csv``: the season folder format."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "captions.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        for n, (image, caption) in enumerate(zip(images, captions, strict=True)):
            name = f"{n:05d}.jpg"
            cv2.imwrite(str(folder / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 92])
            writer.writerow([name, caption])
    return path


# --------------------------------------------------------------------------- Fashion-MNIST
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# Names used in training captions (synonyms, so the heads learn the concept, not one word).
TRAIN_CLASS_NAMES = [
    ["t-shirt", "tee", "top", "short-sleeved t-shirt"],
    ["trousers", "pants", "pair of trousers", "slacks"],
    ["pullover", "sweater", "jumper", "knit pullover"],
    ["dress", "summer dress", "frock"],
    ["coat", "jacket", "winter coat", "overcoat"],
    ["sandal", "sandals", "open-toe sandal", "summer sandal"],
    ["shirt", "button-up shirt", "blouse", "collared shirt"],
    ["sneaker", "sneakers", "trainer", "running shoe"],
    ["bag", "handbag", "purse", "tote bag"],
    ["ankle boot", "ankle boots", "boot", "short boot"],
]
TRAIN_TEMPLATES = [
    "{}", "a {}", "a photo of a {}", "a picture of a {}", "an image of a {}",
    "a product photo of a {}", "a grayscale photo of a {}", "a small photo of a {}",
    "a {} on a black background", "this is a {}", "a photo of the {}", "{} product shot",
    "a low resolution photo of a {}", "catalogue image of a {}", "a cropped photo of a {}",
]
# Evaluation prompts use the official class names and templates never seen in training.
EVAL_CLASS_NAMES = ["t-shirt or top", "trouser", "pullover", "dress", "coat",
                    "sandal", "shirt", "sneaker", "bag", "ankle boot"]
EVAL_TEMPLATES = ["a photo of a {}.", "a blurry photo of a {}.", "an item of clothing: {}",
                  "a fashion photo of a {}.", "a close-up of a {}."]


def fashion_mnist_arrays(split: str, root: Path = FASHION_MNIST_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Raw (images (N, 28, 28) uint8, labels (N,)) of the ``train`` or ``test`` split."""
    prefix = "train" if split == "train" else "t10k"
    images_path, labels_path = root / f"{prefix}-images-idx3-ubyte.gz", root / f"{prefix}-labels-idx1-ubyte.gz"
    if not images_path.is_file() or not labels_path.is_file():
        raise BadInputError(
            f"Fashion-MNIST not found under {root}: install the Debian package "
            f"dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
        )
    return read_idx(images_path), read_idx(labels_path)


def fashion_mnist(split: str, limit: int | None = None, seed: int = 0,
                  root: Path = FASHION_MNIST_DIR) -> PairSet:
    """Fashion-MNIST pairs: class-balanced subset of ``limit`` images, synonym x template captions."""
    images, labels = fashion_mnist_arrays(split, root)
    indices = np.arange(len(labels))
    if limit is not None and limit < len(labels):
        rng = np.random.default_rng(seed)
        per_class = limit // len(FASHION_MNIST_CLASSES)
        indices = np.sort(np.concatenate([
            rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
            for c in range(len(FASHION_MNIST_CLASSES))
        ]))
    captions_by_class = [
        [template.format(name) for name in names for template in TRAIN_TEMPLATES]
        for names in TRAIN_CLASS_NAMES
    ]
    rgb = [np.repeat(images[i][..., None], 3, axis=2) for i in indices]
    return PairSet(
        name=f"fashion-mnist-{split}-{len(indices)}-seed{seed}",
        images=rgb,
        captions=[captions_by_class[labels[i]] for i in indices],
        groups=labels[indices].astype(np.int64),
        group_names=[names[0] for names in TRAIN_CLASS_NAMES],
        attributes=[{"class": FASHION_MNIST_CLASSES[labels[i]]} for i in indices],
    )


# --------------------------------------------------------------------------- creator world
STYLE_KEYS = ("colour", "pattern", "silhouette", "type")
# Words a user may use for the same attribute (phrasing robustness).
SYNONYMS: dict[str, list[str]] = {
    "t-shirt": ["tee", "t shirt"], "crop top": ["cropped top"], "tank top": ["tank", "vest top"],
    "sweater": ["jumper", "knit sweater"], "hoodie": ["hooded sweatshirt"], "blazer": ["suit jacket"],
    "jeans": ["denim jeans"], "cargo pants": ["cargos", "cargo trousers"], "trousers": ["pants", "slacks"],
    "shorts": ["short pants"], "skirt": ["skirt"], "dress": ["frock"], "shirt": ["button-up shirt"],
    "grey": ["gray"], "navy": ["navy blue", "dark blue"], "burgundy": ["wine red", "maroon"],
    "beige": ["tan", "camel"], "lavender": ["lilac"], "olive": ["olive green", "khaki green"],
    "striped": ["stripy", "with stripes"], "polka-dot": ["polka dot", "dotted"],
    "checked": ["checkered", "check"], "plaid": ["tartan"], "camo": ["camouflage"],
    "floral": ["flower print", "flowery"], "denim": ["jean"],
    "oversized": ["baggy", "loose"], "fitted": ["slim fit", "tight"], "wide-leg": ["wide leg", "flared"],
    "skinny": ["slim"], "straight": ["straight-leg"], "baggy": ["loose"], "mini": ["short"],
    "midi": ["mid-length"], "maxi": ["long", "floor-length"],
}
PHRASE_TEMPLATES = [
    "{colour} {pattern} {silhouette} {type}", "a {colour} {pattern} {silhouette} {type}",
    "{silhouette} {type} in {colour} {pattern}", "{pattern} {type}, {colour}, {silhouette}",
    "photo of a {colour} {pattern} {silhouette} {type}", "{colour} {type} {pattern} {silhouette}",
    "someone wearing a {silhouette} {colour} {pattern} {type}", "{type}: {colour}, {pattern}, {silhouette}",
    "a {silhouette} {pattern} {type} in {colour}", "{colour} {silhouette} {type} with a {pattern} pattern",
]


def _attribute_words(attributes: dict[str, str], rng: random.Random | None) -> dict[str, str]:
    from world.vocabulary import PATTERNS

    words = {
        "colour": attributes["colour"],
        "pattern": PATTERNS.get(attributes["pattern"], attributes["pattern"]),
        "silhouette": attributes["silhouette"],
        "type": attributes["type"],
    }
    if rng is not None:
        words = {key: rng.choice([word, *SYNONYMS.get(word, [])]) if word and rng.random() < 0.4 else word
                 for key, word in words.items()}
    return words


def phrase(attributes: dict[str, str], template: str, rng: random.Random | None = None) -> str:
    """One wording of a garment's attributes (``rng`` swaps in synonyms at random)."""
    words = _attribute_words(attributes, rng)
    text = template.format(**words)
    if not words["pattern"]:
        text = text.replace(" with a  pattern", "").replace(", ,", ",")
    text = " ".join(text.replace(" ,", ",").split()).strip(" ,:")
    if rng is not None and rng.random() < 0.2:
        text = text.upper() if rng.random() < 0.3 else text.title()
    return text


def caption_variants(caption: str, attributes: dict[str, str], count: int, seed: int) -> list[str]:
    """The canonical caption plus ``count - 1`` varied wordings (templates, synonyms, casing)."""
    rng = random.Random(seed)
    variants = [caption]
    for _ in range(count - 1):
        variants.append(phrase(attributes, rng.choice(PHRASE_TEMPLATES), rng))
    return list(dict.fromkeys(variants))


def style_key(attributes: dict[str, str]) -> str:
    """The style an image->image query must match: colour, pattern, silhouette and type."""
    return "|".join(attributes.get(key, "") for key in STYLE_KEYS)


def creator_world(count: int, seed: int = 0, size: int = 224, variants: int = 8,
                  exclude: Collection[tuple[str, str]] = (),
                  only: Collection[tuple[str, str]] | None = None,
                  kinds: Collection[str] | None = None,
                  name: str | None = None) -> PairSet:
    """Rendered creator-world garment crops with attribute captions and phrasing variants.

    Args:
        count: number of crops.
        seed: render seed (same seed, same crops).
        size: crop size in pixels.
        variants: wordings per crop (the first is the renderer's canonical caption).
        exclude: (colour, pattern) pairs never drawn (held-out combinations).
        only: if given, only these (colour, pattern) pairs are drawn.
        kinds: garment kinds to crop (default all).
        name: pair-set name (default derived from the arguments).
    """
    from world.render import render_garment_crops

    samples = render_garment_crops(count, seed=seed, size=size, exclude=exclude, only=only, kinds=kinds)
    keys = [style_key(sample.attributes) for sample in samples]
    groups, _ = _group_ids(keys)
    group_captions: dict[int, str] = {}
    for sample, group in zip(samples, groups, strict=True):
        group_captions.setdefault(int(group), sample.caption)
    return PairSet(
        name=name or f"creator-world-{count}-seed{seed}-size{size}",
        images=[sample.image for sample in samples],
        captions=[caption_variants(s.caption, s.attributes, variants, seed * 100003 + n)
                  for n, s in enumerate(samples)],
        groups=groups,
        group_names=[group_captions[g] for g in range(len(group_captions))],
        attributes=[dict(sample.attributes) for sample in samples],
    )


def held_out_pairs(seed: int = 0, fraction: float = 0.15) -> list[tuple[str, str]]:
    """(colour, pattern) combinations held out of training: a fixed ~``fraction`` of them.

    Whole pairs are held out, so evaluation asks for combinations the heads never saw
    together, although each word was seen with others.
    """
    from world.vocabulary import COLOURS, PATTERNS

    held = []
    for colour in COLOURS:
        for pattern in PATTERNS:
            key = f"{seed}|{colour}|{pattern}".encode()
            if int(hashlib.md5(key).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction:
                held.append((colour, pattern))
    return held


def iter_batches(indices: Sequence[int], batch_size: int) -> Iterable[list[int]]:
    """Consecutive chunks of ``indices``."""
    for start in range(0, len(indices), batch_size):
        yield list(indices[start : start + batch_size])
