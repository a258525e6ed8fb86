"""Checks for the generator exercises (notebook 01), and the layer tracing the network checks share.

Each check runs the learner's code on small inputs drawn from the grader's check seed and verifies
every property its pass line names: the layout from the layers a forward pass really calls (hooks),
activations by the values they pass on (so ``F.relu`` counts as much as ``nn.ReLU``), and the model's
behaviour in training and in eval mode, on a batch of one, and under autograd.
The discriminator's checks (notebook 02) are in ``checks.discriminator``, the D step's (notebook 03)
in ``checks.training`` and the LSGAN/hinge losses' (notebook 03) in ``checks.gan_losses``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from . import (
    Verification,
    call_learner,
    check_prediction,
    check_rng,
    check_seed,
    expect,
    expect_shape,
    expect_tensor,
    reproducing,
)

POOLING_LAYERS = (
    nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d, nn.LPPool2d,
    nn.FractionalMaxPool2d,
)
CONVOLUTIONS = (nn.Conv2d, nn.ConvTranspose2d)
SHAPE_ONLY = (nn.Identity, nn.Flatten, nn.Unflatten)  # layers that change no value, ignored in traces
MNIST_SIZE = 28


@dataclass
class LayerCall:
    """One leaf module called by a forward pass, with the shapes it saw and copies of its tensors."""

    module: nn.Module
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input: torch.Tensor | None = None  # copies, taken before any in-place activation changes them
    output: torch.Tensor | None = None


# ---------------------------------------------------------------- helpers

def trace_layers(model: nn.Module, inputs: torch.Tensor, name: str = "the model") -> list[LayerCall]:
    """The leaf modules in the order a forward pass calls them, with input and output shapes and values.

    Inputs are copied before the module runs and outputs right after it, so an in-place activation
    that follows cannot change what was recorded.
    """
    calls: list[LayerCall] = []
    pending: dict[int, list[torch.Tensor | None]] = {}

    def remember(module: nn.Module, args: tuple) -> None:
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        pending.setdefault(id(module), []).append(None if first is None else first.detach().clone())

    def record(module: nn.Module, args: tuple, output: object) -> None:
        stack = pending.get(id(module)) or [None]
        copied_in = stack.pop()
        shape_in = tuple(args[0].shape) if args and isinstance(args[0], torch.Tensor) else ()
        is_tensor = isinstance(output, torch.Tensor)
        shape_out = tuple(output.shape) if is_tensor else ()
        calls.append(LayerCall(module, shape_in, shape_out, copied_in,
                               output.detach().clone() if is_tensor else None))

    leaves = [module for module in model.modules() if not list(module.children())]
    handles = [leaf.register_forward_pre_hook(remember) for leaf in leaves]
    handles += [leaf.register_forward_hook(record) for leaf in leaves]
    try:
        with torch.no_grad():
            call_learner(name, f"{name} on an input of shape {tuple(inputs.shape)}", model, inputs)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def expect_no_pooling(model: nn.Module, name: str) -> None:
    """DCGAN replaces pooling with strided (transposed) convolutions."""
    pools = sorted({type(layer).__name__ for layer in model.modules() if isinstance(layer, POOLING_LAYERS)})
    expect(not pools, f"{name} uses pooling ({', '.join(pools)}): DCGAN has no pooling layers "
                      "(lecture 01, §3 guideline 1). Let strided convolutions change the resolution.")
    resizers = sorted({type(layer).__name__ for layer in model.modules() if isinstance(layer, (nn.Upsample,
                                                                                              nn.Linear))})
    expect(not resizers, f"{name} uses {', '.join(resizers)}: this exercise asks for convolutions only "
                         "(no resizing, no fully connected layer; lecture 01, §3).")


def build_learner_model(model_class: Callable[..., nn.Module], name: str, **kwargs: int) -> nn.Module:
    """Instantiate the learner's class with keyword arguments, explaining a wrong signature."""
    expect(isinstance(model_class, type), f"Pass the class {name} itself, not an instance of it "
                                          f"(got {type(model_class).__name__}).")
    arguments = ", ".join(f"{key}={value}" for key, value in kwargs.items())
    model = call_learner(name, f"{name}({arguments})", model_class, **kwargs)
    expect(isinstance(model, nn.Module), f"{name} should subclass nn.Module.")
    return model


