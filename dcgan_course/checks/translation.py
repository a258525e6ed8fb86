"""Checks for notebook 08: the output that L1 rewards, the repaired pix2pix discriminator loss and the
sharpness prediction.

Each check compares the learner's answer with a reference computed here and, when they differ,
names the mistake that produces the learner's answer and the lecture section that explains it.
Messages never show the answer's code.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import gan_loss
from ..translation import PatchDiscriminator
from . import (
    Verification,
    call_learner,
    cannot_judge,
    check_rng,
    commit_prediction,
    expect,
    expect_tensor,
    judge_prediction,
    measured_series,
    no_verdict,
    paired_outcome,
    reproducing,
)

RTOL = 1e-4
L1_LECTURE = "notebook 08, section 5 (reading the result: what L1 rewards and why it blurs)"
LOSS_LECTURE = "notebook 08, sections 3 and 4 (D judges the input and the output together; the loss)"


def l1_cases() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Target distributions drawn from the check seed; the listing orders are chosen so that every
    mistake in ``l1_output_mistakes`` misses the optimum in at least one case."""
    rng = check_rng(20)

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * torch.rand((), generator=rng, dtype=torch.float64).item()

    def levels(count: int) -> list[float]:  # increasing grey levels in [-1, 1], at least 0.2 apart
        gaps = [0.2 + uniform(0.0, 1.6 / count) for _ in range(count)]
        start = uniform(-1.0, 1.0 - sum(gaps[1:]))
        return [start + sum(gaps[1:i + 1]) for i in range(count)]

    two, three, four, tie, even = levels(2), levels(3), levels(4), levels(2), levels(4)
    low = uniform(0.6, 0.8)
    p1, p2 = uniform(0.05, 0.15), uniform(0.2, 0.3)
    q1, q2, q3 = uniform(0.15, 0.22), uniform(0.2, 0.25), uniform(0.16, 0.2)
    cases = {
        "a certain pixel (one value, probability 1)": ([uniform(-1.0, 1.0)], [1.0]),
        "a pixel that is dark with probability above 0.6, else bright": ([two[1], two[0]], [1 - low, low]),
        "three grey levels, the brightest most likely, listed out of order":
            ([three[2], three[0], three[1]], [1 - p1 - p2, p1, p2]),
        "four grey levels, the brightest most likely but not the median, listed out of order":
            ([four[3], four[0], four[1], four[2]], [1 - q1 - q2 - q3, q1, q2, q3]),
        "a stroke that is there or not, 50/50 (every value between the two is optimal)": (tie, [0.5, 0.5]),
        "four equally likely grey levels (every value between the middle two is optimal)":
            ([even[2], even[0], even[3], even[1]], [0.25] * 4),
    }
    return {name: (torch.tensor(values), torch.tensor(weights)) for name, (values, weights) in cases.items()}


def expected_l1(output: float, values: torch.Tensor, probabilities: torch.Tensor) -> float:
    """E|Y - output| for a target pixel Y that takes ``values`` with ``probabilities`` (in float64)."""
    return float((probabilities.double() * (values.double() - output).abs()).sum())


def l1_output_mistakes(values: torch.Tensor, probabilities: torch.Tensor) -> dict[str, float]:
    """What likely mistakes return for one target distribution, keyed by the mistake."""
    cumulative_unsorted = probabilities.cumsum(0)
    first_half = int((cumulative_unsorted >= 0.5 - 1e-6).nonzero()[0, 0])
    return {
        "this is the mean of the targets, the optimum of the squared (L2) error; the absolute error is "
        "minimised by a different statistic": float((probabilities * values).sum()),
        "this is the most probable value (the mode); the absolute error weighs how far each possible "
        "target is, not only how likely the commonest is": float(values[probabilities.argmax()]),
        "this is the median of the listed values with the probabilities ignored: weigh each value by its "
        "probability": float(values.median()),
        "the probabilities were accumulated in the order the values are listed: sort the values first":
            float(values[first_half]),
        "the values were sorted but the probabilities were not reordered with them: each probability "
        "belongs to its value, so sort both by the same order": float(values.sort().values[first_half]),
    }


