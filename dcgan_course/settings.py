"""Course-wide settings: fast mode, device, precision, seeding and where data and runs live.

Everything is read from the environment when asked, so a notebook or a test can change
``DCGAN_COURSE_FAST`` and see the effect without re-importing anything.
"""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

FAST_ENV = "DCGAN_COURSE_FAST"
DEVICE_ENV = "DCGAN_COURSE_DEVICE"
DATA_ENV = "DCGAN_COURSE_DATA"
RUNS_ENV = "DCGAN_COURSE_RUNS"
CHECK_SEED_ENV = "DCGAN_COURSE_CHECK_SEED"  # the grader's seed for exercise-check inputs
DEFAULT_SEED = 0


def running_on_colab() -> bool:
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules


def is_fast() -> bool:
    """Fast mode (``DCGAN_COURSE_FAST=1``) shrinks every run so a notebook finishes in seconds."""
    return os.environ.get(FAST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def pick(fast: T, full: T, cpu: T | None = None) -> T:
    """``fast`` in fast mode, else ``full`` (or ``cpu``, if given, in full mode with no GPU): one per knob."""
    if is_fast():
        return fast
    return cpu if cpu is not None and get_device().type == "cpu" else full


def get_device() -> torch.device:
    """The best available device: CUDA, then Apple MPS, then CPU (``DCGAN_COURSE_DEVICE`` overrides)."""
    requested = os.environ.get(DEVICE_ENV)
    if requested:
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def use_amp(device: torch.device | str) -> bool:
    """Mixed precision pays off on CUDA only; elsewhere we train in float32."""
    return torch.device(device).type == "cuda"


def amp_dtype() -> torch.dtype:
    """The autocast type on CUDA: bfloat16 where the GPU supports it (no loss scaling), else float16."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def precision_name(device: torch.device | str) -> str:
    """A human-readable name for the numeric precision used on ``device``."""
    return f"mixed ({str(amp_dtype()).removeprefix('torch.')} autocast)" if use_amp(device) else "float32"


def seed_everything(seed: int = DEFAULT_SEED) -> torch.Generator:
    """Seed Python, NumPy and PyTorch so a run can be repeated; returns a seeded CPU generator."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def data_root() -> Path:
    """Where downloaded datasets are cached (``DCGAN_COURSE_DATA``, default ``./data``)."""
    return Path(os.environ.get(DATA_ENV, "data")).expanduser()


def runs_root() -> Path:
    """Where checkpoints and samples are written (``DCGAN_COURSE_RUNS``, default ``./runs``).

    On Colab, point it at a mounted Drive folder so long runs survive a disconnect.
    """
    return Path(os.environ.get(RUNS_ENV, "runs")).expanduser()


@dataclass(frozen=True)
class CourseSettings:
    """A snapshot of the settings a notebook runs with."""

    device: torch.device
    fast: bool
    seed: int
    precision: str

    def __str__(self) -> str:
        mode = "FAST (tiny runs for CI)" if self.fast else "full"
        return (
            f"device: {self.device} | precision: {self.precision} | mode: {mode} | "
            f"seed: {self.seed}"
        )


def setup(seed: int = DEFAULT_SEED, verbose: bool = True) -> CourseSettings:
    """Seed everything, pick the device and (optionally) print what the notebook will use."""
    seed_everything(seed)
    device = get_device()
    current = CourseSettings(device, is_fast(), seed, precision_name(device))
    if verbose:
        print(current)
    return current