def forward(model: nn.Module, inputs: torch.Tensor, name: str) -> torch.Tensor:
    """Run the learner's model on ``inputs`` and insist on a tensor back."""
    output = call_learner(name, f"{name} on an input of shape {tuple(inputs.shape)}", model, inputs)
    return expect_tensor(output, f"The output of {name}")


def value_range(tensor: torch.Tensor) -> str:
    """'[min, max]' of a tensor, for messages."""
    return f"[{tensor.min().item():.2f}, {tensor.max().item():.2f}]"


def seeded(*shape: int, seed: int = 0) -> torch.Tensor:
    """Inputs in [-1, 1] drawn from the grader's check seed (``seed`` tells input sets apart)."""
    return torch.rand(*shape, generator=check_rng(seed)) * 2 - 1


def build_seeded(model_class: Callable[..., nn.Module], name: str, offset: int, **kwargs: int) -> nn.Module:
    """The learner's model with weights drawn from the check seed; the learner's global RNG is left alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check_seed() * 1_000 + 500 + offset)
        return build_learner_model(model_class, name, **kwargs)


def expect_training_mode(model: nn.Module, name: str) -> None:
    """A freshly built model trains: no module of it may start in eval mode."""
    frozen = sorted({type(module).__name__ for module in model.modules() if not module.training})
    expect(not frozen, f"{name} starts in eval mode ({', '.join(frozen)} has training=False right after "
                       "construction): a new nn.Module is in training mode, and the training loop relies on "
                       "it. In eval mode BatchNorm ignores the batch's statistics and trains on its frozen "
                       "running ones; remove the .eval() call from __init__ (lecture 01, §9).")


def expect_batch_of_one(model: nn.Module, inputs: torch.Tensor, shape: tuple[int, ...], name: str) -> None:
    """A batch of one works in training and in eval mode: right shape, finite values."""
    expect(inputs.shape[0] == 1, "internal error: not a batch of one")
    why = ("a batch of one must work: the last batch of an epoch can hold a single image, and one sample "
           "is what you draw to look at")
    try:
        for mode in ("train", "eval"):
            getattr(model, mode)()
            try:
                output = call_learner(name, f"{name} in {mode} mode on a batch of one (shape "
                                            f"{tuple(inputs.shape)})", model, inputs)
            except AssertionError as error:
                hint = ("BatchNorm in training mode needs more than one value per channel, so it fails on a "
                        "1x1 map of one image.")
                raise AssertionError(f"{error}\nThat is, {why}. {hint}") from None
            output = expect_tensor(output, f"The output of {name} on a batch of one")
            squeezed = (" (.squeeze() also drops the batch dimension when N = 1: use .flatten(), .view(-1) "
                        "or .squeeze(1))") if output.dim() < len(shape) else ""
            expect_shape(output, shape, f"{name} in {mode} mode on a batch of one{squeezed}")
            expect(bool(torch.isfinite(output).all()),
                   f"{name} gives non-finite values (NaN or inf) in {mode} mode on a batch of one: {why}. A "
                   "standard deviation across a batch of one is 0, but torch.std's default (unbiased) "
                   "divides by N - 1 = 0; use the biased variance (unbiased=False).")
    finally:
        model.train()


def expect_no_resizing(calls: list[LayerCall], final_size: int, name: str) -> None:
    """Each convolution consumes the previous one's map; the last one already has the final size."""
    convs = [call for call in calls if isinstance(call.module, CONVOLUTIONS)]
    for before, after in zip(convs, convs[1:], strict=False):
        expect(before.output_shape[-2:] == after.input_shape[-2:],
               f"{name} resizes between layers ({before.output_shape[-2:]} -> {after.input_shape[-2:]}): "
               "cropping or interpolating is what this exercise rules out. Choose kernel, stride and "
               "padding so each layer outputs exactly the next size (lecture 01, §2).")
    expect(convs[-1].output_shape[-1] == final_size,
           f"{name}'s last convolution outputs {convs[-1].output_shape[-1]} pixels and something after it "
           f"changes that to {final_size}: solve the shape arithmetic instead (lecture 01, §2).")


