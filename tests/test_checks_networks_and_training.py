"""The GAN checks pass the package's reference code and name each planted bug."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcgan_course import checks, data, models, train
from dcgan_course.checks import networks, training


def fails_with(check: Callable[[object], None], candidate: object, *phrases: str) -> str:
    """Run ``check`` on ``candidate``; assert it fails with a message containing every phrase."""
    with pytest.raises(AssertionError) as failure:
        check(candidate)
    message = str(failure.value)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    return message


def not_implemented(*args: object, **kwargs: object) -> None:
    """An exercise stub, as make-exercises leaves it."""
    raise NotImplementedError


class StubModel(nn.Module):
    """A model whose constructor is still an exercise stub."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__()
        raise NotImplementedError


REFERENCES = [
    (networks.check_scale_to_generator_range, data.scale_to_unit_range),
    (networks.check_generator_block, models.generator_block),
    (networks.check_generator, models.Generator),
    (networks.check_init_weights, models.init_weights),
    (networks.check_discriminator, models.Discriminator),
    (training.check_discriminator_step, train.discriminator_step),
    (training.check_generator_step, train.generator_step),
]


@pytest.mark.parametrize(("check", "reference"), REFERENCES, ids=lambda item: getattr(item, "__name__", ""))
def test_check_passes_the_package_reference_with_one_tick_line(check, reference, capsys):
    check(reference)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("✅")


@pytest.mark.parametrize(("check", "reference"), REFERENCES, ids=lambda item: getattr(item, "__name__", ""))
def test_stub_gets_a_friendly_not_implemented_message(check, reference):
    stub = StubModel if isinstance(reference, type) else not_implemented
    fails_with(check, stub, "not implemented yet")


# ------------------------------------------------------------------ scaling

@pytest.mark.parametrize(("scale", "phrase"), [
    (lambda pixels, max_value: pixels.float() / max_value, "left in [0, 1]"),
    (lambda pixels, max_value: pixels.float(), "not scaled at all"),
    (lambda pixels, max_value: pixels.float() / max_value - 0.5, "multiply by 2"),
    (lambda pixels, max_value: pixels.float() / 255 * 2 - 1, "hard-coded"),
])
def test_scale_check_names_images_not_scaled_to_minus_one_one(scale, phrase):
    fails_with(networks.check_scale_to_generator_range, scale, "not scaled to [-1, 1]", phrase)


# ------------------------------------------------------------------ generator

class SqueezedGenerator(models.Generator):
    """Drops the channel axis."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z).squeeze(1)


class NoTanhGenerator(models.Generator):
    """Forgets the output Tanh."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.to_image[1] = nn.Identity()


class SigmoidGenerator(models.Generator):
    """Ends with Sigmoid instead of Tanh."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.to_image[1] = nn.Sigmoid()


class OutputBatchNormGenerator(models.Generator):
    """Puts BatchNorm on the output layer."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.to_image.insert(1, nn.BatchNorm2d(kwargs["channels"]))


class PoolingGenerator(models.Generator):
    """Adds a (shape-preserving) pooling layer."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.to_image.insert(0, nn.MaxPool2d(3, stride=1, padding=1))


class UnshapedLatentGenerator(models.Generator):
    """Feeds z of shape (N, latent_dim) straight into the first transposed convolution."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.to_image(self.upsample(self.project(z)))


def test_generator_check_hints_at_reshaping_a_flat_latent_vector():
    fails_with(networks.check_generator, UnshapedLatentGenerator, "z[:, :, None, None]")


def test_generator_check_reports_expected_and_actual_shape():
    fails_with(networks.check_generator, SqueezedGenerator,
               "expected shape (16, 1, 32, 32), got (16, 32, 32)")


@pytest.mark.parametrize(("generator_class", "phrase"), [
    (NoTanhGenerator, "missing Tanh"),
    (SigmoidGenerator, "Sigmoid"),
    (OutputBatchNormGenerator, "BatchNorm on its output layer"),
    (PoolingGenerator, "uses pooling (MaxPool2d)"),
])
def test_generator_check_names_the_architecture_bug(generator_class, phrase):
    fails_with(networks.check_generator, generator_class, phrase)


def leaky_generator_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """A generator block with the discriminator's activation."""
    block = models.generator_block(in_channels, out_channels)
    block[2] = nn.LeakyReLU(0.2)
    return block


def test_generator_block_check_names_leaky_relu_and_missing_batchnorm():
    fails_with(networks.check_generator_block, leaky_generator_block, "uses LeakyReLU")
    without_norm = lambda i, o: nn.Sequential(nn.ConvTranspose2d(i, o, 4, 2, 1), nn.ReLU())  # noqa: E731
    fails_with(networks.check_generator_block, without_norm, "no nn.BatchNorm2d")


# ------------------------------------------------------------------ init

def init_with(
    conv_std: float = 0.02, norm_mean: float = 1.0, conv_types: tuple = (nn.Conv2d, nn.ConvTranspose2d)
) -> Callable[[nn.Module], None]:
    """An init_weights with planted numbers."""
    def init_weights(module: nn.Module) -> None:
        if isinstance(module, conv_types):
            nn.init.normal_(module.weight, 0.0, conv_std)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, norm_mean, 0.02)
            nn.init.zeros_(module.bias)
    return init_weights


