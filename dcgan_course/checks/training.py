"""Checks for the training exercises (notebook 03): LSGAN and hinge losses, a repaired D step,
and the prediction about which D loss pushes hardest on a fake that D confidently calls real.

The loss checks compare values and gradients on seeded outputs with ``losses`` and name the
variant a learner's version matches. The step check runs the learner's step with plain SGD
(lr 1) on small seeded networks, so the parameter change *is* minus the gradient it applied, and
compares it with the gradient of the intended loss; the cosine names the likely bug.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses, models
from . import call_learner, cannot_judge, commit_prediction, expect, expect_tensor, judge_prediction, passed
from .shortcuts import off_limits

STEP_LEARNING_RATE = 1.0  # plain SGD with lr 1: the parameter change *is* minus the gradient
SAME_DIRECTION = 0.99  # cosine above which two updates count as the same


@dataclass
class StepFixture:
    """Small seeded networks (in eval mode, so batching cannot matter), inputs and an SGD optimiser."""

    generator: models.Generator
    discriminator: models.Discriminator
    real_images: torch.Tensor
    noise: torch.Tensor


def step_fixture() -> StepFixture:
    """Build the networks and inputs every step check uses."""
    torch.manual_seed(0)
    generator = models.Generator(latent_dim=16, image_size=32, channels=1, base_width=8).eval()
    discriminator = models.Discriminator(image_size=32, channels=1, base_width=8).eval()
    rng = torch.Generator().manual_seed(1)
    real_images = torch.rand(8, 1, 32, 32, generator=rng) * 2 - 1
    noise = torch.randn(8, 16, generator=rng)
    return StepFixture(generator, discriminator, real_images, noise)


def flat_gradient(loss: torch.Tensor, parameters: list[nn.Parameter]) -> torch.Tensor:
    """The gradient of ``loss`` with respect to ``parameters``, as one vector (no side effects)."""
    gradients = torch.autograd.grad(loss, parameters, retain_graph=True)
    return torch.cat([gradient.flatten() for gradient in gradients])


def flatten(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate tensors into one vector."""
    return torch.cat([tensor.detach().flatten() for tensor in tensors])


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two vectors."""
    return F.cosine_similarity(a, b, dim=0).item()


def stale_gradients(parameters: list[nn.Parameter], scale: float) -> torch.Tensor:
    """Fill ``.grad`` with seeded leftovers, as if a previous step had not been cleared; returns them."""
    rng = torch.Generator().manual_seed(2)
    for parameter in parameters:
        parameter.grad = torch.randn(parameter.shape, generator=rng) * scale
    return flatten([parameter.grad for parameter in parameters])


def run_step(
    step: Callable[..., dict], name: str, parameters: list[nn.Parameter], *args: object
) -> tuple[dict, torch.Tensor]:
    """Call the learner's step; return its result and the gradient it applied (from the SGD update)."""
    before = flatten(parameters)
    result = call_learner(name, f"{name}(...)", step, *args)
    expect(isinstance(result, dict), f"{name} should return a dict of floats, got {type(result).__name__}.")
    return result, (before - flatten(parameters)) / STEP_LEARNING_RATE


def expect_float_entries(result: dict, keys: tuple[str, ...], name: str) -> None:
    """The step's result must hold plain Python floats under ``keys``."""
    missing = [key for key in keys if key not in result]
    expect(not missing, f"{name} must return a dict with {list(keys)}; missing {missing}.")
    for key in keys:
        expect(isinstance(result[key], float), f"{name}: '{key}' should be a Python float (use .item()), "
                                               f"got {type(result[key]).__name__}.")