# ---------------------------------------------------------------- 01: the paper's 5x5 block

@reproducing
def check_paper_block(block_factory: Callable[[int, int], nn.Module]) -> None:
    """``block_factory(in_channels, out_channels)``: ConvTranspose2d(5, stride 2) -> BatchNorm2d -> ReLU."""
    name = "paper_block"
    verified = Verification(name)
    block = call_learner(name, f"{name}(32, 16)", block_factory, 32, 16)
    expect(isinstance(block, nn.Module), f"{name} should return an nn.Module (e.g. nn.Sequential), "
                                         f"got {type(block).__name__}.")
    expect_no_pooling(block, name)
    with verified("starts in training mode"):
        expect_training_mode(block, name)
    with verified("doubles 4x4 and 7x7 maps"):
        for offset, size in enumerate((4, 7)):
            output = forward(block, seeded(2, 32, size, size, seed=offset), f"{name}(32, 16)")
            expect(output.dim() == 4,
                   f"{name}(32, 16) should output (N, C, H, W), got {tuple(output.shape)}.")
            got = output.shape[-1]
            hint = {2 * size + 1: "one pixel too many: with kernel 5, padding 1 overshoots",
                    2 * size - 1: "one pixel short: no integer padding gives 2n with kernel 5 and stride 2; "
                                  "nn.ConvTranspose2d has an argument that adds the missing row on one side"}
            expect_shape(output, (2, 16, 2 * size, 2 * size),
                         f"{name}(32, 16) on a {size}x{size} map must double it"
                         + (f" ({hint[got]}; lecture 01, §2)" if got in hint else ""))
    with verified("a batch of one works in train and eval mode"):
        expect_batch_of_one(block, seeded(1, 32, 4, 4, seed=3), (1, 16, 8, 8), f"{name}(32, 16)")
    calls = trace_layers(block, seeded(2, 32, 4, 4, seed=2), name)
    convs = [call.module for call in calls if isinstance(call.module, CONVOLUTIONS)]
    with verified("one ConvTranspose2d(kernel 5, stride 2, no bias)"):
        expect(len(convs) == 1 and isinstance(convs[0], nn.ConvTranspose2d),
               f"{name} should hold exactly one nn.ConvTranspose2d and no other convolution.")
        expect(convs[0].kernel_size == (5, 5) and convs[0].stride == (2, 2),
               f"{name}'s transposed convolution has kernel {convs[0].kernel_size} and stride "
               f"{convs[0].stride}: the paper's own code uses 5x5 kernels with stride 2 (4x4 comes from the "
               "Torch/PyTorch ports).")
        expect(convs[0].bias is None,
               f"{name}'s transposed convolution has a bias (bias=True is nn.ConvTranspose2d's default): the "
               "BatchNorm after it subtracts the batch mean, which cancels any bias. Pass bias=False "
               "(lecture 01, §4).")
    with verified("then BatchNorm2d -> ReLU"):
        output = forward(block, seeded(2, 32, 4, 4, seed=2), f"{name}(32, 16)")
        followers = conv_groups(calls)[0][1]
        kinds = [type(call.module) for call in followers]
        layout = (f"{name} calls {[type(c.module).__name__ for c in calls]}: the block is ConvTranspose2d -> "
                  "BatchNorm2d -> ReLU (the generator uses ReLU, LeakyReLU belongs to D; lecture 01, §3-4).")
        expect(nn.LeakyReLU not in kinds and bool(kinds) and kinds[0] is nn.BatchNorm2d
               and kinds.count(nn.BatchNorm2d) == 1, layout)
        # ReLU by its values, so that F.relu in a custom module's forward counts as well
        expect(same_values(output.detach(), torch.relu(followers[0].output)), layout)
    verified.passed()


