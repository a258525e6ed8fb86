"""Checks for the generator exercises (notebook 01), and the layer tracing the network checks share.

Each check runs the learner's code on small, seeded inputs and verifies every property its pass
line names, from the layers a forward pass really calls (hooks), not from what the model holds.
The discriminator's checks (notebook 02) are in ``checks.discriminator``, the training steps'
(notebook 03) in ``checks.training``.
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
    expect,
    expect_shape,
    expect_tensor,
    passed,
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
    """One leaf module called by a forward pass, with the shapes it saw."""

    module: nn.Module
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


# ---------------------------------------------------------------- helpers

def trace_layers(model: nn.Module, inputs: torch.Tensor) -> list[LayerCall]:
    """The leaf modules in the order a forward pass calls them, with input and output shapes."""
    calls: list[LayerCall] = []

    def record(module: nn.Module, args: tuple, output: object) -> None:
        shape_in = tuple(args[0].shape) if args and isinstance(args[0], torch.Tensor) else ()
        shape_out = tuple(output.shape) if isinstance(output, torch.Tensor) else ()
        calls.append(LayerCall(module, shape_in, shape_out))

    leaves = [module for module in model.modules() if not list(module.children())]
    handles = [leaf.register_forward_hook(record) for leaf in leaves]
    try:
        with torch.no_grad():
            model(inputs)
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


def after_each_conv(calls: list[LayerCall]) -> list[list[type]]:
    """The layer types called after each convolution, up to the next one (shape-only layers skipped)."""
    calls = [call for call in calls if not isinstance(call.module, SHAPE_ONLY)]
    starts = [i for i, call in enumerate(calls) if isinstance(call.module, CONVOLUTIONS)]
    ends = [*starts[1:], len(calls)]
    return [[type(call.module) for call in calls[start + 1 : end]]
            for start, end in zip(starts, ends, strict=True)]


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
    calls = trace_layers(block, seeded(2, 32, 4, 4, seed=2))
    convs = [call.module for call in calls if isinstance(call.module, CONVOLUTIONS)]
    with verified("one ConvTranspose2d(kernel 5, stride 2)"):
        expect(len(convs) == 1 and isinstance(convs[0], nn.ConvTranspose2d),
               f"{name} should hold exactly one nn.ConvTranspose2d and no other convolution.")
        expect(convs[0].kernel_size == (5, 5) and convs[0].stride == (2, 2),
               f"{name}'s transposed convolution has kernel {convs[0].kernel_size} and stride "
               f"{convs[0].stride}: the paper's own code uses 5x5 kernels with stride 2 (4x4 comes from the "
               "Torch/PyTorch ports).")
    with verified("then BatchNorm2d -> ReLU"):
        expect(after_each_conv(calls) == [[nn.BatchNorm2d, nn.ReLU]],
               f"{name} calls {[type(c.module).__name__ for c in calls]}: the block is ConvTranspose2d -> "
               "BatchNorm2d -> ReLU (the generator uses ReLU, LeakyReLU belongs to D; lecture 01, §3-4).")
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

def check_generator_28(generator_class: Callable[..., nn.Module]) -> None:
    """``generator_class(latent_dim, channels, base_width)``: 28x28 images by transposed convolutions only."""
    name = generator_class.__name__ if isinstance(generator_class, type) else "Generator28"
    for config, batch in ((dict(latent_dim=100, channels=1, base_width=8), 16),
                          (dict(latent_dim=16, channels=3, base_width=4), 4)):
        torch.manual_seed(0)
        generator = build_learner_model(generator_class, name, **config)
        expect_no_pooling(generator, name)
        noise = torch.randn(batch, config["latent_dim"], generator=torch.Generator().manual_seed(0))
        images = forward(generator, noise, name)
        shape = (batch, config["channels"], MNIST_SIZE, MNIST_SIZE)
        expect_shape(images, shape, f"{name}({', '.join(f'{k}={v}' for k, v in config.items())}) "
                                    f"on z of shape {tuple(noise.shape)}")
        expect_generator_output(images, name)
        calls = trace_layers(generator, noise)
        expect(all(not isinstance(call.module, nn.Conv2d) for call in calls),
               f"{name} uses nn.Conv2d: upsample with nn.ConvTranspose2d only.")
        expect_no_resizing(calls, MNIST_SIZE, name)
        expect_generator_layers(after_each_conv(calls), name)
    passed(f"{name}: z (16, 100) -> (16, 1, 28, 28) in [-1, 1] by transposed convolutions alone (no "
           "resizing or cropping); BatchNorm2d + ReLU after every hidden layer, only Tanh on the output; "
           "RGB works too.")


def expect_generator_output(images: torch.Tensor, name: str) -> None:
    """Generated images must lie in [-1, 1], the range of Tanh and of the scaled data."""
    expect(images.min().item() < 0, f"{name}'s images lie in {value_range(images)}: that looks like a "
                                    "Sigmoid at the end. The data lies in [-1, 1], so end with nn.Tanh().")
    expect(images.abs().max().item() <= 1, f"{name}'s images lie in {value_range(images)}, outside [-1, 1]: "
                                           "missing Tanh? End the generator with nn.Tanh().")


def expect_generator_layers(followers: list[list[type]], name: str) -> None:
    """BatchNorm2d -> ReLU after every hidden transposed convolution, Tanh alone after the last."""
    *hidden, last = followers
    expect(bool(hidden), f"{name} has a single convolution: DCGAN grows the image over several layers.")
    for index, kinds in enumerate(hidden, start=1):
        names = [kind.__name__ for kind in kinds]
        expect(nn.LeakyReLU not in kinds, f"{name}'s layer {index} uses LeakyReLU: the generator uses ReLU "
                                          "(LeakyReLU is D's; lecture 01, §3 guideline 3).")
        expect(kinds == [nn.BatchNorm2d, nn.ReLU], f"{name}'s hidden layer {index} is followed by {names}: "
                                                    "each hidden layer is ConvTranspose2d -> BatchNorm2d -> "
                                                    "ReLU (lecture 01, §3 guidelines 2-3).")
    expect(nn.BatchNorm2d not in last, f"{name} has BatchNorm on its output layer: the paper leaves it out "
                                       "there (ConvTranspose2d -> Tanh; lecture 01, §3 guideline 2).")
    expect(last == [nn.Tanh], f"{name}'s output layer is followed by {[kind.__name__ for kind in last]}: "
                              "end with nn.Tanh() alone (lecture 01, §3 guideline 3).")

