"""Checks for the LSGAN and hinge loss exercises (notebook 03), and the prediction about which D
loss pushes hardest on a fake that D confidently calls real.

The loss checks compare, term by term, the autograd gradient of the learner's ``loss_d`` and
``loss_g`` with respect to the real and the fake outputs with the formula's, then the values: on
seeded outputs on both sides of each target or hinge point, on a batch of one and on outputs far
from 0; a message names the loss, the term and how it differs. The prediction's outcome is the
slope of each D loss at one confidently misjudged fake, by autograd on the learner's own losses
(once they pass their check) beside the package's BCE. The module is named apart from the
package's ``dcgan_course.losses``, which supplies the reference values; the D step's check of the
same notebook is in ``checks.training``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .. import losses
from . import (
    Verification,
    call_learner,
    cannot_judge,
    check_rng,
    commit_prediction,
    expect,
    expect_tensor,
    judge_prediction,
    reproducing,
)
from .shortcuts import off_limits

Term = Callable[[torch.Tensor], torch.Tensor]
ROLES = ("loss_d", "loss_g")
SIDES = ("real", "fake")

LOSS_TERMS: dict[str, dict[tuple[str, str], Term]] = {  # (role, side) -> the term of that role on that side
    "lsgan": {("loss_d", "real"): lambda r: 0.5 * ((r - 1) ** 2).mean(),
              ("loss_d", "fake"): lambda f: 0.5 * (f**2).mean(),
              ("loss_g", "fake"): lambda f: 0.5 * ((f - 1) ** 2).mean()},
    "hinge": {("loss_d", "real"): lambda r: F.relu(1 - r).mean(),
              ("loss_d", "fake"): lambda f: F.relu(1 + f).mean(),
              ("loss_g", "fake"): lambda f: -f.mean()},
}
SIGMOID_LSGAN = "a sigmoid first: LSGAN's squares act on D's raw output"
HALF_MISSING = "the factor 1/2 is missing"
D_PAIR_MISTAKES: dict[str, dict[str, tuple[Term, Term]]] = {  # both terms of loss_d wrong in one way
    "lsgan": {
        "the targets are swapped: real outputs go to 1, fake ones to 0": (
            lambda r: 0.5 * (r**2).mean(), lambda f: 0.5 * ((f - 1) ** 2).mean()),
        SIGMOID_LSGAN: (lambda r: 0.5 * ((r.sigmoid() - 1) ** 2).mean(),
                        lambda f: 0.5 * (f.sigmoid() ** 2).mean()),
    },
    "hinge": {
        "the signs are swapped: D wants real outputs above +1 and fake ones below -1": (
            lambda r: F.relu(1 + r).mean(), lambda f: F.relu(1 - f).mean()),
        "D's loss has no hinge (no max(0, ·)): D keeps pushing outputs it already gets right, like an "
        "unconstrained WGAN critic": (lambda r: (1 - r).mean(), lambda f: (1 + f).mean()),
    },
}
TERM_MISTAKES: dict[str, dict[tuple[str, str], dict[str, Term]]] = {
    "lsgan": {
        ("loss_d", "real"): {
            "it pulls real outputs to 0, the fake target: D wants real outputs at 1":
                lambda r: 0.5 * (r**2).mean(),
            SIGMOID_LSGAN: lambda r: 0.5 * ((r.sigmoid() - 1) ** 2).mean()},
        ("loss_d", "fake"): {
            "it pulls fake outputs to 1, the real target: D wants fake outputs at 0": lambda f: 0.5 * (
                (f - 1) ** 2).mean(),
            SIGMOID_LSGAN: lambda f: 0.5 * (f.sigmoid() ** 2).mean()},
        ("loss_g", "fake"): {
            "G aims at the fake label 0: G wants D(G(z)) = 1, the real target": lambda f: 0.5 * (f**2).mean(),
            "it is minus D's fake term (the minimax form): G's LSGAN loss pulls D(G(z)) to 1, the real "
            "target":
                lambda f: -0.5 * (f**2).mean(),
            SIGMOID_LSGAN: lambda f: 0.5 * ((f.sigmoid() - 1) ** 2).mean()},
    },
    "hinge": {
        ("loss_d", "real"): {
            "no hinge (no max(0, ·)): D keeps pushing real outputs already above +1":
                lambda r: (1 - r).mean(),
            "it has the fake term's sign: D wants real outputs above +1": lambda r: F.relu(1 + r).mean(),
            "the margin is missing: max(0, -d) stops at 0 instead of +1": lambda r: F.relu(-r).mean(),
            "a sigmoid before the hinge: the hinge acts on D's raw output":
                lambda r: F.relu(1 - r.sigmoid()).mean()},
        ("loss_d", "fake"): {
            "no hinge (no max(0, ·)): D keeps pushing fake outputs already below -1":
                lambda f: (1 + f).mean(),
            "it has the real term's sign: D wants fake outputs below -1": lambda f: F.relu(1 - f).mean(),
            "the margin is missing: max(0, d) stops at 0 instead of -1": lambda f: F.relu(f).mean(),
            "a sigmoid before the hinge: the hinge acts on D's raw output":
                lambda f: F.relu(1 + f.sigmoid()).mean()},
        ("loss_g", "fake"): {
            "G's loss has a hinge too: with max(0, 1 - D(G(z))) G stops learning once D(G(z)) > 1; G's hinge "
            "loss is plain -D(G(z))": lambda f: F.relu(1 - f).mean(),
            "a sigmoid first: G's hinge loss acts on D's raw output": lambda f: -f.sigmoid().mean()},
    },
}
TERM_NAMES = {("loss_d", "real"): "loss_d's real term (on real_outputs)",
              ("loss_d", "fake"): "loss_d's fake term (on fake_outputs)",
              ("loss_g", "fake"): "loss_g", ("loss_g", "real"): "loss_g"}


def term_gradient(term: Term, outputs: torch.Tensor) -> torch.Tensor:
    """The gradient of one loss term with respect to the outputs it acts on."""
    leaf = outputs.detach().clone().requires_grad_()
    (gradient,) = torch.autograd.grad(term(leaf), leaf)
    return gradient


def same_gradient(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Whether two gradients agree, to a tolerance relative to their size."""
    tolerance = 1e-6 + 1e-4 * want.abs().max().item()
    return bool(torch.allclose(got.double(), want.double(), rtol=1e-4, atol=tolerance))