def stamp_counts(kernel: int, stride: int = 2) -> torch.Tensor:
    """How many kernel stamps land on each inner output pixel of a transposed convolution of ones."""
    layer = nn.ConvTranspose2d(1, 1, kernel, stride=stride, bias=False)
    nn.init.ones_(layer.weight)
    with torch.no_grad():
        counts = layer(torch.ones(1, 1, 6, 6))[0, 0]
    return counts[kernel:-kernel, kernel:-kernel]


def check_checkerboard_prediction(prediction: object, reason: object = "") -> None:
    """Which stride-2 kernel stamps unevenly: counted by running transposed convolutions of ones."""
    uneven = [f"kernel {k}" for k in (4, 5) if stamp_counts(k).min() != stamp_counts(k).max()]
    expect(len(uneven) == 1, f"internal error: uneven kernels {uneven}")
    counts = sorted({int(value) for value in stamp_counts(5).unique()})
    check_prediction("prediction_checkerboard", prediction, ("kernel 4", "kernel 5"), uneven[0],
                     f"With stride 2 an even kernel k covers every inner pixel k/2 times per axis; kernel 5 "
                     f"covers them 2 or 3 times per axis, {counts} times in 2-D: a checkerboard G must learn "
                     "to cancel (lecture 01, §1).", reason)


# ---------------------------------------------------------------- 01: a 28-pixel generator

GENERATOR_CONFIGS = ((dict(latent_dim=100, channels=1, base_width=8), 16),
                     (dict(latent_dim=16, channels=3, base_width=4), 4))


@reproducing
def check_generator_28(generator_class: Callable[..., nn.Module]) -> None:
    """``generator_class(latent_dim, channels, base_width)``: 28x28 images by transposed convolutions only."""
    name = generator_class.__name__ if isinstance(generator_class, type) else "Generator28"
    verified = Verification(name)
    runs = []
    for offset, (config, batch) in enumerate(GENERATOR_CONFIGS):
        generator = build_seeded(generator_class, name, offset, **config)
        noise = torch.randn(batch, config["latent_dim"], generator=check_rng(offset))
        runs.append((config, generator, noise))
    with verified("starts in training mode"):
        for _, generator, _ in runs:
            expect_training_mode(generator, name)
    with verified("z (16, 100) -> images (16, 1, 28, 28) in [-1, 1], RGB too"):
        for config, generator, noise in runs:
            expect_no_pooling(generator, name)
            images = forward(generator, noise, name)
            shape = (len(noise), config["channels"], MNIST_SIZE, MNIST_SIZE)
            expect_shape(images, shape, f"{name}({', '.join(f'{k}={v}' for k, v in config.items())}) "
                                        f"on z of shape {tuple(noise.shape)}")
            expect_generator_output(images, name)
    with verified("a batch of one works in train and eval mode"):
        for config, generator, noise in runs:
            expect_batch_of_one(generator, noise[:1], (1, config["channels"], MNIST_SIZE, MNIST_SIZE), name)
    traces = [(config, trace_layers(generator, noise, name), forward(generator, noise, name))
              for config, generator, noise in runs]
    with verified("transposed convolutions alone (no resizing or cropping)"):
        for _, calls, _ in traces:
            expect(all(not isinstance(call.module, nn.Conv2d) for call in calls),
                   f"{name} uses nn.Conv2d: upsample with nn.ConvTranspose2d only.")
            expect_no_resizing(calls, MNIST_SIZE, name)
    with verified("hidden widths 2 * base_width, then base_width"):
        for config, calls, _ in traces:
            expect_generator_widths(calls, config["base_width"], name)
    with verified("ConvTranspose2d (no bias) -> BatchNorm2d -> ReLU on every hidden layer, Tanh alone on the "
                  "output"):
        for _, calls, images in traces:
            expect_generator_layers(calls, images, name)
    with verified("in eval mode each image depends on its own z alone"):
        for _, generator, noise in runs:
            expect_batch_independent_in_eval(generator, noise, name)
    with verified("gradients reach z and every weight"):
        for _, generator, noise in runs:
            expect_gradients_reach(generator, noise, name)
    verified.passed()


