"""Datasets installed by the operating system's package manager: found on disk, read, never downloaded.

Debian and Ubuntu ship Fashion-MNIST as ``dataset-fashion-mnist`` (``apt-get install
dataset-fashion-mnist``): the original gzipped IDX files in ``/usr/share/datasets/fashion-mnist/``.
IDX is MNIST's format: a magic number whose third byte is the element type (0x08 = uint8) and
fourth the number of dimensions, the dimensions as big-endian uint32, then the raw data.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

PACKAGED_DIRS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}
FILE_PREFIX = {"train": "train", "test": "t10k"}
IDX_UINT8 = 0x08


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (plain or ``.gz``) as a uint8 array of the shape its header states."""
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    kind, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or kind != IDX_UINT8:
        raise ValueError(f"{path} is not a uint8 IDX file (header {raw[:4].hex()}).")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def packaged_files(name: str, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) files the system package installed for ``name``, or ``None`` if absent."""
    folder = PACKAGED_DIRS.get(name)
    if folder is None:
        return None
    prefix = FILE_PREFIX[split]
    files = (folder / f"{prefix}-images-idx3-ubyte.gz", folder / f"{prefix}-labels-idx1-ubyte.gz")
    return files if all(path.is_file() for path in files) else None


def packaged_arrays(name: str, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Images (N, 28, 28) and labels (N,) as uint8 from the system package, or ``None`` if not installed."""
    files = packaged_files(name, split)
    if files is None:
        return None
    images, labels = (read_idx(path) for path in files)
    if len(images) != len(labels):
        raise ValueError(f"{files[0]} holds {len(images)} images but {files[1]} {len(labels)} labels.")
    return images, labels
