"""Checks for notebook 06 (linear probing): a nearest-class-mean probe written by hand that must not
leak test statistics, and the prediction about label budgets.

Seeded traps separate the distance, the centroid, the standardisation and the use of test labels, so
a wrong probe is named by which trap it falls into.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from . import (
    Verification,
    call_learner,
    cannot_judge,
    check_rng,
    commit_prediction,
    expect,
    judge_prediction,
    measured_series,
    no_verdict,
    paired_outcome,
    reproducing,
)
from .shortcuts import off_limits

PROBE_LECTURE = "notebook 06, section 'A linear probe, written out once'"


# --- notebook 06: a probe that must not leak --------------------------------------------------

def numpy_rng(offset: int) -> np.random.Generator:
    """A NumPy generator seeded from the check seed (``offset`` tells input sets apart)."""
    return np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=check_rng(offset))))


def scale_trap(single_class_test: bool, seed: int | None = None) -> tuple[np.ndarray, ...]:
    """Data a probe gets right only by standardising, with statistics of the training set.

    Class information sits in 5 features with a tiny scale, noise in 45 features with a huge one,
    and one feature is constant (as blank border pixels are). With ``single_class_test`` the test
    set holds only class 0, so a scaler fitted on the test features moves class 0 to the origin.
    Drawn from the check seed unless ``seed`` is given.
    """
    rng = numpy_rng(10 + single_class_test) if seed is None else np.random.default_rng(seed)
    classes, informative = 5, 5
    train_labels = rng.permutation(np.repeat(np.arange(classes), 20))
    test_labels = np.zeros(60, dtype=int) if single_class_test else np.repeat(np.arange(classes), 12)

    def sample(labels: np.ndarray) -> np.ndarray:
        signal = 4.0 * np.eye(classes, informative)[labels]
        signal += 0.3 * rng.normal(size=(len(labels), informative))
        noise = 1e3 * rng.normal(size=(len(labels), 45))
        return np.hstack([1e-3 * signal, noise, np.full((len(labels), 1), 0.5)])

    return sample(train_labels), train_labels, sample(test_labels), test_labels


def standardised(train_x: np.ndarray, test_x: np.ndarray, fit_on: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Both sets standardised with the mean and standard deviation of ``fit_on`` (the training set)."""
    fit_on = train_x if fit_on is None else fit_on
    mean, std = fit_on.mean(0), fit_on.std(0)
    std = np.where(std > 0, std, 1.0)
    return (train_x - mean) / std, (test_x - mean) / std