def expect_generator_output(images: torch.Tensor, name: str) -> None:
    """Generated images must lie in [-1, 1], the range of Tanh and of the scaled data."""
    expect(images.min().item() < 0, f"{name}'s images lie in {value_range(images)}: that looks like a "
                                    "Sigmoid at the end. The data lies in [-1, 1], so end with nn.Tanh().")
    expect(images.abs().max().item() <= 1, f"{name}'s images lie in {value_range(images)}, outside [-1, 1]: "
                                           "missing Tanh? End the generator with nn.Tanh().")


def conv_groups(calls: list[LayerCall]) -> list[tuple[LayerCall, list[LayerCall], LayerCall | None]]:
    """Per convolution: its call, the calls after it up to the next convolution, and that next one."""
    calls = [call for call in calls if not isinstance(call.module, SHAPE_ONLY)]
    starts = [i for i, call in enumerate(calls) if isinstance(call.module, CONVOLUTIONS)]
    ends = [*starts[1:], len(calls)]
    return [(calls[start], calls[start + 1 : end], calls[end] if end < len(calls) else None)
            for start, end in zip(starts, ends, strict=True)]


def same_values(actual: torch.Tensor | None, expected: torch.Tensor | None) -> bool:
    """Whether ``actual`` starts with the channels of ``expected`` (later channels may be appended)."""
    if actual is None or expected is None or actual.dim() != expected.dim() or actual.dim() < 2:
        return False
    if actual.shape[0] != expected.shape[0] or actual.shape[2:] != expected.shape[2:]:
        return False
    if actual.shape[1] < expected.shape[1]:
        return False
    return torch.allclose(actual[:, : expected.shape[1]].float(), expected.float(), atol=1e-5, rtol=1e-4)


def expect_generator_widths(calls: list[LayerCall], base_width: int, name: str) -> None:
    """The exercise's widths: 2 * base_width channels on the first hidden map, base_width on the second."""
    widths = [call.output_shape[1] for call in calls if isinstance(call.module, CONVOLUTIONS)][:-1]
    expect(len(widths) >= 2 and widths[:2] == [2 * base_width, base_width],
           f"{name}(base_width={base_width})'s hidden maps have {widths} channels: the exercise asks for "
           f"2 * base_width ({2 * base_width}) on the first hidden map and base_width ({base_width}) on the "
           "second. G narrows as it grows the image, the reverse of D (lecture 01, §5).")


