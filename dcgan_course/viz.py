"""Pictures instead of numbers: image files, grids, training curves, image strips and widgets.

Every image tensor in the course is (N, C, H, W) in [-1, 1]; this module is the one place that
maps it to [0, 1] for the screen or for a file, and reads image files back into that range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torchvision.utils import make_grid

SAMPLE_IMAGES = ("china", "flower", "grace_hopper", "waves", "strokes")


def to_display(images: torch.Tensor) -> torch.Tensor:
    """Map images from [-1, 1] to [0, 1] on the CPU, ready for plotting."""
    return ((images.detach().float().cpu() + 1.0) / 2.0).clamp(0.0, 1.0)


def pil_to_tensor(image, size: int) -> torch.Tensor:
    """A PIL image -> (1, 3, size, size) in [-1, 1]: shorter side resized to ``size``, centre-cropped."""
    from torchvision.transforms import functional as TF

    image = TF.center_crop(TF.resize(image.convert("RGB"), size, antialias=True), size)
    return TF.to_tensor(image).unsqueeze(0) * 2.0 - 1.0


def load_image(path: str | Path, size: int = 256) -> torch.Tensor:
    """Read an image file as a (1, 3, size, size) tensor in [-1, 1]; clear errors for bad files."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No image file at {path}.")
    try:
        with Image.open(path) as image:
            return pil_to_tensor(image, size)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"Cannot read {path} as an image ({error}). Use a JPEG or PNG file.") from error


def save_image(images: torch.Tensor, path: str | Path, nrow: int = 8) -> Path:
    """Write an image (C, H, W) or a batch (N, C, H, W) in [-1, 1] to a PNG/JPEG file, as one grid."""
    from torchvision.utils import save_image as write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write(to_display(images), path, nrow=nrow)
    return path


def waves(size: int) -> torch.Tensor:
    """A generated, colourful swirl pattern: a style image that needs no file at all."""
    coords = torch.linspace(0, 6 * torch.pi, size)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    phase = torch.sin(x + 2.0 * torch.sin(0.5 * y)) + torch.cos(0.7 * y - 1.5 * torch.cos(0.4 * x))
    channels = [torch.sin(2.0 * phase + shift) for shift in (0.0, 2.1, 4.2)]
    return (0.9 * torch.stack(channels)).unsqueeze(0)


