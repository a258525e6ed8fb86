"""Linear probes: how much of the labels can a linear classifier read off frozen features?

Same data, same label draws, same classifier for every representation, so the only thing that
differs between rows of the table is the features. With few labels the accuracy depends on which
examples were labelled, so every budget is repeated over several random draws: tables show the
mean ± 95 % confidence interval over draws, and the paired gap between the trained and the
random-init discriminator on the same draws. ``probe_checkpoint`` also reads a discriminator saved
by the PyTorch DCGAN example (``netD_epoch_N.pth``, see ``saved_discriminators``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from torch import nn
from tqdm.auto import tqdm

from . import evaluation, features, models, stats
from .data import ImageData, load_dataset
from .saved_discriminators import load_probe_models

CLASSIFIERS = ("ridge", "svm", "logistic")
FeatureSets = dict[str, tuple[torch.Tensor, torch.Tensor]]
REGULARISATION_GRID = tuple(float(c) for c in np.logspace(-4, 0, 5))
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(0, 5, 11))
ALL_LABELS = None


@dataclass
class ProbeResult:
    """Test accuracies of one representation at one label budget, one per random label draw."""

    method: str
    labels_per_class: int | None
    feature_dim: int
    accuracies: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        """The sample standard deviation over draws (ddof=1; 0 for a single draw)."""
        return float(np.std(self.accuracies, ddof=1)) if len(self.accuracies) > 1 else 0.0

    @property
    def ci(self) -> stats.Estimate:
        """The mean with its 95 % confidence interval over the label draws."""
        return stats.mean_ci(self.accuracies)

    def as_dict(self) -> dict:
        """The JSON record of the ``probe`` command (``labels_per_class`` is null for all labels)."""
        return {
            "method": self.method,
            "labels_per_class": self.labels_per_class,
            "accuracy_mean": round(self.mean, 4),
            "accuracy_std": round(self.std, 4),
            "accuracy_ci95": round(self.ci.half_width, 4) if len(self.accuracies) > 1 else None,
            "feature_dim": self.feature_dim,
            "draws": len(self.accuracies),
        }


def as_numpy(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """A NumPy view of a tensor or array (CPU, detached)."""
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def labelled_subset(labels: torch.Tensor | np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Indices of ``per_class`` random examples of every class (a smaller class: all of it; ``None``: all)."""
    labels = as_numpy(labels)
    if per_class is ALL_LABELS:
        return np.arange(len(labels))
    if per_class < 1:
        raise ValueError(f"labels_per_class must be at least 1, got {per_class}.")
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    picks = [rng.choice(m, min(per_class, len(m)), replace=False) for m in members]
    return np.sort(np.concatenate(picks))


def cross_validation_folds(labels: np.ndarray, seed: int) -> StratifiedKFold | None:
    """Stratified folds over the labelled examples (up to 3), or ``None`` when a class has one example."""
    folds = min(3, int(np.unique(labels, return_counts=True)[1].min()))
    return StratifiedKFold(folds, shuffle=True, random_state=seed) if folds >= 2 else None


class RidgeProbe(ClassifierMixin, BaseEstimator):
    """Ridge classifier (one-vs-all, ±1) with its penalty chosen by exact leave-one-out on the labelled
    examples only: ``evaluation.fit_ridge``, the same solver the evaluation protocol uses."""

    def __init__(self, alphas: Sequence[float] = RIDGE_ALPHAS):
        self.alphas = alphas

    def fit(self, x: np.ndarray, y: np.ndarray) -> RidgeProbe:
        self.classes_, encoded = np.unique(np.asarray(y), return_inverse=True)
        solution = evaluation.fit_ridge(x, encoded, self.alphas, len(self.classes_))
        best = int(np.argmin(solution.loo_error))
        self.alpha_ = solution.alphas[best]
        self.coef_, self.intercept_ = solution.coef[best], solution.intercept[best]
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float32) @ self.coef_ + self.intercept_

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.decision_function(x).argmax(1)]


