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
from torch import nn

from ..losses import gan_loss
from ..translation import PatchDiscriminator
from . import (
    call_learner,
    cannot_judge,
    commit_prediction,
    expect,
    expect_tensor,
    judge_prediction,
    measured_series,
    no_verdict,
    paired_outcome,
    passed,
)

RTOL = 1e-4
L1_LECTURE = "notebook 08, section 5 (reading the result: what L1 rewards and why it blurs)"
LOSS_LECTURE = "notebook 08, sections 3 and 4 (D judges the input and the output together; the loss)"
L1_CASES: dict[str, tuple[list[float], list[float]]] = {
    "a pixel that is black with probability 0.7, else white": ([-1.0, 1.0], [0.7, 0.3]),
    "three grey levels, the brightest most likely": ([-1.0, 0.0, 1.0], [0.1, 0.2, 0.7]),
    "four grey levels listed out of order": ([0.9, -1.0, -0.5, 0.5], [0.4, 0.2, 0.25, 0.15]),
    "a stroke that is there or not, 50/50": ([-1.0, 1.0], [0.5, 0.5]),
}


def expected_l1(output: float, values: torch.Tensor, probabilities: torch.Tensor) -> float:
    """E|Y - output| for a target pixel Y that takes ``values`` with ``probabilities``."""
    return float((probabilities * (values - output).abs()).sum())


def l1_output_mistakes(values: torch.Tensor, probabilities: torch.Tensor) -> dict[str, float]:
    """What likely mistakes return for one target distribution, keyed by the mistake."""
    cumulative_unsorted = probabilities.cumsum(0)
    return {
        "this is the mean of the targets, the optimum of the squared (L2) error; the absolute error is "
        "minimised by a different statistic": float((probabilities * values).sum()),
        "this is the most probable value (the mode); the absolute error weighs how far each possible "
        "target is, not only how likely the commonest is": float(values[probabilities.argmax()]),
        "this is the median of the listed values with the probabilities ignored: weigh each value by its "
        "probability": float(values.median()),
        "the probabilities were accumulated in the order the values are listed: sort the values first":
            float(values[(cumulative_unsorted >= 0.5).nonzero()[0, 0]]),
    }


def check_l1_best_output(l1_best_output: Callable[[torch.Tensor, torch.Tensor], float]) -> None:
    """``l1_best_output(values, probabilities)``: an output with the least expected absolute error."""
    for name, (listed, weights) in L1_CASES.items():
        values, probabilities = torch.tensor(listed), torch.tensor(weights)
        answer = call_learner("l1_best_output", f"l1_best_output for {name}", l1_best_output,
                              values.clone(), probabilities.clone())
        expect(isinstance(answer, (int, float, torch.Tensor)) and torch.as_tensor(answer).numel() == 1,
               f"l1_best_output should return one number (the output value), got {answer!r}.")
        answer = float(answer)
        best = min(expected_l1(float(v), values, probabilities) for v in values)
        if expected_l1(answer, values, probabilities) <= best + 1e-6:
            continue
        for mistake, wrong in l1_output_mistakes(values, probabilities).items():
            expect(abs(answer - wrong) > 1e-6,
                   f"For {name} you return {answer:g}: {mistake}. See {L1_LECTURE}.")
        raise AssertionError(f"For {name} you return {answer:g}, whose expected absolute error "
                             f"{expected_l1(answer, values, probabilities):.3f} is above the least possible "
                             f"{best:.3f}. See {L1_LECTURE}.")
    passed(f"l1_best_output: the least expected absolute error on {len(L1_CASES)} target distributions "
           "(a probability-weighted median).")


PAIRS = {  # how the learner may have built the real and the generated pair, and what is wrong with it
    "right": lambda inputs, image: (inputs, image),
    "leaves out the input: pix2pix is a *conditional* GAN, so D judges whether the image fits this input "
    "and every pair is (input, image)": lambda inputs, image: (image, image),
    "is in the wrong order: D was built, and G's loss calls it, with the input first":
        lambda inputs, image: (image, inputs),
}


