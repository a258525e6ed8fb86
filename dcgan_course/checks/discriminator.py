"""Checks for the discriminator exercises (notebook 02): the minibatch-stddev layer, a 28-pixel D,
and the prediction about its receptive field.

Like ``checks.networks`` (whose layer tracing they use), each check verifies every property its
pass line names from the layers a forward pass really calls.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import (
    Verification,
    cannot_judge,
    check_rng,
    commit_prediction,
    expect,
    expect_shape,
    judge_prediction,
    reproducing,
)
from .networks import (
    CONVOLUTIONS,
    MNIST_SIZE,
    build_learner_model,
    build_seeded,
    conv_groups,
    expect_batch_of_one,
    expect_no_pooling,
    expect_no_resizing,
    expect_training_mode,
    forward,
    same_values,
    seeded,
    trace_layers,
)

SLOPE = 0.2


@reproducing
def check_minibatch_stddev(layer_class: Callable[[], nn.Module]) -> None:
    """``layer_class()``: append one channel, the mean over features of the batch's standard deviation."""
    name = layer_class.__name__ if isinstance(layer_class, type) else "MinibatchStdDev"
    verified = Verification(name)
    layer = build_learner_model(layer_class, name)
    inputs = seeded(8, 4, 5, 5).requires_grad_(True)
    output = forward(layer, inputs, name)
    with verified("keeps the input channels and appends one"):
        expect_shape(output, (8, 5, 5, 5), f"{name} on (8, 4, 5, 5) must append one channel")
        expect(torch.equal(output[:, :4].detach(), inputs.detach()),
               f"{name} changed the input channels: keep them as they are and append the statistic after "
               "them.")
    with verified("the new channel holds one number at every image and pixel, the mean over features of the "
                  "standard deviation across the batch"):
        extra = output[:, 4].detach()
        expect(torch.allclose(extra, extra.flatten()[0].expand_as(extra), atol=1e-6),
               f"{name}'s new channel varies over the batch or the positions: it must hold *one* number, the "
               "mean over channels and pixels of each feature's standard deviation across the batch, "
               "broadcast to every image and pixel (lecture 02; Karras et al. 2018, §3).")
        value = extra.flatten()[0].item()
        across = {"biased": inputs.detach().std(dim=0, unbiased=False).mean().item(),
                  "unbiased": inputs.detach().std(dim=0).mean().item()}
        wrong_axis = [inputs.detach().std(dim=1, unbiased=unbiased).mean().item()
                      for unbiased in (False, True)]
        right = min(abs(value - v) for v in across.values()) < 1e-4
        expect(right or min(abs(value - v) for v in wrong_axis) > 1e-4,
               f"{name} measures the spread across *channels*: the statistic is about how different the "
               "images of the batch are, so take the standard deviation across the batch dimension.")
        expect(min(abs(value - v) for v in across.values()) < 1e-3,
               f"{name}'s statistic is {value:.4f}; the mean over features of the standard deviation across "
               f"the batch is {across['biased']:.4f}.")
    with verified("the same in train and eval mode"):
        layer.eval()
        try:
            in_eval = forward(layer, inputs.detach(), f"{name} in eval mode")
        finally:
            layer.train()
        expect(in_eval.shape == output.shape and torch.allclose(in_eval, output.detach(), atol=1e-6),
               f"{name} gives a different output in eval mode: the statistic is computed from the batch it "
               "is given in both modes (D in eval mode still judges the batch's variety).")
    with verified("gradients reach the inputs through it"):
        (gradient,) = torch.autograd.grad(output[:, 4].sum(), inputs)
        expect(gradient.abs().sum() > 0, f"{name} detaches its statistic: D must be able to learn from it, "
                                         "so let the gradient flow.")
    with verified("≈ 0 with a finite gradient for identical images and for a batch of one"):
        for batch in (6, 1):
            same = seeded(1, 4, 5, 5, seed=1).expand(batch, -1, -1, -1).clone().requires_grad_(True)
            what = "a batch of identical images" if batch > 1 else "a batch of one image"
            collapsed = forward(layer, same, f"{name} on {what}")
            expect_shape(collapsed, (batch, 5, 5, 5), f"{name} on {what} of shape {tuple(same.shape)}")
            collapsed = collapsed[:, 4]
            one = (" (the last batch of an epoch can hold one image): torch.std and torch.var divide by "
                   "N - 1 = 0 by default, so use the biased variance (unbiased=False)") if batch == 1 else ""
            expect(bool(torch.isfinite(collapsed).all()), f"{name} gives NaN or inf on {what}{one}.")
            spread = collapsed.abs().max().item()
            expect(spread < 1e-2, f"{name} gives {spread:.3f} for {what}: the spread of a collapsed batch "
                                  "is 0.")
            (gradient,) = torch.autograd.grad(collapsed.sum(), same)
            expect(bool(torch.isfinite(gradient).all()),
                   f"{name} has a NaN gradient on {what} (the square root's slope is infinite at 0): add a "
                   "small epsilon to the variance before the square root.")
    verified.passed()