@reproducing
def check_l1_best_output(l1_best_output: Callable[[torch.Tensor, torch.Tensor], float]) -> None:
    """``l1_best_output(values, probabilities)``: an output with the least expected absolute error."""
    verified = Verification("l1_best_output")
    cases = l1_cases()
    with verified(f"one number with the least expected absolute error on {len(cases)} drawn target "
                  "distributions (a probability-weighted median): a certain pixel, 2 to 4 grey levels "
                  "listed in any order, and exact ties"):
        for name, (values, probabilities) in cases.items():
            answer = call_learner("l1_best_output", f"l1_best_output for {name}", l1_best_output,
                                  values.clone(), probabilities.clone())
            expect(not isinstance(answer, bool) and isinstance(answer, (int, float, torch.Tensor))
                   and torch.as_tensor(answer).numel() == 1,
                   f"l1_best_output should return one number (the output value), got {answer!r:.80}.")
            answer = float(answer)
            best = min(expected_l1(float(v), values, probabilities) for v in values)
            if expected_l1(answer, values, probabilities) <= best + 1e-6:
                continue
            expect(not (answer == int(answer) and 0 <= answer < len(values)),
                   f"For {name} you return {answer:g}: that looks like a position in the list (an index), "
                   f"not a grey level; return the value at that position. See {L1_LECTURE}.")
            for mistake, wrong in l1_output_mistakes(values, probabilities).items():
                expect(abs(answer - wrong) > 1e-6,
                       f"For {name} you return {answer:g}: {mistake}. See {L1_LECTURE}.")
            raise AssertionError(f"For {name} you return {answer:g}, whose expected absolute error "
                                 f"{expected_l1(answer, values, probabilities):.3f} is above the least "
                                 f"possible {best:.3f}. See {L1_LECTURE}.")
    verified.passed()


PAIRS = {  # how the learner may have built the real and the generated pair, and what is wrong with it
    "right": lambda inputs, image: (inputs, image),
    "leaves out the input: pix2pix is a *conditional* GAN, so D judges whether the image fits this input "
    "and every pair is (input, image)": lambda inputs, image: (image, image),
    "is in the wrong order: D was built, and G's loss calls it, with the input first":
        lambda inputs, image: (image, inputs),
}
LOSS_FORMS = {  # other losses a learner may have written on the right pairs, each named by its mistake
    "the logits went through a sigmoid before the with-logits loss, which applies it itself":
        lambda real, fake: halved_bce(real.sigmoid(), fake.sigmoid()),
    "the patch logits were averaged before the loss: a PatchGAN scores every patch and the loss "
    "averages the per-patch losses":
        lambda real, fake: halved_bce(real.mean((1, 2, 3)), fake.mean((1, 2, 3))),
    "only the real pairs count: add the loss on generated pairs":
        lambda real, fake: 0.5 * gan_loss(real, True),
    "only the generated pairs count: add the loss on real pairs":
        lambda real, fake: 0.5 * gan_loss(fake, False),
    "real pairs are scored against 0.9, not 1 (one-sided label smoothing): this exercise's D loss uses the "
    "hard labels 1 and 0": lambda real, fake: 0.5 * (F.binary_cross_entropy_with_logits(
        real, torch.full_like(real, 0.9)) + gan_loss(fake, False)),
    "this is the least-squares (LSGAN) loss: pix2pix's D loss is the binary cross-entropy on logits "
    "(train.gan_loss)": lambda real, fake: 0.5 * (F.mse_loss(real, torch.ones_like(real))
                                                + F.mse_loss(fake, torch.zeros_like(fake))),
    "the per-patch losses were summed, not averaged: the loss would then grow with the batch and the image "
    "size": lambda real, fake: 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real),
                                                                          reduction="sum")
                                      + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake),
                                                                           reduction="sum")),
}


def halved_bce(real: torch.Tensor, fake: torch.Tensor, swapped: bool = False, halved: bool = True
               ) -> torch.Tensor:
    """BCE of real logits against 1 and fake ones against 0 (or swapped), halved or not."""
    total = gan_loss(real, not swapped) + gan_loss(fake, swapped)
    return 0.5 * total if halved else total


