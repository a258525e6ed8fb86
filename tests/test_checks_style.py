"""The notebook-09 checks pass the reference and name each planted bug."""

import pytest
import torch.nn.functional as F

from dcgan_course.checks import style as checks
from dcgan_course.style import gram_matrix, style_loss


def stub(*args):
    raise NotImplementedError


def test_gram_check_passes_the_reference(capsys):
    checks.check_gram_matrix(gram_matrix)
    assert capsys.readouterr().out.startswith("✅")


def flat(f):
    return f.reshape(f.shape[0], f.shape[1], -1)


@pytest.mark.parametrize("gram_fn, message", [
    (stub, "not implemented"),
    (lambda f: flat(f) @ flat(f).transpose(1, 2), "not normalised"),
    (lambda f: flat(f) @ flat(f).transpose(1, 2) / (f.shape[2] * f.shape[3]), "H \\* W only"),
    (lambda f: flat(f) @ flat(f).transpose(1, 2) / f.shape[1], "C only"),
    (lambda f: flat(f) @ flat(f).transpose(1, 2) / f[0].numel() / f.shape[0], "batch size"),
    (lambda f: flat(f).transpose(1, 2) @ flat(f) / f[0].numel(), "F\\^T F"),
    (lambda f: (lambda m: m @ m.T / f.numel())(f.transpose(0, 1).reshape(f.shape[1], -1)), "mixed"),
])
def test_gram_check_names_the_planted_bug(gram_fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_gram_matrix(gram_fn)


def test_style_loss_check_passes_the_reference(capsys):
    checks.check_style_loss(style_loss)
    assert capsys.readouterr().out.startswith("✅")


def layers(features, grams):
    return list(zip(features, grams, strict=True))


@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("loss_fn, message", [
    (stub, "not implemented"),
    (lambda fs, gs: F.mse_loss(gram_matrix(fs[-1]), gs[-1]), "last layer"),
    (lambda fs, gs: sum(F.mse_loss(gram_matrix(f), g) for f, g in layers(fs, gs)) / len(fs), "averaged"),
    (lambda fs, gs: sum(F.l1_loss(gram_matrix(f), g) for f, g in layers(fs, gs)), "absolute"),
    (lambda fs, gs: sum(((gram_matrix(f) - g) ** 2).sum() for f, g in layers(fs, gs)), "summed the squared"),
    (lambda fs, gs: sum(F.mse_loss(f, g) for f, g in layers(fs, gs)), "raw features"),
    (lambda fs, gs: sum(F.mse_loss(gram_matrix(f), g) for f, g in layers(fs, gs)).detach(), "no gradient"),
])
def test_style_loss_check_names_the_planted_bug(loss_fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_style_loss(loss_fn)


def test_style_loss_check_blames_a_wrong_gram_matrix():
    def loss_with_unnormalised_gram(fs, gs):
        return sum(F.mse_loss(flat(f) @ flat(f).transpose(1, 2), g) for f, g in layers(fs, gs))

    with pytest.raises(AssertionError, match="check_gram_matrix"):
        checks.check_style_loss(loss_with_unnormalised_gram)
