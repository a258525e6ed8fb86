"""Checks for the discriminator-step exercise (notebook 03): a repaired D step, one BCE update of D.

The step check runs the learner's step with plain SGD (lr 1), so the parameter change *is* minus
the gradient it applied, and compares it with the gradient of the intended loss (the cosine names
the likely bug): with small networks from the grader's seed handed over in train mode, in eval mode
and on a batch of one, watching the mode of every forward pass, then with a linear probe D whose
logits lie far out on both sides, on the real and then on the fake images, where only a
with-logits loss stays exact. The LSGAN and hinge loss checks of the same notebook are in
``checks.gan_losses``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import models
from . import Verification, call_learner, check_rng, expect, reproducing
from .shortcuts import off_limits

STEP_LEARNING_RATE = 1.0  # plain SGD with lr 1: the parameter change *is* minus the gradient
SAME_DIRECTION = 0.99  # cosine above which two updates count as the same
LOGIT_SPREAD = 2.0  # RMS of the fixture D's logits: wide enough that mean σ(ℓ) and σ(mean ℓ) differ
FAR_LOGITS = (120.0, 300.0)  # |logit| of the stability probe: σ(ℓ) rounds to exactly 0 or 1 in float32
CLOSE = 1e-3  # tolerance on the reported floats


@dataclass
class StepFixture:
    """Small networks built from the check seed, in the mode the step is handed them, and its inputs."""

    generator: nn.Module
    discriminator: nn.Module
    real_images: torch.Tensor
    noise: torch.Tensor
    training: bool

    @property
    def mode(self) -> str:
        """The mode the step is handed the models in, as a word."""
        return "train" if self.training else "eval"

    @property
    def other_mode(self) -> str:
        """The mode the step must not switch to."""
        return "eval" if self.training else "train"


def step_fixture(offset: int, training: bool, batch: int = 8) -> StepFixture:
    """Networks and inputs drawn from the check seed (``offset`` tells the runs apart), D's logits spread."""
    rng = check_rng(offset)
    with torch.random.fork_rng(devices=[]):  # the learner's global random state stays as it was
        torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=rng)))
        generator = models.Generator(latent_dim=16, image_size=32, channels=1, base_width=8)
        discriminator = models.Discriminator(image_size=32, channels=1, base_width=8)
    real_images = torch.rand(batch, 1, 32, 32, generator=rng) * 2 - 1
    noise = torch.randn(batch, 16, generator=rng)
    generator.train(training)
    discriminator.train(training)
    with torch.no_grad():  # on copies: a forward pass in train mode moves BatchNorm's running averages
        g, d = copy.deepcopy(generator), copy.deepcopy(discriminator)
        logits = torch.cat([d(real_images), d(g(noise))])
        discriminator.to_logit.weight.mul_(LOGIT_SPREAD / logits.pow(2).mean().sqrt().clamp_min(1e-6))
    return StepFixture(generator, discriminator, real_images, noise, training)


@dataclass
class StepReference:
    """What the intended D step computes on a fixture (on copies of its models)."""

    intended: torch.Tensor  # gradient of BCE(D(x), 1) + BCE(D(G(z)), 0) w.r.t. D's parameters
    bugs: dict[str, Callable[[], torch.Tensor]]  # gradients of known wrong losses, by the message naming them
    real_logits: torch.Tensor
    fake_logits: torch.Tensor
    real_loss: float
    fake_loss: float


