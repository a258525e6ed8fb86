"""Your own images: a folder with one sub-folder per class, read as tensors in [-1, 1].

With ``train/`` and ``test/`` sub-folders those are the splits; otherwise a fixed, stratified
80/20 split of all images is used. ``data.load_dataset("folder:PATH")`` calls this.
"""

from __future__ import annotations

from pathlib import Path

import torch

FOLDER_TEST_FRACTION = 0.2


def folder_arrays(path: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Read an ImageFolder (one sub-folder per class) as RGB tensors in [-1, 1], at native size.

    If ``path`` has ``train/`` and ``test/`` sub-folders they are the splits; otherwise a fixed
    stratified 80/20 split of all images is used.
    """
    from torchvision import datasets, transforms

    if not path.is_dir():
        raise FileNotFoundError(f"Image folder not found: {path}")
    split_dir = path / split
    use_split_dirs = (path / "train").is_dir() and (path / "test").is_dir()
    to_tensor = transforms.Compose([transforms.Resize(64), transforms.CenterCrop(64),
                                    transforms.ToTensor()])
    folder = datasets.ImageFolder(split_dir if use_split_dirs else path, transform=to_tensor)
    if len(folder) == 0:
        raise ValueError(f"No images found under {path}: expected one sub-folder per class.")
    images = torch.stack([image for image, _ in folder]) * 2.0 - 1.0
    labels = torch.as_tensor(folder.targets).long()
    if not use_split_dirs:
        keep = folder_split_mask(labels, split)
        images, labels = images[keep], labels[keep]
    return images, labels, list(folder.classes)


def folder_split_mask(labels: torch.Tensor, split: str) -> torch.Tensor:
    """A fixed per-class 80/20 train/test assignment (every class appears in train)."""
    rng = torch.Generator().manual_seed(0)
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    for label in labels.unique():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=rng)]
        is_test[members[: int(len(members) * FOLDER_TEST_FRACTION)]] = True
    return is_test if split == "test" else ~is_test
