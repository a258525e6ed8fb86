"""Checks for notebook 08: the U-Net skip block and the pix2pix generator loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..train import gan_loss
from ..translation import UNetBlock, UNetGenerator
from . import expect, expect_tensor, passed

SKIP_HINT = "return torch.cat([x, self.up(self.inner(self.down(x)))], dim=1)"


def run_block(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Call the learner's block, turning a crash into an explanation."""
    try:
        return expect_tensor(block(x), "Your block's output")
    except NotImplementedError:
        raise AssertionError("forward is not implemented yet: replace `raise NotImplementedError`.") from None
    except RuntimeError as error:
        raise AssertionError(
            f"Calling your block failed ({error}). Run x through self.down, then self.inner, then "
            f"self.up, and concatenate x with the result: {SKIP_HINT}"
        ) from error


def matching_blocks(block_class: type[UNetBlock]) -> tuple[UNetBlock, UNetBlock]:
    """The learner's block and the reference, with identical weights, in inference mode."""
    torch.manual_seed(0)
    inner = UNetBlock(8, 8)
    reference = UNetBlock(4, 8, inner).eval()
    candidate = block_class(4, 8, UNetBlock(8, 8)).eval()
    candidate.load_state_dict(reference.state_dict())
    return candidate, reference


def check_skip_block(block_class: type[UNetBlock]) -> None:
    """The block returns cat([x, up(inner(down(x)))]) along channels, and a U-Net can be built from it."""
    candidate, reference = matching_blocks(block_class)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        output = run_block(candidate, x)
        returned = reference.up(reference.inner(reference.down(x)))
    shape = tuple(output.shape)
    expect(shape != (4, 4, 8, 8), "The output has twice the batch size: you concatenated along dim=0 "
                                  "(the batch). Concatenate along channels: dim=1.")
    expect(shape not in ((2, 4, 16, 8), (2, 4, 8, 16)),
           f"Output shape {shape}: you concatenated along a spatial dimension. Use dim=1 (channels).")
    if shape == (2, 4, 8, 8):
        expect(not torch.allclose(output, x + returned, atol=1e-5),
               "You added the skip (x + ...) instead of concatenating it: pix2pix stacks the input's "
               f"channels next to the decoder's ({SKIP_HINT}).")
        raise AssertionError("The output has as many channels as the input: the skip connection is "
                             f"missing. Concatenate x with the upsampled result: {SKIP_HINT}")
    expect(shape == (2, 8, 8, 8), f"Expected shape (2, 8, 8, 8) (input channels doubled), got {shape}.")
    expect(not torch.allclose(output, torch.cat([returned, x], dim=1), atol=1e-5),
           "The skip and the upsampled features are in the wrong order: put the input x first, "
           "torch.cat([x, up(...)], dim=1), so the decoder's weights line up.")
    expect(torch.allclose(output, torch.cat([x, returned], dim=1), atol=1e-5),
           f"The values differ from the reference. Use every part in order: {SKIP_HINT}")
    generator = UNetGenerator(1, 1, image_size=32, base_width=8, block=block_class).eval()
    with torch.no_grad():
        images = generator(torch.randn(2, 1, 32, 32))
    expect(tuple(images.shape) == (2, 1, 32, 32),
           f"A U-Net built from your block should map (2, 1, 32, 32) to itself, got {tuple(images.shape)}.")
    passed("UNet skip block: input and upsampled features concatenated along channels; a 32-px U-Net works.")


def loss_variants(logits: torch.Tensor, fake: torch.Tensor, target: torch.Tensor, weight: float
                  ) -> dict[str, torch.Tensor]:
    """Likely wrong versions of the pix2pix generator loss, each named by the bug it contains."""
    adversarial, l1 = gan_loss(logits, True), (fake - target).abs().mean()
    return {
        "The L1 term is not multiplied by l1_weight (lambda = 100): use adversarial + l1_weight * L1.":
            adversarial + l1,
        "The adversarial term uses fake labels (0). G wants D to call its outputs real: "
        "target_is_real=True (labels of 1).": gan_loss(logits, False) + weight * l1,
        "You used the saturating minimax form (minus D's loss on fakes). Use the non-saturating "
        "loss: BCE against real labels.": -gan_loss(logits, False) + weight * l1,
        "You used squared error; pix2pix uses L1 (mean absolute error), which blurs less.":
            adversarial + weight * F.mse_loss(fake, target),
        "The L1 term is missing: without it G may ignore the target.": adversarial,
        "The adversarial term is missing: that is the L1-only baseline, not pix2pix.": weight * l1,
        "The L1 term is summed, not averaged: use .mean() so lambda means what the paper says.":
            adversarial + weight * (fake - target).abs().sum(),
    }


def check_generator_loss(loss_fn: Callable[..., torch.Tensor]) -> None:
    """The pix2pix G loss: BCE(D(x, G(x)), real) + l1_weight * mean |G(x) - y|."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 1, 6, 6, generator=generator)
    fake = torch.randn(4, 1, 16, 16, generator=generator).tanh().requires_grad_(True)
    target = torch.randn(4, 1, 16, 16, generator=generator).tanh()
    for weight in (100.0, 10.0):
        try:
            loss = expect_tensor(loss_fn(logits, fake, target, l1_weight=weight), "The loss")
        except NotImplementedError:
            raise AssertionError("The loss is not implemented yet: replace `raise NotImplementedError`.") \
                from None
        expect(loss.dim() == 0, f"The loss should be a single number (0-dim tensor), got shape "
                                f"{tuple(loss.shape)}. Average over pixels with .mean().")
        expected = gan_loss(logits, True) + weight * (fake - target).abs().mean()
        if torch.allclose(loss, expected, rtol=1e-4):
            continue
        for bug, variant in loss_variants(logits, fake, target, weight).items():
            expect(not torch.allclose(loss, variant, rtol=1e-4), bug)
        if weight != 100.0:
            expect(not torch.allclose(loss, gan_loss(logits, True) + 100.0 * (fake - target).abs().mean(),
                                      rtol=1e-4),
                   "The loss ignores the l1_weight argument: it always uses 100.")
        raise AssertionError(f"Expected {expected.item():.4f}, got {loss.item():.4f} (l1_weight={weight}). "
                             "Use gan_loss(fake_logits, True) + l1_weight * (fake - target).abs().mean().")
    expect(loss.requires_grad, "The loss has no gradient: don't detach the generated images or call .item().")
    passed("pix2pix generator loss: non-saturating GAN term with real labels + 100 x mean L1.")