def discriminator_loss_bugs(discriminator: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                            fakes: torch.Tensor) -> list[tuple[list[str], torch.Tensor]]:
    """Every combination of the exercise's planted bugs with the loss it gives; the right loss has no bugs."""
    real_logits = {bug: discriminator(*pair(inputs, targets)) for bug, pair in PAIRS.items()}
    fake_logits = {bug: discriminator(*pair(inputs, fakes)) for bug, pair in PAIRS.items()}
    terms = {(side, bug, label): gan_loss(logits[bug], label)  # each BCE once: the combinations add them up
             for side, logits in (("real", real_logits), ("fake", fake_logits)) for bug in PAIRS
             for label in (True, False)}
    combinations = []
    for real_bug, fake_bug, swapped, halved in itertools.product(PAIRS, PAIRS, (False, True), (True, False)):
        bugs = [f"the real pair {real_bug}"] * (real_bug != "right")
        bugs += [f"the generated pair {fake_bug}"] * (fake_bug != "right")
        bugs += ["the labels are swapped: real pairs get target 1, generated pairs target 0"] * swapped
        bugs += ["the loss is not halved: pix2pix divides D's objective by 2 to slow D relative to G"
                 ] * (not halved)
        total = terms["real", real_bug, not swapped] + terms["fake", fake_bug, swapped]
        combinations.append((bugs, 0.5 * total if halved else total))
    real, fake = real_logits["right"], fake_logits["right"]
    combinations += [([mistake], form(real, fake)) for mistake, form in LOSS_FORMS.items()]
    return combinations


def sensitive_discriminator(rng: torch.Generator) -> PatchDiscriminator:
    """A small PatchGAN in eval mode whose logits spread over a few units, so that every bug shows."""
    discriminator = PatchDiscriminator(1, 1, base_width=4, downsamplings=1).eval()
    with torch.no_grad():
        for conv in (m for m in discriminator.modules() if isinstance(m, nn.Conv2d)):
            conv.weight.copy_(0.2 * torch.randn(conv.weight.shape, generator=rng))
    return discriminator


Combinations = list[tuple[list[str], torch.Tensor]]


def discriminator_case(batch: int, offset: int) -> tuple[PatchDiscriminator, torch.Tensor, torch.Tensor,
                                                         torch.Tensor, torch.Tensor, Combinations]:
    """D, inputs, targets, a stand-in for G's parameters and the fakes it made, drawn from the check seed
    until the right loss stands apart from every combination of bugs."""
    rng = check_rng(offset)
    for _attempt in range(20):
        discriminator = sensitive_discriminator(rng)
        inputs = torch.randn(batch, 1, 16, 16, generator=rng)
        targets = torch.randn(batch, 1, 16, 16, generator=rng).tanh()
        generator_weight = (0.5 + 0.5 * torch.rand((), generator=rng)).requires_grad_(True)
        fakes = torch.tanh(generator_weight * inputs + 0.1)
        with torch.no_grad():
            combinations = discriminator_loss_bugs(discriminator, inputs, targets, fakes)
        right = combinations[0][1]
        if all(not torch.allclose(loss, right, rtol=20 * RTOL) for _, loss in combinations[1:]):
            return discriminator, inputs, targets, generator_weight, fakes, combinations
    raise RuntimeError("internal error: no drawn discriminator tells the bugs apart")


def name_discriminator_bugs(loss: torch.Tensor, combinations: Combinations, what: str) -> None:
    """Pass if ``loss`` is the right one; otherwise fail naming the bugs it matches, or the expected form."""
    for bugs, value in combinations:
        if torch.allclose(loss.detach(), value, rtol=RTOL):
            expect(not bugs, f"Still {len(bugs)} bug(s){what}: {'; '.join(bugs)}. See {LOSS_LECTURE}.")
            return
    right = combinations[0][1]
    raise AssertionError(f"Expected {right.item():.4f}{what}, got {loss.item():.4f}: D's loss is half the "
                         "sum of the BCE of real (input, target) pairs against 1 and of generated (input, "
                         f"output) pairs against 0. See {LOSS_LECTURE}.")


