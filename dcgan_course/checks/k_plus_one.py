"""Checks for notebook 07 (improving representations): the K+1 discriminator loss, term by term and
stable on both sides, and the prediction about shifting every logit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from . import (
    Verification,
    call_learner,
    cannot_judge,
    check_rng,
    commit_prediction,
    expect,
    expect_tensor,
    judge_prediction,
    measured_number,
    reproducing,
)
from .shortcuts import off_limits

TOLERANCE = 1e-4
SHIFT_NOISE = 1e-6  # float32 rounding of a softmax is about 1e-7
K_PLUS_ONE_LECTURE = "notebook 07, section 1 (the K+1 semi-supervised GAN)"


# --- notebook 07: the K+1 discriminator ------------------------------------------------------------

CLASSES = 10
REAL_TERM = "the real term (-log D(x) on the unlabelled real images)"
FAKE_TERM = "the fake term (-log(1 - D(x)) on the generated images)"
CLASS_TERM = "the class term (the cross-entropy of the labelled images)"


def k_plus_one_terms(labelled: torch.Tensor, labels: torch.Tensor, real: torch.Tensor, fake: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The K+1 loss's three terms, written stably: class cross-entropy, -log D(real), -log(1 - D(fake))."""
    return (F.cross_entropy(labelled, labels), F.softplus(-real.logsumexp(1)).mean(),
            F.softplus(fake.logsumexp(1)).mean())


def term_mistakes(term: str, logits: torch.Tensor, others: int) -> dict[str, torch.Tensor]:
    """Likely wrong versions of the real (``term="real"``) or fake term, keyed by the mistake they contain.

    ``others`` is the size of the other unlabelled batch (generated for the real term, real for the fake).
    """
    sign, right, wrong = (-1.0, "-log D(x)", "-log(1 - D(x))") if term == "real" else (1.0, "-log(1 - D(x))",
                                                                                       "-log D(x)")
    log_z = logits.logsumexp(1)
    return {
        f"it is {wrong}, the other side's loss: the real and generated terms are swapped (real images should "
        f"get D(x) = Z/(Z+1) close to 1, generated ones close to 0)": F.softplus(-sign * log_z).mean(),
        f"it has the wrong sign: {right} is a loss to minimise, so it enters with +":
            -F.softplus(sign * log_z).mean(),
        "it is missing: the unlabelled real and generated images must train the class logits too":
            torch.zeros(()),
        "the real/fake logit is the *mean* of the class logits; with D(x) = Z/(Z+1) it is log Z, the "
        "log-sum-exp": F.softplus(sign * logits.mean(1)).mean(),
        "the real/fake logit is the *largest* class logit; with D(x) = Z/(Z+1) it is log Z, the log-sum-exp":
            F.softplus(sign * logits.amax(1)).mean(),
        "the log-sum-exp runs over the batch (dim 0); Z sums the K class logits of each image (dim 1)":
            F.softplus(sign * logits.logsumexp(0)).mean(),
        "it is summed over the batch, not averaged": F.softplus(sign * log_z).sum(),
        "it is halved (the 0.5 of openai/improved-gan's code); in this exercise the three terms count fully":
            0.5 * F.softplus(sign * log_z).mean(),
        "it is averaged over the real and generated images together; each term is averaged over its own "
        "batch":
            F.softplus(sign * log_z).sum() / (len(logits) + others),
    }


