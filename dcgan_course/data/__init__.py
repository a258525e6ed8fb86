"""Datasets as whole tensors: images scaled to [-1, 1] (the range of the generator's Tanh).

``digits`` (scikit-learn's 8x8 handwritten digits, upsampled) ships with a dependency and is the
offline default of fast mode and CI. ``mnist``, ``fashion-mnist``, ``cifar10`` and ``svhn`` come from
torchvision (downloaded once into the data root; Fashion-MNIST also from Debian's
``dataset-fashion-mnist`` package, see ``data.packaged``); ``folder:PATH`` reads your own images
(``data.image_folder``). Paired images for translation are in ``data.paired``.
``course_dataset()`` is lectures 00-03's default: MNIST in full mode on a GPU, else digits;
``representation_dataset()`` is 04-07's: CIFAR-10 in full mode (a folder copy offline), else digits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import os

import numpy as np
import torch
import torch.nn.functional as F

from .. import settings
from .image_folder import folder_arrays
from .packaged import PACKAGED_DIRS, packaged_arrays, packaged_files

TORCHVISION_DATASETS = ("mnist", "fashion-mnist", "cifar10", "svhn")
DATASET_NAMES = ("digits", *TORCHVISION_DATASETS, "folder:PATH")
SPLITS = ("train", "test")
CIFAR10_FOLDER_ENV = "DCGAN_COURSE_CIFAR10"  # a folder copy of CIFAR-10, for machines without the download
DIGITS_TRAIN_SIZE = 1000
RESIZE_CHUNK = 4096


class DatasetDownloadError(OSError):
    """A dataset is not on disk and could not be downloaded (usually: no network)."""


def batch_indices(
    count: int,
    batch_size: int,
    shuffle: bool = True,
    rng: torch.Generator | None = None,
    drop_last: bool = True,
    device: torch.device | str = "cpu",
) -> Iterator[torch.Tensor]:
    """One pass over ``count`` examples as index tensors of ``batch_size`` (one permutation per pass)."""
    order = torch.randperm(count, generator=rng) if shuffle else torch.arange(count)
    order = order.to(device)
    stop = count - count % batch_size if drop_last else count
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


@dataclass
class ImageData:
    """A labelled image dataset held as tensors: ``images`` (N, C, H, W) in [-1, 1], ``labels`` (N,)."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    name: str

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def device(self) -> torch.device:
        return self.images.device

    def to(self, device: torch.device | str) -> ImageData:
        """The same data on another device (no copy when already there)."""
        return ImageData(self.images.to(device), self.labels.to(device), self.classes, self.name)

    def subset(self, index: torch.Tensor | slice) -> ImageData:
        """The examples at ``index`` (a slice, index tensor or boolean mask)."""
        return ImageData(self.images[index], self.labels[index], self.classes, self.name)

    def batches(
        self,
        batch_size: int,
        shuffle: bool = True,
        rng: torch.Generator | None = None,
        drop_last: bool = True,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (images, labels) mini-batches by indexing the tensors: no per-sample Python work."""
        for index in batch_indices(len(self), batch_size, shuffle, rng, drop_last, self.device):
            yield self.images[index], self.labels[index]


def scale_to_unit_range(pixels: torch.Tensor, max_value: float) -> torch.Tensor:
    """Map pixel values in [0, max_value] to [-1, 1]."""
    return pixels.float() / max_value * 2.0 - 1.0


def resize(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """Resize a batch of images (N, C, H, W) with antialiased bilinear interpolation, in chunks."""
    if images.shape[-1] == image_size and images.shape[-2] == image_size:
        return images
    chunks = [
        F.interpolate(chunk, size=(image_size, image_size), mode="bilinear", antialias=True,
                      align_corners=False)
        for chunk in images.split(RESIZE_CHUNK)
    ]
    return torch.cat(chunks).clamp_(-1.0, 1.0)


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Turn grayscale into RGB (repeat) or RGB into grayscale (ITU-R 601 luma)."""
    have = images.shape[1]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return images.repeat(1, 3, 1, 1)
    if have == 3 and channels == 1:
        luma = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype).view(1, 3, 1, 1)
        return (images * luma).sum(dim=1, keepdim=True)
    raise ValueError(f"channels must be 1 or 3, got {channels}")


