"""The evaluation protocol behind the course's tables: choose on validation, test once, repeat over seeds.

* Splits: the labelled pool (where the few labels are drawn) and a validation split are carved,
  disjoint, from the *training* split; the test split is only touched to report a number.
* Search: every representation (pixels, random-init D, trained D) gets the same search on the
  same validation split: which layers, which feature normalisation, how strong the ridge penalty.
* Test: the chosen setting is fitted on each label draw and scored on the test split once.
* Repeats: GAN training seeds (each with its own random-init control) and label draws; tables
  report the mean over seeds ± 95 % CI and the paired gap against the random-init discriminator.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
import torch

from . import features, stats
from .data import ImageData
from .models import Discriminator

RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-1, 5, 13))
NORMALISATIONS = ("standardise", "centre")
PIXELS = "pixels"
RESULTS_FILE = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "probe.json"


def carve_splits(train: ImageData, pool_size: int, validation_per_class: int,
                 seed: int = 0) -> tuple[ImageData, ImageData]:
    """Split the training split into (pool, validation): ``validation_per_class`` per class, disjoint."""
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    labels = train.labels[order]
    is_validation = torch.zeros(len(order), dtype=torch.bool)
    for label in labels.unique():
        is_validation[(labels == label).nonzero().flatten()[:validation_per_class]] = True
    return train.subset(order[~is_validation][:pool_size]), train.subset(order[is_validation])


def layer_choices(discriminator: Discriminator | None) -> dict[str, list[int] | None]:
    """The layer sets searched: every block, the last two, the last one (pixels: the image itself)."""
    if discriminator is None:
        return {PIXELS: None}
    blocks = len(discriminator.blocks)
    return {"all blocks": list(range(blocks)), "last two": [blocks - 2, blocks - 1], "last": [blocks - 1]}


def representation(discriminator: Discriminator | None, splits: Sequence[ImageData]) -> dict[str, list]:
    """Per layer choice, the features of every split (pixels when ``discriminator`` is None)."""
    if discriminator is None:
        return {PIXELS: [features.pixel_features(split.images).numpy() for split in splits]}
    all_blocks = [features.discriminator_features(discriminator, split.images).numpy() for split in splits]
    widths = [16 * width for width in discriminator.feature_widths]  # 4x4 pooled maps, block by block
    edges = np.cumsum([0, *widths])
    return {name: [f[:, np.concatenate([np.arange(edges[i], edges[i + 1]) for i in blocks])]
                   for f in all_blocks]
            for name, blocks in layer_choices(discriminator).items()}


@dataclass(frozen=True)
class RidgeFit:
    """One-vs-all ridge classifiers (targets ±1, unpenalised intercept), one per penalty ``alphas[a]``.

    ``coef`` (A, D, K) and ``intercept`` (A, K) give the scores ``x @ coef[a] + intercept[a]``;
    ``loo_error`` (A,) is the exact leave-one-out mean squared error of the targets (what
    scikit-learn's ``RidgeClassifierCV`` minimises), for choosing the penalty without a validation split.
    """

    alphas: tuple[float, ...]
    coef: np.ndarray
    intercept: np.ndarray
    loo_error: np.ndarray

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Class scores (A, N, K) of every penalty's classifier."""
        weights = self.coef.transpose(1, 0, 2).reshape(self.coef.shape[1], -1)  # (D, A x K)
        stacked = np.asarray(x, dtype=np.float32) @ weights
        return stacked.reshape(len(x), len(self.alphas), -1).transpose(1, 0, 2) + self.intercept[:, None, :]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted classes (A, N)."""
        return self.scores(x).argmax(2)


def fit_ridge(x: np.ndarray, labels: np.ndarray, alphas: Sequence[float], num_classes: int) -> RidgeFit:
    """The course's one ridge solver: all penalties from one eigendecomposition, in the smaller space.

    With fewer examples than features (few labels) it decomposes the n x n kernel; otherwise the
    d x d feature covariance (45,000 labels do not fit the kernel form). Big products run in float32,
    the eigendecomposition in float64. The evaluation protocol (penalty on validation) and the
    package probe (penalty by leave-one-out, ``probe.make_probe``) both use it.
    """
    x = np.asarray(x, dtype=np.float32)
    x_mean = x.mean(0)
    centred = x - x_mean
    targets = (2.0 * np.eye(num_classes, dtype=np.float32)[np.asarray(labels)] - 1.0)
    t_mean = targets.mean(0)
    t = targets - t_mean
    n, d = centred.shape
    alphas = tuple(float(a) for a in alphas)
    coef = np.empty((len(alphas), d, num_classes), dtype=np.float32)
    loo = np.empty(len(alphas))
    if n <= d:
        eigenvalues, vectors = np.linalg.eigh((centred @ centred.T).astype(np.float64))
        eigenvalues = np.clip(eigenvalues, 0.0, None)
        projected = vectors.T @ t  # (n, K)
        for a, alpha in enumerate(alphas):
            dual = vectors @ (projected / (eigenvalues + alpha)[:, None])  # (n, K)
            coef[a] = centred.T @ dual.astype(np.float32)
            shrink = eigenvalues / (eigenvalues + alpha)
            fitted = vectors @ (projected * shrink[:, None])
            hat = (vectors**2) @ shrink + 1.0 / n
            loo[a] = np.mean(((t - fitted) / (1.0 - hat)[:, None]) ** 2)
    else:
        eigenvalues, vectors = np.linalg.eigh((centred.T @ centred).astype(np.float64))
        eigenvalues = np.clip(eigenvalues, 0.0, None)
        rotated = centred @ vectors.astype(np.float32)  # (n, d)
        projected = rotated.T @ t  # (d, K)
        for a, alpha in enumerate(alphas):
            inverse = 1.0 / (eigenvalues + alpha)
            coef[a] = vectors.astype(np.float32) @ (projected * inverse[:, None]).astype(np.float32)
            fitted = rotated @ (projected * inverse[:, None]).astype(np.float32)
            hat = (rotated**2) @ inverse.astype(np.float32) + 1.0 / n
            loo[a] = np.mean(((t - fitted) / (1.0 - hat)[:, None]) ** 2)
    intercept = (t_mean[None, :] - np.einsum("d,adk->ak", x_mean, coef)).astype(np.float32)
    return RidgeFit(alphas, coef, intercept, loo)


def ridge_predictions(train_x: np.ndarray, train_y: np.ndarray, eval_x: np.ndarray, normalisation: str,
                      alphas: Sequence[float], num_classes: int) -> np.ndarray:
    """Predicted labels (A, N) of ridge classifiers (one-vs-all, ±1) for every alpha (``fit_ridge``)."""
    mean = train_x.mean(0)
    scale = train_x.std(0) + 1e-6 if normalisation == "standardise" else 1.0
    return fit_ridge((train_x - mean) / scale, train_y, alphas, num_classes).predict((eval_x - mean) / scale)


@dataclass(frozen=True)
class Choice:
    """A probe setting chosen on validation, with its mean validation accuracy."""

    layers: str
    normalisation: str
    alpha: float
    validation_accuracy: float


def search(feature_sets: dict[str, list[np.ndarray]], pool_labels: np.ndarray, validation_labels: np.ndarray,
           draws: Sequence[np.ndarray], num_classes: int) -> Choice:
    """The setting (layers, normalisation, alpha) with the best mean validation accuracy over the draws."""
    best = None
    for layers, normalisation in product(feature_sets, NORMALISATIONS):
        pool, validation = feature_sets[layers][:2]
        accuracy = np.mean([
            (ridge_predictions(pool[d], pool_labels[d], validation, normalisation, RIDGE_ALPHAS, num_classes)
             == validation_labels).mean(1) for d in draws], axis=0)
        index = int(accuracy.argmax())
        if best is None or accuracy[index] > best.validation_accuracy:
            best = Choice(layers, normalisation, RIDGE_ALPHAS[index], float(accuracy[index]))
    return best


def test_accuracies(feature_sets: dict[str, list[np.ndarray]], choice: Choice, pool_labels: np.ndarray,
                    test_labels: np.ndarray, draws: Sequence[np.ndarray], num_classes: int) -> list[float]:
    """The chosen setting fitted on each draw and scored on the test split: one accuracy per draw."""
    pool, _, test = feature_sets[choice.layers]
    return [float((ridge_predictions(pool[d], pool_labels[d], test, choice.normalisation, [choice.alpha],
                                     num_classes)[0] == test_labels).mean()) for d in draws]


def summarise(per_seed: dict[str, list[float]], control: str) -> dict[str, dict]:
    """Per method: mean ± 95 % CI over seeds and the paired gap to ``control`` (same seeds, same draws)."""
    summary = {}
    for method, values in per_seed.items():
        row = {"accuracy": stats.mean_ci(values).as_dict(), "per_seed": [round(v, 4) for v in values]}
        if method != control and len(values) == len(per_seed[control]):
            row["gap"] = stats.paired_difference(values, per_seed[control]).as_dict()
        summary[method] = row
    return summary


def results_table(entry: dict) -> str:
    """One dataset's benchmark entry as Markdown: test accuracy ± 95 % CI over seeds and the paired gap."""
    seeds = entry["seeds"]
    lines = [f"| representation (chosen on validation) | test accuracy, % (± 95 % CI, {seeds} seeds) "
             "| paired gap to random-init D, points |", "|---|---:|---:|"]
    controls = ["raw_pixels", "random_init_discriminator"]
    for method in [*controls, *sorted(set(entry["results"]) - set(controls))]:
        row = entry["results"][method]
        gap = stats.Estimate.from_dict(row["gap"]).format(signed=True) if "gap" in row else "–"
        lines.append(f"| {method} | {stats.Estimate.from_dict(row['accuracy']).format()} | {gap} |")
    return "\n".join(lines)


def load_results(path: Path = RESULTS_FILE) -> dict:
    """The benchmark's committed results, one entry per dataset ({} where the file is not shipped)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def benchmark_report(results: dict) -> str:
    """Markdown for README and notebooks: per dataset, how the numbers were made and their table."""
    sections = []
    for dataset, entry in sorted(results.items()):
        chosen = max(entry["selection"], key=lambda row: row["validation"])
        sections.append(
            f"**{dataset}**: GAN on {entry['pool']:,} unlabelled training images (D width "
            f"{entry['base_width']}); {entry['labels_per_class']} labels per class drawn from them, "
            f"{entry['draws_per_seed']} draws per seed, {entry['seeds']} GAN seeds; {entry['validation']} "
            f"validation labels carved from the training split chose the recipe ({chosen['recipe']}, "
            f"{chosen['epochs']} epochs) and each row's layers, normalisation and ridge penalty; the "
            f"{entry['test']:,} test images were scored once per number. "
            f"`{entry['command']}` (this run: {entry['wall_seconds'] / 60:.0f} min on a shared 2-core CPU, "
            "GANs already in the run cache not counted).\n\n"
            + results_table(entry))
    return "\n\n".join(sections)