@off_limits
def check_discriminator_step(step: Callable[..., dict]) -> None:
    """``step(generator, discriminator, optimizer, real_images, noise)`` = one D update on
    BCE(D(x), 1) + BCE(D(G(z)), 0) with G held fixed; returns loss_d, d_real, d_fake."""
    name = "discriminator_step"
    fx = step_fixture()
    d_params = list(fx.discriminator.parameters())
    fake_images = fx.generator(fx.noise).detach()
    real_logits, fake_logits = fx.discriminator(fx.real_images), fx.discriminator(fake_images)
    real_loss, fake_loss = F.softplus(-real_logits).mean(), F.softplus(fake_logits).mean()  # BCE vs 1 / vs 0
    intended = flat_gradient(real_loss + fake_loss, d_params)
    swapped = flat_gradient(F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean(), d_params)
    real_probability, fake_probability = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    squashed_twice = flat_gradient(F.softplus(-real_probability).mean() + F.softplus(fake_probability).mean(),
                                   d_params)
    real_only = flat_gradient(real_loss, d_params)
    all_real = flat_gradient(real_loss + F.softplus(-fake_logits).mean(), d_params)
    stale = stale_gradients(d_params, scale=3 * intended.abs().mean().item())
    optimizer = torch.optim.SGD(d_params, lr=STEP_LEARNING_RATE)
    result, applied = run_step(step, name, d_params, fx.generator, fx.discriminator, optimizer,
                               fx.real_images, fx.noise)
    leaked = [p for p in fx.generator.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    expect(not leaked, "The D step sent gradients into the generator: the fakes are not detached, so "
                       "backward() also runs through G (wasted work, and G's gradients pile up for its next "
                       "step). Detach the generated images in the D step (lecture 03, §3).")
    expect(applied.abs().sum() > 0, f"{name} did not change the discriminator: call loss.backward() and "
                                    "optimizer.step().")
    expect_same_direction(applied, intended, stale, {
        "swapped real/fake labels: D learned to call real images fake. Real images need target 1, "
        "fakes target 0": swapped,
        "a sigmoid before a with-logits loss: the loss squashes D's output a second time, so D's gradient "
        "nearly vanishes. Give the loss D's raw logits (lecture 02, §4)": squashed_twice,
        "only the real half of the loss: D must also learn to call the fakes fake (target 0)": real_only,
        "the fakes are labelled real: D learns to call everything real. Fakes need target 0": all_real,
    }, name, "BCE(D(x), 1) + BCE(D(G(z).detach()), 0)")
    expect_float_entries(result, ("loss_d", "d_real", "d_fake"), name)
    loss = (real_loss + fake_loss).item()
    expect(any(abs(result["loss_d"] - value) < 1e-4 for value in (loss, loss / 2)),
           f"{name}: loss_d is {result['loss_d']:.4f}, expected {loss:.4f} "
           "(BCE(D(x), 1) + BCE(D(G(z)), 0)).")
    expect_probabilities(result, real_logits.detach(), fake_logits.detach(), name)
    passed(f"{name}: D learns real -> 1, fake -> 0, G stays untouched (detach), "
           "loss_d / d_real / d_fake reported as floats.")


def expect_same_direction(
    applied: torch.Tensor,
    intended: torch.Tensor,
    stale: torch.Tensor,
    known_bugs: dict[str, torch.Tensor],
    name: str,
    loss_text: str,
) -> None:
    """The applied update must follow the intended gradient; otherwise name the bug it matches."""
    if cosine(applied, intended) > SAME_DIRECTION:
        return
    expect(cosine(applied - stale, intended) < SAME_DIRECTION,
           f"{name} kept gradients from the previous step: clear the optimiser's gradients before "
           "back-propagating, or each step adds the last one's (lecture 03, §3).")
    for bug, gradient in known_bugs.items():
        expect(cosine(applied, gradient) < SAME_DIRECTION, f"{name}: {bug}.")
    raise AssertionError(f"{name} updated the weights in a different direction from the loss {loss_text} "
                         f"(cosine similarity {cosine(applied, intended):.2f}).")


def expect_probabilities(
    result: dict, real_logits: torch.Tensor, fake_logits: torch.Tensor, name: str
) -> None:
    """d_real / d_fake must be the mean sigmoid of D's logits on real / fake images."""
    got_real, got_fake = result["d_real"], result["d_fake"]
    d_real, d_fake = torch.sigmoid(real_logits).mean().item(), torch.sigmoid(fake_logits).mean().item()
    if abs(got_real - d_real) < 1e-3 and abs(got_fake - d_fake) < 1e-3:
        return
    looks_like_logits = abs(got_real - real_logits.mean().item()) < 1e-3
    expect(0 < got_real < 1 and 0 < got_fake < 1 and not looks_like_logits,
           f"{name}: d_real / d_fake should be D's mean probabilities (its logits through a sigmoid, "
           "averaged over the batch), not raw logits (lecture 02, §4); "
           f"got {got_real:.3f} / {got_fake:.3f}.")
    expect(not (abs(got_real - d_fake) < 1e-3 and abs(got_fake - d_real) < 1e-3),
           f"{name}: d_real and d_fake are swapped.")
    raise AssertionError(f"{name}: expected d_real {d_real:.3f} and d_fake {d_fake:.3f} (mean sigmoid of D's "
                         f"logits on real / fake images), got {got_real:.3f} / {got_fake:.3f}.")


# ---------------------------------------------------------------- alternative losses

LOSS_MISTAKES: dict[str, dict[str, Callable[[torch.Tensor, torch.Tensor], losses.LossPair]]] = {
    "lsgan": {
        "a sigmoid first: LSGAN's squares act on D's raw output": lambda r, f: losses.lsgan(r.sigmoid(),
                                                                                           f.sigmoid()),
        "the factor 1/2 is missing": lambda r, f: tuple(2 * loss for loss in losses.lsgan(r, f)),
        "G aims at the fake label 0: G wants D(G(z)) = 1, the real target": lambda r, f: (
            losses.lsgan(r, f)[0], 0.5 * (f**2).mean()),
        "the targets are swapped: real outputs go to 1, fake ones to 0": lambda r, f: losses.lsgan(-r + 1,
                                                                                                   -f + 1),
    },
    "hinge": {
        "G's loss has a hinge too: with max(0, 1 - D(G(z))) G stops learning once D(G(z)) > 1; "
        "G's hinge loss is plain -D(G(z))": lambda r, f: (losses.hinge(r, f)[0], F.relu(1 - f).mean()),
        "D's loss has no hinge (no max(0, ·)): D keeps pushing outputs it already gets right, like an "
        "unconstrained WGAN critic": lambda r, f: ((1 - r).mean() + (1 + f).mean(), -f.mean()),
        "the signs are swapped: D wants real outputs above +1 and fake ones below -1": lambda r, f: (
            F.relu(1 + r).mean() + F.relu(1 - f).mean(), f.mean()),
    },
}


@off_limits
def check_gan_losses(loss_pair: Callable[[torch.Tensor, torch.Tensor], tuple], kind: str) -> None:
    """``loss_pair(real_outputs, fake_outputs)`` must return (loss_d, loss_g) of the ``kind`` loss."""
    expect(kind in LOSS_MISTAKES, f"kind must be one of {sorted(LOSS_MISTAKES)}, got {kind!r}.")
    name = f"{kind}_losses"
    rng = torch.Generator().manual_seed(3)
    real = (torch.randn(16, generator=rng) * 2).requires_grad_()
    fake = (torch.randn(16, generator=rng) * 2 - 1).requires_grad_()
    result = call_learner(name, f"{name}(real_outputs, fake_outputs)", loss_pair, real, fake)
    expect(isinstance(result, tuple) and len(result) == 2,
           f"{name} should return a pair (loss_d, loss_g), got {type(result).__name__}.")
    got = [expect_tensor(loss, f"{role} from {name}") for role, loss in zip(("loss_d", "loss_g"), result,
                                                                              strict=True)]
    for role, loss in zip(("loss_d", "loss_g"), got, strict=True):
        expect(loss.dim() == 0, f"{name}: {role} has shape {tuple(loss.shape)}; average over the batch to "
                                "one number.")
        expect(loss.requires_grad, f"{name}: {role} has no gradient: keep it a tensor (no .item(), no "
                               ".detach()), or nothing can learn from it.")
    reference = losses.LOSSES[kind](real, fake)
    for role, loss, expected in zip(("loss_d", "loss_g"), got, reference, strict=True):
        if torch.allclose(loss, expected, atol=1e-5):
            continue
        expect(not torch.allclose(loss, expected * len(real), atol=1e-4),
               f"{name}: {role} sums over the batch: average over the batch (a mean), so the loss and its "
               "gradient do not grow with the batch size.")
        for mistake, variant in LOSS_MISTAKES[kind].items():
            wrong = variant(real, fake)[("loss_d", "loss_g").index(role)]
            expect(not torch.allclose(loss, wrong, atol=1e-5), f"{name}: {mistake} (theory notebook 10, §2).")
        raise AssertionError(f"{name}: {role} is {loss.item():.4f} on seeded outputs, expected "
                             f"{expected.item():.4f}; compare with the formula above the exercise.")
    passed(f"{name}: loss_d and loss_g match the {kind} formulas on seeded outputs (values, batch means, "
           "differentiable).")


CONFIDENT_LOGIT = 6.0  # D calls a fake real with σ(6) ≈ 0.998


def fake_logit_slope(loss_pair: Callable[[torch.Tensor, torch.Tensor], tuple], name: str) -> float:
    """|∂ loss_d / ∂ d_fake| for one fake that D scores +6 (a real scored +1 beside it), by autograd."""
    real, fake = torch.tensor([1.0]), torch.tensor([CONFIDENT_LOGIT], requires_grad=True)
    result = call_learner(name, f"{name}(real_outputs, fake_outputs)", loss_pair, real, fake)
    expect(isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], torch.Tensor)
           and result[0].requires_grad, f"{name} should return (loss_d, loss_g) as tensors with gradients.")
    (gradient,) = torch.autograd.grad(result[0], fake)
    return abs(gradient.item())


