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

from .. import features, improve, models
from . import (
    call_learner,
    cannot_judge,
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
    passed,
)
from .shortcuts import off_limits

TOLERANCE = 1e-4
SHIFT_NOISE = 1e-6  # float32 rounding of a softmax is about 1e-7
GRIDS = (1, 2, 4)
HOOKS_LECTURE = "notebook 05, section 'Forward hooks'"
PROTOCOL_LECTURE = "notebook 05, section 'The paper's protocol'"
PROBE_LECTURE = "notebook 06, section 'A linear probe, written out once'"
K_PLUS_ONE_LECTURE = "notebook 07, section 1 (the K+1 semi-supervised GAN)"


# --- notebook 05: pyramid features through hooks ------------------------------------------------

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


def check_pyramid_features(pyramid_features: Callable) -> None:
    """``pyramid_features(model, images, layer_names, grids)``: hooks, eval mode, max-pools, hooks removed."""
    torch.manual_seed(0)
    model = models.Discriminator(image_size=32, channels=1, base_width=8)
    model.apply(models.init_weights)
    model.train()
    images, names = torch.randn(6, 1, 32, 32), ["blocks.0", "blocks.2"]
    call = "pyramid_features(D, images, ['blocks.0', 'blocks.2'], (1, 2, 4))"
    out = expect_tensor(call_learner("pyramid_features", call, pyramid_features, model, images, names, GRIDS),
                        "The result of pyramid_features")
    hooks = sum(len(module._forward_hooks) for module in model.modules())
    expect(hooks == 0, f"The model still has {hooks} forward hook(s) after extraction: every hook you "
                       f"register must be removed, even when the forward pass fails. See {HOOKS_LECTURE}.")
    expect(model.training, "pyramid_features left the model in eval mode: put it back in the mode it was in, "
                           f"or the next training step runs without batch statistics. See {HOOKS_LECTURE}.")
    widths, cells = 8 + 32, sum(grid * grid for grid in GRIDS)
    expect(tuple(out.shape) != (6, 16 * widths),
           "Only the 4x4 grid is there: the pyramid concatenates the 1x1, 2x2 and 4x4 max-pools of every "
           f"layer. See {PROTOCOL_LECTURE}.")
    expect_shape(out, (6, cells * widths), "pyramid_features on 2 layers of widths 8 and 32, grids 1, 2, 4")
    expect(not out.requires_grad, "The features still require gradients: extraction needs no graph, run the "
                                  f"model under torch.no_grad(). See {HOOKS_LECTURE}.")
    frozen = activations_of(model, images, names, train_mode=False)
    mistakes = {
        "these features come from the model in training mode: BatchNorm then normalises with the batch's "
        "statistics, so an image's features depend on the other images in its batch; switch to eval mode "
        f"for the extraction ({HOOKS_LECTURE})": pyramid(activations_of(model, images, names, True), GRIDS),
        f"these features are average-pooled; the paper's protocol max-pools ({PROTOCOL_LECTURE})":
            pyramid(frozen, GRIDS, pool=F.adaptive_avg_pool2d),
        "the features are ordered grid by grid: keep each layer's 1x1, 2x2 and 4x4 pools together, layer "
        "after layer": pyramid(frozen, GRIDS, layer_major=False),
    }
    for mistake, wrong in mistakes.items():
        expect(not torch.allclose(out, wrong, atol=TOLERANCE), f"The features are wrong: {mistake}.")
    expect_close(out, pyramid(frozen, GRIDS), "pyramid_features", atol=TOLERANCE)
    passed("pyramid_features: 1x1, 2x2 and 4x4 max-pools of each named layer, layer by layer, in eval mode "
           "without gradients; hooks removed, the model back in training mode.")


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

