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
    call_learner,
    cannot_judge,
    commit_prediction,
    expect,
    expect_tensor,
    judge_prediction,
    measured_series,
    passed,
)
from .shortcuts import off_limits

RTOL = 1e-4
TV_LECTURE = "notebook 09, section 4 (Johnson et al. add a total-variation term to smooth the result)"
STYLE_LECTURE = "notebook 09, section 1 (content and style losses)"


def neighbour_differences(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Differences between vertically and between horizontally adjacent pixels, no wrap-around."""
    return images[..., 1:, :] - images[..., :-1, :], images[..., :, 1:] - images[..., :, :-1]


def total_variation_variants(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The total variation (key ``"right"``) and its likely wrong versions, keyed by the mistake."""
    vertical, horizontal = neighbour_differences(images)
    wrapped = ((images - images.roll(1, -2)).abs().mean() + (images - images.roll(1, -1)).abs().mean())
    return {
        "right": vertical.abs().mean() + horizontal.abs().mean(),
        "only one direction counts (vertical neighbours only): add the horizontal differences":
            vertical.abs().mean(),
        "only one direction counts (horizontal neighbours only): add the vertical differences":
            horizontal.abs().mean(),
        "the differences are squared: this course's total variation is the mean *absolute* difference. A "
        "square makes one sharp edge cost far more than the same rise spread over many small steps, so it "
        "blurs edges; absolute differences charge both the same and keep edges while removing speckle":
            vertical.pow(2).mean() + horizontal.pow(2).mean(),
        "the absolute differences are summed, not averaged: the weight would then depend on the image size":
            vertical.abs().sum() + horizontal.abs().sum(),
        "the differences wrap around the border (the last row is compared with the first): compare "
        "neighbours inside the image only": wrapped,
        "the differences run along the channel axis, not along height and width":
            (images[:, 1:] - images[:, :-1]).abs().mean(),
    }


def check_total_variation(total_variation: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """``total_variation(images)``: mean |vertical| + mean |horizontal| neighbour differences, a scalar."""
    images = torch.randn(2, 3, 5, 7, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    value = expect_tensor(call_learner("total_variation", "total_variation(images of shape (2, 3, 5, 7))",
                                       total_variation, images), "The result of total_variation")
    expect(value.dim() == 0, f"The total variation should be one number for the batch (a 0-dim tensor), got "
                             f"shape {tuple(value.shape)}: average over images, channels and positions.")
    variants = total_variation_variants(images.detach())
    right = variants.pop("right")
    if not torch.allclose(value.detach(), right, rtol=RTOL):
        for mistake, wrong in variants.items():
            expect(not torch.allclose(value.detach(), wrong, rtol=RTOL),
                   f"Your total variation matches a known mistake: {mistake}. See {TV_LECTURE}.")
        raise AssertionError(f"Expected {right.item():.4f}, got {value.item():.4f}: the total variation is "
                             "the mean absolute difference between vertically adjacent pixels plus the same "
                             f"for horizontally adjacent pixels. See {TV_LECTURE}.")
    expect(value.requires_grad, "The total variation has no gradient: it is a loss the optimiser must "
                                "follow: keep it a tensor connected to the image (no .item(), no .detach()).")
    flat = call_learner("total_variation", "total_variation(a constant image)", total_variation,
                        torch.full((1, 3, 4, 4), 0.3))
    expect(float(flat) == 0.0, f"A constant image has no variation, but your function gives "
                               f"{float(flat):.3g} (a smoothing epsilon inside the absolute value?).")
    passed("total_variation: mean absolute vertical + horizontal neighbour differences, no wrap-around, "
           "zero on a constant image, differentiable.")


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
    }


@off_limits
def check_style_loss(loss_fn: Callable[..., torch.Tensor]) -> None:
    """Style loss: sum over layers of mse(gram(features), target Gram)."""
    rng = torch.Generator().manual_seed(0)
    shapes = ((1, 4, 8, 8), (1, 6, 4, 4), (1, 8, 2, 2))
    features = [torch.randn(shape, generator=rng).relu().requires_grad_(True) for shape in shapes]
    grams = [gram_matrix(torch.randn(shape, generator=rng).relu()) for shape in shapes]
    try:
        loss = expect_tensor(call_learner("style_loss", "style_loss(features of 3 layers, target Grams)",
                                          loss_fn, features, grams), "The result of style_loss")
    except AssertionError as error:
        if "raised RuntimeError" in str(error):
            raise AssertionError(f"{error} Compare the Gram matrix of each layer's features with that "
                                 "layer's target Gram matrix; raw features and Gram matrices have different "
                                 "shapes.") from None
        raise
    expect(loss.dim() == 0, f"The style loss should be a single number, got shape {tuple(loss.shape)}.")
    expected = sum(F.mse_loss(gram_matrix(f), g) for f, g in zip(features, grams, strict=True))
    if not torch.allclose(loss, expected, rtol=RTOL):
        for mistake, variant in style_variants(features, grams).items():
            expect(not torch.allclose(loss, variant, rtol=RTOL),
                   f"Your style loss: {mistake}. See {STYLE_LECTURE}.")
        raise AssertionError(f"Expected {expected.item():.4g}, got {loss.item():.4g}: the style loss is the "
                             "mean squared difference between Gram matrices, summed over the style layers. "
                             f"See {STYLE_LECTURE}.")
    expect(loss.requires_grad, "The loss has no gradient: don't detach the features or call .item().")
    passed("style loss: mean squared difference of normalised Gram matrices, summed over the 3 style layers.")


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
