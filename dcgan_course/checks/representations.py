"""Checks for the representation exercises (notebooks 05-07): pyramid features read with hooks, a
hand-written probe that must not leak test statistics, the K+1 discriminator loss, and their
predictions (notebook 04's latent-space checks are in ``checks.latent``).

Each check runs the learner's function on small seeded inputs, compares it with a reference and,
when they disagree, names the mistake that produces the learner's answer and the lecture section
that explains it. Messages never show the answer's code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .. import features, models
from . import (
    Verification,
    call_learner,
    cannot_judge,
    check_rng,
    commit_prediction,
    expect,
    expect_close,
    expect_shape,
    expect_tensor,
    judge_prediction,
    measured_number,
    measured_series,
    no_verdict,
    paired_outcome,
    reproducing,
)
from .shortcuts import off_limits, refusing_shortcuts

TOLERANCE = 1e-4
SHIFT_NOISE = 1e-6  # float32 rounding of a softmax is about 1e-7
GRIDS = (1, 2, 4)
HOOKS_LECTURE = "notebook 05, section 'Forward hooks'"
PROTOCOL_LECTURE = "notebook 05, section 'The paper's protocol'"
PROBE_LECTURE = "notebook 06, section 'A linear probe, written out once'"
K_PLUS_ONE_LECTURE = "notebook 07, section 1 (the K+1 semi-supervised GAN)"


# --- notebook 05: pyramid features through hooks ------------------------------------------------

class ForwardFailed(RuntimeError):
    """Raised on purpose by a model in the check, to see that a failing forward pass leaves no hook behind."""


def pyramid(activations: Sequence[torch.Tensor], grids: Sequence[int], layer_major: bool = True,
            pool: Callable = F.adaptive_max_pool2d) -> torch.Tensor:
    """Pool every activation to every grid and concatenate, layer by layer (or grid by grid)."""
    pairs = ([(a, g) for a in activations for g in grids] if layer_major
             else [(a, g) for g in grids for a in activations])
    return torch.cat([pool(a, g).flatten(1) for a, g in pairs], dim=1)


def activations_of(model: torch.nn.Module, images: torch.Tensor, names: Sequence[str], train_mode: bool
                   ) -> list[torch.Tensor]:
    """The named activations in eval mode, or in train mode with the model's state restored afterwards."""
    state = {key: value.clone() for key, value in model.state_dict().items()}
    was_training = model.training
    model.train(train_mode)
    with torch.no_grad(), features.capture_activations(model, names) as seen:
        model(images)
    model.load_state_dict(state)
    model.train(was_training)
    return [seen[name] for name in names]


def seeded_discriminator(offset: int) -> models.Discriminator:
    """A small D (the paper's init, BatchNorm running statistics away from 0 and 1) from the check seed."""
    rng = check_rng(offset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=rng)))
        model = models.Discriminator(image_size=32, channels=1, base_width=8)
        model.apply(models.init_weights)
    for norm in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        norm.running_mean.copy_(0.05 * torch.randn(norm.num_features, generator=rng))
        norm.running_var.copy_(0.01 + 0.02 * torch.rand(norm.num_features, generator=rng))
    return model


def global_hook_count() -> int:
    """Forward (pre-)hooks registered for every module at once."""
    return sum(len(getattr(torch.nn.modules.module, name, {}))
               for name in ("_global_forward_hooks", "_global_forward_pre_hooks"))


def hook_count(model: torch.nn.Module, global_before: int) -> int:
    """Forward (pre-)hooks on the model's modules, plus global ones added since ``global_before``."""
    local = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    return local + global_hook_count() - global_before


def modes(model: torch.nn.Module) -> list[bool]:
    """Every module's training flag."""
    return [module.training for module in model.modules()]


