"""Checks for the network exercises (notebooks 01-02): scaling, generator block, generator, init, D.

Each check runs the learner's code on small, seeded inputs, compares it with the DCGAN rules and
names the likely bug. The training-step checks of notebook 03 are in ``checks.training``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from .. import models
from . import call_learner, expect, expect_shape, expect_tensor, passed

POOLING_LAYERS = (
    nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d, nn.LPPool2d,
    nn.FractionalMaxPool2d,
)


# ---------------------------------------------------------------- helpers

def leaf_modules_in_call_order(model: nn.Module, inputs: torch.Tensor) -> list[nn.Module]:
    """The leaf modules in the order a forward pass calls them (found with forward hooks)."""
    order: list[nn.Module] = []
    leaves = [module for module in model.modules() if not list(module.children())]
    handles = [leaf.register_forward_hook(lambda module, *_: order.append(module)) for leaf in leaves]
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return order


def expect_no_pooling(model: nn.Module, name: str) -> None:
    """DCGAN replaces pooling with strided (transposed) convolutions."""
    pools = sorted({type(layer).__name__ for layer in model.modules() if isinstance(layer, POOLING_LAYERS)})
    expect(not pools, f"{name} uses pooling ({', '.join(pools)}): DCGAN has no pooling layers. "
                      "Let strided convolutions change the resolution instead.")


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


# ---------------------------------------------------------------- 01: scaling, generator, init

def check_scale_to_generator_range(scale: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """``scale(pixels, max_value)`` must map [0, max_value] linearly onto [-1, 1]."""
    name = "scale_to_generator_range"
    for max_value in (255.0, 16.0):
        pixels = torch.linspace(0, max_value, 17).round().to(torch.uint8).view(1, 1, 1, 17)
        scaled = call_learner(name, f"{name}(pixels, max_value={max_value:g})", scale, pixels, max_value)
        scaled = expect_tensor(scaled, f"The result of {name}")
        expect_shape(scaled, pixels.shape, f"{name} must keep the shape")
        expect(scaled.is_floating_point(), f"{name} returned {scaled.dtype}: convert to float before "
                                           "scaling (pixels.float()), or the fractions are rounded away.")
        expected = pixels.float() / max_value * 2 - 1
        low, high = scaled.min().item(), scaled.max().item()
        if torch.allclose(scaled.float(), expected, atol=1e-5):
            continue
        span = f"pixels 0..{max_value:g} became values in {value_range(scaled)}"
        if abs(low) < 1e-3 and abs(high - 1) < 1e-3:
            hint = "they were left in [0, 1]: after dividing by max_value, also map to [-1, 1] (× 2 − 1)"
        elif abs(low) < 1e-3 and abs(high - max_value) < 1e-3:
            hint = "they were not scaled at all: divide by max_value, then map to [-1, 1] (× 2 − 1)"
        elif abs(low + 0.5) < 1e-3 and abs(high - 0.5) < 1e-3:
            hint = "they are centred but span [-0.5, 0.5]: multiply by 2 as well"
        elif abs(low + 1) < 1e-3 and abs(high - 1) < 1e-3:
            hint = "the range is right but the mapping is not: 0 must become -1 and max_value become +1"
        elif max_value != 255.0:
            hint = "is max_value hard-coded? Use the max_value argument"
        else:
            hint = "expected pixels / max_value * 2 - 1"
        raise AssertionError(f"Images not scaled to [-1, 1] (the range of the generator's Tanh): "
                             f"{span}; {hint}.")
    passed(f"{name}: pixels in [0, max_value] map linearly onto [-1, 1].")


def check_generator_block(block_factory: Callable[[int, int], nn.Module]) -> None:
    """``block_factory(in_channels, out_channels)``: ConvTranspose2d -> BatchNorm2d -> ReLU, 2x the size."""
    name = "generator_block"
    block = call_learner(name, f"{name}(32, 16)", block_factory, 32, 16)
    expect(isinstance(block, nn.Module), f"{name} should return an nn.Module (e.g. nn.Sequential), "
                                         f"got {type(block).__name__}.")
    expect_no_pooling(block, name)
    inputs = torch.randn(4, 32, 8, 8, generator=torch.Generator().manual_seed(0))
    output = forward(block, inputs, f"{name}(32, 16)")
    expect_shape(output, (4, 16, 16, 16), f"{name}(32, 16) on (4, 32, 8, 8) must double height and width")
    kinds = [type(module) for module in leaf_modules_in_call_order(block, inputs)]
    expect(nn.ConvTranspose2d in kinds, f"{name} has no nn.ConvTranspose2d: upsample with a transposed "
                                        "convolution (kernel 4, stride 2, padding 1).")
    expect(nn.BatchNorm2d in kinds, f"{name} has no nn.BatchNorm2d after its transposed convolution.")
    expect(nn.LeakyReLU not in kinds, f"{name} uses LeakyReLU: the DCGAN generator uses ReLU "
                                      "(LeakyReLU belongs to the discriminator).")
    expect(output.min().item() >= 0, f"{name} outputs negative values: end the block with nn.ReLU().")
    expect(kinds.index(nn.ConvTranspose2d) < kinds.index(nn.BatchNorm2d),
           f"{name}: put BatchNorm2d after the transposed convolution "
           "(ConvTranspose2d -> BatchNorm2d -> ReLU).")
    passed(f"{name}: ConvTranspose2d -> BatchNorm2d -> ReLU, (4, 32, 8, 8) -> (4, 16, 16, 16).")


def check_generator(generator_class: Callable[..., nn.Module]) -> None:
    """``generator_class(latent_dim, image_size, channels, base_width)`` must follow the DCGAN rules."""
    name = generator_class.__name__ if isinstance(generator_class, type) else "Generator"
    configs = [
        dict(latent_dim=100, image_size=32, channels=1, base_width=8),
        dict(latent_dim=16, image_size=64, channels=3, base_width=4),
    ]
    for config, batch in zip(configs, (16, 4), strict=True):
        torch.manual_seed(0)
        generator = build_learner_model(generator_class, name, **config)
        expect_no_pooling(generator, name)
        expect(not any(isinstance(m, nn.Upsample) for m in generator.modules()),
               f"{name} uses nn.Upsample: DCGAN upsamples with learned nn.ConvTranspose2d layers.")
        noise = torch.randn(batch, config["latent_dim"], generator=torch.Generator().manual_seed(0))
        images = forward_latent(generator, noise, name)
        shape = (batch, config["channels"], config["image_size"], config["image_size"])
        expect_shape(images, shape, f"{name}({', '.join(f'{k}={v}' for k, v in config.items())}) "
                                    f"on z of shape {tuple(noise.shape)}")
        expect_generator_output(images, name)
        expect_generator_layers(leaf_modules_in_call_order(generator, noise), name)
    passed(f"{name}: z (16, 100) -> images (16, 1, 32, 32) in [-1, 1]; 64 px RGB works too; "
           "BatchNorm + ReLU inside, Tanh at the end.")


def forward_latent(generator: nn.Module, noise: torch.Tensor, name: str) -> torch.Tensor:
    """Run the generator on z of shape (N, latent_dim), hinting at the reshape a 2-D z needs."""
    try:
        return forward(generator, noise, name)
    except AssertionError as error:
        if "4D" not in str(error):
            raise
        raise AssertionError(f"{error}. z arrives as (N, latent_dim); the first ConvTranspose2d needs a "
                             "1x1 map (N, latent_dim, 1, 1): reshape with z[:, :, None, None].") from None


def expect_generator_output(images: torch.Tensor, name: str) -> None:
    """Generated images must lie in [-1, 1], the range of Tanh and of the scaled data."""
    low, high = images.min().item(), images.max().item()
    expect(low < 0, f"{name}'s images lie in {value_range(images)}: that looks like a Sigmoid at the end. "
                    "The data lies in [-1, 1], so the output layer must be nn.Tanh().")
    expect(low >= -1 and high <= 1, f"{name}'s images lie in {value_range(images)}, outside [-1, 1]: "
                                     "missing Tanh? End the generator with nn.Tanh().")


def expect_generator_layers(calls: list[nn.Module], name: str) -> None:
    """BatchNorm and ReLU inside the generator, no BatchNorm on its output layer."""
    kinds = [type(module) for module in calls]
    expect(nn.BatchNorm2d in kinds, f"{name} has no BatchNorm2d: DCGAN normalises after every transposed "
                                    "convolution except the output layer.")
    expect(nn.LeakyReLU not in kinds, f"{name} uses LeakyReLU: the generator uses ReLU (LeakyReLU is for D).")
    last_conv = max(i for i, kind in enumerate(kinds) if kind in (nn.ConvTranspose2d, nn.Conv2d))
    expect(nn.BatchNorm2d not in kinds[last_conv:], f"{name} has BatchNorm on its output layer: the paper "
                                                    "leaves the generator's last layer without BatchNorm "
                                                    "(ConvTranspose2d -> Tanh).")


def check_init_weights(init_weights: Callable[[nn.Module], None]) -> None:
    """``init_weights(module)``, applied with ``model.apply``, must draw conv weights from N(0, 0.02)
    and BatchNorm scales from N(1, 0.02), with zero BatchNorm shifts."""
    name = "init_weights"
    torch.manual_seed(0)
    networks = {"generator": models.Generator(64, 32, 1, 32),
                "discriminator": models.Discriminator(32, 1, 32)}
    before = {net: copy.deepcopy(model.state_dict()) for net, model in networks.items()}
    for net, model in networks.items():
        call_learner(name, f"{net}.apply({name})", model.apply, init_weights)
    for net, model in networks.items():
        for layer_name, layer in model.named_modules():
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                unchanged = torch.equal(layer.weight, before[net][f"{layer_name}.weight"])
                where = f"{net}.{layer_name} ({type(layer).__name__})"
                expect_conv_init(layer.weight.detach(), unchanged, where)
        norms = [layer for layer in model.modules() if isinstance(layer, nn.BatchNorm2d)]
        expect_batchnorm_init(torch.cat([bn.weight.detach() for bn in norms]),
                              torch.cat([bn.bias.detach() for bn in norms]), net)
    passed(f"{name}: conv weights ~ N(0, 0.02), BatchNorm scales ~ N(1, 0.02), BatchNorm shifts 0.")


def expect_conv_init(weight: torch.Tensor, unchanged: bool, where: str) -> None:
    """One conv layer's weights must look like draws from N(0, 0.02)."""
    std, mean = weight.std().item(), weight.mean().item()
    expect(not unchanged, f"{where} kept PyTorch's default weights: your init_weights does not handle "
                          f"{where.split('(')[-1].rstrip(')')} (check the isinstance test).")
    if abs(mean - models.INIT_STD) < 0.005 and std < 0.005:
        raise AssertionError(f"{where} weights have mean {mean:.3f} and std {std:.4f}: mean and std swapped? "
                             "nn.init.normal_(weight, 0.0, 0.02) takes the mean first.")
    if abs(std / models.INIT_STD - 1) > 0.2:
        ratio = std / models.INIT_STD
        hint = " (ten times too large: 0.2 instead of 0.02?)" if 8 < ratio < 12 else ""
        hint = " (std 1.0 instead of 0.02?)" if 40 < ratio else hint
        raise AssertionError(f"Wrong init std: {where} weights have std {std:.3f}, expected 0.02{hint}. "
                             "DCGAN draws conv weights from N(0, 0.02).")
    expect(abs(mean) < 0.005, f"{where} weights have mean {mean:.3f}, expected 0 (N(0, 0.02)).")


