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
CIFAR10_RESULTS_FILE = RESULTS_FILE.with_name("cifar10.json")
CIFAR10_KEY = "cifar10-jpeg75"  # the JPEG-75 copy of CIFAR-10: never mixed with torchvision's


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


def load_cifar10_results(path: Path = CIFAR10_RESULTS_FILE) -> dict:
    """The CIFAR-10 benchmark's committed results (``benchmarks/cifar10.py``; {} where not shipped)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def plot_cifar10_curve(results: dict, budget: str = "100", base_width: int = 32):
    """The representation-learning curve from ``benchmarks/results/cifar10.json``: probe test accuracy at
    ``budget`` labels/class against GAN epochs (mean ± 95 % CI over seeds), with the rotation-head runs
    where they exist, the random-init D and pixel lines and the epoch validation chose. Returns the figure."""
    import matplotlib.pyplot as plt

    entry = results[f"{CIFAR10_KEY}/w{base_width}/headline"]
    curve = entry["curve"][budget]
    epochs = curve["epochs"]
    figure, axis = plt.subplots(figsize=(6, 3.6))
    mean = np.array([100 * p["mean"] for p in curve["dcgan_discriminator"]])
    half = np.array([100 * (p["ci95"] or 0) for p in curve["dcgan_discriminator"]])
    axis.plot(epochs, mean, "o-", color="#d62", label="DCGAN discriminator")
    axis.fill_between(epochs, mean - half, mean + half, color="#d62", alpha=0.2)
    rotation = entry.get("rotation_head", {}).get(budget, {}).get("curve")
    if rotation:  # the same GAN seeds with SS-GAN's rotation head on D (no labels)
        r_mean = np.array([100 * p["mean"] for p in rotation["test"]])
        r_half = np.array([100 * (p["ci95"] or 0) for p in rotation["test"]])
        axis.plot(rotation["epochs"], r_mean, "s--", color="#7a3", label="+ rotation head on D (SS-GAN)")
        axis.fill_between(rotation["epochs"], r_mean - r_half, r_mean + r_half, color="#7a3", alpha=0.15)
    for name, colour, label in (("random_init_discriminator", "#69c", "random-init discriminator"),
                                ("raw_pixels", "#999", "raw pixels")):
        line = curve[name]
        m, h = 100 * line["mean"], 100 * (line["ci95"] or 0)
        axis.axhline(m, color=colour, label=label)
        axis.axhspan(m - h, m + h, color=colour, alpha=0.15)
    chosen = entry["budgets"][budget]["epochs_chosen_on_validation"]
    axis.axvline(chosen, color="k", ls=":", lw=1, label=f"epoch chosen on validation ({chosen})")
    axis.set_xticks(epochs)
    axis.set_xlabel("GAN training epochs (45,000 unlabelled images)")
    axis.set_ylabel(f"test accuracy, % ({budget} labels/class)")
    axis.set_title(f"CIFAR-10 (JPEG-75): linear probe, mean ± 95 % CI over {len(entry['seeds'])} GAN seeds",
                   fontsize=9)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure


CIFAR10_CONTROLS = (  # results key, its paired gap, what the row is, what the gap subtracts
    ("autoencoder", "gap_dcgan_minus_autoencoder", "Autoencoder (encoder = D's blocks)",
     "DCGAN D - autoencoder"),
    ("rotation_head", "gap_dcgan_minus_rotation", "GAN with a rotation head on D (SS-GAN, no labels)",
     "plain D - rotation-head D"),
    ("supervised_cnn", "gap_dcgan_minus_supervised", "Supervised CNN (D's architecture + linear head, "
     "trained on the draw only, flips and 4-px shifts)", "DCGAN D probe - supervised CNN"),
)


def signed(estimate: dict | None) -> str:
    """A paired gap as '+x.x ± y.y', or a dash where it was not measured."""
    return stats.Estimate.from_dict(estimate).format(signed=True) if estimate else "–"


def cifar10_report(results: dict, base_width: int = 32) -> str:
    """Markdown for README and notebook 06: per budget, test accuracy ± 95 % CI over seeds and the
    paired gap to the random-init discriminator, with the validation-chosen epoch."""
    entry = results[f"{CIFAR10_KEY}/w{base_width}/headline"]
    seeds = len(entry["seeds"])
    lines = [f"CIFAR-10 as JPEG-75 (`{CIFAR10_KEY}`, mirror commit {entry['source']['commit'][:7]}), D width "
             f"{base_width}, GAN on the 45,000-image pool, {seeds} GAN seeds x {entry['draws_per_seed']} "
             "label draws; epochs, ridge penalty and random-init's initialisation chosen on the 5,000-image "
             "validation split; test scored once per number (95 % Student t intervals over seeds).", "",
             "| labels per class | GAN epochs (validation) | raw pixels | random-init D | DCGAN D "
             "| paired gap D - random-init D, points |", "|---:|---:|---:|---:|---:|---:|"]
    for budget, row in entry["budgets"].items():
        results_row = row["results"]

        def cell(name, results_row=results_row):
            accuracy = results_row[name].get("accuracy")
            return stats.Estimate.from_dict(accuracy).format() if accuracy else "–"

        gap_text = signed(results_row["dcgan_discriminator"].get("gap"))
        lines.append(f"| {budget} | {row['epochs_chosen_on_validation']} | {cell('raw_pixels')} | "
                     f"{cell('random_init_discriminator')} | {cell('dcgan_discriminator')} | {gap_text} |")
    for key, gap_key, what, comparison in CIFAR10_CONTROLS:
        for budget, row in entry.get(key, {}).items():
            epochs = row.get("epochs_chosen_on_validation")
            trained = f", {epochs} epochs (validation)" if epochs is not None else ""
            lines.append(f"\n{what}, {budget}/class, {len(row['seeds'])} seeds{trained}: "
                         f"{stats.Estimate.from_dict(row['accuracy']).format()}; {comparison}, paired: "
                         f"{signed(row.get(gap_key))} points.")
            if "recipe_chosen_on_validation" in row:
                rotation_gap = signed(row.get("gap_rotation_minus_random_init"))
                lines[-1] += (f" Validation chose the {row['recipe_chosen_on_validation']} recipe "
                              f"({100 * row['validation']:.1f} % with the rotation head, "
                              f"{100 * row['plain_validation']:.1f} % plain); "
                              f"rotation-head D - random-init D, paired: {rotation_gap} points.")
    larger = entry.get("ridge_400_per_class", {})
    if larger:
        names = {"dcgan_discriminator": "DCGAN D", "rotation_discriminator": "rotation-head D",
                 "random_init_discriminator": "random-init D", "raw_pixels": "raw pixels"}
        cells = []
        for name, row in larger.items():
            notes = [f"{len(row['seeds'])} seeds"] if len(row["seeds"]) > 1 else []
            notes += [f"paired gap to random-init {signed(row['gap'])} points"] if "gap" in row else []
            cells.append(f"{names[name]} {stats.Estimate.from_dict(row['accuracy']).format()}"
                         + (f" ({', '.join(notes)})" if notes else ""))
        lines.append("\nRidge at 400 labels per class (5 draws per seed; each trained D at its 100-per-class "
                     "epoch): " + "; ".join(cells) + ".")
    return "\n".join(lines)