@pytest.mark.parametrize(("init", "phrases"), [
    (init_with(conv_std=1.0), ("Wrong init std", "std 1.0 instead of 0.02")),
    (init_with(conv_std=0.2), ("Wrong init std", "0.2 instead of 0.02")),
    (init_with(norm_mean=0.0), ("BatchNorm weights", "not about 1")),
    (init_with(conv_types=(nn.Conv2d,)), ("default weights", "ConvTranspose2d")),
])
def test_init_check_names_wrong_std_and_batchnorm_scale(init, phrases):
    fails_with(networks.check_init_weights, init, *phrases)


# ------------------------------------------------------------------ discriminator

class SigmoidModuleDiscriminator(models.Discriminator):
    """Ends with a Sigmoid module before a logits loss."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.to_logit = nn.Sequential(self.to_logit, nn.Sigmoid())


class SigmoidFunctionDiscriminator(models.Discriminator):
    """Applies torch.sigmoid in forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(super().forward(x))


class FirstLayerBatchNormDiscriminator(models.Discriminator):
    """Normalises the input layer too."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.blocks[0].insert(1, nn.BatchNorm2d(self.base_width))


class ReluDiscriminator(models.Discriminator):
    """Uses ReLU instead of LeakyReLU(0.2)."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        for block in self.blocks:
            block[-1] = nn.ReLU()


class UnflattenedDiscriminator(models.Discriminator):
    """Returns (N, 1, 1, 1) logits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_logit(self.blocks(x))


@pytest.mark.parametrize(("discriminator_class", "phrases"), [
    (SigmoidModuleDiscriminator, ("Sigmoid module", "logits")),
    (SigmoidFunctionDiscriminator, ("stay in [0, 1]", "sigmoid")),
    (FirstLayerBatchNormDiscriminator, ("BatchNorm on its first layer",)),
    (ReluDiscriminator, ("uses ReLU", "LeakyReLU(0.2)")),
    (UnflattenedDiscriminator, ("expected shape (16,), got (16, 1, 1, 1)", "flatten")),
])
def test_discriminator_check_names_the_architecture_bug(discriminator_class, phrases):
    fails_with(networks.check_discriminator, discriminator_class, *phrases)


# ------------------------------------------------------------------ training steps

def planted_discriminator_step(generator, discriminator, optimizer, real_images, noise, scaler=None, *,
                               detach=True, real_target=1.0, zero_grad=True, probabilities=True):
    """The reference D step with switches that plant one bug each."""
    if zero_grad:
        optimizer.zero_grad()
    fake_images = generator(noise)
    fake_images = fake_images.detach() if detach else fake_images
    real_logits, fake_logits = discriminator(real_images), discriminator(fake_images)
    loss = (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, 1 - real_target)))
    loss.backward()
    optimizer.step()
    read = torch.sigmoid if probabilities else (lambda logits: logits)
    return {"loss_d": loss.item(), "d_real": read(real_logits).mean().item(),
            "d_fake": read(fake_logits).mean().item()}


def test_planted_discriminator_step_is_correct_when_no_bug_is_planted():
    training.check_discriminator_step(planted_discriminator_step)


@pytest.mark.parametrize(("bug", "phrases"), [
    (dict(detach=False), ("sent gradients into the generator", "missing .detach()")),
    (dict(real_target=0.0), ("swapped real/fake labels", "call real images fake")),
    (dict(zero_grad=False), ("zero_grad",)),
    (dict(probabilities=False), ("probabilities",)),
])
def test_discriminator_step_check_names_the_planted_bug(bug, phrases):
    fails_with(training.check_discriminator_step, partial(planted_discriminator_step, **bug), *phrases)


def planted_generator_step(generator, discriminator, optimizer, noise, scaler=None, *,
                           loss_kind="non-saturating", detach=False, as_float=True):
    """The reference G step with switches that plant one bug each."""
    optimizer.zero_grad()
    fake_images = generator(noise)
    logits = discriminator(fake_images.detach() if detach else fake_images)
    losses = {
        "non-saturating": lambda: F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)),
        "swapped": lambda: F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits)),
        "minimax": lambda: -F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits)),
    }
    loss = losses[loss_kind]()
    if loss.requires_grad:
        loss.backward()
    optimizer.step()
    return {"loss_g": loss.item() if as_float else loss}


def test_planted_generator_step_is_correct_when_no_bug_is_planted():
    training.check_generator_step(planted_generator_step)


@pytest.mark.parametrize(("bug", "phrases"), [
    (dict(loss_kind="swapped"), ("swapped labels", "more* fake")),
    (dict(loss_kind="minimax"), ("minimax", "non-saturating")),
    (dict(detach=True), ("did not change the generator", ".detach()")),
    (dict(as_float=False), ("Python float",)),
])
def test_generator_step_check_names_the_planted_bug(bug, phrases):
    fails_with(training.check_generator_step, partial(planted_generator_step, **bug), *phrases)


def test_prediction_check_fails_on_a_blank_and_names_the_options():
    def predict(value: object) -> None:
        checks.check_prediction("prediction_norm", value, ("shrinks", "stays"), "stays", "")

    fails_with(predict, None, "prediction_norm is still None", "shrinks")
    fails_with(predict, "grows", "not one of the options")


def test_prediction_check_passes_a_wrong_guess_and_says_what_the_run_showed(capsys):
    checks.check_prediction("prediction_norm", "shrinks", ("shrinks", "stays"), "stays", "Because.")
    assert "but the run shows 'stays'" in capsys.readouterr().out
    checks.check_prediction("prediction_norm", "stays", ("shrinks", "stays"), "stays", "Because.")
    assert "and the run agrees" in capsys.readouterr().out