def scores(train_z: np.ndarray, train_y: np.ndarray, test_z: np.ndarray, distance: str = "euclidean",
           centre: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Each class's score for each test example (lower is nearer) and the classes, for one way to predict."""
    classes = np.unique(train_y)
    if centre == "nearest example":  # a 1-nearest-neighbour classifier: the nearest training example's class
        gaps = np.linalg.norm(test_z[:, None] - train_z[None], axis=-1)
        return np.stack([gaps[:, train_y == c].min(1) for c in classes], 1), classes
    middle = np.median if centre == "median" else np.mean
    centroids = np.stack([middle(train_z[train_y == c], axis=0) for c in classes])
    if distance == "L1":
        return np.abs(test_z[:, None] - centroids[None]).sum(-1), classes
    dots = test_z @ centroids.T
    if distance == "dot":
        return -dots, classes
    if distance == "cosine":
        norms = np.linalg.norm(test_z, axis=1)[:, None] * np.linalg.norm(centroids, axis=1)[None]
        return -dots / norms, classes
    return np.linalg.norm(test_z[:, None] - centroids[None], axis=-1), classes


def predictions(train_z: np.ndarray, train_y: np.ndarray, test_z: np.ndarray, **how: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes, and how far the best score is from the runner-up (relative)."""
    score, classes = scores(train_z, train_y, test_z, **how)
    ordered = np.sort(score, axis=1)
    margin = (ordered[:, 1] - ordered[:, 0]) / (np.abs(ordered[:, :2]).max(1) + 1e-12)
    return classes[score.argmin(1)], margin


# Ways to predict that the exercise does not ask for, each with the words that name it.
GEOMETRY_MISTAKES = {
    "L1": (dict(distance="L1"), "the L1 (Manhattan) distance", "distance"),
    "cosine": (dict(distance="cosine"), "cosine similarity", "distance"),
    "dot": (dict(distance="dot"), "the largest dot product with the centroid", "distance"),
    "median": (dict(centre="median"), "per-feature median centroids", "centre"),
    "nearest example": (dict(centre="nearest example"), "the single nearest training example (1-NN)",
                        "centre"),
}


def geometry_trap(points_per_mistake: int = 4) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Standardised training data and test points where Euclidean distance to the class *mean* is needed.

    Three skewed classes (mean far from median) whose centres have very different norms (cosine and
    dot product disagree with distance). The training set is standardised exactly (every feature
    mean 0, standard deviation 1), so standardising again changes nothing. For each mistake, test
    points where it alone picks another class than the reference, with clear margins everywhere;
    plus points where all agree. Every test point is labelled with the reference's prediction.
    """
    rng = numpy_rng(20)
    classes, features_, per_class = 3, 4, 12
    centres = rng.normal(size=(classes, features_))
    centres *= (np.array([0.5, 2.0, 4.0]) / np.linalg.norm(centres, axis=1))[:, None]
    train_y = rng.permutation(np.repeat(np.arange(classes), per_class))
    skew = rng.exponential(size=(len(train_y), features_)) ** 2 * rng.choice([-1, 1], size=(1, features_))
    train_x = centres[train_y] + 0.8 * skew
    train_x, pool = standardised(train_x, rng.uniform(-3, 3, size=(30_000, features_)))
    reference, margin = predictions(train_x, train_y, pool)
    confident = margin > 1e-2
    wrong = {}
    for key, (how, _, _) in GEOMETRY_MISTAKES.items():
        predicted, its_margin = predictions(train_x, train_y, pool, **how)
        wrong[key] = predicted != reference
        confident &= its_margin > 1e-2
    chosen: dict[str, np.ndarray] = {}
    for key in [*GEOMETRY_MISTAKES, "all agree"]:
        alone = confident & np.all([wrong[k] == (k == key) for k in GEOMETRY_MISTAKES], axis=0)
        if alone.sum() < points_per_mistake and key != "all agree":  # rare: accept company, keep the margins
            alone = confident & wrong[key]
        picks = np.flatnonzero(alone)
        expect(len(picks) >= points_per_mistake,
               f"internal error: no test points for {key!r}; report the seed.")
        chosen[key] = rng.choice(picks, points_per_mistake, replace=False)
    return train_x, train_y, {key: pool[index] for key, index in chosen.items()}


def learner_accuracy(probe: Callable, data: Sequence[np.ndarray], what: str) -> float:
    """Run the learner's probe and insist on a fraction back."""
    result = call_learner("the probe", f"the probe on {what}", probe, *(np.array(part) for part in data))
    expect(not (isinstance(result, (float, np.floating)) and np.isnan(result)),
           f"The probe returned nan on {what}: a feature that is constant on the training set has standard "
           "deviation 0, and dividing by it gives nan; keep such a feature's scale at 1. See "
           f"{PROBE_LECTURE}.")
    expect(isinstance(result, (float, np.floating)) and 0.0 <= result <= 1.0,
           f"The probe should return the accuracy as a fraction in [0, 1] (a float), got {result!r}.")
    return float(result)


def transductive_accuracies(probe: Callable, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                            test_y: np.ndarray, copies: int = 300) -> tuple[float, float]:
    """Accuracy on a test set padded with many copies of one outlier, scored together and one at a time.

    A probe that uses no test statistics gives both the same number; the outlier's copies drag any test
    (or train + test) statistics far enough to change the other predictions.
    """
    chosen = np.arange(0, len(test_y), 4)
    outlier = test_x[:1].copy()
    outlier[:, :5] *= 20.0  # the informative features, far out
    padded_x = np.vstack([test_x[chosen], np.repeat(outlier, copies, axis=0)])
    padded_y = np.concatenate([test_y[chosen], np.repeat(test_y[:1], copies)])
    together = learner_accuracy(probe, (train_x, train_y, padded_x, padded_y), "a padded test set")
    singles = [learner_accuracy(probe, (train_x, train_y, test_x[i:i + 1], test_y[i:i + 1]), "one example")
               for i in chosen]
    singles.append(copies * learner_accuracy(probe, (train_x, train_y, outlier, test_y[:1]), "the outlier"))
    return together, float(sum(singles) / len(padded_y))


def label_trap() -> tuple[np.ndarray, ...]:
    """Two classes apart along one feature; every test point sits nearer class 0's mean but is labelled 1.

    A probe whose centroids come from the training set scores 0; one that also averages the test
    examples into the centroids (or builds them from the test set) moves class 1's centroid onto them.
    """
    rng = numpy_rng(30)
    train_y = rng.permutation(np.repeat([0, 1], 15))
    train_x = rng.normal(size=(30, 4))
    train_x[:, 0] += 10.0 * train_y
    means = np.stack([train_x[train_y == c].mean(0) for c in (0, 1)])
    point = means[0] + 0.35 * (means[1] - means[0])
    return train_x, train_y, np.repeat(point[None], 30, axis=0), np.ones(30, dtype=int)


def scale_diagnosis(probe: Callable, accuracy: float, data: Sequence[np.ndarray]) -> str:
    """What the learner's accuracy on the scale trap matches, among standardisation mistakes."""
    train_x, train_y, test_x, test_y = data
    mean, std = train_x.mean(0), train_x.std(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        unguarded = ((train_x - mean) / std, (test_x - mean) / std)
    variants = {
        "the constant feature is divided by its standard deviation 0, which turns it into nan (keep such a "
        "feature's scale at 1)": unguarded,
        "the features are not standardised at all": (train_x, test_x),
        "only the training features are standardised; the test features must go through the same "
        "transformation (with the training statistics)": (standardised(train_x, train_x)[0], test_x),
        "only the test features are standardised": (train_x, standardised(train_x, test_x)[1]),
    }
    # Test predictions are independent of each other (checked before), so scoring one example at a time
    # shows which examples the learner gets right: compare that pattern with each variant's.
    hits = np.array([learner_accuracy(probe, (train_x, train_y, test_x[i:i + 1], test_y[i:i + 1]),
                                      "one example") for i in range(len(test_y))])
    for mistake, (train_z, test_z) in variants.items():
        if np.array_equal(predictions(train_z, train_y, test_z)[0] == test_y, hits == 1.0):
            return f"your probe gets right exactly the test examples it gets right when {mistake}"
    return ("the distance and the centroids passed the checks above, so look at the standardisation: the "
            "training statistics, applied to both sets, with a constant feature kept finite")


@reproducing
@off_limits
def check_probe(probe: Callable) -> None:
    """``probe(train_x, train_y, test_x, test_y)``: train-standardised, nearest class mean (Euclidean)."""
    verified = Verification("probe")
    balanced = scale_trap(single_class_test=False)
    with verified("returns the accuracy as a fraction"):
        first = learner_accuracy(probe, balanced, "a balanced test set")
    with verified("each test prediction independent of the other test examples (no test statistics)"):
        together, one_by_one = transductive_accuracies(probe, *balanced)
        expect(abs(one_by_one - together) < 1e-9,
               f"Scored one at a time the test examples get {one_by_one:.2f}, scored together "
               f"{together:.2f}: "
               "a prediction depends on the *other* test examples, so the test set leaks into the probe "
               "(standardising with the test set, or with train and test together, or centroids that include "
               f"test examples). See {PROBE_LECTURE}.")
    train_z, train_y, tests = geometry_trap()
    labelled = {key: (points, predictions(train_z, train_y, points)[0]) for key, points in tests.items()}
    got = {key: learner_accuracy(probe, (train_z, train_y, points, labels), f"test points chosen for {key!r}")
           for key, (points, labels) in labelled.items()}
    expect(got["all agree"] == 1.0,
           f"On test points where every distance and every kind of centre agree on the class, your probe "
           f"gets {got['all agree']:.2f}: predict the *label* of the nearest centroid "
           "(np.unique(train_y)[argmin]), compare it with test_y and return the fraction that match.")
    # Which way of predicting scores exactly what the learner scored on every set of test points?
    profiles = {mistake: {key: float((predictions(train_z, train_y, points, **how)[0] == labels).mean())
                          for key, (points, labels) in labelled.items()}
                for mistake, (how, _, _) in GEOMETRY_MISTAKES.items()}
    matching = [mistake for mistake, profile in profiles.items() if profile == got]
    for kind, claim in (("distance", "Euclidean distance (not L1, cosine or dot product)"),
                        ("centre", "centroids are class means (not medians, not the nearest example)")):
        with verified(claim):
            for key, (_, words, its_kind) in GEOMETRY_MISTAKES.items():
                if its_kind != kind or got[key] == 1.0:
                    continue
                named = GEOMETRY_MISTAKES[matching[0]][1] if matching else words
                raise AssertionError(
                    f"On {len(tests[key])} test points where {words} and the Euclidean distance to the class "
                    "mean pick different classes, your probe agrees with the Euclidean distance to the class "
                    f"mean on only a fraction {got[key]:.2f}"
                    + (f": it predicts exactly as {named} does. " if matching else ". ")
                    + "Step 2 asks for each class's *mean*, step 3 for the Euclidean distance to it (its "
                    f"square gives the same nearest centroid). See {PROBE_LECTURE}.")
    with verified("standardised with training statistics, a constant feature kept finite"):
        accuracy = first
        expect(accuracy > 0.8,
               f"Accuracy {accuracy:.2f} on features whose informative part is tiny, whose noise is huge and "
               f"one of which is constant: {scale_diagnosis(probe, accuracy, balanced)}. "
               f"See {PROBE_LECTURE}.")
        single = learner_accuracy(probe, scale_trap(single_class_test=True), "a single-class test set")
        expect(single > 0.8, f"Accuracy {single:.2f} on a test set of one class (but {accuracy:.2f} on a "
                             "balanced one): the standardisation uses statistics of the test features. Fit "
                             f"it on the training features only. See {PROBE_LECTURE}.")
    with verified("test labels used only for scoring"):
        trapped = learner_accuracy(probe, label_trap(), "test points nearer class 0 but labelled 1")
        expect(trapped == 0.0,
               f"Your probe scored {trapped:.2f} on test points that lie nearer class 0's training mean but "
               "are labelled 1 (a nearest-class-mean probe built from the training set scores 0 there): the "
               "test labels decided more than the score (a hit counted when the label is among the nearest "
               "centroids, top-k, or test examples averaged into the centroids). Compute the centroids from "
               f"train_x and train_y only; test_y is for scoring. See {PROBE_LECTURE}.")
    verified.passed()


def check_label_budget_prediction(prediction: object, reason: object, lead: object) -> None:
    """Commit ``prediction_lead``, then judge it only if a paired 95 % interval over the draws excludes 0.

    ``lead`` maps 10 and 1 labels per class to the discriminator's accuracy minus the pixels' on each
    label draw (fractions, same draws for both). The change of the lead, draw by draw, decides.
    """
    commit_prediction("prediction_lead", prediction, ("grows", "shrinks"), reason)
    if not isinstance(lead, dict) or set(lead) != {1, 10}:
        cannot_judge(f"lead should map 10 and 1 labels per class to one lead per draw, got {lead!r:.80}.")
        return
    many, problem = measured_series(lead[10], "lead[10]", -1.0, 1.0)
    few, problem = (None, problem) if many is None else measured_series(lead[1], "lead[1]", -1.0, 1.0,
                                                                        len(many))
    if many is None or few is None:
        cannot_judge(f"{problem} A lead is a difference of two accuracies, each a fraction in [0, 1], so it "
                     "lies in [-1, 1] (not in percent).")
        return
    outcome, interval = paired_outcome([f - m for f, m in zip(few, many, strict=True)], "grows", "shrinks",
                                       scale=100.0, unit=" pp")
    measured = (f"Going from 10 labels per class to 1, the discriminator's lead over raw pixels changed by "
                f"{interval}: from {100 * np.mean(many):+.1f} pp to {100 * np.mean(few):+.1f} pp (percentage "
                "points). ")
    if outcome is None:
        no_verdict(measured + "the interval includes 0, so these draws cannot tell grows from shrinks. More "
                   "draws (full mode) narrow it (notebook 06, section 'Label efficiency').")
        return
    judge_prediction(prediction, outcome,  # type: ignore[arg-type]
                     measured + "With fewer labels the probe leans harder on the features' geometry "
                     "(notebook 06, section 'Label efficiency').")