def step_reference(fx: StepFixture) -> StepReference:
    """The intended update and the updates of known mistakes, computed on copies of the fixture's models."""
    generator, discriminator = copy.deepcopy(fx.generator), copy.deepcopy(fx.discriminator)
    params = list(discriminator.parameters())
    with torch.no_grad():
        fake_images = generator(fx.noise)
    real_logits, fake_logits = discriminator(fx.real_images), discriminator(fake_images)
    real_loss, fake_loss = F.softplus(-real_logits).mean(), F.softplus(fake_logits).mean()  # BCE vs 1 / vs 0
    intended = flat_gradient(real_loss + fake_loss, params)
    real_p, fake_p = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    bugs: dict[str, Callable[[], torch.Tensor]] = {  # computed only when the update misses (they cost time)
        "swapped real/fake labels: D learned to call real images fake. Real images need target 1, "
        "fakes target 0": lambda: flat_gradient(
            F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean(), params),
        "a sigmoid before a with-logits loss: the loss squashes D's output a second time, so D's "
        "gradient nearly vanishes. Give the loss D's raw logits (lecture 02, §4)": lambda: flat_gradient(
            F.softplus(-real_p).mean() + F.softplus(fake_p).mean(), params),
        "only the real half of the loss: D must also learn to call the fakes fake (target 0)":
            lambda: flat_gradient(real_loss, params),
        "the fakes are labelled real: D learns to call everything real. Fakes need target 0":
            lambda: flat_gradient(real_loss + F.softplus(-fake_logits).mean(), params),
    }
    if fx.training:
        def mixed() -> torch.Tensor:
            both = discriminator(torch.cat([fx.real_images, fake_images]))
            mixed_real, mixed_fake = both[: len(fx.real_images)], both[len(fx.real_images):]
            return flat_gradient(F.softplus(-mixed_real).mean() + F.softplus(mixed_fake).mean(), params)

        bugs["real and fake images went through D as one batch: in train mode BatchNorm then normalises "
             "each half with the statistics of both, and D learns from that mixture. Give D the real and "
             "the fake batch separately (ganhacks, tip 4)"] = mixed
    return StepReference(intended, bugs, real_logits.detach(), fake_logits.detach(), real_loss.item(),
                         fake_loss.item())


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


def stale_gradients(parameters: list[nn.Parameter], scale: float, offset: int) -> torch.Tensor:
    """Fill ``.grad`` with seeded leftovers, as if a previous step had not been cleared; returns them."""
    rng = check_rng(offset)
    for parameter in parameters:
        parameter.grad = torch.randn(parameter.shape, generator=rng) * scale
    return flatten([parameter.grad for parameter in parameters])


def run_step(step: Callable[..., dict], name: str, parameters: list[nn.Parameter], fx: StepFixture,
             optimizer: torch.optim.Optimizer) -> tuple[dict, torch.Tensor]:
    """Call the learner's step; return its result and the gradient it applied (from the SGD update)."""
    before = flatten(parameters)
    batch = len(fx.real_images)
    action = f"{name}(...) on a batch of {batch} image{'s' if batch > 1 else ''} (models in {fx.mode} mode)"
    try:
        result = call_learner(name, action, step, fx.generator, fx.discriminator, optimizer, fx.real_images,
                              fx.noise)
    except AssertionError as error:
        if batch == 1 and " raised " in str(error):
            raise AssertionError(
                f"{error}\nOn a batch of ONE image: `.squeeze()` drops the batch axis too when N = 1, and "
                "targets built from a fixed or separately computed batch size stop matching D's output; "
                "build targets with torch.ones_like / torch.zeros_like on the logits themselves.") from None
        raise
    expect(isinstance(result, dict), f"{name} should return a dict of floats, got {type(result).__name__}.")
    return result, (before - flatten(parameters)) / STEP_LEARNING_RATE


def watch_modes(fx: StepFixture) -> tuple[dict[str, list[bool]], list]:
    """Record, at every forward call of G and D, whether all their layers are in the handed-over mode."""
    seen: dict[str, list[bool]] = {"generator": [], "discriminator": []}
    handles = []
    for who, model in (("generator", fx.generator), ("discriminator", fx.discriminator)):
        def record(module: nn.Module, args: object, who: str = who) -> None:
            seen[who].append(all(layer.training == fx.training for layer in module.modules()))
        handles.append(model.register_forward_pre_hook(record))
    return seen, handles