def discriminator_loss_bugs(discriminator: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                            fakes: torch.Tensor) -> list[tuple[list[str], torch.Tensor]]:
    """Every combination of the exercise's planted bugs with the loss it gives; the right loss has no bugs."""
    def halved_loss(real: torch.Tensor, fake: torch.Tensor, swapped: bool, halved: bool) -> torch.Tensor:
        total = gan_loss(real, not swapped) + gan_loss(fake, swapped)
        return 0.5 * total if halved else total

    real_logits = {bug: discriminator(*pair(inputs, targets)) for bug, pair in PAIRS.items()}
    fake_logits = {bug: discriminator(*pair(inputs, fakes)) for bug, pair in PAIRS.items()}
    combinations = []
    for real_bug, fake_bug, swapped, halved in itertools.product(PAIRS, PAIRS, (False, True), (True, False)):
        bugs = [f"the real pair {real_bug}"] * (real_bug != "right")
        bugs += [f"the generated pair {fake_bug}"] * (fake_bug != "right")
        bugs += ["the labels are swapped: real pairs get target 1, generated pairs target 0"] * swapped
        bugs += ["the loss is not halved: pix2pix divides D's objective by 2 to slow D relative to G"
                 ] * (not halved)
        loss = halved_loss(real_logits[real_bug], fake_logits[fake_bug], swapped, halved)
        combinations.append((bugs, loss))
    real, fake = real_logits["right"], fake_logits["right"]
    combinations += [
        (["the logits went through a sigmoid before the with-logits loss, which applies it itself"],
         halved_loss(real.sigmoid(), fake.sigmoid(), False, True)),
        (["the patch logits were averaged before the loss: a PatchGAN scores every patch and the loss "
          "averages the per-patch losses"],
         halved_loss(real.mean((1, 2, 3)), fake.mean((1, 2, 3)), False, True)),
        (["only the real pairs count: add the loss on generated pairs"], 0.5 * gan_loss(real, True)),
        (["only the generated pairs count: add the loss on real pairs"], 0.5 * gan_loss(fake, False)),
    ]
    return combinations


def sensitive_discriminator() -> PatchDiscriminator:
    """A small PatchGAN in eval mode whose logits spread over a few units, so that every bug shows."""
    discriminator = PatchDiscriminator(1, 1, base_width=4, downsamplings=1).eval()
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for conv in (m for m in discriminator.modules() if isinstance(m, nn.Conv2d)):
            conv.weight.copy_(0.2 * torch.randn(conv.weight.shape, generator=rng))
    return discriminator


def check_discriminator_loss(loss_fn: Callable[..., torch.Tensor]) -> None:
    """``discriminator_loss(D, inputs, targets, fakes)``: halved BCE, conditional pairs, no gradient to G."""
    discriminator, rng = sensitive_discriminator(), torch.Generator().manual_seed(1)
    inputs = torch.randn(2, 1, 16, 16, generator=rng)
    targets = torch.randn(2, 1, 16, 16, generator=rng).tanh()
    generator_weight = torch.tensor(0.7, requires_grad=True)  # stands in for G's parameters
    fakes = torch.tanh(generator_weight * inputs + 0.1)
    loss = expect_tensor(call_learner("discriminator_loss", "discriminator_loss(D, inputs, targets, fakes)",
                                      loss_fn, discriminator, inputs, targets, fakes), "The loss")
    expect(loss.dim() == 0, f"The loss should be one number (a 0-dim tensor), got shape {tuple(loss.shape)}.")
    expect(loss.requires_grad, "The loss has no gradient for D: don't detach the logits or call .item().")
    loss.backward()
    expect(generator_weight.grad is None or generator_weight.grad.abs().item() == 0.0,
           "Still a bug: D's loss sends gradients into the generator. D's step treats the generated "
           "images as fixed data, so detach them (notebook 03's D step does the same).")
    with torch.no_grad():
        combinations = discriminator_loss_bugs(discriminator, inputs, fakes=fakes, targets=targets)
    for bugs, value in combinations:
        if torch.allclose(loss.detach(), value, rtol=RTOL):
            expect(not bugs, f"Still {len(bugs)} bug(s): {'; '.join(bugs)}. See {LOSS_LECTURE}.")
            passed("discriminator_loss: (input, target) -> real and (input, generated) -> fake, halved, "
                   "from logits; no gradient reaches G.")
            return
    right = combinations[0][1]
    raise AssertionError(f"Expected {right.item():.4f}, got {loss.item():.4f}: D's loss is half the sum of "
                         "the BCE of real (input, target) pairs against 1 and of generated (input, output) "
                         f"pairs against 0. See {LOSS_LECTURE}.")


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
