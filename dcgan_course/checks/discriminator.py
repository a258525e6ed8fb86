"""Checks for the discriminator exercises (notebook 02): the minibatch-stddev layer, a 28-pixel D,
and the prediction about its receptive field.

Like ``checks.networks`` (whose layer tracing they use), each check verifies every property its
pass line names from the layers a forward pass really calls.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from . import cannot_judge, commit_prediction, expect, expect_shape, judge_prediction, passed
from .networks import (
    MNIST_SIZE,
    after_each_conv,
    build_learner_model,
    expect_no_pooling,
    expect_no_resizing,
    forward,
    seeded,
    trace_layers,
)


def check_minibatch_stddev(layer_class: Callable[[], nn.Module]) -> None:
    """``layer_class()``: append one channel, the mean over features of the batch's standard deviation."""
    name = layer_class.__name__ if isinstance(layer_class, type) else "MinibatchStdDev"
    layer = build_learner_model(layer_class, name)
    inputs = seeded(8, 4, 5, 5).requires_grad_(True)
    output = forward(layer, inputs, name)
    expect_shape(output, (8, 5, 5, 5), f"{name} on (8, 4, 5, 5) must append one channel")
    expect(torch.equal(output[:, :4].detach(), inputs.detach()),
           f"{name} changed the input channels: keep them as they are and append the statistic after them.")
    extra = output[:, 4].detach()
    expect(torch.allclose(extra, extra.flatten()[0].expand_as(extra), atol=1e-6),
           f"{name}'s new channel varies over the batch or the positions: it must hold *one* number, the "
           "mean over channels and pixels of each feature's standard deviation across the batch, "
           "broadcast to every image and pixel (lecture 02; Karras et al. 2018, §3).")
    value = extra.flatten()[0].item()
    across = {"biased": inputs.detach().std(dim=0, unbiased=False).mean().item(),
              "unbiased": inputs.detach().std(dim=0).mean().item()}
    wrong_axis = [inputs.detach().std(dim=1, unbiased=unbiased).mean().item() for unbiased in (False, True)]
    right = min(abs(value - v) for v in across.values()) < 1e-4
    expect(right or min(abs(value - v) for v in wrong_axis) > 1e-4,
           f"{name} measures the spread across *channels*: the statistic is about how different the images "
           "of the batch are, so take the standard deviation across the batch dimension.")
    expect(min(abs(value - v) for v in across.values()) < 1e-3,
           f"{name}'s statistic is {value:.4f}; the mean over features of the standard deviation across "
           f"the batch is {across['biased']:.4f}.")
    (gradient,) = torch.autograd.grad(output[:, 4].sum(), inputs)
    expect(gradient.abs().sum() > 0, f"{name} detaches its statistic: D must be able to learn from it, "
                                     "so let the gradient flow.")
    same = seeded(1, 4, 5, 5).expand(6, -1, -1, -1).clone().requires_grad_(True)
    collapsed = forward(layer, same, name)[:, 4]
    (gradient,) = torch.autograd.grad(collapsed.sum(), same)
    expect(collapsed.abs().max().item() < 1e-2, f"{name} gives {collapsed.max().item():.3f} for a batch of "
                                                "identical images: the spread of a collapsed batch is 0.")
    expect(bool(torch.isfinite(gradient).all()), f"{name} has a NaN gradient on a batch of identical images "
                                                 "(the square root's slope is infinite at 0): add a small "
                                                 "epsilon to the variance before the square root.")
    passed(f"{name}: keeps the input channels and appends one constant channel, the mean over features of "
           "the standard deviation across the batch (≈ 0 for identical images, finite gradient there).")


def check_discriminator_28(discriminator_class: Callable[..., nn.Module]) -> None:
    """``discriminator_class(channels, base_width)``: 28x28 images -> one logit each, DCGAN rules."""
    name = discriminator_class.__name__ if isinstance(discriminator_class, type) else "Discriminator28"
    for config, batch in ((dict(channels=1, base_width=8), 16), (dict(channels=3, base_width=4), 4)):
        torch.manual_seed(0)
        discriminator = build_learner_model(discriminator_class, name, **config)
        expect_no_pooling(discriminator, name)
        expect(not any(isinstance(m, nn.Sigmoid) for m in discriminator.modules()),
               f"{name} contains a Sigmoid module: return raw logits. BCEWithLogitsLoss applies the sigmoid "
               "itself, stably; a Sigmoid before a logits loss squashes twice (lecture 02, §4).")
        images = seeded(batch, config["channels"], MNIST_SIZE, MNIST_SIZE)
        logits = forward(discriminator, images, name)
        hint = " (one logit per image: flatten the (N, 1, 1, 1) output)" if logits.numel() == batch else ""
        expect_shape(logits, (batch,), f"{name}({', '.join(f'{k}={v}' for k, v in config.items())}) on "
                                       f"images of shape {tuple(images.shape)}{hint}")
        calls = trace_layers(discriminator, images)
        expect(all(not isinstance(call.module, nn.ConvTranspose2d) for call in calls),
               f"{name} uses nn.ConvTranspose2d: D downsamples with strided nn.Conv2d.")
        expect_no_resizing(calls, 1, name)
        expect_discriminator_layers(after_each_conv(calls), name)
        expect_unbounded_logits(discriminator, images, name)
        expect_batch_aware(discriminator, images, name)
    passed(f"{name}: images (16, 1, 28, 28) -> logits (16,) by strided convolutions; LeakyReLU(0.2) after "
           "every hidden convolution, BatchNorm on all but the first, no Sigmoid; in eval mode its logits "
           "depend on the rest of the batch (minibatch stddev); RGB works too.")