def class_mistakes(labelled: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Likely wrong class terms, keyed by the mistake they contain."""
    with_fake = torch.cat([labelled, torch.zeros(len(labelled), 1)], 1)
    return {
        "it is missing: the labelled images must be classified": torch.zeros(()),
        "the class logits went through a softmax before the cross-entropy, which applies log-softmax itself":
            F.cross_entropy(labelled.softmax(1), labels),
        "F.nll_loss got raw logits: it expects log-probabilities (cross_entropy = log_softmax + nll_loss)":
            F.nll_loss(labelled, labels),
        "it is summed over the batch, not averaged": F.cross_entropy(labelled, labels, reduction="sum"),
        "it includes the implicit fake class (a (K+1)-way cross-entropy): the labelled images are known to "
        "be real, so the class term is the cross-entropy over the K class logits alone":
            F.cross_entropy(with_fake, labels),
    }


def learner_loss(k_plus_one_loss: Callable, inputs: Sequence[torch.Tensor], what: str) -> torch.Tensor:
    """Run the learner's loss and insist on one number back."""
    shapes = ", ".join(str(tuple(tensor.shape)) for tensor in inputs)
    loss = expect_tensor(call_learner("k_plus_one_loss", f"k_plus_one_loss on {what} (shapes {shapes})",
                                      k_plus_one_loss, *inputs), "The loss")
    expect(loss.dim() == 0, f"The loss should be one number (a 0-dim tensor), got shape {tuple(loss.shape)}.")
    return loss


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Two losses (or changes of a loss) agree to the check's tolerance."""
    return bool(torch.allclose(a.detach().double(), b.detach().double(), rtol=TOLERANCE, atol=1e-5))


def k_plus_one_draw(rng: torch.Generator, sizes: tuple[int, int, int]) -> list[torch.Tensor]:
    """Labelled logits, labels, real logits and generated logits of the given batch sizes."""
    labelled, real, fake = (3 * torch.randn(n, CLASSES, generator=rng) for n in sizes)
    return [labelled, torch.randint(0, CLASSES, (sizes[0],), generator=rng), real, fake]


def extreme_cases(rng: torch.Generator) -> list[tuple[str, int, str, list[torch.Tensor]]]:
    """Inputs with one kind of logits far out: (description, slot, term, inputs).

    +100 is where exp overflows in float32; -120 is where it underflows to 0 (exp(-100) is still a tiny
    subnormal number), so both sides of log(Z) and log(1 + Z) are tested.
    """
    cases = []
    for slot, side, term in ((2, "real", REAL_TERM), (3, "generated", FAKE_TERM)):
        for level in (100.0, -120.0):
            inputs = k_plus_one_draw(rng, (4, 6, 5))
            inputs[slot] = level + torch.randn(inputs[slot].shape, generator=rng)
            cases.append((f"{side} logits around {level:+.0f}", slot, term, inputs))
    for level in (100.0, -120.0):
        inputs = k_plus_one_draw(rng, (4, 6, 5))
        labelled, labels = inputs[0], inputs[1]
        labelled[torch.arange(len(labels)), labels] = level
        cases.append((f"labelled logits whose true class sits at {level:+.0f}", 0, CLASS_TERM, inputs))
    return cases


def gradients(k_plus_one_loss: Callable, inputs: Sequence[torch.Tensor], what: str
              ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """The learner's loss and its gradients with respect to the labelled, real and generated logits."""
    leaves = [tensor.clone().requires_grad_(tensor.is_floating_point()) for tensor in inputs]
    loss = learner_loss(k_plus_one_loss, leaves, what)
    expect(loss.requires_grad, f"The loss on {what} carries no gradient: something cut the graph (.item(), "
                               ".detach(), NumPy, or building a new tensor from numbers), so D could not "
                               "learn from it. Compute every term with torch operations on the logits.")
    grads = torch.autograd.grad(loss, [leaves[i] for i in (0, 2, 3)], allow_unused=True)
    return loss, list(grads)


def reference_gradients(inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The stable loss and its gradients with respect to the labelled, real and generated logits."""
    leaves = [tensor.clone().requires_grad_(tensor.is_floating_point()) for tensor in inputs]
    loss = sum(k_plus_one_terms(*leaves))
    return loss.detach(), list(torch.autograd.grad(loss, [leaves[i] for i in (0, 2, 3)]))


GRADIENT_OF = ("the labelled logits", "the real logits", "the generated logits")


def expect_term_change(term: str, slots: tuple[int, ...], change: torch.Tensor, right: torch.Tensor,
                       changed: Sequence[torch.Tensor], base: Sequence[torch.Tensor], others: dict[int, int]
                       ) -> None:
    """Fail naming the mistake in ``term`` whose change matches the learner's, or saying how far off it is."""
    if slots == (0, 1):
        after, before = class_mistakes(*changed[:2]), class_mistakes(*base[:2])
    else:
        side = "real" if slots[0] == 2 else "fake"
        after = term_mistakes(side, changed[slots[0]], others[slots[0]])
        before = term_mistakes(side, base[slots[0]], others[slots[0]])
    name = term[0].upper() + term[1:]
    for mistake, wrong_after in after.items():
        expect(not close(change, wrong_after - before[mistake]),
               f"{name} is wrong: {mistake}. See {K_PLUS_ONE_LECTURE}.")
    raise AssertionError(
        f"{name} is wrong: when only those logits change, your loss changes by {change.item():.4f} where "
        f"that term changes by {right.item():.4f}. The loss is the class cross-entropy on labelled images "
        "plus -log D(x) on real and -log(1 - D(x)) on generated images, each averaged over its batch, with "
        f"D(x) = Z/(Z+1). See {K_PLUS_ONE_LECTURE}.")


@reproducing
@off_limits
def check_k_plus_one_loss(k_plus_one_loss: Callable) -> None:
    """``k_plus_one_loss(labelled_logits, labels, real_logits, fake_logits)``: CE + real/fake via Z/(Z+1)."""
    verified = Verification("k_plus_one_loss")
    rng = check_rng(0)
    base = k_plus_one_draw(rng, (4, 6, 5))
    loss = learner_loss(k_plus_one_loss, base, "4 labelled, 6 real, 5 generated")
    # Change one input at a time (to a batch of its own size, then to a batch of one): the loss changes
    # by exactly the change of that term, whatever the other terms are, so each term is judged alone.
    others = {2: len(base[3]), 3: len(base[2])}
    for slots, term, claim in (((0, 1), CLASS_TERM, "class cross-entropy on the labelled logits"),
                               ((2,), REAL_TERM, "-log D(x) on the real logits, D(x) = Z/(Z+1)"),
                               ((3,), FAKE_TERM, "-log(1 - D(x)) on the generated logits")):
        with verified(claim):
            for size in (len(base[slots[0]]), 1):
                swap = k_plus_one_draw(rng, (size, size, size))
                changed = [swap[i] if i in slots else tensor for i, tensor in enumerate(base)]
                change = learner_loss(k_plus_one_loss, changed, f"a new batch of {size}") - loss
                right = sum(k_plus_one_terms(*changed)) - sum(k_plus_one_terms(*base))
                if not close(change, right):
                    expect_term_change(term, slots, change, right, changed, base, others)
    with verified("the terms summed, each averaged over its own batch (batches of one too)"):
        reference = sum(k_plus_one_terms(*base))
        expect(close(loss, reference),
               f"Each term changes as it should, but the loss is {loss.item():.4f} where the three terms sum "
               f"to {reference.item():.4f}: something constant is added or missing. "
               f"See {K_PLUS_ONE_LECTURE}.")
    with verified("gradients reach the labelled, real and generated logits"):
        _, grads = gradients(k_plus_one_loss, base, "the first batch")
        _, right_grads = reference_gradients(base)
        for grad, right, what in zip(grads, right_grads, GRADIENT_OF, strict=True):
            expect(grad is not None, f"No gradient reaches {what}: that term is computed from a detached "
                                     "copy (or not from these logits at all), so D would not learn from it.")
            expect(close(grad, right), f"The gradient with respect to {what} differs from the loss's own "
                                       "gradient: a term is detached or computed outside autograd.")
    with verified("stable values and gradients for real and generated logits of +100 and -120, and labelled "
                  "logits of +100 and -120"):
        for description, slot, term, inputs in extreme_cases(check_rng(1)):
            extreme, grads = gradients(k_plus_one_loss, inputs, description)
            right, right_grads = reference_gradients(inputs)
            expect(bool(torch.isfinite(extreme)),
                   f"With {description} your loss is {extreme.item()}: {term} overflows or takes the log of "
                   "0. Never form Z = sum(exp(logits)) itself: log Z = torch.logsumexp(logits, 1), -log D(x) "
                   "= softplus(-log Z) and -log(1 - D(x)) = softplus(log Z) stay finite on both sides (and "
                   "F.cross_entropy does for the class term).")
            expect(close(extreme, right),
                   f"With {description} your loss is {extreme.item():.4f} where it should be "
                   f"{right.item():.4f}: {term} loses precision there (a clamp, an epsilon inside a log, or "
                   "a probability rounded to 0 or 1 before its log). Work with log Z throughout.")
            grad = grads[(0, 2, 3).index(slot)]
            expect(grad is not None and bool(torch.isfinite(grad).all()),
                   f"With {description} the loss is finite but its gradient with respect to those logits is "
                   "not: a branch (torch.where, a mask) that also computes an overflowing expression sends "
                   "nan back through the branch it did not choose. Use softplus and logsumexp, stable on "
                   "both sides.")
            expect(close(grad, right_grads[(0, 2, 3).index(slot)]),
                   f"With {description} the gradient of {term} differs from the stable loss's: the term is "
                   "clamped or saturates there.")
    verified.passed()


def shift_changes(logits: torch.Tensor, shift: float) -> tuple[float, float]:
    """How much a common shift of all class logits moves the class probabilities and D(x) = Z/(Z+1)."""
    shifted = logits + shift
    class_change = (shifted.softmax(1) - logits.softmax(1)).abs().max().item()
    real = torch.sigmoid(logits.logsumexp(1))
    real_change = (torch.sigmoid(shifted.logsumexp(1)) - real).abs().max().item()
    return class_change, real_change


def shift_outcome(class_change: float, real_change: float) -> str | None:
    """Which of class / real / both moved (None if neither did)."""
    changes = (("class", class_change), ("real", real_change))
    moved = [name for name, change in changes if change > SHIFT_NOISE]
    return None if not moved else "both" if len(moved) == 2 else moved[0]


def check_shift_prediction(prediction: object, reason: object, class_change: object,
                           real_change: object) -> None:
    """Commit ``prediction_shift``; seeded logits give the outcome, the learner's measurement is checked."""
    commit_prediction("prediction_shift", prediction, ("class", "real", "both"), reason)
    seeded_logits = 3 * torch.randn(8, 10, generator=torch.Generator().manual_seed(0))
    own = shift_outcome(*shift_changes(seeded_logits, 3.0))
    measured = [measured_number(value, name, 0.0, 1.0)
                for name, value in (("class_change", class_change), ("real_change", real_change))]
    problems = [problem for number, problem in measured if number is None]
    if problems:
        cannot_judge(f"{problems[0]} Both changes are differences of probabilities: numbers in [0, 1].")
        return
    classes, real = (number for number, _ in measured)
    if shift_outcome(classes, real) != own:  # type: ignore[arg-type]
        cannot_judge(f"your measurement (class probabilities moved by {classes:.2g}, D(x) by {real:.2g}) "
                     "disagrees with the same computation on seeded logits: add one constant to *all* K "
                     "logits of each image, and compare softmax with softmax and Z/(Z+1) with Z/(Z+1).")
        return
    judge_prediction(prediction, own,  # type: ignore[arg-type]
                     f"Adding the same constant to all K logits changed the class probabilities by up to "
                     f"{classes:.2g} and D(x) = Z/(Z+1) by {real:.2g}: softmax forgets a common shift, Z "
                     "does not. In the K+1 GAN that common level is the real/fake evidence that the "
                     f"unlabelled images train ({K_PLUS_ONE_LECTURE}).")