def expect_generator_layers(calls: list[LayerCall], images: torch.Tensor, name: str) -> None:
    """ConvTranspose2d (no bias) -> BatchNorm2d -> ReLU on every hidden layer, Tanh alone after the last.

    ReLU and Tanh are checked by their values (the next layer's input is ReLU of the BatchNorm's output,
    the image is Tanh of the last convolution's), so ``F.relu`` or ``torch.tanh`` count as well.
    """
    groups = conv_groups(calls)
    *hidden, (last_conv, last, _) = groups
    expect(bool(hidden), f"{name} has a single convolution: DCGAN grows the image over several layers.")
    for index, (conv, followers, following) in enumerate(hidden, start=1):
        kinds = [type(call.module) for call in followers]
        names = [kind.__name__ for kind in kinds]
        expect(nn.LeakyReLU not in kinds, f"{name}'s layer {index} uses LeakyReLU: the generator uses ReLU "
                                          "(LeakyReLU is D's; lecture 01, §3 guideline 3).")
        layout = (f"{name}'s hidden layer {index} is followed by {names}: each hidden layer is "
                  "ConvTranspose2d -> BatchNorm2d -> ReLU (lecture 01, §3 guidelines 2-3).")
        expect(bool(kinds) and kinds[0] is nn.BatchNorm2d and kinds.count(nn.BatchNorm2d) == 1, layout)
        expect(same_values(following.input if following else None, torch.relu(followers[0].output)), layout)
        expect(conv.module.bias is None,
               f"{name}'s hidden layer {index} has a bias before its BatchNorm (bias=True is "
               f"nn.{type(conv.module).__name__}'s default): BatchNorm subtracts the batch mean, which "
               "cancels any bias, so it is a wasted parameter. Pass bias=False (lecture 01, §4).")
    kinds = [type(call.module) for call in last]
    expect(nn.BatchNorm2d not in kinds, f"{name} has BatchNorm on its output layer: the paper leaves it out "
                                        "there (ConvTranspose2d -> Tanh; lecture 01, §3 guideline 2).")
    tanh = last_conv.output is not None and last_conv.output.shape == images.shape and torch.allclose(
        images.detach(), torch.tanh(last_conv.output), atol=1e-5)
    expect(tanh, f"{name}'s output layer is followed by {[kind.__name__ for kind in kinds]}, and its images "
                 "are not Tanh of the last convolution's output: end with nn.Tanh() alone (lecture 01, §3 "
                 "guideline 3).")


def expect_batch_independent_in_eval(generator: nn.Module, noise: torch.Tensor, name: str) -> None:
    """In eval mode BatchNorm uses its running statistics, so an image no longer depends on the batch."""
    generator.eval()
    try:
        with torch.no_grad():
            together = forward(generator, noise, f"{name} in eval mode")[:2]
            alone = forward(generator, noise[:2], f"{name} in eval mode")
    finally:
        generator.train()
    expect(torch.allclose(together, alone, atol=1e-5),
           f"In eval mode {name}'s image for a z changes with the other z in its batch: its normalisation "
           "still uses the batch's statistics (track_running_stats=False, or a hand-written batch norm). In "
           "eval mode BatchNorm must use its running statistics, so that each sample depends on its own z "
           "alone (lecture 01, §9).")


def expect_gradients_reach(model: nn.Module, inputs: torch.Tensor, name: str) -> None:
    """A training-mode forward pass is differentiable: in its inputs and in every parameter."""
    inputs = inputs.detach().clone().requires_grad_(True)
    output = forward(model, inputs, name)
    expect(output.requires_grad, f"{name}'s output carries no gradient: something in its forward pass runs "
                                 "under torch.no_grad() or calls .detach(), so nothing could train it.")
    weights = torch.rand(output.shape, generator=check_rng(90)) - 0.5
    parameters = [p for p in model.parameters() if p.requires_grad]
    gradients = torch.autograd.grad((output * weights).sum(), [inputs, *parameters], allow_unused=True)
    missing = [n for n, p in model.named_parameters() if p.requires_grad
               and gradients[1 + [id(q) for q in parameters].index(id(p))] is None]
    expect(not missing, f"{name}'s parameters {missing} get no gradient: they do not take part in the "
                        "forward pass (a layer built but never called, or its output detached).")
    expect(gradients[0] is not None and bool(torch.isfinite(gradients[0]).all())
           and gradients[0].abs().sum().item() > 0,
           f"{name}'s output has no finite gradient with respect to its input: the input is detached or "
           "replaced on the way, so the other network's gradient could not flow through it.")