class Wiping(torch.nn.Module):
    """A small conv net that overwrites each block's output with NaN once the next block has read it.

    Features pooled inside the hooks are untouched; a full activation stored by a hook and pooled
    after the forward pass reads NaN. It records whether gradients were tracked, and can fail on
    purpose after its named blocks ran.
    """

    def __init__(self, rng: torch.Generator, fail: bool = False) -> None:
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                                        torch.nn.LeakyReLU(0.2))
        self.body = torch.nn.Sequential(torch.nn.Conv2d(4, 6, 3, stride=2, padding=1),
                                        torch.nn.BatchNorm2d(6), torch.nn.LeakyReLU(0.2))
        self.head = torch.nn.Conv2d(6, 1, 4)
        with torch.no_grad():
            for conv in (self.stem[0], self.body[0], self.head):
                conv.weight.copy_(0.3 * torch.randn(conv.weight.shape, generator=rng))
                conv.bias.copy_(0.1 * torch.randn(conv.bias.shape, generator=rng))
            for norm in (self.stem[1], self.body[1]):
                norm.weight.copy_(1 + 0.2 * torch.randn(norm.num_features, generator=rng))
                norm.bias.copy_(0.2 * torch.randn(norm.num_features, generator=rng))
                norm.running_mean.copy_(0.2 * torch.randn(norm.num_features, generator=rng))
                norm.running_var.copy_(0.5 + torch.rand(norm.num_features, generator=rng))
        self.fail, self.grad_enabled = fail, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.grad_enabled.append(torch.is_grad_enabled())
        stem = self.stem(x)
        body = self.body(stem)
        stem.detach().fill_(float("nan"))
        if self.fail:
            raise ForwardFailed("the check's model failed on purpose, with hooks registered")
        logits = self.head(body).flatten()
        body.detach().fill_(float("nan"))
        return logits


def reference_pyramid(model: torch.nn.Module, images: torch.Tensor, names: Sequence[str],
                      grids: Sequence[int]) -> torch.Tensor:
    """The pyramid pooled inside the check's own hooks, in eval mode, the model's mode restored."""
    pooled: dict[str, torch.Tensor] = {}
    handles = [model.get_submodule(name).register_forward_hook(
        lambda module, inputs, output, name=name: pooled.update({name: pyramid([output], grids)}))
        for name in names]
    try:
        with torch.no_grad(), models.evaluation_mode(model):
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    return torch.cat([pooled[name] for name in names], dim=1)


def expect_no_hooks(model: torch.nn.Module, when: str, global_before: int) -> None:
    """No forward hook left behind on the model (nor a new global one)."""
    hooks = hook_count(model, global_before)
    expect(hooks == 0, f"{when}, the model still has {hooks} forward hook(s): every hook you register must "
                       "be removed, even when the forward pass fails (remove them in a `finally:` block). "
                       f"See {HOOKS_LECTURE}.")


def expect_left_as_it_came(model: torch.nn.Module, before_modes: list[bool], before_state: dict,
                           when: str) -> None:
    """Every module's mode and the BatchNorm statistics as they were before the learner's call."""
    if modes(model) != before_modes:
        came, left = ("training", "eval") if before_modes[0] else ("eval", "training")
        raise AssertionError(
            f"{when}, pyramid_features left the model in {left} mode although it came in {came} mode: put it "
            "back in the mode it was in (remember model.training before switching, restore it after, also "
            "when the forward pass fails), or the code that called you continues in the wrong mode"
            f"{', without batch statistics' if came == 'training' else ''}. See {HOOKS_LECTURE}.")
    changed = [key for key, value in model.state_dict().items() if not torch.equal(value, before_state[key])]
    if changed:
        raise AssertionError(f"{when}, the model's {changed[0]} changed: the forward pass ran in training "
                             "mode and updated BatchNorm's running statistics. Extract in eval mode, under "
                             f"torch.no_grad(). See {HOOKS_LECTURE}.")