def strokes(size: int, seed: int = 0) -> torch.Tensor:
    """A generated painting of short thick brush strokes along swirling lines, in a night-sky palette."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    canvas = 2 * size  # drawn at twice the size, then resized: smooth stroke edges
    image = Image.new("RGB", (canvas, canvas), (20, 40, 90))
    draw = ImageDraw.Draw(image)
    palette = np.array([(18, 44, 110), (40, 80, 160), (70, 120, 190), (230, 200, 60), (250, 230, 120),
                        (30, 60, 40), (200, 120, 40), (240, 240, 220)])
    for _ in range(canvas * canvas // 30):
        x, y = rng.uniform(0, canvas, 2)
        angle = 2 * np.sin(6 * x / canvas) + 2 * np.cos(5 * y / canvas)  # the flow the strokes follow
        length = rng.uniform(canvas / 40, canvas / 15)
        colour = np.clip(palette[rng.integers(len(palette))] + rng.normal(0, 15, 3), 0, 255).astype(int)
        draw.line([(x, y), (x + length * np.cos(angle), y + length * np.sin(angle))],
                  fill=tuple(int(c) for c in colour), width=max(2, canvas // 80))
    return pil_to_tensor(image, size)


def sample_image(name: str, size: int = 256) -> torch.Tensor:
    """An image that ships with a dependency (scikit-learn, matplotlib) or is generated, in [-1, 1]."""
    from PIL import Image

    if name == "waves":
        return waves(size)
    if name == "strokes":
        return strokes(size)
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return pil_to_tensor(Image.fromarray(load_sample_image(f"{name}.jpg")), size)
    if name == "grace_hopper":
        from matplotlib import cbook

        with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
            return pil_to_tensor(image, size)
    raise ValueError(f"Unknown sample image '{name}'. Choose one of: {', '.join(SAMPLE_IMAGES)}.")


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


def plot_label_efficiency(results: Sequence, title: str = "", ax: plt.Axes | None = None) -> plt.Axes:
    """Probe accuracy against labels per class, one line per method, error bars of one std over draws.

    ``results`` are ``probe.ProbeResult`` records; a budget of ``None`` (all labels) is drawn last.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    budgets = sorted({r.labels_per_class for r in results}, key=lambda b: float("inf") if b is None else b)
    position = {budget: i for i, budget in enumerate(budgets)}
    for method in dict.fromkeys(r.method for r in results):
        rows = sorted((r for r in results if r.method == method), key=lambda r: position[r.labels_per_class])
        ax.errorbar([position[r.labels_per_class] for r in rows], [100 * r.mean for r in rows],
                    yerr=[100 * r.std for r in rows], marker="o", capsize=4, label=method)
    ax.set_xticks(range(len(budgets)), ["all" if b is None else str(b) for b in budgets])
    ax.set(title=title, xlabel="labels per class", ylabel="test accuracy (%)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_accuracy_bars(results: Sequence, title: str = "", ax: plt.Axes | None = None) -> plt.Axes:
    """One bar per method: mean probe accuracy with one-std error bars, the value written on the bar."""
    if ax is None:
        _, ax = plt.subplots(figsize=(1.3 * len(results) + 2, 3.8))
    means, stds = [100 * r.mean for r in results], [100 * r.std for r in results]
    bars = ax.bar(range(len(results)), means, yerr=stds, capsize=4, color="tab:blue", alpha=0.8)
    ax.bar_label(bars, labels=[f"{m:.1f}" for m in means], label_type="center", color="white")
    ax.set_xticks(range(len(results)), [r.method.replace("_", "\n") for r in results], fontsize="small")
    low = min(m - s for m, s in zip(means, stds, strict=True))
    ax.set_ylim(max(0.0, low - 5), min(100.0, max(means) + max(stds) + 2))
    ax.set(title=title, ylabel="test accuracy (%)")
    ax.grid(axis="y", alpha=0.3)
    return ax


def widgets_available() -> bool:
    """True in a live Jupyter kernel with ipywidgets installed, outside fast (CI) mode."""
    from . import settings

    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config and not settings.is_fast()


def latent_explorer(
    generator: torch.nn.Module,
    z: torch.Tensor,
    directions: Mapping[str, torch.Tensor],
    limit: float = 3.0,
    steps: int = 7,
) -> None:
    """Sliders that move one latent code along named directions and redraw G's image.

    Where widgets cannot run (no ipywidgets, no live kernel, fast mode) it draws a static grid
    instead: one row per direction, ``steps`` amounts from -limit to +limit.
    """
    from .latent import walk
    from .models import generate

    units = {name: d / d.norm() for name, d in directions.items()}

    if not widgets_available():
        amounts = torch.linspace(-limit, limit, steps)
        rows = {name: generate(generator, walk(z, unit, amounts)) for name, unit in units.items()}
        show_rows(rows, title=f"latent directions, amounts {-limit:g} … {limit:g} (static view)")
        return
    import ipywidgets as widgets
    from IPython.display import display

    sliders = {name: widgets.FloatSlider(0.0, min=-limit, max=limit, step=0.1, description=name)
               for name in units}

    def draw(**amounts: float) -> None:
        code = z + sum(amount * units[name] for name, amount in amounts.items())
        show_grid(generate(generator, code[None]), nrow=1)
        plt.show()

    output = widgets.interactive_output(draw, sliders)
    display(widgets.HBox([widgets.VBox(list(sliders.values())), output]))
