"""Notebook 03's checks: correct implementations written differently pass under every grader seed with
the line of what was verified; each planted mistake fails with a message naming the term, the side,
the mode or the batch it got wrong (docs/common_mistakes.md, section 03).
"""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F
from check_helpers import fails_naming, passes_with_verified_line
from torch import nn

from dcgan_course.checks import gan_losses, training

LSGAN = partial(gan_losses.check_gan_losses, kind="lsgan")
HINGE = partial(gan_losses.check_gan_losses, kind="hinge")


# ------------------------------------------------------------------ the losses: correct, written differently

def lsgan_mse(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LSGAN with F.mse_loss against built targets."""
    loss_d = 0.5 * F.mse_loss(real, torch.ones_like(real)) + 0.5 * F.mse_loss(fake, torch.zeros_like(fake))
    return loss_d, 0.5 * F.mse_loss(fake, torch.ones_like(fake))


def lsgan_loop_float64(real: torch.Tensor, fake: torch.Tensor) -> list[torch.Tensor]:
    """LSGAN in float64, summed in a Python loop and divided by the batch size; returned as a list."""
    real, fake = real.double(), fake.double()
    loss_d = sum(((r - 1) ** 2 for r in real), torch.zeros((), dtype=torch.float64)) / (2 * len(real))
    loss_d = loss_d + sum((f**2 for f in fake), torch.zeros((), dtype=torch.float64)) / (2 * len(fake))
    loss_g = sum(((f - 1) ** 2 for f in fake), torch.zeros((), dtype=torch.float64)) / (2 * len(fake))
    return [loss_d, loss_g]


def lsgan_module(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LSGAN with an nn.MSELoss module and targets from torch.full_like."""
    mse = nn.MSELoss()
    loss_d = (mse(real, torch.full_like(real, 1.0)) + mse(fake, torch.full_like(fake, 0.0))) / 2
    return loss_d, mse(fake, torch.full_like(fake, 1.0)).div(2)


def hinge_maximum(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hinge with torch.maximum against zeros and an nn.ReLU module for the fake side."""
    relu = nn.ReLU()
    loss_d = torch.maximum(torch.zeros_like(real), 1 - real).mean() + relu(1 + fake).mean()
    return loss_d, fake.mean().neg()


def hinge_loop_float64(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hinge in float64, element by element with clamp."""
    loss_d = torch.stack([(1 - r.double()).clamp(min=0) for r in real]).mean()
    loss_d = loss_d + torch.stack([(1 + f.double()).clamp(min=0) for f in fake]).mean()
    return loss_d, -torch.stack([f.double() for f in fake]).sum() / len(fake)


@pytest.mark.parametrize(("check", "loss_pair"), [
    (LSGAN, lsgan_mse), (LSGAN, lsgan_loop_float64), (LSGAN, lsgan_module),
    (HINGE, hinge_maximum), (HINGE, hinge_loop_float64),
], ids=["lsgan_mse", "lsgan_loop_float64", "lsgan_module", "hinge_maximum", "hinge_loop_float64"])
def test_correct_losses_written_differently_pass(check, loss_pair, capsys, monkeypatch):
    line = passes_with_verified_line(check, loss_pair, capsys, monkeypatch)
    assert "batch of one" in line and "far from 0" in line


# ------------------------------------------------------------------ the losses: one planted mistake each

def lsgan(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(), 0.5 * ((fake - 1) ** 2).mean()


def hinge(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean(), -fake.mean()


@pytest.mark.parametrize(("check", "mistake", "phrases"), [
    # one term of loss_d wrong: the message says which term and how
    (LSGAN, lambda r, f: (0.5 * (r**2).mean() + 0.5 * (f**2).mean(), lsgan(r, f)[1]),
     ("loss_d's real term", "pulls real outputs to 0")),
    (LSGAN, lambda r, f: (0.5 * ((r.sigmoid() - 1) ** 2).mean() + 0.5 * (f**2).mean(), lsgan(r, f)[1]),
     ("loss_d's real term", "a sigmoid first")),
    (LSGAN, lambda r, f: (0.5 * ((r - 1) ** 2).mean() + (f**2).mean(), lsgan(r, f)[1]),
     ("loss_d's fake term", "factor 1/2 is missing")),
    (LSGAN, lambda r, f: (0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).sum(), lsgan(r, f)[1]),
     ("loss_d's fake term", "sums over the batch")),
    (LSGAN, lambda r, f: (0.5 * ((r.detach() - 1) ** 2).mean() + 0.5 * (f**2).mean(), lsgan(r, f)[1]),
     ("loss_d's real term", "no gradient with respect to the real outputs")),
    (LSGAN, lambda r, f: (0.5 * ((r - 0.5) ** 2).mean() + 0.5 * (f**2).mean(), lsgan(r, f)[1]),
     ("loss_d's real term", "towards 0.5")),
    (LSGAN, lambda r, f: (0.5 * F.mse_loss(torch.cat([r, f]), torch.cat([r * 0 + 1, f * 0])), lsgan(r, f)[1]),
     ("loss_d (both terms)", "one mean over the real and fake outputs together")),
    # loss_g wrong
    (LSGAN, lambda r, f: (lsgan(r, f)[0], 0.5 * ((f - 1) ** 2).sum()), ("loss_g", "sums over the batch")),
    (LSGAN, lambda r, f: (lsgan(r, f)[0], -0.5 * (f**2).mean()), ("loss_g", "minimax")),
    (LSGAN, lambda r, f: (lsgan(r, f)[0], lsgan(r, f)[1] + 0.5 * ((r - 1) ** 2).mean()),
     ("loss_g", "depends on the real outputs")),
    (HINGE, lambda r, f: (hinge(r, f)[0], f.mean()), ("loss_g", "its sign is flipped")),
    # hinge terms
    (HINGE, lambda r, f: (F.relu(-r).mean() + F.relu(1 + f).mean(), -f.mean()),
     ("loss_d's real term", "the margin is missing")),
    (HINGE, lambda r, f: ((1 - r).mean() + F.relu(1 + f).mean(), -f.mean()),
     ("loss_d's real term", "no hinge")),
    (HINGE, lambda r, f: (F.relu(1 - r).mean() + F.relu(1 - f).mean(), -f.mean()),
     ("loss_d's fake term", "real term's sign")),
    (HINGE, lambda r, f: (F.relu(1 - r).mean() + F.softplus(1 + f).mean(), -f.mean()),
     ("loss_d's fake term", "differs from the formula's")),
    (HINGE, lambda r, f: (hinge(r, f)[0] + 1, hinge(r, f)[1]), ("loss_d", "value is off by +1")),
    # batch sizes and far outputs
    (LSGAN, lambda r, f: (((r - 1) ** 2).sum() / 32 + (f**2).sum() / 32, ((f - 1) ** 2).sum() / 32),
     ("a batch of one", "times the formula's")),
    (HINGE, lambda r, f: hinge(r.clamp(-20, 20), f.clamp(-20, 20)), ("far from 0", "loss_g")),
    (LSGAN, lambda r, f: lsgan(r.clamp(-25, 25), f.clamp(-25, 25)),
     ("far from 0", "loss_d's real term", "loss_g")),
])
def test_a_planted_loss_mistake_is_named_with_its_term(check, mistake, phrases):
    fails_naming(check, mistake, *phrases)


# ------------------------------------------------------------------ the D step: correct, written differently

def step_bce_module(generator, discriminator, optimizer, real_images, noise):
    """nn.BCEWithLogitsLoss, fakes detached after the forward pass, zero_grad(set_to_none=True)."""
    optimizer.zero_grad(set_to_none=True)
    bce = nn.BCEWithLogitsLoss()
    fake_images = generator(noise).detach()
    real_logits, fake_logits = discriminator(real_images), discriminator(fake_images)
    loss = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
    loss.backward()
    optimizer.step()
    return {"loss_d": loss.item(), "d_real": torch.sigmoid(real_logits).mean().item(),
            "d_fake": torch.sigmoid(fake_logits).mean().item()}


def step_logsigmoid_float64(generator, discriminator, optimizer, real_images, noise):
    """-log σ written with logsigmoid in float64, two backward passes, the halved loss reported."""
    discriminator.zero_grad()
    with torch.no_grad():
        fake_images = generator(noise)
    real_logits = discriminator(real_images).double()
    real_loss = -F.logsigmoid(real_logits).mean()
    real_loss.backward()
    fake_logits = discriminator(fake_images).double()
    fake_loss = -F.logsigmoid(-fake_logits).mean()
    fake_loss.backward()
    optimizer.step()
    probabilities = [logits.detach().sigmoid().mean().item() for logits in (real_logits, fake_logits)]
    return {"loss_d": float(((real_loss + fake_loss) / 2).detach()), "d_real": probabilities[0],
            "d_fake": probabilities[1]}


def step_softplus_loop(generator, discriminator, optimizer, real_images, noise):
    """softplus per image in a loop over the batch (logits from one D call per batch)."""
    optimizer.zero_grad()
    with torch.no_grad():
        fake_images = generator(noise)
    real_logits, fake_logits = discriminator(real_images), discriminator(fake_images)
    real_terms = [F.softplus(-logit) for logit in real_logits]
    fake_terms = [F.softplus(logit) for logit in fake_logits]
    loss = sum(real_terms) / len(real_terms) + sum(fake_terms) / len(fake_terms)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        d_real = sum(torch.sigmoid(logit) for logit in real_logits) / len(real_logits)
        d_fake = sum(torch.sigmoid(logit) for logit in fake_logits) / len(fake_logits)
    return {"loss_d": loss.item(), "d_real": d_real.item(), "d_fake": d_fake.item()}


@pytest.mark.parametrize("step", [step_bce_module, step_logsigmoid_float64, step_softplus_loop])
def test_correct_discriminator_steps_written_differently_pass(step, capsys, monkeypatch):
    line = passes_with_verified_line(training.check_discriminator_step, step, capsys, monkeypatch)
    assert "eval mode" in line and "batch of one" in line and "±120" in line


# ------------------------------------------------------------------ the D step: one planted mistake each

def step_with(generator, discriminator, optimizer, real_images, noise, *, loss_real=None, loss_fake=None,
              report=None, before=None, fakes=None, logits=None, after=None):
    """A correct D step whose parts a test replaces one at a time."""
    if before:
        before(generator, discriminator)
    optimizer.zero_grad()
    with torch.no_grad():
        fake_images = fakes(generator, noise) if fakes else generator(noise)
    if logits:
        real_logits, fake_logits = logits(discriminator, real_images, fake_images)
    else:
        real_logits, fake_logits = discriminator(real_images), discriminator(fake_images)
    loss_real = loss_real or (lambda r: F.binary_cross_entropy_with_logits(r, torch.ones_like(r)))
    loss_fake = loss_fake or (lambda f: F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))
    real_loss, fake_loss = loss_real(real_logits), loss_fake(fake_logits)
    loss = real_loss + fake_loss
    loss.backward()
    optimizer.step()
    if after:
        after(generator, discriminator)
    if report:
        return report(loss, real_loss, real_logits.detach(), fake_logits.detach())
    return {"loss_d": loss.item(), "d_real": real_logits.sigmoid().mean().item(),
            "d_fake": fake_logits.sigmoid().mean().item()}


def eval_fakes(generator, noise):
    """G switched to eval mode to make the fakes, then back (pytorch/examples#804)."""
    generator.eval()
    images = generator(noise)
    generator.train()
    return images


def squeezed_logits(discriminator, real_images, fake_images):
    """.squeeze() on D's output, then targets from the batch size (breaks on a batch of one)."""
    return discriminator(real_images).squeeze(), discriminator(fake_images).squeeze()


def mixed_batch(discriminator, real_images, fake_images):
    both = discriminator(torch.cat([real_images, fake_images]))
    return both[: len(real_images)], both[len(real_images):]


def nudge_generator(generator, discriminator):
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.mul_(1.01)


@pytest.mark.parametrize(("parts", "phrases"), [
    (dict(report=lambda loss, real, r, f: {"loss_d": loss.item(), "d_real": r.mean().sigmoid().item(),
                                            "d_fake": f.sigmoid().mean().item()}),
     ("d_real is the sigmoid of the batch's mean logit",)),
    (dict(report=lambda loss, real, r, f: {"loss_d": loss.item(), "d_real": r.sigmoid().mean().item(),
                                            "d_fake": f.mean().sigmoid().item()}),
     ("d_fake is the sigmoid of the batch's mean logit",)),
    (dict(report=lambda loss, real, r, f: {"loss_d": real.item(), "d_real": r.sigmoid().mean().item(),
                                            "d_fake": f.sigmoid().mean().item()}),
     ("loss_d reports only the real term",)),
    (dict(report=lambda loss, real, r, f: {"loss_d": loss.detach(), "d_real": r.sigmoid().mean(),
                                            "d_fake": f.sigmoid().mean()}),
     ("should be a Python float (use .item())",)),
    (dict(report=lambda loss, real, r, f: {"loss_d": loss.item(), "d_real": f.sigmoid().mean().item(),
                                            "d_fake": r.sigmoid().mean().item()}),
     ("d_real and d_fake are swapped",)),
    (dict(before=lambda g, d: d.train()),
     ("left the discriminator in train mode", "handed over in eval mode")),
    (dict(before=lambda g, d: g.train()), ("left the generator in train mode", "handed over in eval mode")),
    (dict(after=lambda g, d: g.eval()), ("left the generator in eval mode", "handed over in train mode")),
    (dict(fakes=eval_fakes), ("ran the generator in eval mode", "handed over in train mode")),
    (dict(logits=squeezed_logits, loss_real=lambda r: F.binary_cross_entropy_with_logits(
        r, torch.ones(r.numel() if r.dim() else 1)), loss_fake=lambda f: F.binary_cross_entropy_with_logits(
        f, torch.zeros(f.numel() if f.dim() else 1))), ("batch of ONE", ".squeeze()")),
    (dict(logits=mixed_batch), ("as one batch", "BatchNorm")),
    (dict(after=nudge_generator), ("changed the generator's weights",)),
    (dict(loss_real=lambda r: F.binary_cross_entropy(r.sigmoid(), torch.ones_like(r)),
          loss_fake=lambda f: F.binary_cross_entropy(f.sigmoid(), torch.zeros_like(f))),
     ("not numerically stable in the real term", "binary_cross_entropy_with_logits")),
    (dict(loss_fake=lambda f: -torch.log(1 - torch.sigmoid(f) + 1e-8).mean()),
     ("not numerically stable in the fake term",)),
    (dict(loss_fake=lambda f: -torch.log(1 - torch.sigmoid(f)).mean()),
     ("not numerically stable in the fake term", "not finite")),
    (dict(loss_real=lambda r: F.binary_cross_entropy_with_logits(r.clamp(-50, 50), torch.ones_like(r))),
     ("not numerically stable in the real term",)),
])
def test_a_planted_step_mistake_is_named(parts, phrases):
    fails_naming(training.check_discriminator_step, partial(step_with, **parts), *phrases)