def load_digits_arrays(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 8x8 digits, split 1,000 / 797 (stratified, fixed seed); pixels 0..16."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    train_x, test_x, train_y, test_y = train_test_split(
        digits.images, digits.target, train_size=DIGITS_TRAIN_SIZE, stratify=digits.target,
        random_state=0,
    )
    pixels, labels = (train_x, train_y) if split == "train" else (test_x, test_y)
    images = scale_to_unit_range(torch.from_numpy(pixels).unsqueeze(1), 16.0)
    return images, torch.from_numpy(labels).long()


def offline_hint(name: str, root: Path) -> str:
    """The advice every failed download ends with."""
    packaged = f", or `apt-get install dataset-{name}`" if name in PACKAGED_DIRS else ""
    return (
        f"Could not download '{name}' into {root}. If you are offline, use the embedded dataset "
        "instead: load_dataset('digits') (it ships with scikit-learn; --dataset digits on the command "
        f"line), or copy the dataset files into {root}{packaged} and try again."
    )


def open_torchvision_dataset(name: str, split: str, root: Path, download: bool):
    """Open the torchvision dataset from disk; ``None`` if only the system package has it; else download."""
    from torchvision import datasets

    train = split == "train"
    constructors = {
        "mnist": lambda fetch: datasets.MNIST(root, train=train, download=fetch),
        "fashion-mnist": lambda fetch: datasets.FashionMNIST(root, train=train, download=fetch),
        "cifar10": lambda fetch: datasets.CIFAR10(root, train=train, download=fetch),
        "svhn": lambda fetch: datasets.SVHN(root / "svhn", split=split, download=fetch),
    }
    try:
        return constructors[name](False)
    except RuntimeError:  # not on disk yet
        if packaged_files(name, split) is not None:
            return None
        if not download:
            raise DatasetDownloadError(offline_hint(name, root)) from None
    try:
        return constructors[name](True)
    except (OSError, RuntimeError) as error:  # URLError is an OSError
        reason = " ".join(str(error).split())  # one line, whatever the library printed
        raise DatasetDownloadError(f"{offline_hint(name, root)} ({type(error).__name__}: {reason})") from None


