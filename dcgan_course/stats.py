"""Honest numbers from few repeats: the mean with a 95 % confidence interval, and paired differences.

With 3-5 repeats (GAN seeds or label draws) the spread is estimated from the data, so the sample
standard deviation (``ddof=1``) and Student's t quantile are used, not 1.96. A paired difference
compares two methods on the *same* repeats (same seed, same labelled examples): the shared luck
cancels, and its interval is much tighter than the two intervals side by side suggest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A mean over ``count`` repeats with the half-width of its 95 % confidence interval."""

    mean: float
    half_width: float
    count: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def format(self, scale: float = 100.0, signed: bool = False) -> str:
        """``"73.9 ± 0.9"`` (``signed``: ``"+1.3 ± 0.6"``), in percent points by default."""
        sign = "+" if signed else ""
        if not math.isfinite(self.half_width):
            return f"{scale * self.mean:{sign}.1f} (n = {self.count}: no interval)"
        return f"{scale * self.mean:{sign}.1f} ± {scale * self.half_width:.1f}"

    @classmethod
    def from_dict(cls, record: dict[str, float | int]) -> Estimate:
        """Read back an ``as_dict`` record."""
        half_width = float("inf") if record["ci95"] is None else float(record["ci95"])
        return cls(float(record["mean"]), half_width, int(record["n"]))

    def as_dict(self) -> dict[str, float | int]:
        """The JSON record: mean, CI half-width and the number of repeats."""
        return {"mean": round(self.mean, 4), "ci95": round(self.half_width, 4), "n": self.count}


def mean_ci(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> Estimate:
    """Mean ± t-quantile x sample std / sqrt(n); one value has an unknown (infinite) interval."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("mean_ci needs at least one value.")
    if values.size == 1:
        return Estimate(float(values[0]), float("inf"), 1)
    quantile = scipy_stats.t.ppf(0.5 + confidence / 2, values.size - 1)
    half_width = quantile * values.std(ddof=1) / np.sqrt(values.size)
    return Estimate(float(values.mean()), float(half_width), int(values.size))


def paired_difference(
    values: Sequence[float] | np.ndarray, control: Sequence[float] | np.ndarray
) -> Estimate:
    """The mean ± 95 % CI of ``values - control``, repeat by repeat (same seeds, same label draws)."""
    values, control = np.asarray(values, dtype=float), np.asarray(control, dtype=float)
    if values.shape != control.shape:
        raise ValueError(f"A paired difference needs matching repeats: {values.shape} vs {control.shape}.")
    return mean_ci(values - control)