def expect_discriminator_layers(followers: list[list[type]], name: str) -> None:
    """[BatchNorm2d ->] LeakyReLU after each hidden conv (no BatchNorm on the first), nothing on the logit."""
    *hidden, last = followers
    expect(bool(hidden), f"{name} has a single convolution: D shrinks the image over several layers.")
    for index, kinds in enumerate(hidden, start=1):
        expect(nn.ReLU not in kinds, f"{name}'s layer {index} uses ReLU: D uses LeakyReLU(0.2), so gradients "
                                     "also flow for negative inputs (lecture 02, §2).")
        expect(nn.LeakyReLU in kinds, f"{name}'s layer {index} has no LeakyReLU after its convolution: "
                                      "without a nonlinearity stacked convolutions collapse into one linear "
                                      "map (lecture 02, §2-3).")
        expect((nn.BatchNorm2d in kinds) == (index > 1),
               f"{name}'s layer {index} " + ("has BatchNorm: the paper leaves D's input layer without it"
                                             if index == 1 else "has no BatchNorm2d: DCGAN normalises every "
                                             "hidden layer of D but the first") + " (lecture 02, §3).")
    expect(not {nn.LeakyReLU, nn.ReLU, nn.Tanh} & set(last),
           f"{name} squashes its final convolution's output: return it as the logit (lecture 02, §4).")


def expect_unbounded_logits(discriminator: nn.Module, images: torch.Tensor, name: str) -> None:
    """Logits are unbounded, and LeakyReLU really has slope 0.2: huge inputs give huge outputs."""
    discriminator.eval()
    with torch.no_grad():
        outputs = discriminator(images * 1000)
    low, high = outputs.min().item(), outputs.max().item()
    expect(not (0 <= low and high <= 1), f"{name}'s outputs stay in [0, 1] even for huge inputs: a sigmoid "
                                         "is applied. Return raw logits (lecture 02, §4).")
    expect(not (-1 <= low and high <= 1), f"{name}'s outputs stay in [-1, 1]: a Tanh squashes them. Return "
                                          "raw logits from the final convolution (lecture 02, §4).")
    slopes = sorted({m.negative_slope for m in discriminator.modules() if isinstance(m, nn.LeakyReLU)})
    expect(slopes == [0.2], f"{name} uses LeakyReLU with slope {slopes}: DCGAN uses 0.2; the default is "
                            "0.01, almost a ReLU (lecture 02, §2).")


def expect_batch_aware(discriminator: nn.Module, images: torch.Tensor, name: str) -> None:
    """In eval mode (BatchNorm frozen) only a minibatch statistic makes a logit depend on the other images."""
    discriminator.eval()
    with torch.no_grad():
        alone = discriminator(images[:2])
        together = discriminator(images)[:2]
    expect(not torch.allclose(alone, together, atol=1e-6),
           f"{name} judges every image on its own: add the minibatch-stddev layer before the last "
           "convolution, so D can see that a batch of fakes lacks variety (lecture 03, §7 mode collapse).")
    discriminator.train()


def receptive_width(discriminator_class: Callable[..., nn.Module]) -> tuple[int, int]:
    """(map size, seen width): how many input columns one centre unit before D's last convolution sees."""
    discriminator = build_learner_model(discriminator_class, "Discriminator28", channels=1, base_width=8)
    discriminator.eval()
    convs = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    expect(len(convs) >= 2, "Discriminator28 needs at least two convolutions for this question.")
    captured: list[torch.Tensor] = []
    handle = convs[-1].register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    images = seeded(2, 1, MNIST_SIZE, MNIST_SIZE).requires_grad_(True)
    try:
        forward(discriminator, images, "Discriminator28")
    finally:
        handle.remove()
    feature_map = captured[0]
    centre = feature_map.shape[-1] // 2
    (gradient,) = torch.autograd.grad(feature_map[0, 0, centre, centre], images)
    columns = (gradient[0].abs().sum(0) > 0).any(0).nonzero()
    return feature_map.shape[-1], int(columns.max() - columns.min() + 1) if len(columns) else 0


def check_receptive_field_prediction(prediction: object, reason: object,
                                     discriminator_class: Callable[..., nn.Module]) -> None:
    """How much of a 28x28 image one unit of the map before D's final convolution sees, by its gradient."""
    options = ("a patch", "the whole image")
    commit_prediction("prediction_receptive_field", prediction, options, reason)
    try:
        size, width = receptive_width(discriminator_class)
    except AssertionError as error:
        cannot_judge(f"your Discriminator28 cannot be measured yet ({error}).")
        return
    outcome = "the whole image" if width >= MNIST_SIZE else "a patch"
    judge_prediction(prediction, outcome,  # type: ignore[arg-type]
                     f"One unit of your {size}-pixel map sees {width}x{width} of the {MNIST_SIZE}x"
                     f"{MNIST_SIZE} pixels (measured by its gradient); each layer adds (k - 1) x jump "
                     "(lecture 02, §5). Only the final convolution sees everything.")