DISCRIMINATOR_CONFIGS = ((dict(channels=1, base_width=8), 16), (dict(channels=3, base_width=4), 4))


@reproducing
def check_discriminator_28(discriminator_class: Callable[..., nn.Module]) -> None:
    """``discriminator_class(channels, base_width)``: 28x28 images -> one logit each, DCGAN rules."""
    name = discriminator_class.__name__ if isinstance(discriminator_class, type) else "Discriminator28"
    verified = Verification(name)
    runs = []
    for offset, (config, batch) in enumerate(DISCRIMINATOR_CONFIGS):
        discriminator = build_seeded(discriminator_class, name, offset, **config)
        images = seeded(batch, config["channels"], MNIST_SIZE, MNIST_SIZE, seed=offset)
        runs.append((config, discriminator, images))
    with verified("starts in training mode"):
        for _, discriminator, _ in runs:
            expect_training_mode(discriminator, name)
    with verified("images (16, 1, 28, 28) -> logits (16,), RGB too"):
        for config, discriminator, images in runs:
            expect_no_pooling(discriminator, name)
            expect(not any(isinstance(m, nn.Sigmoid) for m in discriminator.modules()),
                   f"{name} contains a Sigmoid module: return raw logits. BCEWithLogitsLoss applies the "
                   "sigmoid itself, stably; a Sigmoid before a logits loss squashes twice (lecture 02, §4).")
            logits = forward(discriminator, images, name)
            batch = len(images)
            hint = (" (one logit per image: flatten the (N, 1, 1, 1) output)"
                    if logits.numel() == batch else "")
            expect_shape(logits, (batch,), f"{name}({', '.join(f'{k}={v}' for k, v in config.items())}) on "
                                           f"images of shape {tuple(images.shape)}{hint}")
    traces = [(config, trace_layers(discriminator, images, name)) for config, discriminator, images in runs]
    with verified("strided convolutions alone (no resizing)"):
        for _, calls in traces:
            expect(all(not isinstance(call.module, nn.ConvTranspose2d) for call in calls),
                   f"{name} uses nn.ConvTranspose2d: D downsamples with strided nn.Conv2d.")
            expect_no_resizing(calls, 1, name)
    with verified("widths base_width, 2 * base_width, then that plus the minibatch-stddev channel into the "
                  "logit"):
        for config, calls in traces:
            expect_discriminator_widths(calls, config["base_width"], name)
    with verified("BatchNorm keeps running statistics for eval mode"):
        for _, discriminator, images in runs:
            expect_running_statistics(discriminator, images, name)
    with verified("raw, unbounded logits (no Sigmoid)"):
        for _, discriminator, images in runs:
            expect_unbounded_logits(discriminator, images, name)
    with verified(f"LeakyReLU({SLOPE}) after every hidden convolution, BatchNorm2d on all but the first; the "
                  "logits are the last convolution's output"):
        for (_, calls), (_, discriminator, images) in zip(traces, runs, strict=True):
            expect_discriminator_layers(calls, forward(discriminator, images, name), name)
    with verified("a batch of one gives one finite logit in train and eval mode"):
        for _, discriminator, images in runs:
            expect_batch_of_one(discriminator, images[:1], (1,), name)
    with verified("in eval mode a logit depends on the rest of the batch, gradient included (minibatch "
                  "stddev)"):
        for _, discriminator, images in runs:
            expect_batch_aware(discriminator, images, name)
    with verified("gradients reach the images"):
        for _, discriminator, images in runs:
            expect_input_gradients(discriminator, images, name)
    verified.passed()