def scale_mistake(got: torch.Tensor, want: torch.Tensor, kind: str) -> str | None:
    """Name a gradient that is the formula's times a constant (a sum, a missing 1/2, a flipped sign)."""
    norm = (want.double() ** 2).sum().item()
    if norm == 0:
        return None
    factor = (got.double() * want.double()).sum().item() / norm
    if not same_gradient(got, factor * want):
        return None
    batch = len(want)
    named = {-1.0: "its sign is flipped",
             2.0: HALF_MISSING if kind == "lsgan" else "it is twice the formula's",
             0.5: "it is half the formula's (halved twice, or one mean over the real and fake outputs "
                  "together? Each term is a mean over its own batch)"}
    if batch > 1:
        named[float(batch)] = ("it sums over the batch: average over the batch (a mean), so the loss and its "
                               "gradient do not grow with the batch size")
    for value, text in named.items():
        if abs(factor - value) < 1e-3 * max(1.0, abs(value)):
            return text
    return (f"it is {factor:.3g} times the formula's term on a batch of {batch} (average over the "
            "batch's own "
            "size, with the formula's factor)")


def describe_term(kind: str, role: str, side: str, outputs: torch.Tensor, got: torch.Tensor) -> str:
    """Say how the gradient of one term differs from the formula's."""
    if (role, side) not in LOSS_TERMS[kind]:
        return ("it depends on the real outputs: G's loss involves only D's outputs on the fakes (G cannot "
                "change D's output on real images)")
    want = term_gradient(LOSS_TERMS[kind][(role, side)], outputs)
    if not got.abs().sum():
        return (f"it has no gradient with respect to the {side} outputs: the {side} term is missing, or "
                "detached from the graph")
    for mistake, variant in TERM_MISTAKES[kind][(role, side)].items():
        if same_gradient(got, term_gradient(variant, outputs)):
            return mistake
    scaled = scale_mistake(got, want, kind)
    if scaled:
        return scaled
    if kind == "lsgan":  # a square's gradient is linear in the outputs: read off its target and its scale
        design = torch.stack([outputs.detach().double(), torch.ones_like(outputs, dtype=torch.float64)], 1)
        fitted = torch.linalg.lstsq(design, got.double().unsqueeze(1)).solution.flatten()
        if len(outputs) > 2 and same_gradient(got, (design @ fitted).float()) and fitted[0] > 0:
            target = -fitted[1].item() / fitted[0].item()
            return (f"its gradient pulls the {side} outputs towards {target:.3g}, "
                    "not the formula's target for them")
        return ("its gradient is not linear in D's outputs, so it is not the formula's square of the raw "
                "output (a sigmoid or another squashing first?)")
    return (f"its gradient with respect to the {side} outputs differs from the formula's (which outputs it "
            "pushes, which way, how hard): compare with the formula above the exercise")


def expect_loss_pair(loss_pair: Callable, kind: str, name: str, real: torch.Tensor, fake: torch.Tensor,
                     inputs: str) -> tuple[torch.Tensor, ...]:
    """Call the learner's loss pair; insist on two differentiable scalar tensors (after its inputs)."""
    real, fake = real.detach().clone().requires_grad_(), fake.detach().clone().requires_grad_()
    result = call_learner(name, f"{name}(real_outputs, fake_outputs) on {inputs}", loss_pair, real, fake)
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           f"{name} should return a pair (loss_d, loss_g), got {type(result).__name__}.")
    got = [expect_tensor(loss, f"{role} from {name}") for role, loss in zip(ROLES, result, strict=True)]
    for role, loss in zip(ROLES, got, strict=True):
        expect(loss.dim() == 0, f"{name}: {role} has shape {tuple(loss.shape)} on {inputs}; average over the "
                                "batch to one number.")
        expect(loss.requires_grad, f"{name}: {role} has no gradient: keep it a tensor (no .item(), no "
                                   ".detach()), or nothing can learn from it.")
    return real, fake, got[0], got[1]


