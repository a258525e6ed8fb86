"""Small committed figures: matplotlib figures saved as palette PNGs of a few tens of KB."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # scripts run headless
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures"


def save_small_png(figure: plt.Figure, path: Path, colors: int = 96, dpi: int = 72) -> Path:
    """Render at a low dpi and quantise to an adaptive palette, so the committed PNG stays small."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    buffer.seek(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=colors).save(path, optimize=True)
    return path