def expect_discriminator_widths(calls: list, base_width: int, name: str) -> None:
    """The exercise's widths: base_width, 2 * base_width, then that plus the stddev channel into one logit."""
    convs = [call for call in calls if isinstance(call.module, CONVOLUTIONS)]
    widths = [call.output_shape[1] for call in convs]
    expect(len(widths) == 3 and widths[:2] == [base_width, 2 * base_width] and widths[2] == 1,
           f"{name}(base_width={base_width})'s convolutions output {widths} channels: the exercise asks for "
           f"base_width ({base_width}), then 2 * base_width ({2 * base_width}), then one convolution to a "
           "single logit. D widens as it shrinks the image, the reverse of G (lecture 02, §3).")
    taken = convs[-1].input_shape[1]
    alone = (" (no minibatch-stddev channel: D judges every image on its own)"
             if taken == 2 * base_width else "")
    expect(taken == 2 * base_width + 1,
           f"{name}'s last convolution takes {taken} channels{alone}: the 7x7 map has 2 * base_width = "
           f"{2 * base_width} channels plus the minibatch-stddev channel, so {2 * base_width + 1}. Put "
           "MinibatchStdDev right before the last convolution, so D can see that a batch of fakes lacks "
           "variety.")
    seen = convs[-1].input
    if seen is None:
        return
    features, extra = seen[:, : 2 * base_width].double(), seen[:, 2 * base_width].double()
    spreads = [features.std(dim=0, unbiased=unbiased).mean().item() for unbiased in (False, True)]
    value = extra.flatten()[0].item()
    expect(torch.allclose(extra, extra.flatten()[0].expand_as(extra), atol=1e-5)
           and min(abs(value - spread) for spread in spreads) < 1e-3,
           f"{name}'s last convolution gets an extra channel that is not the minibatch stddev of the map it "
           "sees (one number: the mean over features of the standard deviation across the batch). Put "
           "MinibatchStdDev right before the last convolution, after the LeakyReLU: a BatchNorm after it "
           "would normalise the constant channel to 0 in training mode.")