def make_probe(classifier: str = "ridge", labels: np.ndarray | None = None, seed: int = 0) -> Pipeline:
    """Standardise, then a linear classifier whose regularisation is chosen on the labelled examples only.

    ``ridge``: least-squares classifier, strength picked by exact leave-one-out (fast, the default;
    ``RidgeProbe``, the evaluation protocol's solver).
    ``svm``: the paper's L2-SVM (squared hinge), ``logistic``: logistic regression; both pick C by
    stratified cross-validation over ``REGULARISATION_GRID`` when every class has 2+ labels.
    """
    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, got '{classifier}'.")
    if classifier == "ridge":
        return make_pipeline(StandardScaler(), RidgeProbe(RIDGE_ALPHAS))
    model = LinearSVC(C=1e-3) if classifier == "svm" else LogisticRegression(C=1e-2, max_iter=500)
    folds = cross_validation_folds(labels, seed) if labels is not None else None
    if folds is not None:
        model = GridSearchCV(model, {"C": list(REGULARISATION_GRID)}, cv=folds)
    return make_pipeline(StandardScaler(), model)


def probe_accuracy(
    train_features: torch.Tensor | np.ndarray,
    train_labels: torch.Tensor | np.ndarray,
    test_features: torch.Tensor | np.ndarray,
    test_labels: torch.Tensor | np.ndarray,
    classifier: str = "ridge",
    seed: int = 0,
) -> float:
    """Fit the probe (scaler included) on the labelled training features; return test accuracy."""
    train_labels, test_labels = as_numpy(train_labels), as_numpy(test_labels)
    probe = make_probe(classifier, train_labels, seed)
    probe.fit(as_numpy(train_features), train_labels)
    return float(probe.score(as_numpy(test_features), test_labels))


def validate_budgets(budgets: Sequence[int | None], draws: int) -> None:
    """Reject an empty budget list, a non-positive budget or a non-positive number of draws."""
    if not budgets:
        raise ValueError("Give at least one label budget, e.g. labels_per_class=[10, 100].")
    if any(b is not None and b < 1 for b in budgets):
        raise ValueError(f"Label budgets must be positive (or None for all labels), got {list(budgets)}.")
    if draws < 1:
        raise ValueError(f"draws must be at least 1, got {draws}.")


def compare_representations(
    feature_sets: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    train_labels: torch.Tensor,
    test_labels: torch.Tensor,
    labels_per_class: Sequence[int | None] = (10,),
    draws: int = 5,
    classifier: str = "ridge",
    seed: int = 0,
    progress: bool = True,
) -> list[ProbeResult]:
    """Probe every representation on the same label draws; ``feature_sets`` maps a name to (train, test).

    A budget of ``None`` means all training labels (one draw: there is nothing to draw).
    """
    validate_budgets(labels_per_class, draws)
    results = []
    jobs = [(name, budget) for budget in labels_per_class for name in feature_sets]
    for name, budget in tqdm(jobs, desc="probing", disable=not progress):
        train_features, test_features = (as_numpy(f) for f in feature_sets[name])
        result = ProbeResult(name, budget, train_features.shape[1])
        for draw in range(1 if budget is ALL_LABELS else draws):
            index = labelled_subset(train_labels, budget, seed + draw)
            result.accuracies.append(probe_accuracy(
                train_features[index], as_numpy(train_labels)[index], test_features, test_labels,
                classifier, seed + draw))
        results.append(result)
    return results


def budget_name(labels_per_class: int | None) -> str:
    """Column heading for a label budget."""
    return "all labels" if labels_per_class is ALL_LABELS else f"{labels_per_class}/class"


def results_table(results: Sequence[ProbeResult]) -> str:
    """A Markdown table: one row per method, one column per budget, cells "mean ± 95 % CI" in percent."""
    methods = list(dict.fromkeys(r.method for r in results))
    budgets = list(dict.fromkeys(r.labels_per_class for r in results))
    cell = {(r.method, r.labels_per_class): r.ci.format() if len(r.accuracies) > 1 else f"{100 * r.mean:.1f}"
            for r in results}
    dims = {r.method: r.feature_dim for r in results}
    lines = ["| method | features | " + " | ".join(budget_name(b) for b in budgets) + " |",
             "|---|---:|" + "---:|" * len(budgets)]
    for method in methods:
        cells = " | ".join(cell.get((method, b), "–") for b in budgets)
        features = dims[method] or "end-to-end"  # a supervised network has no fixed feature vector
        lines.append(f"| {method} | {features} | {cells} |")
    return "\n".join(lines)