def scale_trap(single_class_test: bool, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Data a probe gets right only by standardising, with statistics of the training set.

    Class information sits in 5 features with a tiny scale, noise in 45 features with a huge one,
    and one feature is constant (as blank border pixels are). With ``single_class_test`` the test
    set holds only class 0, so a scaler fitted on the test features moves class 0 to the origin.
    """
    rng = np.random.default_rng(seed)
    classes, informative = 5, 5
    train_labels = np.repeat(np.arange(classes), 20)
    test_labels = np.zeros(60, dtype=int) if single_class_test else np.repeat(np.arange(classes), 12)

    def sample(labels: np.ndarray) -> np.ndarray:
        signal = 4.0 * np.eye(classes, informative)[labels]
        signal += 0.3 * rng.normal(size=(len(labels), informative))
        noise = 1e3 * rng.normal(size=(len(labels), 45))
        return np.hstack([1e-3 * signal, noise, np.full((len(labels), 1), 0.5)])

    return sample(train_labels), train_labels, sample(test_labels), test_labels


def learner_accuracy(probe: Callable, data: Sequence[np.ndarray], what: str) -> float:
    """Run the learner's probe and insist on a fraction back."""
    result = call_learner("the probe", f"the probe on {what}", probe, *(np.array(part) for part in data))
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


@off_limits
def check_probe(probe: Callable) -> None:
    """``probe(train_x, train_y, test_x, test_y)``: standardise on train only, no test statistics leak."""
    balanced = scale_trap(single_class_test=False)
    accuracy = learner_accuracy(probe, balanced, "a balanced test set")
    expect(not np.isnan(accuracy) and accuracy > 0.8,
           f"Accuracy {accuracy:.2f} on features whose informative part is tiny, whose noise is huge and one "
           "of which is constant: are the features standardised, and does a constant feature (standard "
           f"deviation 0) stay finite? See {PROBE_LECTURE}.")
    single = learner_accuracy(probe, scale_trap(single_class_test=True), "a single-class test set")
    expect(single > 0.8, f"Accuracy {single:.2f} on a test set of one class (but {accuracy:.2f} on a "
                         "balanced one): the standardisation uses statistics of the test features. Fit it on "
                         f"the training features only. See {PROBE_LECTURE}.")
    together, one_by_one = transductive_accuracies(probe, *balanced)
    expect(abs(one_by_one - together) < 1e-9,
           f"Scored one at a time the test examples get {one_by_one:.2f}, scored together {together:.2f}: a "
           "prediction depends on the *other* test examples, so test statistics leak into the probe (e.g. "
           f"standardising with the test set, or with train and test together). See {PROBE_LECTURE}.")
    passed("probe: copes with features of wildly different scales and with a constant feature, uses no "
           "statistic of the test set (each test prediction independent of the others), returns a fraction.")


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

def k_plus_one_mistakes(labelled: torch.Tensor, labels: torch.Tensor, real: torch.Tensor, fake: torch.Tensor
                        ) -> dict[str, torch.Tensor]:
    """Likely wrong K+1 losses, keyed by the mistake they contain."""
    supervised = F.cross_entropy(labelled, labels)
    log_z_real, log_z_fake = real.logsumexp(1), fake.logsumexp(1)
    return {
        "the real and generated terms are swapped: real images should get D(x) = Z/(Z+1) close to 1":
            supervised + F.softplus(log_z_real).mean() + F.softplus(-log_z_fake).mean(),
        "the class term on the labelled images is missing": F.softplus(-log_z_real).mean()
            + F.softplus(log_z_fake).mean(),
        "only the class term is there: unlabelled real and generated images must train the logits too":
            supervised,
        "the real/fake logit is the *mean* of the class logits; with D(x) = Z/(Z+1) it is log Z, the "
        "log-sum-exp": supervised + F.softplus(-real.mean(1)).mean() + F.softplus(fake.mean(1)).mean(),
        "the real/fake logit is the *largest* class logit; with D(x) = Z/(Z+1) it is log Z, the log-sum-exp":
            supervised + F.softplus(-real.amax(1)).mean() + F.softplus(fake.amax(1)).mean(),
        "the class logits went through a softmax before the cross-entropy, which applies it itself":
            F.cross_entropy(labelled.softmax(1), labels) + F.softplus(-log_z_real).mean()
            + F.softplus(log_z_fake).mean(),
        "the terms are summed over the batch, not averaged":
            F.cross_entropy(labelled, labels, reduction="sum") + F.softplus(-log_z_real).sum()
            + F.softplus(log_z_fake).sum(),
    }


@off_limits
def check_k_plus_one_loss(k_plus_one_loss: Callable) -> None:
    """``k_plus_one_loss(labelled_logits, labels, real_logits, fake_logits)``: CE + real/fake via Z/(Z+1)."""
    rng = torch.Generator().manual_seed(0)
    labelled, real, fake = (3 * torch.randn(n, 10, generator=rng) for n in (4, 6, 6))
    labels = torch.randint(0, 10, (4,), generator=rng)
    loss = expect_tensor(call_learner("k_plus_one_loss", "k_plus_one_loss on 4 labelled, 6 real, 6 generated",
                                      k_plus_one_loss, labelled, labels, real, fake), "The loss")
    expect(loss.dim() == 0, f"The loss should be one number (a 0-dim tensor), got shape {tuple(loss.shape)}.")
    reference = improve.k_plus_one_loss(labelled, labels, real, fake)
    if not torch.allclose(loss, reference, rtol=TOLERANCE):
        for mistake, wrong in k_plus_one_mistakes(labelled, labels, real, fake).items():
            expect(not torch.allclose(loss, wrong, rtol=TOLERANCE), f"{mistake}. See {K_PLUS_ONE_LECTURE}.")
        raise AssertionError(f"Expected {reference.item():.4f}, got {loss.item():.4f}: the loss is the class "
                             "cross-entropy on labelled images plus -log D(x) on real and -log(1 - D(x)) on "
                             f"generated images, with D(x) = Z/(Z+1). See {K_PLUS_ONE_LECTURE}.")
    confident = [100.0 * torch.eye(10)[:2], torch.tensor([1, 2]), 100.0 * torch.ones(2, 10),
                 torch.zeros(2, 10)]
    extreme = call_learner("k_plus_one_loss", "k_plus_one_loss with logits of 100", k_plus_one_loss,
                           *confident)
    expect(bool(torch.isfinite(torch.as_tensor(extreme))),
           "With class logits of 100 your loss is not finite: exp(100) overflows. Write log(Z/(Z+1)) and "
           "log(1/(Z+1)) through log-sum-exp and softplus, which never form Z itself.")
    passed("k_plus_one_loss: class cross-entropy + real/fake loss with D(x) = Z/(Z+1), finite for logits "
           "of 100.")


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
