"""Checks for notebook 09: the total-variation loss, the style loss and the texture prediction.

Each check runs the learner's function on seeded inputs, compares it with a reference computed
here and, when they disagree, names the mistake that produces the learner's answer. Messages
point at the concept and the lecture section; they never show the answer's code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..style import gram_matrix
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
    reproducing,
)
from .shortcuts import off_limits

RTOL = 1e-4
TV_LECTURE = "notebook 09, section 4 (Johnson et al. add a total-variation term to smooth the result)"
STYLE_LECTURE = "notebook 09, section 1 (content and style losses)"


def neighbour_differences(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Differences between vertically and between horizontally adjacent pixels, no wrap-around."""
    return images[..., 1:, :] - images[..., :-1, :], images[..., :, 1:] - images[..., :, :-1]


def reference_total_variation(images: torch.Tensor) -> torch.Tensor:
    """The course's total variation: mean |vertical| + mean |horizontal| neighbour differences."""
    vertical, horizontal = neighbour_differences(images)
    return vertical.abs().mean() + horizontal.abs().mean()


def total_variation_variants(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The total variation (key ``"right"``) and its likely wrong versions, keyed by the mistake."""
    vertical, horizontal = neighbour_differences(images)
    wrapped = ((images - images.roll(1, -2)).abs().mean() + (images - images.roll(1, -1)).abs().mean())
    return {
        "right": reference_total_variation(images),
        "only one direction counts (vertical neighbours only): add the horizontal differences":
            vertical.abs().mean(),
        "only one direction counts (horizontal neighbours only): add the vertical differences":
            horizontal.abs().mean(),
        "the differences are squared: this course's total variation is the mean *absolute* difference. "
        "Squaring charges a rise h taken in one step h², but the same rise spread over k small steps only "
        "k·(h/k)² = h²/k, so minimising it smears every edge into a ramp (blur); absolute differences charge "
        "h either way, so edges survive while speckle is removed":
            vertical.pow(2).mean() + horizontal.pow(2).mean(),
        "the absolute differences are summed, not averaged: the weight would then depend on the image size":
            vertical.abs().sum() + horizontal.abs().sum(),
        "the sums were divided by the number of pixels, not by the number of neighbour pairs ((H-1)·W "
        "vertical, H·(W-1) horizontal per channel): average over the pairs inside the image":
            (vertical.abs().sum() + horizontal.abs().sum()) / images.numel(),
        "both difference maps were cropped to a common (H-1)×(W-1) grid: that drops the vertical pairs of "
        "the last column and the horizontal pairs of the last row; average each direction over all its pairs":
            (vertical[..., :, :-1].abs() + horizontal[..., :-1, :].abs()).mean(),
        "the pair of the last two rows and of the last two columns is left out (the slices stop one short): "
        "every pair of neighbours inside the image counts":
            vertical[..., :-1, :].abs().mean() + horizontal[..., :, :-1].abs().mean(),
        "the differences wrap around the border (the last row is compared with the first): compare "
        "neighbours inside the image only": wrapped,
        "the differences run along the channel axis, not along height and width":
            (images[:, 1:] - images[:, :-1]).abs().mean(),
    }


def call_total_variation(total_variation: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                         what: str) -> torch.Tensor:
    """The learner's total variation of ``images`` as a 0-dim tensor."""
    value = expect_tensor(call_learner("total_variation", f"total_variation({what})", total_variation,
                                       images), f"The result of total_variation({what})")
    expect(value.dim() == 0, f"The total variation should be one number for the batch (a 0-dim tensor), got "
                             f"shape {tuple(value.shape)}: average over images, channels and positions.")
    return value


def expect_total_variation(value: torch.Tensor, images: torch.Tensor, what: str) -> None:
    """Insist that ``value`` is the total variation of ``images``, naming the mistake it matches if not."""
    variants = total_variation_variants(images.detach().double())
    right = variants.pop("right")
    if torch.allclose(value.detach().double(), right, rtol=RTOL, atol=1e-7):
        return
    for mistake, wrong in variants.items():
        expect(not torch.allclose(value.detach().double(), wrong, rtol=RTOL, atol=1e-7),
               f"Your total variation of {what} matches a known mistake: {mistake}. See {TV_LECTURE}.")
    raise AssertionError(f"Expected {right.item():.4f} for {what}, got {value.item():.4f}: the total "
                         "variation is the mean absolute difference between vertically adjacent pixels plus "
                         f"the same for horizontally adjacent pixels. See {TV_LECTURE}.")


@reproducing
def check_total_variation(total_variation: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """``total_variation(images)``: mean |vertical| + mean |horizontal| neighbour differences, a scalar."""
    verified = Verification("total_variation")
    rng = check_rng(40)
    count, channels = (int(torch.randint(2, 4, (), generator=rng)) for _ in range(2))
    height = int(torch.randint(4, 8, (), generator=rng))
    width = height + int(torch.randint(1, 5, (), generator=rng))  # never square: the axes must not mix
    images = torch.randn(count, channels, height, width, generator=rng).requires_grad_(True)
    shape = f"images of shape {tuple(images.shape)}"
    with verified("one number, the mean absolute vertical plus horizontal neighbour difference inside the "
                  "image (no wrap-around) on a drawn batch"):
        value = call_total_variation(total_variation, images, shape)
        expect_total_variation(value, images, shape)
    with verified("its gradient with respect to the image is the total variation's"):
        expect(value.requires_grad, "The total variation has no gradient: it is a loss the optimiser must "
                                    "follow: keep it a tensor connected to the image (no .item(), no "
                                    ".detach()).")
        got = torch.autograd.grad(value, images, allow_unused=True)[0]
        wanted = torch.autograd.grad(reference_total_variation(images), images)[0]
        expect(got is not None and torch.allclose(got, wanted, rtol=1e-3, atol=1e-6),
               "The total variation has the right value, but its gradient with respect to the image is not "
               "the total variation's: part of it is computed on a detached copy (.detach(), .data or "
               "torch.no_grad()), so optimising the image would not follow this loss.")
    with verified("also for a single one-channel image"):
        single = torch.randn(1, 1, width, height, generator=rng)
        expect_total_variation(call_total_variation(total_variation, single, "one 1-channel image"), single,
                               "one 1-channel image")
    with verified("exactly 0 on a constant image"):
        level = torch.rand((), generator=rng).item() * 2 - 1
        flat = call_total_variation(total_variation, torch.full((1, 3, height, width), level),
                                    "a constant image")
        expect(float(flat) == 0.0, f"A constant image has no variation, but your function gives "
                                   f"{float(flat):.3g} (a smoothing epsilon inside the absolute value?).")
    with verified("a one-pixel step between the last two rows, and between the last two columns, counts"):
        for axis, label in ((-2, "the last two rows"), (-1, "the last two columns")):
            step = torch.zeros(1, 1, height, width)
            step.narrow(axis, step.shape[axis] - 1, 1).fill_(1.0)
            what = f"an image whose only edge lies between {label}"
            value = call_total_variation(total_variation, step, what)
            expect(float(value) != 0.0, f"Your total variation is 0 for {what}: the pairs at the image's "
                                        "border are left out; every pair of neighbours inside the image "
                                        f"counts. See {TV_LECTURE}.")
            expect_total_variation(value, step, what)
    verified.passed()


def style_variants(features: Sequence[torch.Tensor], grams: Sequence[torch.Tensor]
                   ) -> dict[str, torch.Tensor]:
    """Likely wrong versions of the style loss, each named by the mistake it contains."""
    pairs = list(zip(features, grams, strict=True))
    per_layer = [F.mse_loss(gram_matrix(f), g) for f, g in pairs]
    flat = [f.reshape(f.shape[0], f.shape[1], -1) for f in features]
    return {
        "only the last layer counts: sum the loss over every style layer (every scale)": per_layer[-1],
        "only the first layer counts: sum the loss over every style layer (every scale)": per_layer[0],
        "you averaged over the layers: sum them (the style weight sets the scale)":
            sum(per_layer) / len(per_layer),
        "you used absolute differences: the style loss is the mean *squared* difference of Gram matrices":
            sum(F.l1_loss(gram_matrix(f), g) for f, g in pairs),
        "you summed the squared differences: take their mean for each layer":
            sum(F.mse_loss(gram_matrix(f), g, reduction="sum") for f, g in pairs),
        "the Gram matrices are not normalised by C x H x W: layers of different sizes then weigh unequally":
            sum(F.mse_loss(m @ m.transpose(1, 2), g) for m, g in zip(flat, grams, strict=True)),
        "the Gram matrices are normalised twice: style.gram_matrix already divides by C x H x W":
            sum(F.mse_loss(gram_matrix(f) / f[0].numel(), g) for f, g in pairs),
        "only the first image of the batch counts: compare every image's Gram matrices with the targets":
            sum(F.mse_loss(gram_matrix(f)[:1], g[:1]) for f, g in pairs),
    }


def style_inputs(rng: torch.Generator, batch: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Features of 2 to 4 layers (drawn widths, shrinking sizes) and target Grams of other features."""
    layers = int(torch.randint(2, 5, (), generator=rng))
    sizes = sorted({int(size) for size in torch.randint(2, 10, (layers + 3,), generator=rng)}, reverse=True)
    sizes = (sizes + [2] * layers)[:layers]
    shapes = [(batch, int(torch.randint(3, 9, (), generator=rng)), size, size) for size in sizes]
    features = [torch.randn(shape, generator=rng).relu().requires_grad_(True) for shape in shapes]
    grams = [gram_matrix(torch.randn(shape, generator=rng).relu()) for shape in shapes]
    return features, grams


def call_style_loss(loss_fn: Callable[..., torch.Tensor], features: list[torch.Tensor],
                    grams: list[torch.Tensor], what: str) -> torch.Tensor:
    """The learner's style loss as a 0-dim tensor; a shape error gets the likely reason."""
    try:
        loss = expect_tensor(call_learner("style_loss", f"style_loss({what})", loss_fn, features, grams),
                             "The result of style_loss")
    except AssertionError as error:
        if "raised RuntimeError" in str(error):
            raise AssertionError(f"{error} Compare the Gram matrix of each layer's features with that "
                                 "layer's target Gram matrix; raw features and Gram matrices have different "
                                 "shapes.") from None
        if "raised ValueError" in str(error) and "unpack" in str(error):
            raise AssertionError(f"{error} The target Grams are already Gram matrices (N, C, C): pass only "
                                 "the features through gram_matrix.") from None
        raise
    expect(loss.dim() == 0, f"The style loss should be a single number, got shape {tuple(loss.shape)}.")
    return loss


def expect_style_loss(loss: torch.Tensor, features: list[torch.Tensor], grams: list[torch.Tensor],
                      what: str) -> None:
    """Insist that ``loss`` is the style loss, naming the mistake it matches if not."""
    with torch.no_grad():
        expected = sum(F.mse_loss(gram_matrix(f), g) for f, g in zip(features, grams, strict=True))
        if torch.allclose(loss.detach(), expected, rtol=RTOL):
            return
        for mistake, variant in style_variants(features, grams).items():
            expect(not torch.allclose(loss.detach(), variant, rtol=RTOL),
                   f"Your style loss ({what}): {mistake}. See {STYLE_LECTURE}.")
    raise AssertionError(f"Expected {expected.item():.4g} for {what}, got {loss.item():.4g}: the style loss "
                         "is the mean squared difference between Gram matrices, summed over the style "
                         f"layers. See {STYLE_LECTURE}.")


@reproducing
@off_limits
def check_style_loss(loss_fn: Callable[..., torch.Tensor]) -> None:
    """Style loss: sum over layers of mse(gram(features), target Gram)."""
    verified = Verification("style_loss")
    rng = check_rng(50)
    features, grams = style_inputs(rng, batch=1)
    what = f"features of {len(features)} layers, target Grams"
    with verified("one number, the sum over 2 to 4 drawn style layers of the mean squared difference of "
                  "normalised Gram matrices"):
        loss = call_style_loss(loss_fn, features, grams, what)
        expect_style_loss(loss, features, grams, what)
    with verified("its gradient reaches every layer's features as the loss's does"):
        expect(loss.requires_grad, "The loss has no gradient: don't detach the features or call .item().")
        got = torch.autograd.grad(loss, features, allow_unused=True)
        expected = sum(F.mse_loss(gram_matrix(f), g) for f, g in zip(features, grams, strict=True))
        wanted = torch.autograd.grad(expected, features)
        for layer, (mine, right) in enumerate(zip(got, wanted, strict=True)):
            missing = mine is None or not bool(mine.abs().sum())
            expect(mine is not None and torch.allclose(mine, right, rtol=1e-3, atol=1e-8),
                   f"The style loss has the right value, but layer {layer}'s features get "
                   f"{'no' if missing else 'a different'} gradient: that layer's term is computed on a "
                   "detached copy (.detach(), .data or torch.no_grad()), so optimising the image would not "
                   "follow its style.")
    with verified("also for a batch of two images"):
        features, grams = style_inputs(rng, batch=2)
        what = f"a batch of two images, {len(features)} layers"
        expect_style_loss(call_style_loss(loss_fn, features, grams, what), features, grams, what)
    verified.passed()


def check_texture_prediction(prediction: object, reason: object, gram_changes: object) -> None:
    """Commit ``prediction_texture``, then show the measured change of each layer's Gram matrix under blur."""
    commit_prediction("prediction_texture", prediction, ("early", "late"), reason)
    changes, problem = measured_series(gram_changes, "gram_changes", 0.0, 100.0)
    if changes is None:
        cannot_judge(f"{problem} It should hold one relative change |G_blurred - G| / |G| per style layer, "
                     "early to late: non-negative ratios, not percentages.")
        return
    outcome = "early" if changes[0] > changes[-1] else "late"
    listed = ", ".join(f"{change:.2f}" for change in changes)
    why = ("fine texture lives in small neighbourhoods: the early, full-resolution filters see it, the "
           "late, coarse ones average over it" if outcome == "early" else
           "this style image has little fine texture, so its coarse structure dominated; try another style")
    judge_prediction(prediction, outcome,  # type: ignore[arg-type]
                     f"Blurring changed the Gram matrices by {listed} (early to late layer): {why}. That is "
                     "why style losses read several layers (notebook 09, §1).")