def expect_discriminator_layers(calls: list, logits: torch.Tensor, name: str) -> None:
    """[BatchNorm2d ->] LeakyReLU(0.2) after each hidden conv (none on the first), nothing on the logit.

    LeakyReLU is checked by its values (the next convolution's input starts with LeakyReLU(0.2) of what
    the convolution or its BatchNorm gave), so ``F.leaky_relu(x, 0.2)`` counts as well.
    """
    *hidden, (last_conv, last, _) = conv_groups(calls)
    expect(bool(hidden), f"{name} has a single convolution: D shrinks the image over several layers.")
    slopes = sorted({call.module.negative_slope for call in calls if isinstance(call.module, nn.LeakyReLU)})
    for index, (conv, followers, following) in enumerate(hidden, start=1):
        kinds = [type(call.module) for call in followers]
        expect(nn.ReLU not in kinds, f"{name}'s layer {index} uses ReLU: D uses LeakyReLU(0.2), so gradients "
                                     "also flow for negative inputs (lecture 02, §2).")
        expect((nn.BatchNorm2d in kinds) == (index > 1),
               f"{name}'s layer {index} " + ("has BatchNorm: the paper leaves D's input layer without it"
                                             if index == 1 else "has no BatchNorm2d: DCGAN normalises every "
                                             "hidden layer of D but the first") + " (lecture 02, §3).")
        norms = [call for call in followers if isinstance(call.module, nn.BatchNorm2d)]
        before = norms[0].output if norms and norms[0].output is not None else conv.output
        activated_first = norms and same_values(norms[0].input, F.leaky_relu(conv.output, SLOPE))
        expect(not activated_first and not (norms and nn.LeakyReLU in kinds[: kinds.index(nn.BatchNorm2d)]),
               f"{name}'s layer {index} applies LeakyReLU before BatchNorm: the order is Conv2d -> "
               "BatchNorm2d -> LeakyReLU(0.2), so the activation sees the normalised map (lecture 02, §3).")
        expect(slopes in ([], [SLOPE]), f"{name} uses LeakyReLU with slope {slopes}: DCGAN uses 0.2; the "
                                        "default is 0.01, almost a ReLU (lecture 02, §2).")
        reached = following.input if following else None
        activated = same_values(reached, F.leaky_relu(before, SLOPE) if before is not None else None)
        slope = None if activated else fitted_slope(reached, before)
        expect(slope is None or abs(slope - 1) > 1e-3,
               f"{name}'s layer {index} has no LeakyReLU after its convolution: without a nonlinearity "
               "stacked convolutions collapse into one linear map (lecture 02, §2-3).")
        expect(slope is None or abs(slope) > 1e-3,
               f"{name}'s layer {index} uses ReLU: D uses LeakyReLU(0.2), so gradients also flow for "
               "negative inputs (lecture 02, §2).")
        expect(slope is None, f"{name}'s layer {index} applies LeakyReLU with slope {slope or 0:.2g}: DCGAN "
                              "uses 0.2; the default is 0.01, almost a ReLU (lecture 02, §2).")
        expect(activated or nn.LeakyReLU in kinds,
               f"{name}'s layer {index} has no LeakyReLU after its convolution: without a nonlinearity "
               "stacked convolutions collapse into one linear map (lecture 02, §2-3).")
        source = "BatchNorm" if index > 1 else "convolution"
        expect(activated, f"{name}'s layer {index}: what reaches the next convolution is not "
                          f"LeakyReLU({SLOPE}) of the {source}'s output. Each hidden layer is Conv2d -> "
                          "[BatchNorm2d] -> LeakyReLU(0.2), in that order (lecture 02, §3).")
    kinds = {type(call.module) for call in last}
    expect(nn.BatchNorm2d not in kinds, f"{name} has BatchNorm after its final convolution: the logit is the "
                                        "convolution's output itself; normalising it over the batch would "
                                        "erase how real D finds each image (lecture 02, §4).")
    expect(not {nn.LeakyReLU, nn.ReLU, nn.Tanh} & kinds,
           f"{name} squashes its final convolution's output: return it as the logit (lecture 02, §4).")
    final = last_conv.output
    expect(final is not None and final.numel() == logits.numel()
           and torch.allclose(logits.detach().reshape(-1), final.reshape(-1), atol=1e-5),
           f"{name}'s logits are not its final convolution's output: something after that convolution "
           f"({', '.join(sorted(kind.__name__ for kind in kinds)) or 'a function in forward'}) changes them. "
           "Return the final convolution's output, flattened, as the logit (lecture 02, §4).")


def fitted_slope(reached: torch.Tensor | None, before: torch.Tensor | None) -> float | None:
    """The negative-side slope of a LeakyReLU mapping ``before`` onto what ``reached`` starts with, if any."""
    if reached is None or before is None or reached.dim() != before.dim():
        return None
    if reached.shape[1] < before.shape[1]:
        return None
    negative = before < -1e-3
    if reached.shape[0] != before.shape[0] or reached.shape[2:] != before.shape[2:] or not negative.any():
        return None
    slope = (reached[:, : before.shape[1]][negative] / before[negative]).median().item()
    return slope if same_values(reached, F.leaky_relu(before, slope)) else None