def call_discriminator_loss(loss_fn: Callable[..., torch.Tensor], discriminator: nn.Module,
                            inputs: torch.Tensor, targets: torch.Tensor, fakes: torch.Tensor, what: str
                            ) -> torch.Tensor:
    """The learner's loss as a 0-dim tensor; the generated images must stay attached to G's graph."""
    action = f"discriminator_loss(D, inputs, targets, fakes){what}"
    loss = expect_tensor(call_learner("discriminator_loss", action, loss_fn, discriminator, inputs, targets,
                                      fakes), "The loss")
    expect(fakes.grad_fn is not None,
           "discriminator_loss detached the generated images in place (detach_()): that cuts them off from "
           "G for G's own loss too, which later reuses the same tensor. Use .detach(), which returns a "
           "detached copy and leaves `fakes` attached.")
    expect(loss.dim() == 0, f"The loss should be one number (a 0-dim tensor), got shape {tuple(loss.shape)}.")
    expect(loss.requires_grad, "The loss has no gradient for D: don't detach the logits or call .item().")
    return loss


def flat_gradient(loss: torch.Tensor, parameters: list[torch.Tensor]) -> torch.Tensor:
    """d loss / d parameters as one vector (zeros where a parameter is unused)."""
    grads = torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for g, p in zip(grads, parameters,
                                                                                            strict=True)])


@reproducing
def check_discriminator_loss(loss_fn: Callable[..., torch.Tensor]) -> None:
    """``discriminator_loss(D, inputs, targets, fakes)``: halved BCE, conditional pairs, no gradient to G."""
    verified = Verification("discriminator_loss")
    batch = int(torch.randint(3, 5, (), generator=check_rng(30)))  # 3 or 4: a sum over 2 looks "not halved"
    discriminator, inputs, targets, generator_weight, fakes, combinations = discriminator_case(batch, 31)
    parameters = list(discriminator.parameters())
    with verified("no gradient reaches G, and `fakes` stays attached for G's own loss"):
        loss = call_discriminator_loss(loss_fn, discriminator, inputs, targets, fakes, "")
        to_generator = torch.autograd.grad(loss, [generator_weight], retain_graph=True, allow_unused=True)[0]
        expect(to_generator is None or to_generator.abs().item() == 0.0,
               "Still a bug: D's loss sends gradients into the generator. D's step treats the generated "
               "images as fixed data, so detach them (notebook 03's D step does the same).")
    with verified("one number: (input, target) -> 1 and (input, generated) -> 0, BCE on every patch logit, "
                  "halved"):
        name_discriminator_bugs(loss, combinations, "")
    with verified("D's gradient from both terms"):
        got = flat_gradient(loss, parameters)
        real = discriminator(inputs, targets)
        fake = discriminator(inputs, fakes.detach())
        terms = {"real": flat_gradient(0.5 * gan_loss(real, True), parameters),
                 "generated": flat_gradient(0.5 * gan_loss(fake, False), parameters)}
        wanted = terms["real"] + terms["generated"]
        if not torch.allclose(got, wanted, rtol=1e-3, atol=1e-6):
            for present, missing in (("real", "generated"), ("generated", "real")):
                expect(not torch.allclose(got, terms[present], rtol=1e-3, atol=1e-6),
                       f"The loss has the right value, but D learns only from the {present} pairs: the "
                       f"{missing} pairs' logits were detached (or computed under torch.no_grad()), so their "
                       "term sends D no gradient. Detach the generated *images*, never D's logits.")
            raise AssertionError("The loss has the right value, but its gradient for D's parameters is not "
                                 "that of the loss: part of the computation is cut off from D (.detach(), "
                                 ".data or torch.no_grad()).")
    with verified("also for a batch of one"):
        discriminator, inputs, targets, _, fakes, combinations = discriminator_case(1, 32)
        loss = call_discriminator_loss(loss_fn, discriminator, inputs, targets, fakes, " for a batch of one")
        name_discriminator_bugs(loss, combinations, " for a batch of one")
    with verified("the same with D in train mode (BatchNorm on each batch's statistics), its mode kept"):
        probe_train_mode_loss(loss_fn, batch)
    verified.passed()


