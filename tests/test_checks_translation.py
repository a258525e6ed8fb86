"""The notebook-08 checks pass the reference and name each planted bug."""

import pytest
import torch

from dcgan_course.checks import translation as checks
from dcgan_course.train import gan_loss
from dcgan_course.translation import UNetBlock, pix2pix_generator_loss


def block_with(forward):
    return type("PlantedBlock", (UNetBlock,), {"forward": forward})


def test_skip_block_check_passes_the_reference(capsys):
    checks.check_skip_block(UNetBlock)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize("forward, message", [
    (lambda self, x: (_ for _ in ()).throw(NotImplementedError), "not implemented"),
    (lambda self, x: torch.cat([x, self.up(self.inner(self.down(x)))], dim=0), "dim=0"),
    (lambda self, x: torch.cat([x, self.up(self.inner(self.down(x)))], dim=2), "spatial"),
    (lambda self, x: torch.cat([self.up(self.inner(self.down(x))), x], dim=1), "wrong order"),
    (lambda self, x: x + self.up(self.inner(self.down(x))), "added"),
    (lambda self, x: self.up(self.inner(self.down(x))), "skip connection is missing"),
    (lambda self, x: torch.cat([x, self.up(self.down(x))], dim=1), "self.inner"),
])
def test_skip_block_check_names_the_planted_bug(forward, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_skip_block(block_with(forward))


def test_generator_loss_check_passes_the_reference(capsys):
    checks.check_generator_loss(pix2pix_generator_loss)
    assert capsys.readouterr().out.startswith("✅")


def l1(fake, target):
    return (fake - target).abs().mean()


@pytest.mark.parametrize("loss_fn, message", [
    (lambda lg, f, t, l1_weight=100.0: (_ for _ in ()).throw(NotImplementedError), "not implemented"),
    (lambda lg, f, t, l1_weight=100.0: gan_loss(lg, True) + l1(f, t), "not multiplied by l1_weight"),
    (lambda lg, f, t, l1_weight=100.0: gan_loss(lg, False) + l1_weight * l1(f, t), "fake labels"),
    (lambda lg, f, t, l1_weight=100.0: gan_loss(lg, True) + l1_weight * ((f - t) ** 2).mean(), "squared"),
    (lambda lg, f, t, l1_weight=100.0: gan_loss(lg, True), "L1 term is missing"),
    (lambda lg, f, t, l1_weight=100.0: l1_weight * l1(f, t), "adversarial term is missing"),
    (lambda lg, f, t, l1_weight=100.0: gan_loss(lg, True) + 100.0 * l1(f, t), "ignores the l1_weight"),
    (lambda lg, f, t, l1_weight=100.0: (gan_loss(lg, True) + l1_weight * l1(f, t)).detach(), "no gradient"),
])
def test_generator_loss_check_names_the_planted_bug(loss_fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_generator_loss(loss_fn)