def expect_loss_terms(loss_pair: Callable, kind: str, name: str, real: torch.Tensor, fake: torch.Tensor,
                      inputs: str, far: bool = False) -> None:
    """Each term's gradient w.r.t. the outputs it acts on, then each loss's value, as the formula's."""
    real, fake, loss_d, loss_g = expect_loss_pair(loss_pair, kind, name, real, fake, inputs)
    outputs = {"real": real, "fake": fake}
    gradients = {}
    for role, loss in (("loss_d", loss_d), ("loss_g", loss_g)):
        grads = torch.autograd.grad(loss, (real, fake), retain_graph=True, allow_unused=True)
        for side, gradient in zip(SIDES, grads, strict=True):
            missing = gradient is None
            gradients[(role, side)] = torch.zeros_like(outputs[side]) if missing else gradient.detach()
    wrong = {}
    for key in (("loss_d", "real"), ("loss_d", "fake"), ("loss_g", "fake"), ("loss_g", "real")):
        term = LOSS_TERMS[kind].get(key, lambda x: 0 * x.sum())
        if not same_gradient(gradients[key], term_gradient(term, outputs[key[1]])):
            wrong[key] = describe_term(kind, *key, outputs[key[1]], gradients[key])
    expect(not (far and wrong), f"{name} on {inputs}: the gradient of "
           + ", ".join(TERM_NAMES[key] for key in wrong) + " differs from the formula's for outputs this far "
           "from 0, although it matched near 0: a clamp, a squashing function or an approximation? The "
           "formula has none, and it holds for any output (theory notebook 10, §2).")
    problems = []
    if ("loss_d", "real") in wrong and ("loss_d", "fake") in wrong:
        for mistake, (real_term, fake_term) in D_PAIR_MISTAKES[kind].items():
            if same_gradient(gradients["loss_d", "real"], term_gradient(real_term, real)) and same_gradient(
                    gradients["loss_d", "fake"], term_gradient(fake_term, fake)):
                problems.append(f"loss_d: {mistake}")
                break
        else:
            if wrong["loss_d", "real"] == wrong["loss_d", "fake"]:
                problems.append(f"loss_d (both terms): {wrong['loss_d', 'real']}")
        if problems:
            del wrong["loss_d", "real"], wrong["loss_d", "fake"]
    problems += [f"{TERM_NAMES[key]}: {text}" for key, text in wrong.items()]
    expect(not problems, f"{name} on {inputs}: " + "; and ".join(problems) + " (theory notebook 10, §2).")
    for role, loss, expected in zip(ROLES, (loss_d, loss_g), losses.LOSSES[kind](real, fake), strict=True):
        expect(bool(torch.isclose(loss.double(), expected.double(), rtol=1e-5, atol=1e-5)),
               f"{name} on {inputs}: {role} has the formula's gradients but its value is off by "
               f"{(loss - expected).item():+.4g}: a constant added or missing?")


def loss_inputs(rng: torch.Generator, batch: int, far: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and fake outputs on both sides of each target/hinge point (never on a kink), or far from 0."""
    def draw(centre: float) -> torch.Tensor:
        signs = torch.where(torch.arange(batch) % 2 == 0, 1.0, -1.0)[torch.randperm(batch, generator=rng)]
        if far:
            return signs * (30 + 70 * torch.rand(batch, generator=rng))
        return centre + signs * (0.05 + 2 * torch.randn(batch, generator=rng).abs())
    return draw(1.0), draw(-1.0)


@reproducing
@off_limits
def check_gan_losses(loss_pair: Callable[[torch.Tensor, torch.Tensor], tuple], kind: str) -> None:
    """``loss_pair(real_outputs, fake_outputs)`` must return (loss_d, loss_g) of the ``kind`` loss."""
    expect(kind in LOSS_TERMS, f"kind must be one of {sorted(LOSS_TERMS)}, got {kind!r}.")
    name = f"{kind}_losses"
    verified = Verification(name)
    rng = check_rng(3)
    real, fake = loss_inputs(rng, 16)
    with verified("(loss_d, loss_g) as differentiable scalar tensors"):
        expect_loss_pair(loss_pair, kind, name, real, fake, "16 seeded outputs")
    with verified(f"loss_d's real and fake terms and loss_g match the {kind} formulas in value and in "
                  "gradient "
                  "w.r.t. each output (batch means)"):
        expect_loss_terms(loss_pair, kind, name, real, fake, "16 seeded outputs")
    with verified("the same on a batch of one"):
        expect_loss_terms(loss_pair, kind, name, *loss_inputs(rng, 1), "a batch of one output each")
    with verified("and for outputs far from 0 on both sides (|d| from 30 to 100)"):
        expect_loss_terms(loss_pair, kind, name, *loss_inputs(rng, 6, far=True),
                          "outputs far from 0 (|d| from 30 to 100, both signs)", far=True)
    verified.passed()


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