def check_confident_fake_prediction(prediction: object, reason: object,
                                    lsgan_losses: Callable[[torch.Tensor, torch.Tensor], tuple],
                                    hinge_losses: Callable[[torch.Tensor, torch.Tensor], tuple]) -> None:
    """Which D loss pushes hardest on a fake D confidently calls real: by autograd on the learner's losses."""
    options = ("BCE", "LSGAN", "hinge")
    commit_prediction("prediction_confident_fake", prediction, options, reason)
    slopes = {"BCE": fake_logit_slope(losses.bce, "losses.bce")}
    for option, kind, loss_pair in (("LSGAN", "lsgan", lsgan_losses), ("hinge", "hinge", hinge_losses)):
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # its pass line belongs to its own check cell
                check_gan_losses(loss_pair, kind)
            slopes[option] = fake_logit_slope(loss_pair, f"{kind}_losses")
        except AssertionError as error:
            cannot_judge(f"your {kind}_losses does not pass its check yet ({error}). Fix it, rerun its cell "
                         "and this check.")
            return
    judge_prediction(prediction, max(slopes, key=slopes.get),  # type: ignore[arg-type]
                     f"At d_fake = +{CONFIDENT_LOGIT:g} the slope of D's loss is {slopes['BCE']:.3f} for BCE "
                     f"(σ(d) saturates at 1), {slopes['hinge']:.3f} for hinge (a constant 1 while "
                     f"d > -1) and {slopes['LSGAN']:.3f} for LSGAN (it grows with d): the squares punish a "
                     "confident mistake hardest, BCE and hinge cap the push at 1. Theory notebook 10, §2 "
                     "shows the same shapes for G's losses.")