def expect_batchnorm_init(scales: torch.Tensor, shifts: torch.Tensor, net: str) -> None:
    """BatchNorm scales ~ N(1, 0.02) and shifts 0."""
    mean, std = scales.mean().item(), scales.std().item()
    expect(abs(mean - 1) < 0.05, f"BatchNorm weights in the {net} average {mean:.2f}, not about 1: they "
                                 "scale each channel, so initialise them from N(1, 0.02), not N(0, 0.02) "
                                 "(nn.init.normal_(bn.weight, 1.0, 0.02)).")
    expect(std > 0, f"BatchNorm weights in the {net} are all exactly {mean:.2f}: the paper draws them from "
                    "N(1, 0.02) (nn.init.normal_(bn.weight, 1.0, 0.02)).")
    expect(abs(std / models.INIT_STD - 1) < 0.3, f"BatchNorm weights in the {net} have std {std:.3f}, "
                                                 "expected 0.02 (N(1, 0.02)).")
    expect(shifts.abs().max().item() == 0, f"BatchNorm biases in the {net} should start at 0 "
                                           "(nn.init.zeros_(bn.bias)).")


# ---------------------------------------------------------------- 02: discriminator

def check_discriminator(discriminator_class: Callable[..., nn.Module]) -> None:
    """``discriminator_class(image_size, channels, base_width)`` must map images to one logit each."""
    name = discriminator_class.__name__ if isinstance(discriminator_class, type) else "Discriminator"
    configs = [dict(image_size=32, channels=1, base_width=8), dict(image_size=64, channels=3, base_width=4)]
    for config, batch in zip(configs, (16, 4), strict=True):
        torch.manual_seed(0)
        discriminator = build_learner_model(discriminator_class, name, **config)
        expect_no_pooling(discriminator, name)
        expect(not any(isinstance(m, nn.Sigmoid) for m in discriminator.modules()),
               f"{name} contains a Sigmoid module: return raw logits. BCEWithLogitsLoss applies the sigmoid "
               "itself, in a numerically stable way; a Sigmoid before a logits loss squashes twice.")
        size = config["image_size"]
        images = torch.rand(batch, config["channels"], size, size, generator=torch.Generator().manual_seed(0))
        images = images * 2 - 1
        logits = forward(discriminator, images, name)
        flat_hint = " (one logit per image: flatten with .flatten() or .view(-1))"
        shape_hint = flat_hint if logits.numel() == batch else ""
        expect_shape(logits, (batch,), f"{name}({', '.join(f'{k}={v}' for k, v in config.items())}) "
                                       f"on images of shape {tuple(images.shape)}{shape_hint}")
        expect_discriminator_layers(leaf_modules_in_call_order(discriminator, images), name)
        expect_unbounded_logits(discriminator, images, name)
    passed(f"{name}: images (16, 1, 32, 32) -> logits (16,); LeakyReLU(0.2), no BatchNorm on the first "
           "layer, no Sigmoid; 64 px RGB works too.")


