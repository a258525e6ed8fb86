"""The notebook-09 checks pass correct answers written several ways, name each planted mistake, and score
predictions honestly."""

import pytest
import torch
import torch.nn.functional as F
from check_helpers import fails_naming, passes_with_verified_line
from torch import nn

from dcgan_course.checks import style as checks
from dcgan_course.style import gram_matrix


def stub(*args):
    raise NotImplementedError


def total_variation(x):
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def total_variation_diff(x):
    """torch.diff along each spatial axis, in float64, cast back."""
    x64 = x.double()
    return sum(torch.diff(x64, dim=axis).abs().mean() for axis in (-2, -1)).to(x.dtype)


def total_variation_l1_loss(x):
    """F.l1_loss between the image and itself shifted by one row, and by one column."""
    return F.l1_loss(x[:, :, 1:], x[:, :, :-1]) + F.l1_loss(x[:, :, :, 1:], x[:, :, :, :-1])


@pytest.mark.parametrize("candidate", [total_variation, total_variation_diff, total_variation_l1_loss])
def test_total_variation_check_passes_correct_answers_with_the_verified_line(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(checks.check_total_variation, candidate, capsys, monkeypatch)
    assert "gradient with respect to the image" in line and "exactly 0 on a constant image" in line


def vertical(x):
    return x[..., 1:, :] - x[..., :-1, :]


def horizontal(x):
    return x[..., :, 1:] - x[..., :, :-1]


def under_no_grad(x):
    with torch.no_grad():
        return total_variation(x)


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
    (under_no_grad, "no gradient"),
    (lambda x: (vertical(x) ** 2 + 1e-8).sqrt().mean() + (horizontal(x) ** 2 + 1e-8).sqrt().mean(),
     "constant image"),
    (lambda x: (vertical(x).pow(2)[..., :, :-1] + horizontal(x).pow(2)[..., :-1, :]).sqrt().mean(),
     "Expected"),
    # new: the wrong count of pairs, a common crop, slices one short, half the graph detached
    (lambda x: (vertical(x).abs().sum() + horizontal(x).abs().sum()) / x.numel(), "number of pixels"),
    (lambda x: (vertical(x).abs()[..., :, :-1] + horizontal(x).abs()[..., :-1, :]).mean(),
     "common (H-1)×(W-1)"),
    (lambda x: vertical(x)[..., :-1, :].abs().mean() + horizontal(x)[..., :, :-1].abs().mean(),
     "stop one short"),
    (lambda x: (x[..., 1:, :] - x[..., :-1, :].detach()).abs().mean() + horizontal(x).abs().mean(),
     "detached copy"),
    (lambda x: total_variation(x) if x.shape[0] > 1 else vertical(x).abs().mean(), "one 1-channel image"),
])
def test_total_variation_check_names_the_planted_mistake(tv_fn, message):
    fails_naming(checks.check_total_variation, tv_fn, message)


def test_the_squared_tv_message_says_which_way_squares_push_edges():
    """The message's claim, measured: squared differences charge one sharp edge k times more than the same
    rise in k steps; absolute differences charge both the same."""
    rise, steps = 1.0, 4
    sharp = torch.zeros(1, 1, 1, 8)
    sharp[..., 4:] = rise
    ramp = torch.zeros(1, 1, 1, 8)
    ramp[..., 2:7] = torch.linspace(0, rise, steps + 1)
    ramp[..., 7:] = rise
    images = {"sharp": sharp, "ramp": ramp}
    squared = {name: horizontal(image).pow(2).sum().item() for name, image in images.items()}
    absolute = {name: horizontal(image).abs().sum().item() for name, image in images.items()}
    assert squared["sharp"] == pytest.approx(steps * squared["ramp"])
    assert absolute["sharp"] == pytest.approx(absolute["ramp"])
    message = next(text for text in checks.total_variation_variants(sharp) if "squared" in text)
    assert "one step h², but the same rise spread over k small steps only" in message
    assert "smears every edge into a ramp" in message


def style_loss(features, target_grams):
    """The style loss written out, as a learner would (``style.style_loss`` is off-limits in the check)."""
    return sum(F.mse_loss(gram_matrix(f), g) for f, g in zip(features, target_grams, strict=True))


def style_loss_loop(features, target_grams):
    """A loop that accumulates ((G - A)²).mean() in float64."""
    total = torch.zeros((), dtype=torch.float64)
    for layer, target in zip(features, target_grams, strict=True):
        total = total + ((gram_matrix(layer.double()) - target.double()) ** 2).mean()
    return total.float()


def style_loss_module(features, target_grams):
    """nn.MSELoss on stacked per-layer terms."""
    criterion = nn.MSELoss()
    terms = [criterion(gram_matrix(f), g) for f, g in zip(features, target_grams, strict=True)]
    return torch.stack(terms).sum()


@pytest.mark.parametrize("candidate", [style_loss, style_loss_loop, style_loss_module])
def test_style_loss_check_passes_correct_answers_with_the_verified_line(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(checks.check_style_loss, candidate, capsys, monkeypatch)
    assert "every layer's features" in line and "batch of two" in line


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
    # new: normalised twice, the targets' Grams taken again, one layer detached, one image of the batch
    (lambda fs, gs: sum(F.mse_loss(gram_matrix(f) / f[0].numel(), g) for f, g in layers(fs, gs)),
     "normalised twice"),
    (lambda fs, gs: sum(F.mse_loss(gram_matrix(f), gram_matrix(g)) for f, g in layers(fs, gs)),
     "already Gram matrices"),
    (lambda fs, gs: sum(F.mse_loss(gram_matrix(f.detach() if i == 0 else f), g)
                        for i, (f, g) in enumerate(layers(fs, gs))), "layer 0's features get no gradient"),
    (lambda fs, gs: sum(F.mse_loss(gram_matrix(f)[0], g[0]) for f, g in layers(fs, gs)),
     "only the first image of the batch"),
])
def test_style_loss_check_names_the_planted_mistake(loss_fn, message):
    fails_naming(checks.check_style_loss, loss_fn, message)


def test_the_package_answer_stays_off_limits():
    from dcgan_course import style

    fails_naming(checks.check_style_loss, style.style_loss, "the package's own answer", "off-limits")


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

