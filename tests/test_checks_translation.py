"""The notebook-08 checks pass correct answers written several ways, name each planted bug, and score
predictions honestly."""

import pytest
import torch
import torch.nn.functional as F
from check_helpers import fails_naming, passes_with_verified_line
from torch import nn

from dcgan_course import translation
from dcgan_course.checks import translation as checks
from dcgan_course.train import gan_loss


def stub(*args):
    raise NotImplementedError


def l1_best_output(values, probabilities):
    order = values.argsort()
    cumulative = probabilities[order].cumsum(0)
    return values[order][cumulative >= 0.5 - 1e-6][0].item()


def l1_brute_force(values, probabilities):
    """Try every listed value, keep the one with the least expected absolute error (a loop)."""
    best, best_error = None, float("inf")
    for candidate in values.tolist():
        pairs = zip(values.tolist(), probabilities.tolist(), strict=True)
        error = sum(p * abs(v - candidate) for v, p in pairs)
        if error < best_error - 1e-12:
            best, best_error = candidate, error
    return best


def l1_midpoint_at_ties(values, probabilities):
    """In float64 with searchsorted; at an exact tie, halfway between the lower and the upper median."""
    ordered, order = values.double().sort()
    cumulative = probabilities.double()[order].cumsum(0)
    lower = ordered[torch.searchsorted(cumulative, torch.tensor(0.5, dtype=torch.float64) - 1e-9)]
    upper = ordered[torch.searchsorted(cumulative, torch.tensor(0.5, dtype=torch.float64) + 1e-9)]
    return torch.tensor(float(lower + upper) / 2)  # a 0-dim tensor is one number too


@pytest.mark.parametrize("candidate", [l1_best_output, l1_brute_force, l1_midpoint_at_ties])
def test_l1_best_output_passes_correct_answers_with_the_verified_line(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(checks.check_l1_best_output, candidate, capsys, monkeypatch)
    assert "exact ties" in line and "a certain pixel" in line


def unsorted_cumsum(values, probabilities):
    return values[(probabilities.cumsum(0) >= 0.5).nonzero()[0, 0]].item()


def sorted_values_only(values, probabilities):
    return values.sort().values[(probabilities.cumsum(0) >= 0.5).nonzero()[0, 0]].item()


def median_index(values, probabilities):
    order = values.argsort()
    return int(order[(probabilities[order].cumsum(0) >= 0.5 - 1e-6).nonzero()[0, 0]])


L1_MISTAKES = [
    (lambda v, p: (v * p).sum().item(), "mean of the targets"),
    (lambda v, p: v[p.argmax()].item(), "most probable value"),
    (lambda v, p: v.median().item(), "probabilities ignored"),
    (unsorted_cumsum, "sort the values first"),
    (sorted_values_only, "not reordered with them"),  # new
    (median_index, "position in the list (an index)"),  # new
]


@pytest.mark.parametrize("output_fn, message", [
    (stub, "not implemented"),
    *L1_MISTAKES,
    (lambda v, p: l1_best_output(v, p) + 0.1, "above the least possible"),
    (lambda v, p: [l1_best_output(v, p)], "one number"),
])
def test_l1_best_output_check_names_the_planted_mistake(output_fn, message):
    fails_naming(checks.check_l1_best_output, output_fn, message)


@pytest.mark.parametrize("seed", range(10))
def test_every_l1_mistake_misses_the_optimum_under_every_seed(seed, monkeypatch):
    monkeypatch.setenv("DCGAN_COURSE_CHECK_SEED", str(seed))
    for output_fn, message in L1_MISTAKES:
        fails_naming(checks.check_l1_best_output, output_fn, message)


def discriminator_loss(discriminator, inputs, targets, fakes):
    real = discriminator(inputs, targets)
    fake = discriminator(inputs, fakes.detach())
    return 0.5 * (gan_loss(real, True) + gan_loss(fake, False))


def one_call(d, x, y, f):
    """Both pairs in one batch: equal to two calls in eval mode, but BatchNorm mixes them in train mode."""
    logits = d(torch.cat([x, x]), torch.cat([y, f.detach()]))
    real, fake = logits.chunk(2)
    return 0.5 * (gan_loss(real, True) + gan_loss(fake, False))


def in_eval_mode(d, x, y, f):
    """The right loss, computed after switching D to eval mode (and leaving it there)."""
    d.eval()
    return discriminator_loss(d, x, y, f)


def two_calls_then_restore(d, x, y, f):
    """The right loss by two calls, D's mode saved and put back around a harmless eval-mode probe."""
    was_training = d.training
    with torch.no_grad():
        d.eval()
        d(x, y)
    d.train(was_training)
    return discriminator_loss(d, x, y, f)


def module_loss(d, x, y, f):
    """nn.BCEWithLogitsLoss on a detached copy, the two halves averaged."""
    criterion, fixed = nn.BCEWithLogitsLoss(), f.detach().clone()
    real, fake = d(x, y), d(x, fixed)
    return (criterion(real, torch.ones_like(real)) + criterion(fake, torch.zeros_like(fake))) / 2


def log_sigmoid_loss(d, x, y, f):
    """-(log D(x, y) + log(1 - D(x, G(x)))) / 2, written with logsigmoid."""
    with torch.no_grad():
        fixed = f * 1.0
    return -(F.logsigmoid(d(x, y)).mean() + F.logsigmoid(-d(x, fixed)).mean()) / 2


@pytest.mark.parametrize("candidate", [
    discriminator_loss,
    lambda d, x, y, f: translation.pix2pix_discriminator_loss(d(x, y), d(x, f.detach())),
    module_loss, log_sigmoid_loss, two_calls_then_restore,
])
def test_discriminator_loss_passes_correct_answers_with_the_verified_line(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(checks.check_discriminator_loss, candidate, capsys, monkeypatch)
    assert "no gradient reaches G" in line and "D's gradient from both terms" in line
    assert "batch of one" in line and "train mode" in line


def halved(real, fake):
    return 0.5 * (gan_loss(real, True) + gan_loss(fake, False))


def detached_in_place(d, x, y, f):
    f.detach_()
    return halved(d(x, y), d(x, f))


def bce(logits, target, **kwargs):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target), **kwargs)


@pytest.mark.parametrize("loss_fn, message", [
    (stub, "not implemented"),
    (lambda d, x, y, f: halved(d(y, y), d(x, f.detach())), "real pair leaves out the input"),
    (lambda d, x, y, f: halved(d(x, y), d(f.detach(), f.detach())), "generated pair leaves out the input"),
    (lambda d, x, y, f: halved(d(x, y), d(f.detach(), x)), "generated pair is in the wrong order"),
    (lambda d, x, y, f: halved(d(y, x), d(f.detach(), x)), "wrong order"),
    (lambda d, x, y, f: 0.5 * (gan_loss(d(x, y), False) + gan_loss(d(x, f.detach()), True)), "swapped"),
    (lambda d, x, y, f: gan_loss(d(x, y), True) + gan_loss(d(x, f.detach()), False), "not halved"),
    (lambda d, x, y, f: halved(d(x, y).sigmoid(), d(x, f.detach()).sigmoid()), "sigmoid"),
    (lambda d, x, y, f: halved(d(x, y).mean((1, 2, 3)), d(x, f.detach()).mean((1, 2, 3))), "averaged"),
    (lambda d, x, y, f: 0.5 * gan_loss(d(x, y), True), "only the real pairs"),
    (lambda d, x, y, f: 0.5 * gan_loss(d(x, f.detach()), False), "only the generated pairs"),
    (lambda d, x, y, f: halved(d(x, y), d(x, f)), "gradients into the generator"),
    (lambda d, x, y, f: discriminator_loss(d, x, y, f).detach(), "no gradient for D"),
    (lambda d, x, y, f: halved(d(x, y), d(x, f.detach())).expand(2), "one number"),
    (lambda d, x, y, f: 0.3 * halved(d(x, y), d(x, f.detach())), "Expected"),
    # new: which term lost D's gradient, an in-place detach, soft labels, LSGAN, a sum over patches
    (lambda d, x, y, f: halved(d(x, y).detach(), d(x, f.detach())), "D learns only from the generated pairs"),
    (lambda d, x, y, f: halved(d(x, y), d(x, f).detach()), "D learns only from the real pairs"),
    (detached_in_place, "detached the generated images in place"),
    (one_call, "as one batch"),
    (in_eval_mode, "switched D to eval mode"),
    (lambda d, x, y, f: 0.5 * (bce(d(x, y), 0.9) + bce(d(x, f.detach()), 0.0)), "label smoothing"),
    (lambda d, x, y, f: 0.5 * (F.mse_loss(d(x, y), torch.ones_like(d(x, y)))
                               + F.mse_loss(d(x, f.detach()), torch.zeros_like(d(x, y)))), "LSGAN"),
    (lambda d, x, y, f: 0.5 * (bce(d(x, y), 1.0, reduction="sum")
                               + bce(d(x, f.detach()), 0.0, reduction="sum")),
     "summed, not averaged"),
    (lambda d, x, y, f: discriminator_loss(d, x, y, f) if len(x) > 1 else halved(d(y, y), d(x, f.detach())),
     "for a batch of one"),
])
def test_discriminator_loss_check_names_the_planted_bug(loss_fn, message):
    fails_naming(checks.check_discriminator_loss, loss_fn, message)


def test_the_exercise_buggy_loss_fails_the_check():
    def buggy(discriminator, inputs, targets, fakes):
        return gan_loss(discriminator(targets, targets), False) + gan_loss(discriminator(inputs, fakes), True)

    fails_naming(checks.check_discriminator_loss, buggy, "gradients into the generator")

    def detached_but_still_buggy(discriminator, inputs, targets, fakes):
        return buggy(discriminator, inputs, targets, fakes.detach())

    message = fails_naming(checks.check_discriminator_loss, detached_but_still_buggy, "Still 3 bug")
    assert all(phrase in message for phrase in ("real pair leaves out", "swapped", "not halved"))


SHARP, BLURRED, MIXED = [0.9, 0.8, 0.95, 0.85], [0.7, 0.6, 0.72, 0.66], [0.9, 0.5, 0.95, 0.4]


@pytest.mark.parametrize("prediction, sharpness, verdict", [
    ("pix2pix", {"pix2pix": SHARP, "L1 only": BLURRED}, "the run agrees"),
    ("L1 only", {"pix2pix": SHARP, "L1 only": BLURRED}, 'it shows "pix2pix"'),
    ("pix2pix", {"pix2pix": BLURRED, "L1 only": SHARP}, 'it shows "L1 only"'),
    ("pix2pix", {"pix2pix": MIXED, "L1 only": BLURRED}, "no verdict at this scale"),
    ("pix2pix", {"pix2pix": [0.9, -0.5], "L1 only": [0.7, 0.7]}, "cannot judge: a value"),
    ("pix2pix", {"pix2pix": SHARP}, "cannot judge: sharpness should map"),
    ("pix2pix", {"pix2pix": 0.9, "L1 only": 0.7}, "sharpness['pix2pix'] should hold one number per"),
])
def test_sharpness_prediction_judges_start_by_start(prediction, sharpness, verdict, capsys):
    checks.check_sharpness_prediction(prediction, "L1 averages", sharpness)
    out = capsys.readouterr().out
    assert verdict in out and "✅" not in out


@pytest.mark.parametrize("prediction, message", [(None, "still None"), ("both", "not one of")])
def test_sharpness_prediction_fails_when_blank_or_off_the_options(prediction, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_sharpness_prediction(prediction, "", {"pix2pix": SHARP, "L1 only": BLURRED})