def run_pyramid(pyramid_features: Callable, model: torch.nn.Module, images: torch.Tensor, names: list[str],
                grids: tuple[int, ...]) -> torch.Tensor:
    """Call the learner's function and insist on a tensor back."""
    call = f"pyramid_features(D, images of shape {tuple(images.shape)}, {names}, {grids})"
    result = call_learner("pyramid_features", call, pyramid_features, model, images, names, grids)
    return expect_tensor(result, "The result of pyramid_features")


def snapshot(model: torch.nn.Module) -> tuple[list[bool], dict]:
    """Every module's mode and a copy of the state, to compare after the learner's call."""
    return modes(model), {key: value.clone() for key, value in model.state_dict().items()}


@reproducing
def check_pyramid_features(pyramid_features: Callable) -> None:
    """``pyramid_features(model, images, layer_names, grids)``: hooks, eval mode, max-pools, hooks removed."""
    verified = Verification("pyramid_features")
    global_before = global_hook_count()
    model = seeded_discriminator(0).train()
    images, names = torch.randn(6, 1, 32, 32, generator=check_rng(1)), ["blocks.0", "blocks.2"]
    before = snapshot(model)
    out = run_pyramid(pyramid_features, model, images, names, GRIDS)
    with verified("hooks removed"):
        expect_no_hooks(model, "After pyramid_features", global_before)
    widths, cells = 8 + 32, sum(grid * grid for grid in GRIDS)
    with verified("the model left in the mode it came in (training, then eval), its BatchNorm statistics "
                  "untouched"):
        expect_left_as_it_came(model, *before, when="After pyramid_features")
        model.eval()
        before = snapshot(model)
        in_eval = run_pyramid(pyramid_features, model, images, names, GRIDS)
        expect_no_hooks(model, "After pyramid_features on a model in eval mode", global_before)
        expect_left_as_it_came(model, *before, when="Called on a model in eval mode, after pyramid_features")
        model.train()
    with verified("1x1, 2x2 and 4x4 max-pools of each named layer, layer by layer, in eval mode, without "
                  "gradients"):
        expect(tuple(out.shape) != (6, 16 * widths),
               "Only the 4x4 grid is there: the pyramid concatenates the 1x1, 2x2 and 4x4 max-pools of every "
               f"layer. See {PROTOCOL_LECTURE}.")
        expect_shape(out, (6, cells * widths),
                     "pyramid_features on 2 layers of widths 8 and 32, grids 1, 2, 4")
        expect(not out.requires_grad, "The features still require gradients: extraction needs no graph, run "
                                      f"the model under torch.no_grad(). See {HOOKS_LECTURE}.")
        frozen = activations_of(model, images, names, train_mode=False)
        mistakes = {
            "these features come from the model in training mode: BatchNorm then normalises with the batch's "
            "statistics, so an image's features depend on the other images in its batch; switch to eval mode "
            f"for the extraction ({HOOKS_LECTURE})":
                pyramid(activations_of(model, images, names, True), GRIDS),
            f"these features are average-pooled; the paper's protocol max-pools ({PROTOCOL_LECTURE})":
                pyramid(frozen, GRIDS, pool=F.adaptive_avg_pool2d),
            "the features are ordered grid by grid: keep each layer's 1x1, 2x2 and 4x4 pools together, layer "
            "after layer": pyramid(frozen, GRIDS, layer_major=False),
        }
        for mistake, wrong in mistakes.items():
            expect(not torch.allclose(out.detach(), wrong, atol=TOLERANCE),
                   f"The features are wrong: {mistake}.")
        expect_close(out, pyramid(frozen, GRIDS), "pyramid_features", atol=TOLERANCE)
        expect_close(in_eval, out, "pyramid_features on the same model handed over in eval mode",
                     atol=TOLERANCE)
    with verified("a batch of one gets the features it gets in a batch"):
        alone = run_pyramid(pyramid_features, model, images[:1], names, GRIDS)
        expect(tuple(alone.shape) == (1, cells * widths),
               f"pyramid_features on one image should return shape (1, {cells * widths}), got "
               f"{tuple(alone.shape)}: keep the batch dimension (flatten(1), not squeeze()).")
        expect_close(alone, out[:1], "pyramid_features on the first image alone vs in its batch",
                     atol=TOLERANCE)
    with verified("layers in the order of layer_names, grids as given"):
        backwards = ["blocks.2", "blocks.0"]
        reordered = run_pyramid(pyramid_features, model, images, backwards, GRIDS)
        expect(not torch.allclose(reordered.detach(), out, atol=TOLERANCE),
               "With layer_names = ['blocks.2', 'blocks.0'] your features come in the order the hooks fired "
               "(the forward pass's order): the exercise asks for each layer's pyramid in the order of "
               "layer_names. Concatenate by looking the names up, not in the order the hooks ran.")
        expect_close(reordered, pyramid(activations_of(model, images, backwards, False), GRIDS),
                     "pyramid_features with layer_names = ['blocks.2', 'blocks.0']", atol=TOLERANCE)
        other_grids = (1, 3)
        regridded = run_pyramid(pyramid_features, model, images, names, other_grids)
        expect(tuple(regridded.shape) == (6, 10 * widths),
               f"With grids=(1, 3) the features should have shape (6, {10 * widths}) (1 + 9 cells per "
               f"channel), got {tuple(regridded.shape)}: pool to the grids passed in, not to a fixed "
               "(1, 2, 4).")
        expect_close(regridded, pyramid(frozen, other_grids), "pyramid_features with grids=(1, 3)",
                     atol=TOLERANCE)
    wiping = Wiping(check_rng(2)).train()
    small = torch.randn(4, 1, 8, 8, generator=check_rng(3))
    wiped = run_pyramid(pyramid_features, wiping, small, ["stem", "body"], GRIDS)
    reference = reference_pyramid(Wiping(check_rng(2)), small, ["stem", "body"], GRIDS)
    with verified("pooled inside the hooks, under torch.no_grad()"):
        expect(not any(wiping.grad_enabled),
               "The forward pass ran with gradient tracking on: extraction needs no graph, and a graph keeps "
               f"every activation alive. Run the model under torch.no_grad(). See {HOOKS_LECTURE}.")
        expect(not torch.isnan(wiped).any(),
               "Your features read activations after the forward pass had moved on (this check's model "
               "overwrites each block's output with NaN once the next block has used it): the hook stored "
               "the full activation and you pooled it later. Pool inside the hook and store only the "
               "pyramid; that is what keeps memory small on large images.")
        expect_close(wiped, reference, "pyramid_features on a second model (layers 'stem' and 'body')",
                     atol=TOLERANCE)
    with verified("hooks removed and the mode restored when the forward pass or a layer lookup fails"):
        for names_tried, failing, when in (
                (["stem", "body"], Wiping(check_rng(2), fail=True),
                 "After a forward pass that raised an error"),
                (["stem", "no_such_layer"], Wiping(check_rng(2)),
                 "After a call whose second layer name does not exist")):
            for mode in (True, False):
                failing.train(mode)
                before = snapshot(failing)
                try:
                    with refusing_shortcuts("pyramid_features"):
                        pyramid_features(failing, small, names_tried, GRIDS)
                except NotImplementedError:
                    raise AssertionError("pyramid_features is not implemented yet.") from None
                except Exception:  # the error must reach the caller; what matters is what it leaves behind
                    pass
                else:
                    raise AssertionError(
                        f"{when.replace('After', 'On')}, pyramid_features returned normally: let the error "
                        "reach the caller (a try/finally removes the hooks without swallowing it).")
                expect_no_hooks(failing, when, global_before)
                expect_left_as_it_came(failing, *before, when=when)
    verified.passed()