def paired_gaps(results: Sequence[ProbeResult], method: str = "dcgan_discriminator",
                control: str = "random_init_discriminator") -> dict[int | None, stats.Estimate]:
    """Per budget with 2+ draws: accuracy(method) - accuracy(control) draw by draw, mean ± 95 % CI."""
    by_key = {(r.method, r.labels_per_class): r.accuracies for r in results}
    budgets = [b for b in dict.fromkeys(r.labels_per_class for r in results)
               if (method, b) in by_key and (control, b) in by_key and len(by_key[(method, b)]) > 1]
    return {b: stats.paired_difference(by_key[(method, b)], by_key[(control, b)]) for b in budgets}


def results_report(dataset: str, results: Sequence[ProbeResult]) -> str:
    """The ``probe`` command's text: a heading, the table, and the paired gap of D over random-init D."""
    draws = max(len(r.accuracies) for r in results)
    gaps = [f"paired gap, dcgan_discriminator - random_init_discriminator, {budget_name(budget)}: "
            f"{gap.format(signed=True)} points (95% CI over the same {gap.count} draws)"
            for budget, gap in paired_gaps(results).items()]
    heading = f"Linear probe on {dataset} (test accuracy %, mean ± 95% CI over {draws} label draws)"
    return "\n".join([heading, "", results_table(results), "", *gaps])


def results_json(dataset: str, results: Sequence[ProbeResult]) -> dict:
    """The ``probe`` command's JSON object: the dataset, one record per (method, budget), the paired gaps."""
    gaps = [{"labels_per_class": budget, "gap_mean": round(gap.mean, 4), "gap_ci95": round(gap.half_width, 4)}
            for budget, gap in paired_gaps(results).items()]
    return {"dataset": dataset, "results": [r.as_dict() for r in results], "paired_gap": gaps}


def baseline_features(train: ImageData, test: ImageData, discriminator: models.Discriminator,
                      seed: int = 0) -> FeatureSets:
    """The two controls: raw pixels, and a random-init discriminator of the same architecture."""
    torch.manual_seed(seed)
    untrained = models.Discriminator(
        discriminator.image_size, discriminator.channels, discriminator.base_width)
    untrained.apply(models.init_weights)
    return {
        "raw_pixels": (features.pixel_features(train.images), features.pixel_features(test.images)),
        "random_init_discriminator": (features.discriminator_features(untrained, train.images),
                                      features.discriminator_features(untrained, test.images)),
    }


def gan_features(train: ImageData, test: ImageData, generator: models.Generator | None,
                 discriminator: models.Discriminator, encoder: nn.Module | None = None) -> FeatureSets:
    """The trained GAN's features: its discriminator's, and (given an encoder that inverts G) G's."""
    device = models.model_device(discriminator)
    sets = {"dcgan_discriminator": (features.discriminator_features(discriminator, train.images.to(device)),
                                    features.discriminator_features(discriminator, test.images.to(device)))}
    if encoder is not None and generator is not None:
        codes = [features.encode(encoder, split.images) for split in (train, test)]
        sets["generator_features"] = (features.generator_features(generator, codes[0]),
                                      features.generator_features(generator, codes[1]))
    return sets


def probe_checkpoint(
    checkpoint: str | Path,
    dataset: str,
    labels_per_class: Sequence[int | None] = (10, 100),
    draws: int = 5,
    encoder_steps: int = 0,
    limit: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> list[ProbeResult]:
    """The comparison table for a trained GAN's checkpoint: baselines, D features and G features.

    G features need an encoder: the checkpoint's own (key ``encoder``), or one trained for
    ``encoder_steps`` steps by latent regression on G's samples (no images, no labels). A
    ``netD_epoch_N.pth`` of the PyTorch DCGAN example has no generator: baselines and D only.
    """
    state, generator, discriminator = load_probe_models(checkpoint)
    config = state.get("config", {"base_width": discriminator.base_width})
    train, test = (load_dataset(dataset, split, discriminator.image_size, discriminator.channels, limit)
                   for split in ("train", "test"))
    encoder = None
    if generator is None:
        pass
    elif "encoder" in state:
        encoder = features.Encoder(generator.latent_dim, generator.image_size, generator.channels,
                                   config["base_width"])
        encoder.load_state_dict(state["encoder"])
    elif encoder_steps > 0:
        encoder, _ = features.train_encoder(generator, encoder_steps, config["base_width"], seed=seed,
                                            progress=progress)
    sets = {**baseline_features(train, test, discriminator, seed),
            **gan_features(train, test, generator, discriminator, encoder)}
    return compare_representations(sets, train.labels, test.labels, labels_per_class, draws, seed=seed,
                                   progress=progress)