def expect_unbounded_logits(discriminator: nn.Module, images: torch.Tensor, name: str) -> None:
    """Logits are unbounded: huge inputs give huge outputs."""
    discriminator.eval()
    try:
        with torch.no_grad():
            outputs = forward(discriminator, images * 1000, f"{name} in eval mode")
    finally:
        discriminator.train()
    low, high = outputs.min().item(), outputs.max().item()
    expect(not (0 <= low and high <= 1), f"{name}'s outputs stay in [0, 1] even for huge inputs: a sigmoid "
                                         "is applied. Return raw logits (lecture 02, §4).")
    expect(not (-1 <= low and high <= 1), f"{name}'s outputs stay in [-1, 1]: a Tanh squashes them. Return "
                                          "raw logits from the final convolution (lecture 02, §4).")


def expect_running_statistics(discriminator: nn.Module, images: torch.Tensor, name: str) -> None:
    """Every BatchNorm learns running statistics in training mode, which eval mode then uses."""
    norms = [m for m in discriminator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    untracked = [m for m in norms if not m.track_running_stats or m.running_mean is None]
    expect(not untracked, f"{name}'s BatchNorm keeps no running statistics (track_running_stats=False): in "
                          "eval mode it still normalises with the batch's statistics, so D's verdict on an "
                          "image would change with the batch it comes in (lecture 02, §3).")
    before = [m.running_mean.clone() for m in norms]
    forward(discriminator, images, name)
    expect(all(not torch.equal(m.running_mean, old) for m, old in zip(norms, before, strict=True)),
           f"{name}'s BatchNorm does not update its running statistics in training mode: it is not called, "
           "or it was put in eval mode (momentum=0?). Eval mode relies on them (lecture 02, §3).")


def expect_batch_aware(discriminator: nn.Module, images: torch.Tensor, name: str) -> None:
    """In eval mode (BatchNorm frozen) only a minibatch statistic makes a logit depend on the other images."""
    discriminator.eval()
    try:
        with torch.no_grad():
            alone = forward(discriminator, images[:2], f"{name} in eval mode")
            together = forward(discriminator, images, f"{name} in eval mode")[:2]
        expect(not torch.allclose(alone, together, atol=1e-6),
               f"{name} judges every image on its own: add the minibatch-stddev layer before the last "
               "convolution, so D can see that a batch of fakes lacks variety (lecture 03, §7 mode "
               "collapse).")
        inputs = images.detach().clone().requires_grad_(True)
        logits = forward(discriminator, inputs, f"{name} in eval mode")
        expect(logits.requires_grad, f"{name}'s logits carry no gradient: something in its forward pass runs "
                                     "under torch.no_grad() or calls .detach().")
        (gradient,) = torch.autograd.grad(logits[0], inputs, allow_unused=True)
        others = 0.0 if gradient is None else gradient[1:].abs().sum().item()
        expect(others > 0, f"In eval mode {name}'s logit for one image depends on the other images but has "
                           "no gradient with respect to them: the minibatch-stddev statistic is detached, so "
                           "neither D's earlier layers nor G can learn from the batch's variety.")
    finally:
        discriminator.train()


def expect_input_gradients(discriminator: nn.Module, images: torch.Tensor, name: str) -> None:
    """G learns through D: every logit has a gradient with respect to its own image."""
    inputs = images.detach().clone().requires_grad_(True)
    logits = forward(discriminator, inputs, name)
    expect(logits.requires_grad, f"{name}'s logits carry no gradient: something in its forward pass runs "
                                 "under torch.no_grad() or calls .detach(), so neither D nor G could learn.")
    weights = torch.rand(logits.shape, generator=check_rng(91)) + 0.5
    (gradient,) = torch.autograd.grad((logits * weights).sum(), inputs, allow_unused=True)
    own = torch.zeros(len(inputs)) if gradient is None else gradient.flatten(1).abs().sum(1)
    expect(bool((own > 0).all()) and bool(torch.isfinite(own).all()),
           f"{name}'s logits have no finite gradient with respect to the images: the input is detached or "
           "replaced on the way, so G, which learns through D's gradient, could not learn.")


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