def torchvision_arrays(
    name: str, split: str, root: Path, download: bool
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images in [-1, 1] as (N, C, H, W), labels and class names from a torchvision dataset."""
    dataset = open_torchvision_dataset(name, split, root, download)
    if dataset is None:  # Fashion-MNIST from the system package: (N, 28, 28) uint8
        from torchvision.datasets import FashionMNIST

        pixels, labels = (torch.from_numpy(array.copy()) for array in packaged_arrays(name, split))
        return scale_to_unit_range(pixels.unsqueeze(1), 255.0), labels.long(), list(FashionMNIST.classes)
    if name == "svhn":  # stored (N, 3, 32, 32) uint8; the digit 0 has label 0 in torchvision
        pixels, labels = torch.from_numpy(dataset.data), torch.as_tensor(dataset.labels)
        classes = [str(digit) for digit in range(10)]
    elif name == "cifar10":  # stored (N, 32, 32, 3) uint8
        pixels = torch.from_numpy(dataset.data).permute(0, 3, 1, 2)
        labels, classes = torch.as_tensor(dataset.targets), list(dataset.classes)
    else:  # MNIST-like: (N, 28, 28) uint8
        pixels, labels = dataset.data.unsqueeze(1), torch.as_tensor(dataset.targets)
        classes = list(dataset.classes)
    return scale_to_unit_range(pixels, 255.0), labels.long(), classes


def validate_request(name: str, split: str, image_size: int, channels: int | None) -> None:
    """Fail early, with the valid choices, on an unknown dataset, split, size or channel count."""
    from ..models import validate_image_spec

    if name not in TORCHVISION_DATASETS and name != "digits" and not name.startswith("folder:"):
        raise ValueError(f"Unknown dataset '{name}'. Choose one of: {', '.join(DATASET_NAMES)}.")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got '{split}'.")
    validate_image_spec(image_size, channels if channels is not None else 1)


def load_dataset(
    name: str = "digits",
    split: str = "train",
    image_size: int = 32,
    channels: int | None = None,
    limit: int | None = None,
    root: str | Path | None = None,
    device: torch.device | str = "cpu",
    download: bool = True,
) -> ImageData:
    """Load a whole dataset as tensors, resized to ``image_size`` and scaled to [-1, 1].

    ``channels`` converts between grayscale and RGB (default: the dataset's own); ``limit``
    keeps the first N examples (after a fixed shuffle, so every class is represented).
    """
    validate_request(name, split, image_size, channels)
    root = Path(root) if root is not None else settings.data_root()
    if name == "digits":
        images, labels = load_digits_arrays(split)
        classes = [str(digit) for digit in range(10)]
    elif name.startswith("folder:"):
        images, labels, classes = folder_arrays(Path(name.removeprefix("folder:")), split, root / "folder-cache")
    else:
        images, labels, classes = torchvision_arrays(name, split, root, download)
    if limit is not None and limit < len(images):
        keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:limit]
        images, labels = images[keep], labels[keep]
    if channels is not None:
        images = convert_channels(images, channels)
    images = resize(images, image_size).contiguous()
    return ImageData(images, labels, classes, name).to(device)


def course_dataset(preferred: str = "mnist", device: torch.device | str | None = None) -> str:
    """The lectures' dataset: ``preferred`` in full mode on a GPU when it can be had, else digits."""
    if settings.is_fast():
        return "digits"
    if torch.device(device or settings.get_device()).type == "cpu":
        print(f"No GPU: full mode on the CPU uses the embedded 'digits' (minutes, not the hour per GAN "
              f"that {preferred} takes on 2 cores); set DATASET = {preferred!r} to use it anyway.")
        return "digits"
    try:
        load_dataset(preferred, limit=1)  # downloads once into the data root
    except (OSError, ValueError) as error:
        print(f"{preferred} is not available, so this notebook uses the embedded 'digits' instead: {error}")
        return "digits"
    return preferred


def cifar10_folder() -> Path:
    """Where a folder copy of CIFAR-10 (``train/<class>/``, ``test/<class>/``) is looked for."""
    return Path(os.environ.get(CIFAR10_FOLDER_ENV) or settings.data_root() / "cifar10-images").expanduser()


def representation_dataset(device: torch.device | str | None = None) -> str:
    """Lectures 04-07's dataset: CIFAR-10 in full mode (torchvision, else a folder copy), else digits."""
    if settings.is_fast():
        return "digits"
    try:
        load_dataset("cifar10", limit=1)  # downloads once into the data root
        print("Representation data: CIFAR-10 from torchvision (50,000 train / 10,000 test images).")
        return "cifar10"
    except (OSError, ValueError) as error:
        reason = str(error).splitlines()[0]
    folder = cifar10_folder()
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        print(f"Representation data: CIFAR-10 from the folder copy {folder} (torchvision's: {reason})")
        return f"folder:{folder}"
    print(f"CIFAR-10 is not available ({reason}); no folder copy at {folder} (set {CIFAR10_FOLDER_ENV}), "
          "so this notebook uses the embedded 'digits', where trained and random features differ little.")
    return "digits"


def describe(data: ImageData) -> str:
    """One line about a dataset: size, shape, value range and class balance."""
    counts = np.bincount(data.labels.cpu().numpy(), minlength=data.num_classes)
    return (
        f"{data.name}: {len(data)} images of {data.channels}x{data.image_size}x{data.image_size}, "
        f"values in [{data.images.min():.2f}, {data.images.max():.2f}], "
        f"{data.num_classes} classes ({counts.min()}-{counts.max()} per class)"
    )


from . import paired  # noqa: E402, F401  (pairs build on the single-image loaders above)