def expect_modes(fx: StepFixture, seen: dict[str, list[bool]], name: str) -> None:
    """The step used G and D in the mode it was handed them, and left them in it."""
    for who, model in (("generator", fx.generator), ("discriminator", fx.discriminator)):
        expect(all(layer.training == fx.training for layer in model.modules()),
               f"{name} left the {who} in {fx.other_mode} mode, but it was handed over in {fx.mode} mode: "
               f"a step uses the models in the mode the training loop set and leaves them so ({who}.train() "
               "or .eval() inside the step overrides the loop: in eval mode BatchNorm normalises with its "
               "running averages instead of the batch's statistics, and stops updating them).")
        expect(all(seen[who]),
               f"{name} ran the {who} in {fx.other_mode} mode (and switched it back), but it was handed over "
               f"in {fx.mode} mode: BatchNorm normalises with the batch's statistics in train mode and with "
               "its running averages in eval mode, so the images and logits, and the loss, are not those of "
               "the model the loop hands over. Use the models in the mode they are given.")


def run_step_checks(step: Callable[..., dict], fx: StepFixture, name: str, offset: int
                    ) -> tuple[dict, StepReference]:
    """Run the learner's step on ``fx`` and check modes, G, and the direction of D's update."""
    reference = step_reference(fx)
    d_params = list(fx.discriminator.parameters())
    g_params = list(fx.generator.parameters())
    g_before = flatten(g_params)
    stale = stale_gradients(d_params, 3 * reference.intended.abs().mean().item(), offset)
    optimizer = torch.optim.SGD(d_params, lr=STEP_LEARNING_RATE)
    seen, handles = watch_modes(fx)
    try:
        result, applied = run_step(step, name, d_params, fx, optimizer)
    finally:
        for handle in handles:
            handle.remove()
    expect_modes(fx, seen, name)
    leaked = [p for p in g_params if p.grad is not None and p.grad.abs().sum() > 0]
    expect(not leaked, "The D step sent gradients into the generator: the fakes are not detached, so "
                       "backward() also runs through G (wasted work, and G's gradients pile up for its next "
                       "step). Detach the generated images in the D step (lecture 03, §3).")
    expect(torch.equal(g_before, flatten(g_params)),
           f"{name} changed the generator's weights: the D step updates D only (with the optimiser it is "
           "given, which holds D's parameters); G's weights change in the G step.")
    expect(bool(torch.isfinite(applied).all()),
           f"{name} wrote non-finite values (NaN or inf) into D's weights.")
    expect(applied.abs().sum() > 0, f"{name} did not change the discriminator: call loss.backward() and "
                                    "optimizer.step().")
    expect_same_direction(applied, reference.intended, stale, reference.bugs, name,
                          "BCE(D(x), 1) + BCE(D(G(z).detach()), 0)")
    return result, reference


