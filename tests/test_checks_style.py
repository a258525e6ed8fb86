"""The notebook-09 checks pass the reference, name each planted mistake, and score predictions honestly."""

import pytest
import torch.nn.functional as F

from dcgan_course.checks import style as checks
from dcgan_course.style import gram_matrix


def stub(*args):
    raise NotImplementedError


def total_variation(x):
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def test_total_variation_check_passes_the_reference(capsys):
    checks.check_total_variation(total_variation)
    assert capsys.readouterr().out.startswith("✅")


def vertical(x):
    return x[..., 1:, :] - x[..., :-1, :]


def horizontal(x):
    return x[..., :, 1:] - x[..., :, :-1]


@pytest.mark.parametrize("tv_fn, message", [
    (stub, "not implemented"),
    (lambda x: vertical(x).abs().mean(), "vertical neighbours only"),
    (lambda x: horizontal(x).abs().mean(), "horizontal neighbours only"),
    (lambda x: vertical(x).pow(2).mean() + horizontal(x).pow(2).mean(), "squared"),
    (lambda x: vertical(x).abs().sum() + horizontal(x).abs().sum(), "summed, not averaged"),
    (lambda x: (x - x.roll(1, 2)).abs().mean() + (x - x.roll(1, 3)).abs().mean(), "wrap around"),
    (lambda x: (x[:, 1:] - x[:, :-1]).abs().mean(), "channel axis"),
    (lambda x: vertical(x).abs().mean((1, 2, 3)) + horizontal(x).abs().mean((1, 2, 3)), "one number"),
    (lambda x: total_variation(x).detach(), "no gradient"),
    (lambda x: (vertical(x) ** 2 + 1e-8).sqrt().mean() + (horizontal(x) ** 2 + 1e-8).sqrt().mean(),
     "constant image"),
    (lambda x: (vertical(x).pow(2)[..., :, :-1] + horizontal(x).pow(2)[..., :-1, :]).sqrt().mean(),
     "Expected"),
])
def test_total_variation_check_names_the_planted_mistake(tv_fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_total_variation(tv_fn)


def style_loss(features, target_grams):
    """The style loss written out, as a learner would (``style.style_loss`` is off-limits in the check)."""
    return sum(F.mse_loss(gram_matrix(f), g) for f, g in zip(features, target_grams, strict=True))


def test_style_loss_check_passes_the_reference(capsys):
    checks.check_style_loss(style_loss)
    assert capsys.readouterr().out.startswith("✅")


def layers(features, grams):
    return list(zip(features, grams, strict=True))


def flat(f):
    return f.reshape(f.shape[0], f.shape[1], -1)


@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("loss_fn, message", [
    (stub, "not implemented"),
    (lambda fs, gs: F.mse_loss(gram_matrix(fs[-1]), gs[-1]), "last layer"),
    (lambda fs, gs: F.mse_loss(gram_matrix(fs[0]), gs[0]), "first layer"),
    (lambda fs, gs: sum(F.mse_loss(gram_matrix(f), g) for f, g in layers(fs, gs)) / len(fs), "averaged"),
    (lambda fs, gs: sum(F.l1_loss(gram_matrix(f), g) for f, g in layers(fs, gs)), "absolute"),
    (lambda fs, gs: sum(((gram_matrix(f) - g) ** 2).sum() for f, g in layers(fs, gs)), "summed the squared"),
    (lambda fs, gs: sum(F.mse_loss(flat(f) @ flat(f).transpose(1, 2), g) for f, g in layers(fs, gs)),
     "not normalised"),
    (lambda fs, gs: sum(F.mse_loss(f, g) for f, g in layers(fs, gs)), "different shapes"),
    (lambda fs, gs: sum(F.mse_loss(gram_matrix(f), g) for f, g in layers(fs, gs)).detach(), "no gradient"),
])
def test_style_loss_check_names_the_planted_mistake(loss_fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_style_loss(loss_fn)


@pytest.mark.parametrize("prediction, changes, verdict", [
    ("early", [0.5, 0.3, 0.1], "the run agrees"),
    ("late", [0.5, 0.3, 0.1], 'it shows "early"'),
    ("late", [0.1, 0.2, 0.3], "the run agrees"),
    ("late", [50.0, 300.0], "cannot judge: a value of gram_changes is 300, outside"),
    ("late", [0.5], "cannot judge: gram_changes should hold one number per repeat"),
])
def test_texture_prediction_commits_a_guess_and_reports_the_run(prediction, changes, verdict, capsys):
    checks.check_texture_prediction(prediction, "blur removes fine detail", changes)
    out = capsys.readouterr().out
    assert verdict in out and "✅" not in out


@pytest.mark.parametrize("prediction, message", [(None, "still None"), ("middle", "not one of")])
def test_texture_prediction_fails_when_blank_or_off_the_options(prediction, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_texture_prediction(prediction, "", [0.5, 0.1])