def check_batch_prediction(prediction: object, reason: object, feature_gap: object) -> None:
    """Commit ``prediction_batch``, then show the measured change of the same images' train-mode features."""
    commit_prediction("prediction_batch", prediction, ("identical", "different"), reason)
    gap, problem = measured_number(feature_gap, "feature_gap", 0.0, 1e6)
    if gap is None:
        cannot_judge(f"{problem} It should be the largest absolute difference between the two feature "
                     "tensors of the same 8 images: a non-negative number.")
        return
    outcome = "different" if gap > TOLERANCE else "identical"
    why = ("in training mode BatchNorm normalises with the statistics of the batch, so the company an image "
           "keeps changes its features" if outcome == "different" else
           "this network has no layer that mixes the images of a batch")
    judge_prediction(prediction, outcome,  # type: ignore[arg-type]
                     f"The same images' features moved by up to {gap:.3g}: {why}. That is why features are "
                     f"extracted in eval mode ({HOOKS_LECTURE}).")


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


# --- notebook 07: the K+1 discriminator ------------------------------------------------------------

CLASSES = 10
REAL_TERM = "the real term (-log D(x) on the unlabelled real images)"
FAKE_TERM = "the fake term (-log(1 - D(x)) on the generated images)"
CLASS_TERM = "the class term (the cross-entropy of the labelled images)"