def expect_same_direction(
    applied: torch.Tensor,
    intended: torch.Tensor,
    stale: torch.Tensor,
    known_bugs: dict[str, Callable[[], torch.Tensor]],
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
        expect(cosine(applied, gradient()) < SAME_DIRECTION, f"{name}: {bug}.")
    raise AssertionError(f"{name} updated the weights in a different direction from the loss {loss_text} "
                         f"(cosine similarity {cosine(applied, intended):.2f}).")


def expect_float_entries(result: dict, keys: tuple[str, ...], name: str) -> None:
    """The step's result must hold plain Python floats under ``keys``."""
    missing = [key for key in keys if key not in result]
    expect(not missing, f"{name} must return a dict with {list(keys)}; missing {missing}.")
    for key in keys:
        expect(isinstance(result[key], float), f"{name}: '{key}' should be a Python float (use .item()), "
                                               f"got {type(result[key]).__name__}.")


def near(got: float, want: float, tolerance: float = CLOSE) -> bool:
    """Whether a reported float matches a value, relative to the value's size beyond 1."""
    return abs(got - want) <= tolerance * max(1.0, abs(want))


def expect_report(result: dict, reference: StepReference, name: str) -> None:
    """loss_d, d_real and d_fake: floats, the loss of this step's batch and D's mean probabilities."""
    expect_float_entries(result, ("loss_d", "d_real", "d_fake"), name)
    got, real, fake = result["loss_d"], reference.real_loss, reference.fake_loss
    if not any(near(got, value, 1e-4) for value in (real + fake, (real + fake) / 2)):
        for value, term in ((real, "only the real term BCE(D(x), 1)"),
                            (fake, "only the fake term BCE(D(G(z)), 0)")):
            expect(not near(got, value, 1e-4), f"{name}: loss_d reports {term}; report the whole D loss, the "
                                               "real term plus the fake term.")
        raise AssertionError(f"{name}: loss_d is {got:.4f}, expected {real + fake:.4f} "
                             "(BCE(D(x), 1) + BCE(D(G(z)), 0)) on this batch. If it comes from probabilities "
                             "(a sigmoid, then a log), it loses precision as the logits grow: use "
                             "F.binary_cross_entropy_with_logits on the raw logits (lecture 02, §4).")
    expect_probabilities(result, reference.real_logits, reference.fake_logits, name)


def expect_probabilities(
    result: dict, real_logits: torch.Tensor, fake_logits: torch.Tensor, name: str
) -> None:
    """d_real / d_fake must be the mean sigmoid of D's logits on real / fake images."""
    logits = {"d_real": real_logits, "d_fake": fake_logits}
    for key, other in (("d_real", "d_fake"), ("d_fake", "d_real")):
        got, own = result[key], logits[key]
        want = torch.sigmoid(own).mean().item()
        if near(got, want):
            continue
        expect(not (near(got, torch.sigmoid(logits[other]).mean().item()) and near(
            result[other], want)), f"{name}: d_real and d_fake are swapped.")
        expect(0 <= got <= 1 and not near(got, own.mean().item()),
               f"{name}: d_real / d_fake should be D's mean probabilities (its logits through a sigmoid, "
               "averaged over the batch), not raw logits (lecture 02, §4); "
               f"got {result['d_real']:.3f} / {result['d_fake']:.3f}.")
        expect(not near(got, torch.sigmoid(own.mean()).item()),
               f"{name}: {key} is the sigmoid of the batch's mean logit, not the mean of the sigmoids: D's "
               "mean probability averages σ(logit) over the images (sigmoid first, then the mean); σ of the "
               "mean logit differs as soon as the logits spread.")
        raise AssertionError(f"{name}: {key} is {got:.3f}, expected D's mean probability on the "
                             f"{key[2:]} images (the mean of σ(logits)), {want:.3f}.")


class LogitProbe(nn.Module):
    """A linear D, fitted so that its logits on the check's real and fake images are the ones chosen."""

    def __init__(self, images: torch.Tensor, logits: torch.Tensor) -> None:
        super().__init__()
        flat = images.detach().flatten(1).double()
        self.weight = nn.Parameter((torch.linalg.pinv(flat) @ logits.double()).float())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> logits (N,)."""
        return images.flatten(1) @ self.weight


def far_logits(batch: int, rng: torch.Generator) -> torch.Tensor:
    """Logits far from 0 on both sides, more on one side than the other (so their mean is far from 0)."""
    low, high = FAR_LOGITS
    magnitudes = low + (high - low) * torch.rand(batch, generator=rng)
    signs = torch.ones(batch)
    signs[: batch // 2 - 1] = -1
    flip = -1.0 if torch.rand(1, generator=rng).item() < 0.5 else 1.0
    return flip * signs[torch.randperm(batch, generator=rng)] * magnitudes


def probe_stability(step: Callable[..., dict], side: str, name: str, offset: int) -> None:
    """Run the step with D's logits on the ``side`` images far from 0 (both signs): loss and update exact."""
    fx = step_fixture(offset, training=False)
    rng = check_rng(offset + 1)
    with torch.no_grad():
        fake_images = copy.deepcopy(fx.generator)(fx.noise)
    batch = len(fx.real_images)
    moderate, far = torch.randn(batch, generator=rng) * LOGIT_SPREAD, far_logits(batch, rng)
    targets = torch.cat([far, moderate] if side == "real" else [moderate, far])
    fx.discriminator = LogitProbe(torch.cat([fx.real_images, fake_images]), targets)
    reference = step_reference(fx)
    parameters = list(fx.discriminator.parameters())
    result, applied = run_step(step, name, parameters, fx, torch.optim.SGD(parameters, lr=STEP_LEARNING_RATE))
    expect_float_entries(result, ("loss_d", "d_real", "d_fake"), name)
    exact = reference.real_loss + reference.fake_loss
    got = result["loss_d"]
    loss_ok = any(near(got, value, 1e-4) for value in (exact, exact / 2))
    finite = bool(torch.isfinite(applied).all())
    update_ok = finite and cosine(applied, reference.intended) > SAME_DIRECTION
    problems = [] if loss_ok else [f"loss_d came out {got:.4g} (exact: {exact:.4g})"]
    if not finite:
        problems.append("the update is not finite (NaN or inf)")
    elif not update_ok:
        problems.append(f"the update points elsewhere (cosine {cosine(applied, reference.intended):.2f} with "
                        "the exact gradient)")
    low, high = FAR_LOGITS
    expect(not problems,
           f"{name} is not numerically stable in the {side} term: with D's logits on the {side} images at "
           f"±{low:g} to ±{high:g} (both signs), {' and '.join(problems)}. σ(logit) rounds to exactly 0 or 1 "
           "in float32 there, so a sigmoid followed by a log (F.binary_cross_entropy / nn.BCELoss on "
           "probabilities, log σ or log(1 − σ) written out, with or without an epsilon), or clamped logits, "
           "clip the loss and lose its gradient where D is most wrong. Give the raw logits to "
           "F.binary_cross_entropy_with_logits (or nn.BCEWithLogitsLoss), which computes log(1 + e^−logit) "
           "stably (lecture 02, §4).")
    expect_report(result, reference, name)


@reproducing
@off_limits
def check_discriminator_step(step: Callable[..., dict]) -> None:
    """``step(generator, discriminator, optimizer, real_images, noise)`` = one D update on
    BCE(D(x), 1) + BCE(D(G(z)), 0) with G held fixed; returns loss_d, d_real, d_fake."""
    name = "discriminator_step"
    verified = Verification(name)
    with verified("one D update on BCE(D(x), 1) + BCE(D(G(z)), 0) in train mode, last step's gradients "
                  "cleared, G untouched (no gradient, no update)"):
        result, reference = run_step_checks(step, step_fixture(0, training=True), name, offset=100)
    with verified("loss_d, d_real, d_fake reported as floats (d_real, d_fake: batch means of σ(logit))"):
        expect_report(result, reference, name)
    with verified("the same with models handed over in eval mode, each model left in the mode it was given"):
        result, reference = run_step_checks(step, step_fixture(10, training=False), name, offset=110)
        expect_report(result, reference, name)
    with verified("the same on a batch of one image"):
        result, reference = run_step_checks(step, step_fixture(20, training=True, batch=1), name, offset=120)
        expect_report(result, reference, name)
    low, high = FAR_LOGITS
    with verified(f"loss_d and its gradient exact for logits at ±{low:g} to ±{high:g} on real and on fake "
                  "images"):
        probe_stability(step, "real", name, offset=30)
        probe_stability(step, "fake", name, offset=40)
    verified.passed()
