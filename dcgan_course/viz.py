"""Pictures instead of numbers: image grids, training curves and image strips."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from torchvision.utils import make_grid


def to_display(images: torch.Tensor) -> torch.Tensor:
    """Map images from [-1, 1] to [0, 1] on the CPU, ready for plotting."""
    return ((images.detach().float().cpu() + 1.0) / 2.0).clamp(0.0, 1.0)


def image_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> torch.Tensor:
    """Tile a batch (N, C, H, W) in [-1, 1] into one (H', W', 3) image in [0, 1]."""
    grid = make_grid(to_display(images), nrow=nrow, padding=padding, pad_value=1.0)
    return grid.permute(1, 2, 0)


def show_grid(images: torch.Tensor, title: str = "", nrow: int = 8, ax: plt.Axes | None = None) -> plt.Axes:
    """Plot a batch of images as one grid."""
    if ax is None:
        size = max(3.0, min(10.0, 1.1 * nrow))
        _, ax = plt.subplots(figsize=(size, size * len(images) / nrow / nrow + 0.5))
    ax.imshow(image_grid(images, nrow=nrow).numpy())
    ax.set_title(title)
    ax.axis("off")
    return ax


def show_rows(rows: Mapping[str, torch.Tensor], title: str = "") -> plt.Figure:
    """Plot several equally long image batches as labelled rows (e.g. input / output / target)."""
    figure, axes = plt.subplots(len(rows), 1, figsize=(10, 1.4 * len(rows) + 0.4), squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows.items(), strict=True):
        ax.imshow(image_grid(images, nrow=len(images)).numpy())
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def smooth(values: Sequence[float], window: int) -> list[float]:
    """A running mean over ``window`` points, so noisy per-step curves can be read."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    title: str = "",
    xlabel: str = "step",
    ylabel: str = "",
    window: int = 1,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Plot named curves on one axis, optionally smoothed with a running mean."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        ax.plot(smooth(list(values), window) if window > 1 else list(values), label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax
