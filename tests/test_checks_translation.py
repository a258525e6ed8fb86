"""The notebook-08 checks pass the reference, name each planted bug, and score predictions honestly."""

import pytest
import torch

from dcgan_course import translation
from dcgan_course.checks import translation as checks
from dcgan_course.train import gan_loss


def stub(*args):
    raise NotImplementedError


def l1_best_output(values, probabilities):
    order = values.argsort()
    cumulative = probabilities[order].cumsum(0)
    return values[order][cumulative >= 0.5 - 1e-6][0].item()


def test_l1_best_output_check_passes_the_reference_and_any_value_of_a_tie(capsys):
    checks.check_l1_best_output(l1_best_output)
    checks.check_l1_best_output(lambda v, p: l1_best_output(v, p) if p.max() > 0.5 or len(v) > 2 else 0.3)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("✅") for line in lines)


def test_the_check_cases_tell_the_statistics_apart():
    for values, probabilities in checks.L1_CASES.values():
        values, probabilities = torch.tensor(values), torch.tensor(probabilities)
        best = checks.expected_l1(l1_best_output(values, probabilities), values, probabilities)
        assert best <= checks.expected_l1(float((values * probabilities).sum()), values, probabilities)


def unsorted_cumsum(values, probabilities):
    return values[(probabilities.cumsum(0) >= 0.5).nonzero()[0, 0]].item()


@pytest.mark.parametrize("output_fn, message", [
    (stub, "not implemented"),
    (lambda v, p: (v * p).sum().item(), "mean of the targets"),
    (lambda v, p: v[p.argmax()].item(), "most probable value"),
    (lambda v, p: v.median().item(), "probabilities ignored"),
    (unsorted_cumsum, "sort the values first"),
    (lambda v, p: l1_best_output(v, p) + 0.1, "above the least possible"),
    (lambda v, p: [l1_best_output(v, p)], "one number"),
])
def test_l1_best_output_check_names_the_planted_mistake(output_fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_l1_best_output(output_fn)


def discriminator_loss(discriminator, inputs, targets, fakes):
    real = discriminator(inputs, targets)
    fake = discriminator(inputs, fakes.detach())
    return 0.5 * (gan_loss(real, True) + gan_loss(fake, False))


def test_discriminator_loss_check_passes_the_reference_and_the_package_loss(capsys):
    checks.check_discriminator_loss(discriminator_loss)
    checks.check_discriminator_loss(lambda d, x, y, f: translation.pix2pix_discriminator_loss(
        d(x, y), d(x, f.detach())))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("✅") for line in lines)


def test_discriminator_loss_check_accepts_one_call_on_a_batch_of_both_pairs():
    def one_call(d, x, y, f):
        logits = d(torch.cat([x, x]), torch.cat([y, f.detach()]))
        real, fake = logits.chunk(2)
        return 0.5 * (gan_loss(real, True) + gan_loss(fake, False))

    checks.check_discriminator_loss(one_call)


def halved(real, fake):
    return 0.5 * (gan_loss(real, True) + gan_loss(fake, False))


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
])
def test_discriminator_loss_check_names_the_planted_bug(loss_fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_discriminator_loss(loss_fn)


def test_the_exercise_buggy_loss_fails_the_check():
    def buggy(discriminator, inputs, targets, fakes):
        return gan_loss(discriminator(targets, targets), False) + gan_loss(discriminator(inputs, fakes), True)

    with pytest.raises(AssertionError, match="gradients into the generator"):
        checks.check_discriminator_loss(buggy)

    def detached_but_still_buggy(discriminator, inputs, targets, fakes):
        return buggy(discriminator, inputs, targets, fakes.detach())

    with pytest.raises(AssertionError, match="Still 3 bug.*real pair leaves out.*swapped.*not halved"):
        checks.check_discriminator_loss(detached_but_still_buggy)


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