def probe_train_mode_loss(loss_fn: Callable[..., torch.Tensor], batch: int) -> None:
    """In train mode BatchNorm normalises each call's batch: real and generated pairs need separate calls."""
    discriminator, inputs, targets, _, fakes, _ = discriminator_case(batch, 33)
    discriminator.train()
    with torch.no_grad():
        separate = 0.5 * (gan_loss(discriminator(inputs, targets), True)
                          + gan_loss(discriminator(inputs, fakes), False))
        real, fake = discriminator(torch.cat([inputs, inputs]), torch.cat([targets, fakes])).chunk(2)
        one_batch = 0.5 * (gan_loss(real, True) + gan_loss(fake, False))
    loss = call_discriminator_loss(loss_fn, discriminator, inputs, targets, fakes, " with D in train mode")
    expect(discriminator.training,
           "discriminator_loss switched D to eval mode. The training loop decides D's mode; the loss must "
           "leave it as it came (train mode while D learns).")
    expect(not torch.allclose(loss.detach(), one_batch, rtol=RTOL),
           "Real and generated pairs went through D as one batch. In train mode BatchNorm then normalises "
           "them with shared statistics, so each half is judged relative to the other: call D once on the "
           "real pairs and once on the generated pairs (ganhacks tip 4; notebook 03's D step does the "
           f"same). See {LOSS_LECTURE}.")
    expect(torch.allclose(loss.detach(), separate, rtol=RTOL),
           "With D in train mode the loss differs from halved BCE on D's two separate calls, although it "
           "matched in eval mode: something in the loss depends on D's mode or on how the pairs are batched.")


def check_sharpness_prediction(prediction: object, reason: object, sharpness: object) -> None:
    """Commit ``prediction_sharper``; judge it only if a paired 95 % interval over training starts excludes 0.

    ``sharpness`` maps each model to one held-out sharpness ratio per start (both models of a start
    share initialisation and batches). Images of one run are not independent repeats: one run can
    favour either model by luck, so the pairs are runs.
    """
    options = ("pix2pix", "L1 only")
    commit_prediction("prediction_sharper", prediction, options, reason)
    if not isinstance(sharpness, Mapping) or not set(options) <= set(sharpness):
        cannot_judge(f"sharpness should map each of {list(options)} to one ratio per start.")
        return
    gan, problem = measured_series(sharpness["pix2pix"], "sharpness['pix2pix']", 0.0, 100.0)
    l1, problem = (None, problem) if gan is None else measured_series(
        sharpness["L1 only"], "sharpness['L1 only']", 0.0, 100.0, len(gan))
    if gan is None or l1 is None:
        cannot_judge(f"{problem} A sharpness ratio is a non-negative ratio (1.0: as much fine detail as the "
                     "targets), one per start.")
        return
    outcome, interval = paired_outcome([g - b for g, b in zip(gan, l1, strict=True)], "pix2pix", "L1 only")
    measured = (f"pix2pix minus L1-only sharpness, start by start: {interval}; means "
                f"{sum(gan) / len(gan):.2f} and {sum(l1) / len(l1):.2f}. ")
    if outcome is None:
        no_verdict(measured + "The interval includes 0: at this length the starts disagree, so the two "
                   "cannot be told apart yet; longer training (full mode) separates them (notebook 08, §5).")
        return
    why = ("the discriminator penalises the grey compromises that L1 alone settles for where the input "
           "leaves doubt" if outcome == "pix2pix" else
           "in a run this short the discriminator has not yet taught G much; L1 alone blurs only where the "
           "plausible targets disagree, and on outlines of digits they rarely do")
    judge_prediction(prediction, outcome, f"{measured}{why} (notebook 08, §5).")  # type: ignore[arg-type]
