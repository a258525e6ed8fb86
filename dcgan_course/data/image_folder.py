"""Your own images: a folder with one sub-folder per class, read as tensors in [-1, 1].

With ``train/`` and ``test/`` sub-folders those are the splits; otherwise a fixed, stratified
80/20 split of all images is used. ``data.load_dataset("folder:PATH")`` calls this. Square images
of at most ``MAX_SIDE`` pixels (CIFAR-10's 32x32 JPEGs) keep their size; others are centre-cropped
and resized to ``MAX_SIDE``. Decoding runs once: the uint8 result is cached in ``cache_dir``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

FOLDER_TEST_FRACTION = 0.2
MAX_SIDE = 64


def common_side(first_image) -> int:
    """The side every image is brought to: the first image's, if it is square and small, else MAX_SIDE."""
    width, height = first_image.size
    return width if width == height <= MAX_SIDE else MAX_SIDE


def as_square_uint8(image, side: int) -> torch.Tensor:
    """An RGB PIL image as a (3, side, side) uint8 tensor, centre-cropped to a square first."""
    from torchvision.transforms import functional

    square = functional.center_crop(image, min(image.size))
    if square.size != (side, side):
        square = functional.resize(square, [side, side], antialias=True)
    return functional.pil_to_tensor(square)


def cache_path(cache_dir: Path, folder: Path) -> Path:
    """A cache file named for the folder's path and its class folders' modification times.

    Adding, removing or renaming an image changes its class folder's time, so the cache is redone.
    """
    folders = [folder, *sorted(path for path in folder.iterdir() if path.is_dir())]
    signature = "\n".join(f"{path.resolve()}:{path.stat().st_mtime_ns}" for path in folders)
    return cache_dir / f"{folder.name}-{hashlib.sha1(signature.encode()).hexdigest()[:16]}.pt"


def decode_folder(folder: Path, cache_dir: Path | None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """All images of an ImageFolder as uint8 (N, 3, S, S), their labels and class names (cached)."""
    from torchvision import datasets

    cache = cache_path(cache_dir, folder) if cache_dir is not None else None
    if cache is not None and cache.is_file():
        stored = torch.load(cache, weights_only=True)
        return stored["images"], stored["labels"], list(stored["classes"])
    images = datasets.ImageFolder(folder)  # PIL images, RGB
    if len(images) == 0:
        raise ValueError(f"No images found under {folder}: expected one sub-folder per class.")
    side = common_side(images[0][0])
    pixels = torch.stack([as_square_uint8(image, side) for image, _ in images])
    labels = torch.as_tensor(images.targets).long()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(".part")
        torch.save({"images": pixels, "labels": labels, "classes": list(images.classes)}, partial)
        partial.replace(cache)  # atomic: a half-written cache is never read
    return pixels, labels, list(images.classes)


def folder_arrays(path: Path, split: str,
                  cache_dir: Path | None = None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Read an ImageFolder (one sub-folder per class) as RGB tensors in [-1, 1]."""
    if not path.is_dir():
        raise FileNotFoundError(f"Image folder not found: {path}")
    use_split_dirs = (path / "train").is_dir() and (path / "test").is_dir()
    pixels, labels, classes = decode_folder(path / split if use_split_dirs else path, cache_dir)
    if not use_split_dirs:
        keep = folder_split_mask(labels, split)
        pixels, labels = pixels[keep], labels[keep]
    return pixels.float().div_(127.5).sub_(1.0), labels, classes


def folder_split_mask(labels: torch.Tensor, split: str) -> torch.Tensor:
    """A fixed per-class 80/20 train/test assignment (every class appears in train)."""
    rng = torch.Generator().manual_seed(0)
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    for label in labels.unique():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=rng)]
        is_test[members[: int(len(members) * FOLDER_TEST_FRACTION)]] = True
    return is_test if split == "test" else ~is_test