def k_plus_one_terms(labelled: torch.Tensor, labels: torch.Tensor, real: torch.Tensor, fake: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The K+1 loss's three terms, written stably: class cross-entropy, -log D(real), -log(1 - D(fake))."""
    return (F.cross_entropy(labelled, labels), F.softplus(-real.logsumexp(1)).mean(),
            F.softplus(fake.logsumexp(1)).mean())


def term_mistakes(term: str, logits: torch.Tensor, others: int) -> dict[str, torch.Tensor]:
    """Likely wrong versions of the real (``term="real"``) or fake term, keyed by the mistake they contain.

    ``others`` is the size of the other unlabelled batch (generated for the real term, real for the fake).
    """
    sign, right, wrong = (-1.0, "-log D(x)", "-log(1 - D(x))") if term == "real" else (1.0, "-log(1 - D(x))",
                                                                                       "-log D(x)")
    log_z = logits.logsumexp(1)
    return {
        f"it is {wrong}, the other side's loss: the real and generated terms are swapped (real images should "
        f"get D(x) = Z/(Z+1) close to 1, generated ones close to 0)": F.softplus(-sign * log_z).mean(),
        f"it has the wrong sign: {right} is a loss to minimise, so it enters with +":
            -F.softplus(sign * log_z).mean(),
        "it is missing: the unlabelled real and generated images must train the class logits too":
            torch.zeros(()),
        "the real/fake logit is the *mean* of the class logits; with D(x) = Z/(Z+1) it is log Z, the "
        "log-sum-exp": F.softplus(sign * logits.mean(1)).mean(),
        "the real/fake logit is the *largest* class logit; with D(x) = Z/(Z+1) it is log Z, the log-sum-exp":
            F.softplus(sign * logits.amax(1)).mean(),
        "the log-sum-exp runs over the batch (dim 0); Z sums the K class logits of each image (dim 1)":
            F.softplus(sign * logits.logsumexp(0)).mean(),
        "it is summed over the batch, not averaged": F.softplus(sign * log_z).sum(),
        "it is halved (the 0.5 of openai/improved-gan's code); in this exercise the three terms count fully":
            0.5 * F.softplus(sign * log_z).mean(),
        "it is averaged over the real and generated images together; each term is averaged over its own "
        "batch":
            F.softplus(sign * log_z).sum() / (len(logits) + others),
    }


def class_mistakes(labelled: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Likely wrong class terms, keyed by the mistake they contain."""
    with_fake = torch.cat([labelled, torch.zeros(len(labelled), 1)], 1)
    return {
        "it is missing: the labelled images must be classified": torch.zeros(()),
        "the class logits went through a softmax before the cross-entropy, which applies log-softmax itself":
            F.cross_entropy(labelled.softmax(1), labels),
        "F.nll_loss got raw logits: it expects log-probabilities (cross_entropy = log_softmax + nll_loss)":
            F.nll_loss(labelled, labels),
        "it is summed over the batch, not averaged": F.cross_entropy(labelled, labels, reduction="sum"),
        "it includes the implicit fake class (a (K+1)-way cross-entropy): the labelled images are known to "
        "be real, so the class term is the cross-entropy over the K class logits alone":
            F.cross_entropy(with_fake, labels),
    }


def learner_loss(k_plus_one_loss: Callable, inputs: Sequence[torch.Tensor], what: str) -> torch.Tensor:
    """Run the learner's loss and insist on one number back."""
    shapes = ", ".join(str(tuple(tensor.shape)) for tensor in inputs)
    loss = expect_tensor(call_learner("k_plus_one_loss", f"k_plus_one_loss on {what} (shapes {shapes})",
                                      k_plus_one_loss, *inputs), "The loss")
    expect(loss.dim() == 0, f"The loss should be one number (a 0-dim tensor), got shape {tuple(loss.shape)}.")
    return loss


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Two losses (or changes of a loss) agree to the check's tolerance."""
    return bool(torch.allclose(a.detach().double(), b.detach().double(), rtol=TOLERANCE, atol=1e-5))


def k_plus_one_draw(rng: torch.Generator, sizes: tuple[int, int, int]) -> list[torch.Tensor]:
    """Labelled logits, labels, real logits and generated logits of the given batch sizes."""
    labelled, real, fake = (3 * torch.randn(n, CLASSES, generator=rng) for n in sizes)
    return [labelled, torch.randint(0, CLASSES, (sizes[0],), generator=rng), real, fake]


def extreme_cases(rng: torch.Generator) -> list[tuple[str, int, str, list[torch.Tensor]]]:
    """Inputs with one kind of logits far out: (description, slot, term, inputs).

    +100 is where exp overflows in float32; -120 is where it underflows to 0 (exp(-100) is still a tiny
    subnormal number), so both sides of log(Z) and log(1 + Z) are tested.
    """
    cases = []
    for slot, side, term in ((2, "real", REAL_TERM), (3, "generated", FAKE_TERM)):
        for level in (100.0, -120.0):
            inputs = k_plus_one_draw(rng, (4, 6, 5))
            inputs[slot] = level + torch.randn(inputs[slot].shape, generator=rng)
            cases.append((f"{side} logits around {level:+.0f}", slot, term, inputs))
    for level in (100.0, -120.0):
        inputs = k_plus_one_draw(rng, (4, 6, 5))
        labelled, labels = inputs[0], inputs[1]
        labelled[torch.arange(len(labels)), labels] = level
        cases.append((f"labelled logits whose true class sits at {level:+.0f}", 0, CLASS_TERM, inputs))
    return cases


def gradients(k_plus_one_loss: Callable, inputs: Sequence[torch.Tensor], what: str
              ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """The learner's loss and its gradients with respect to the labelled, real and generated logits."""
    leaves = [tensor.clone().requires_grad_(tensor.is_floating_point()) for tensor in inputs]
    loss = learner_loss(k_plus_one_loss, leaves, what)
    expect(loss.requires_grad, f"The loss on {what} carries no gradient: something cut the graph (.item(), "
                               ".detach(), NumPy, or building a new tensor from numbers), so D could not "
                               "learn from it. Compute every term with torch operations on the logits.")
    grads = torch.autograd.grad(loss, [leaves[i] for i in (0, 2, 3)], allow_unused=True)
    return loss, list(grads)


def reference_gradients(inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The stable loss and its gradients with respect to the labelled, real and generated logits."""
    leaves = [tensor.clone().requires_grad_(tensor.is_floating_point()) for tensor in inputs]
    loss = sum(k_plus_one_terms(*leaves))
    return loss.detach(), list(torch.autograd.grad(loss, [leaves[i] for i in (0, 2, 3)]))


GRADIENT_OF = ("the labelled logits", "the real logits", "the generated logits")


def expect_term_change(term: str, slots: tuple[int, ...], change: torch.Tensor, right: torch.Tensor,
                       changed: Sequence[torch.Tensor], base: Sequence[torch.Tensor], others: dict[int, int]
                       ) -> None:
    """Fail naming the mistake in ``term`` whose change matches the learner's, or saying how far off it is."""
    if slots == (0, 1):
        after, before = class_mistakes(*changed[:2]), class_mistakes(*base[:2])
    else:
        side = "real" if slots[0] == 2 else "fake"
        after = term_mistakes(side, changed[slots[0]], others[slots[0]])
        before = term_mistakes(side, base[slots[0]], others[slots[0]])
    name = term[0].upper() + term[1:]
    for mistake, wrong_after in after.items():
        expect(not close(change, wrong_after - before[mistake]),
               f"{name} is wrong: {mistake}. See {K_PLUS_ONE_LECTURE}.")
    raise AssertionError(
        f"{name} is wrong: when only those logits change, your loss changes by {change.item():.4f} where "
        f"that term changes by {right.item():.4f}. The loss is the class cross-entropy on labelled images "
        "plus -log D(x) on real and -log(1 - D(x)) on generated images, each averaged over its batch, with "
        f"D(x) = Z/(Z+1). See {K_PLUS_ONE_LECTURE}.")


@reproducing
@off_limits
def check_k_plus_one_loss(k_plus_one_loss: Callable) -> None:
    """``k_plus_one_loss(labelled_logits, labels, real_logits, fake_logits)``: CE + real/fake via Z/(Z+1)."""
    verified = Verification("k_plus_one_loss")
    rng = check_rng(0)
    base = k_plus_one_draw(rng, (4, 6, 5))
    loss = learner_loss(k_plus_one_loss, base, "4 labelled, 6 real, 5 generated")
    # Change one input at a time (to a batch of its own size, then to a batch of one): the loss changes
    # by exactly the change of that term, whatever the other terms are, so each term is judged alone.
    others = {2: len(base[3]), 3: len(base[2])}
    for slots, term, claim in (((0, 1), CLASS_TERM, "class cross-entropy on the labelled logits"),
                               ((2,), REAL_TERM, "-log D(x) on the real logits, D(x) = Z/(Z+1)"),
                               ((3,), FAKE_TERM, "-log(1 - D(x)) on the generated logits")):
        with verified(claim):
            for size in (len(base[slots[0]]), 1):
                swap = k_plus_one_draw(rng, (size, size, size))
                changed = [swap[i] if i in slots else tensor for i, tensor in enumerate(base)]
                change = learner_loss(k_plus_one_loss, changed, f"a new batch of {size}") - loss
                right = sum(k_plus_one_terms(*changed)) - sum(k_plus_one_terms(*base))
                if not close(change, right):
                    expect_term_change(term, slots, change, right, changed, base, others)
    with verified("the terms summed, each averaged over its own batch (batches of one too)"):
        reference = sum(k_plus_one_terms(*base))
        expect(close(loss, reference),
               f"Each term changes as it should, but the loss is {loss.item():.4f} where the three terms sum "
               f"to {reference.item():.4f}: something constant is added or missing. "
               f"See {K_PLUS_ONE_LECTURE}.")
    with verified("gradients reach the labelled, real and generated logits"):
        _, grads = gradients(k_plus_one_loss, base, "the first batch")
        _, right_grads = reference_gradients(base)
        for grad, right, what in zip(grads, right_grads, GRADIENT_OF, strict=True):
            expect(grad is not None, f"No gradient reaches {what}: that term is computed from a detached "
                                     "copy (or not from these logits at all), so D would not learn from it.")
            expect(close(grad, right), f"The gradient with respect to {what} differs from the loss's own "
                                       "gradient: a term is detached or computed outside autograd.")
    with verified("stable values and gradients for real and generated logits of +100 and -120, and labelled "
                  "logits of +100 and -120"):
        for description, slot, term, inputs in extreme_cases(check_rng(1)):
            extreme, grads = gradients(k_plus_one_loss, inputs, description)
            right, right_grads = reference_gradients(inputs)
            expect(bool(torch.isfinite(extreme)),
                   f"With {description} your loss is {extreme.item()}: {term} overflows or takes the log of "
                   "0. Never form Z = sum(exp(logits)) itself: log Z = torch.logsumexp(logits, 1), -log D(x) "
                   "= softplus(-log Z) and -log(1 - D(x)) = softplus(log Z) stay finite on both sides (and "
                   "F.cross_entropy does for the class term).")
            expect(close(extreme, right),
                   f"With {description} your loss is {extreme.item():.4f} where it should be "
                   f"{right.item():.4f}: {term} loses precision there (a clamp, an epsilon inside a log, or "
                   "a probability rounded to 0 or 1 before its log). Work with log Z throughout.")
            grad = grads[(0, 2, 3).index(slot)]
            expect(grad is not None and bool(torch.isfinite(grad).all()),
                   f"With {description} the loss is finite but its gradient with respect to those logits is "
                   "not: a branch (torch.where, a mask) that also computes an overflowing expression sends "
                   "nan back through the branch it did not choose. Use softplus and logsumexp, stable on "
                   "both sides.")
            expect(close(grad, right_grads[(0, 2, 3).index(slot)]),
                   f"With {description} the gradient of {term} differs from the stable loss's: the term is "
                   "clamped or saturates there.")
    verified.passed()


def shift_changes(logits: torch.Tensor, shift: float) -> tuple[float, float]:
    """How much a common shift of all class logits moves the class probabilities and D(x) = Z/(Z+1)."""
    shifted = logits + shift
    class_change = (shifted.softmax(1) - logits.softmax(1)).abs().max().item()
    real = torch.sigmoid(logits.logsumexp(1))
    real_change = (torch.sigmoid(shifted.logsumexp(1)) - real).abs().max().item()
    return class_change, real_change


def shift_outcome(class_change: float, real_change: float) -> str | None:
    """Which of class / real / both moved (None if neither did)."""
    changes = (("class", class_change), ("real", real_change))
    moved = [name for name, change in changes if change > SHIFT_NOISE]
    return None if not moved else "both" if len(moved) == 2 else moved[0]


def check_shift_prediction(prediction: object, reason: object, class_change: object,
                           real_change: object) -> None:
    """Commit ``prediction_shift``; seeded logits give the outcome, the learner's measurement is checked."""
    commit_prediction("prediction_shift", prediction, ("class", "real", "both"), reason)
    seeded_logits = 3 * torch.randn(8, 10, generator=torch.Generator().manual_seed(0))
    own = shift_outcome(*shift_changes(seeded_logits, 3.0))
    measured = [measured_number(value, name, 0.0, 1.0)
                for name, value in (("class_change", class_change), ("real_change", real_change))]
    problems = [problem for number, problem in measured if number is None]
    if problems:
        cannot_judge(f"{problems[0]} Both changes are differences of probabilities: numbers in [0, 1].")
        return
    classes, real = (number for number, _ in measured)
    if shift_outcome(classes, real) != own:  # type: ignore[arg-type]
        cannot_judge(f"your measurement (class probabilities moved by {classes:.2g}, D(x) by {real:.2g}) "
                     "disagrees with the same computation on seeded logits: add one constant to *all* K "
                     "logits of each image, and compare softmax with softmax and Z/(Z+1) with Z/(Z+1).")
        return
    judge_prediction(prediction, own,  # type: ignore[arg-type]
                     f"Adding the same constant to all K logits changed the class probabilities by up to "
                     f"{classes:.2g} and D(x) = Z/(Z+1) by {real:.2g}: softmax forgets a common shift, Z "
                     "does not. In the K+1 GAN that common level is the real/fake evidence that the "
                     f"unlabelled images train ({K_PLUS_ONE_LECTURE}).")
