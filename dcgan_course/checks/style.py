"""Checks for notebook 09: the Gram matrix and the style loss."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..style import gram_matrix
from . import expect, expect_tensor, passed

GRAM_HINT = "flat = features.reshape(N, C, H * W); flat @ flat.transpose(1, 2) / (C * H * W)"


def call(function: Callable, *args: object, hint: str = "") -> torch.Tensor:
    """Call the learner's function; a stub or a crash (explained by ``hint``) becomes an AssertionError."""
    try:
        return expect_tensor(function(*args), f"The result of {function.__name__}")
    except NotImplementedError:
        raise AssertionError(f"{function.__name__} is not implemented yet: replace "
                             "`raise NotImplementedError`.") from None
    except RuntimeError as error:
        raise AssertionError(f"Calling {function.__name__} failed: {error}. {hint}".strip()) from error


def check_gram_matrix(gram_fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Gram matrix per image: (N, C, C) channel correlations divided by C * H * W."""
    features = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    gram = call(gram_fn, features)
    shape = tuple(gram.shape)
    expect(shape != (2, 20, 20), "Shape (2, 20, 20) is positions x positions: you computed F^T F. "
                                 f"The Gram matrix is channels x channels: F F^T ({GRAM_HINT}).")
    expect(shape != (3, 3), "Shape (3, 3): the images of the batch were mixed together. Keep one Gram "
                            "matrix per image: reshape to (N, C, H*W) and use batched matmul.")
    expect(shape == (2, 3, 3), f"Expected shape (2, 3, 3) for features of shape (2, 3, 4, 5), got {shape}.")
    expected = gram_matrix(features)
    for factor, bug in (
        (3 * 4 * 5, "not normalised: divide by C * H * W, so layers of different sizes weigh alike"),
        (3, "divided by H * W only: also divide by the number of channels C"),
        (4 * 5, "divided by C only: also divide by the number of positions H * W"),
        (1 / 2, "also divided by the batch size N: each image's Gram matrix is its own"),
    ):
        expect(not torch.allclose(gram, expected * factor, rtol=1e-4), f"Your Gram matrix is {bug}.")
    expect(torch.allclose(gram, expected, rtol=1e-4, atol=1e-6),
           f"The values differ from the reference by up to {(gram - expected).abs().max():.3g}. "
           f"Expected {GRAM_HINT}.")
    passed("Gram matrix: (N, C, C) channel correlations, normalised by C x H x W.")


def style_variants(features: Sequence[torch.Tensor], grams: Sequence[torch.Tensor]
                   ) -> dict[str, torch.Tensor]:
    """Likely wrong versions of the style loss, each named by the bug it contains."""
    per_layer = [F.mse_loss(gram_matrix(f), g) for f, g in zip(features, grams, strict=True)]
    return {
        "Only the last layer counts: sum the loss over every style layer.": per_layer[-1],
        "Only the first layer counts: sum the loss over every style layer.": per_layer[0],
        "You averaged over the layers: sum them (the style weight sets the scale).":
            sum(per_layer) / len(per_layer),
        "You used absolute differences: the style loss is the mean *squared* difference of Grams.":
            sum(F.l1_loss(gram_matrix(f), g) for f, g in zip(features, grams, strict=True)),
        "You summed the squared differences: take their mean (F.mse_loss) for each layer.":
            sum(F.mse_loss(gram_matrix(f), g, reduction="sum") for f, g in zip(features, grams, strict=True)),
    }


def check_style_loss(loss_fn: Callable[..., torch.Tensor]) -> None:
    """Style loss: sum over layers of mse(gram(features), target Gram)."""
    generator = torch.Generator().manual_seed(0)
    shapes = ((1, 4, 8, 8), (1, 6, 4, 4), (1, 8, 2, 2))
    features = [torch.randn(shape, generator=generator).relu().requires_grad_(True) for shape in shapes]
    grams = [gram_matrix(torch.randn(shape, generator=generator).relu()) for shape in shapes]
    loss = call(loss_fn, features, grams, hint="Compare gram_matrix(features) with the target Gram of "
                "each layer; don't compare the raw features with a Gram matrix.")
    expect(loss.dim() == 0, f"The style loss should be a single number, got shape {tuple(loss.shape)}.")
    expected = sum(F.mse_loss(gram_matrix(f), g) for f, g in zip(features, grams, strict=True))
    if not torch.allclose(loss, expected, rtol=1e-4):
        for bug, variant in style_variants(features, grams).items():
            expect(not torch.allclose(loss, variant, rtol=1e-4), bug)
        raise AssertionError(f"Expected {expected.item():.4g}, got {loss.item():.4g}. If check_gram_matrix "
                             "passes, compute sum(F.mse_loss(gram_matrix(f), g) for each layer).")
    expect(loss.requires_grad, "The loss has no gradient: don't detach the features or call .item().")
    passed("Style loss: mean squared Gram difference, summed over the style layers.")