def expect_discriminator_layers(calls: list[nn.Module], name: str) -> None:
    """LeakyReLU(0.2) throughout, BatchNorm in the later layers but not right after the first conv."""
    kinds = [type(module) for module in calls]
    convs = [i for i, kind in enumerate(kinds) if kind is nn.Conv2d]
    expect(bool(convs), f"{name} has no nn.Conv2d: downsample with strided convolutions.")
    first_layer = kinds[convs[0] : convs[1] if len(convs) > 1 else len(kinds)]
    expect(nn.BatchNorm2d not in first_layer, f"{name} has BatchNorm on its first layer: the paper leaves "
                                              "the discriminator's input layer without BatchNorm "
                                              "(Conv2d -> LeakyReLU(0.2)).")
    expect(nn.BatchNorm2d in kinds, f"{name} has no BatchNorm2d: DCGAN normalises after every discriminator "
                                    "convolution except the first (and the final logit).")
    expect(nn.ReLU not in kinds, f"{name} uses ReLU: the discriminator uses LeakyReLU(0.2), so gradients "
                                 "also flow for negative inputs.")
    slopes = sorted({module.negative_slope for module in calls if isinstance(module, nn.LeakyReLU)})
    expect(slopes in ([], [0.2]), f"{name} uses LeakyReLU with slope {slopes}: DCGAN uses 0.2 "
                                  "(nn.LeakyReLU(0.2)); the default is 0.01.")


def expect_unbounded_logits(discriminator: nn.Module, images: torch.Tensor, name: str) -> None:
    """Logits are unbounded: on very large inputs a (piecewise-linear) D gives large outputs."""
    discriminator.eval()
    with torch.no_grad():
        outputs = discriminator(images * 1000)
    low, high = outputs.min().item(), outputs.max().item()
    expect(not (0 <= low and high <= 1), f"{name}'s outputs stay in [0, 1] even for huge inputs: a "
                                         "sigmoid is applied. Return raw logits — BCEWithLogitsLoss "
                                         "applies the sigmoid itself.")
    expect(not (-1 <= low and high <= 1), f"{name}'s outputs stay in [-1, 1]: a Tanh squashes them. "
                                          "Return raw logits from the final convolution.")
