"""Checks for the training-step exercises (notebook 03): one D step and one non-saturating G step.

Each check runs the learner's step with plain SGD (lr 1) on small seeded networks, so the
parameter change *is* minus the gradient it applied, and compares that with the gradient of the
intended loss; the cosine between them names the likely bug (wrong target, missing detach, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import models
from . import call_learner, expect, passed

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
    stale = stale_gradients(d_params, scale=3 * intended.abs().mean().item())
    optimizer = torch.optim.SGD(d_params, lr=STEP_LEARNING_RATE)
    result, applied = run_step(step, name, d_params, fx.generator, fx.discriminator, optimizer,
                               fx.real_images, fx.noise)
    leaked = [p for p in fx.generator.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    expect(not leaked, "The D step sent gradients into the generator: missing .detach()? Use "
                       "generator(noise).detach() for the fakes, so training D leaves G alone.")
    expect(applied.abs().sum() > 0, f"{name} did not change the discriminator: call loss.backward() and "
                                    "optimizer.step().")
    expect_same_direction(applied, intended, stale, {
        "swapped real/fake labels: D learned to call real images fake. Real images need target 1, "
        "fakes target 0": swapped,
    }, name, "BCE(D(x), 1) + BCE(D(G(z).detach()), 0)")
    expect_float_entries(result, ("loss_d", "d_real", "d_fake"), name)
    loss = (real_loss + fake_loss).item()
    expect(any(abs(result["loss_d"] - value) < 1e-4 for value in (loss, loss / 2)),
           f"{name}: loss_d is {result['loss_d']:.4f}, expected {loss:.4f} "
           "(BCE(D(x), 1) + BCE(D(G(z)), 0)).")
    expect_probabilities(result, real_logits.detach(), fake_logits.detach(), name)
    passed(f"{name}: D learns real -> 1, fake -> 0, G stays untouched (detach), "
           "loss_d / d_real / d_fake reported.")


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
           f"{name} kept gradients from the previous step: call optimizer.zero_grad() before backward().")
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
           f"{name}: d_real / d_fake should be probabilities, torch.sigmoid(logits).mean(), not raw logits; "
           f"got {got_real:.3f} / {got_fake:.3f}.")
    expect(not (abs(got_real - d_fake) < 1e-3 and abs(got_fake - d_real) < 1e-3),
           f"{name}: d_real and d_fake are swapped.")
    raise AssertionError(f"{name}: expected d_real {d_real:.3f} and d_fake {d_fake:.3f} (mean sigmoid of D's "
                         f"logits on real / fake images), got {got_real:.3f} / {got_fake:.3f}.")


def check_generator_step(step: Callable[..., dict]) -> None:
    """``step(generator, discriminator, optimizer, noise)`` = one G update on the non-saturating loss
    BCE(D(G(z)), 1); returns loss_g."""
    name = "generator_step"
    fx = step_fixture()
    g_params = list(fx.generator.parameters())
    fake_logits = fx.discriminator(fx.generator(fx.noise))
    non_saturating = F.softplus(-fake_logits).mean()  # BCE against "real"
    intended = flat_gradient(non_saturating, g_params)
    swapped = flat_gradient(F.softplus(fake_logits).mean(), g_params)
    stale = stale_gradients(g_params, scale=3 * intended.abs().mean().item())
    d_before = flatten(list(fx.discriminator.parameters()))
    optimizer = torch.optim.SGD(g_params, lr=STEP_LEARNING_RATE)
    result, applied = run_step(step, name, g_params, fx.generator, fx.discriminator, optimizer, fx.noise)
    expect(torch.equal(d_before, flatten(list(fx.discriminator.parameters()))),
           f"{name} changed the discriminator's weights: step only the generator's optimizer.")
    expect(applied.abs().sum() > 0, f"{name} did not change the generator: call loss.backward() and "
                                    "optimizer.step(), and do not .detach() the fakes in the G step — the "
                                    "gradient must flow through D back into G.")
    expect_float_entries(result, ("loss_g",), name)
    minimax = -F.softplus(fake_logits).mean().item()
    expect(abs(result["loss_g"] - minimax) > 1e-4, f"{name} minimises log(1 − D(G(z))), the saturating "
                                                   "minimax loss: use the non-saturating loss "
                                                   "BCE(D(G(z)), 1) — label the fakes as real.")
    expect_same_direction(applied, intended, stale, {
        "swapped labels: G learned to make its samples look *more* fake. In the G step the fakes get the "
        "real label (target 1)": swapped,
    }, name, "BCE(D(G(z)), 1)")
    expected = non_saturating.item()
    expect(abs(result["loss_g"] - expected) < 1e-4,
           f"{name}: loss_g is {result['loss_g']:.4f}, expected {expected:.4f} (BCE(D(G(z)), 1)).")
    passed(f"{name}: G follows the non-saturating loss BCE(D(G(z)), 1), D stays untouched, loss_g reported.")
