"""Paired images for translation: aligned (input, target) pairs, beside the package's single images.

``edges2digits`` is the offline task (Sobel outlines of the embedded digits -> the digits);
``facades`` (CMP Facades, label maps -> photos, as in the pix2pix paper) is downloaded once.
"""

from __future__ import annotations

import tarfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import settings
from . import DatasetDownloadError, batch_indices, load_dataset, offline_hint, resize

EDGE_THRESHOLD = 0.25
TASKS = ("edges2digits", "facades")
FACADES_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"


@dataclass
class PairedData:
    """Aligned (input, target) image pairs in [-1, 1], with optional class labels of the targets."""

    inputs: torch.Tensor
    targets: torch.Tensor
    labels: torch.Tensor | None
    name: str

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def in_channels(self) -> int:
        return self.inputs.shape[1]

    @property
    def out_channels(self) -> int:
        return self.targets.shape[1]

    @property
    def image_size(self) -> int:
        return self.inputs.shape[-1]

    def to(self, device: torch.device | str) -> PairedData:
        """The same pairs on another device."""
        labels = self.labels.to(device) if self.labels is not None else None
        return PairedData(self.inputs.to(device), self.targets.to(device), labels, self.name)

    def subset(self, index: torch.Tensor | slice) -> PairedData:
        """The pairs at ``index`` (a slice, index tensor or boolean mask)."""
        labels = self.labels[index] if self.labels is not None else None
        return PairedData(self.inputs[index], self.targets[index], labels, self.name)

    def batches(
        self, batch_size: int, shuffle: bool = True, rng: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (inputs, targets) mini-batches forever, reshuffling after every pass."""
        while True:
            for index in batch_indices(len(self), batch_size, shuffle, rng, True, self.inputs.device):
                yield self.inputs[index], self.targets[index]


def sobel_edges(images: torch.Tensor, threshold: float = EDGE_THRESHOLD) -> torch.Tensor:
    """A white-on-black outline drawing: Sobel gradient magnitude, thresholded per image."""
    gray = (images.mean(dim=1, keepdim=True) + 1.0) / 2.0
    kernel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([kernel_x, kernel_x.T]).unsqueeze(1).to(images)
    gradients = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kernels)
    magnitude = gradients.norm(dim=1, keepdim=True)
    peak = magnitude.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
    return torch.where(magnitude / peak > threshold, 1.0, -1.0)


def edges_to_digits(split: str, image_size: int, limit: int | None) -> PairedData:
    """The offline task: outline drawings of the embedded digits -> the filled-in digits."""
    digits = load_dataset("digits", split, image_size, channels=1, limit=limit)
    return PairedData(sobel_edges(digits.images), digits.images, digits.labels, "edges2digits")


def download_facades(root: Path) -> Path:
    """Download and unpack the CMP Facades pairs (about 30 MB) once; return their folder."""
    folder = root / "facades"
    if folder.is_dir():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    archive = root / "facades.tar.gz"
    try:
        urllib.request.urlretrieve(FACADES_URL, archive)
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    except (OSError, tarfile.TarError) as error:
        raise DatasetDownloadError(f"{offline_hint('facades', root)} ({error})") from error
    finally:
        archive.unlink(missing_ok=True)
    return folder


def facades(split: str, image_size: int, limit: int | None, root: Path, download: bool) -> PairedData:
    """CMP Facades: architectural label maps -> photos (each file holds photo | labels side by side)."""
    from PIL import Image

    folder = download_facades(root) if download else root / "facades"
    files = sorted((folder / ("train" if split == "train" else "test")).glob("*.jpg"))
    if not files:
        raise DatasetDownloadError(f"No facades images under {folder}. {offline_hint('facades', root)}")
    files = files[:limit] if limit is not None else files
    pairs = torch.stack([torch.from_numpy(np.array(Image.open(f).convert("RGB"))) for f in files])
    pairs = pairs.permute(0, 3, 1, 2).float() / 127.5 - 1.0
    width = pairs.shape[-1] // 2
    photos, label_maps = resize(pairs[..., :width], image_size), resize(pairs[..., width:], image_size)
    return PairedData(label_maps.contiguous(), photos.contiguous(), None, "facades")


def load_pairs(
    task: str = "edges2digits",
    split: str = "train",
    image_size: int = 32,
    limit: int | None = None,
    root: str | Path | None = None,
    download: bool = True,
) -> PairedData:
    """Load a paired translation task: ``edges2digits`` (offline) or ``facades`` (downloads once)."""
    if task not in TASKS:
        raise ValueError(f"Unknown translation task '{task}'. Choose one of: {', '.join(TASKS)}.")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got '{split}'.")
    if image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two >= 8 (the U-Net halves it), got {image_size}.")
    if task == "edges2digits":
        return edges_to_digits(split, image_size, limit)
    return facades(split, image_size, limit, Path(root) if root else settings.data_root(), download)
