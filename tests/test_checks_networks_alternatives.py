"""Notebooks 01-02 checks: correct implementations written differently from the solutions pass (under
five grader seeds, with the line of what was verified), and each mistake probed by property is named.

docs/common_mistakes.md lists where learners make each planted mistake.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from check_helpers import fails_naming, passes_with_verified_line
from test_checks_networks_and_training import (
    Discriminator28,
    Generator28,
    MinibatchStdDev,
    paper_block,
    planted,
)
from torch import nn

from dcgan_course.checks import discriminator, networks

# ------------------------------------------------------------------ 01: the paper's 5x5 block


class FunctionalBlock(nn.Module):
    """The 5x5 block as a custom module with F.relu in forward (no ReLU module to find)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=(5, 5), stride=(2, 2),
                                     padding=(2, 2), output_padding=(1, 1), bias=False)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.up(x)))


def named_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """The 5x5 block with named layers and an in-place ReLU."""
    return nn.Sequential(OrderedDict(
        up=nn.ConvTranspose2d(in_channels, out_channels, 5, 2, 2, 1, bias=False),
        norm=nn.BatchNorm2d(out_channels, momentum=0.2), act=nn.ReLU(inplace=True)))


@pytest.mark.parametrize("candidate", [FunctionalBlock, named_block], ids=["functional", "named_inplace"])
def test_paper_block_alternatives_pass(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(networks.check_paper_block, candidate, capsys, monkeypatch)
    assert "no bias" in line and "a batch of one" in line


def biased_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """bias=True (nn.ConvTranspose2d's default) before BatchNorm, which the exercise text rules out."""
    return nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 5, 2, 2, 1),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


def eval_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Handed back in eval mode."""
    return paper_block(in_channels, out_channels).eval()


@pytest.mark.parametrize(("candidate", "phrases"), [
    (biased_block, ("has a bias", "bias=False", "cancels any bias")),
    (eval_block, ("starts in eval mode", "BatchNorm")),
])
def test_paper_block_names_the_property_probe(candidate, phrases):
    fails_naming(networks.check_paper_block, candidate, *phrases)


# ------------------------------------------------------------------ 01: the 28-pixel generator


class TanhOut(nn.Module):
    """A transposed convolution with torch.tanh applied in forward (no Tanh module)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 5, 2, 2, 1)  # a bias is fine: no BatchNorm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x))


class Hidden(nn.Module):
    """ConvTranspose2d -> BatchNorm2d -> F.relu, as a custom block."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, kernel, stride, padding, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)))


class PaperKernelGenerator(nn.Module):
    """1 -> 7 (kernel 7) -> 14 -> 28 with the paper's 5x5 kernels, F.relu, torch.tanh, an output bias."""

    def __init__(self, latent_dim: int = 100, channels: int = 1, base_width: int = 64) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.project = Hidden(latent_dim, 2 * base_width, 7, 1, 0)
        self.upsample = nn.Sequential(nn.ConvTranspose2d(2 * base_width, base_width, 5, 2, 2, 1, bias=False),
                                      nn.BatchNorm2d(base_width), nn.ReLU(inplace=True))
        self.to_image = TanhOut(base_width, channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.to_image(self.upsample(self.project(z[:, :, None, None])))


class NonOverlappingGenerator(nn.Module):
    """1 -> 7 -> 14 -> 28 with kernel-2 stride-2 layers (no overlap, so no checkerboard), z via view."""

    def __init__(self, latent_dim: int = 100, channels: int = 1, base_width: int = 64) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.project = nn.Sequential(nn.ConvTranspose2d(latent_dim, base_width * 2, 7, bias=False),
                                     nn.BatchNorm2d(base_width * 2), nn.ReLU())
        self.upsample = Hidden(base_width * 2, base_width, 2, 2, 0)
        self.to_image = nn.Sequential(nn.ConvTranspose2d(base_width, channels, 2, 2, 0, bias=False),
                                      nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.to_image(self.upsample(self.project(z.view(len(z), -1, 1, 1))))


@pytest.mark.parametrize("candidate", [PaperKernelGenerator, NonOverlappingGenerator],
                         ids=["paper_kernels_functional", "non_overlapping"])
def test_generator_28_alternatives_pass(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(networks.check_generator_28, candidate, capsys, monkeypatch)
    for claim in ("starts in training mode", "a batch of one", "hidden widths", "no bias", "eval mode"):
        assert claim in line


class EvalGenerator(Generator28):
    """Puts itself in eval mode in __init__."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.eval()


class DenseFirstGenerator(Generator28):
    """Starts with a 1x1 'dense' layer and BatchNorm on that 1x1 map: fails for a batch of one in training."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        wide = 2 * kwargs["base_width"]
        self.project = nn.Sequential(
            nn.ConvTranspose2d(kwargs["latent_dim"], wide, 1, bias=False), nn.BatchNorm2d(wide), nn.ReLU(),
            nn.ConvTranspose2d(wide, wide, 7, bias=False), nn.BatchNorm2d(wide), nn.ReLU())


class WideningGenerator(Generator28):
    """base_width on the first hidden map and 2 * base_width on the second: the exercise's widths reversed."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        latent, narrow, wide = kwargs["latent_dim"], kwargs["base_width"], 2 * kwargs["base_width"]
        self.project = nn.Sequential(nn.ConvTranspose2d(latent, narrow, 7, bias=False),
                                     nn.BatchNorm2d(narrow), nn.ReLU())
        self.upsample = nn.Sequential(nn.ConvTranspose2d(narrow, wide, 4, 2, 1, bias=False),
                                      nn.BatchNorm2d(wide), nn.ReLU())
        self.to_image[0] = nn.ConvTranspose2d(wide, kwargs["channels"], 4, 2, 1, bias=False)


class BiasedGenerator(Generator28):
    """Keeps nn.ConvTranspose2d's default bias=True before each BatchNorm."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        for block in (self.project, self.upsample):
            old = block[0]
            block[0] = nn.ConvTranspose2d(old.in_channels, old.out_channels, old.kernel_size, old.stride,
                                          old.padding)


class UntrackedGenerator(Generator28):
    """BatchNorm without running statistics: in eval mode it still normalises with the batch's."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        for block in (self.project, self.upsample):
            block[1] = nn.BatchNorm2d(block[1].num_features, track_running_stats=False)


class DetachingGenerator(Generator28):
    """Returns detached images: nothing could train it."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z).detach()


class LeakyFunctionalGenerator(PaperKernelGenerator):
    """F.leaky_relu in its custom hidden block: G's hidden activation must be ReLU."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.project.forward = lambda x: F.leaky_relu(self.project.norm(self.project.conv(x)), 0.2)


@pytest.mark.parametrize(("candidate", "phrases"), [
    (EvalGenerator, ("starts in eval mode", "remove the .eval() call")),
    (DenseFirstGenerator, ("on a batch of one", "more than one value per channel")),
    (WideningGenerator, ("hidden maps have [8, 16] channels", "2 * base_width (16) on the first")),
    (BiasedGenerator, ("has a bias before its BatchNorm", "bias=False")),
    (UntrackedGenerator, ("In eval mode", "changes with the other z", "running statistics")),
    (DetachingGenerator, ("carries no gradient", ".detach()")),
    (LeakyFunctionalGenerator, ("ConvTranspose2d -> BatchNorm2d -> ReLU",)),
])
def test_generator_28_names_the_property_probe(candidate, phrases):
    fails_naming(networks.check_generator_28, candidate, *phrases)


# ------------------------------------------------------------------ 02: minibatch stddev


class MeanSquareStdDev(nn.Module):
    """The statistic from centred squares (the paper's code), appended with repeat."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(dim=0, keepdim=True)
        spread = torch.sqrt(centred.pow(2).mean(dim=0) + 1e-6).mean()
        n, _, h, w = x.shape
        return torch.cat((x, spread.view(1, 1, 1, 1).repeat(n, 1, h, w)), 1)


class GuardedUnbiasedStdDev(nn.Module):
    """Unbiased variance for N > 1 (biased for a batch of one), via var_mean, broadcast by multiplication."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance, _ = torch.var_mean(x.double(), dim=0, unbiased=x.shape[0] > 1)
        spread = (variance + 1e-8).sqrt().mean().to(x.dtype)
        return torch.cat([x, torch.ones_like(x[:, :1]) * spread], dim=1)


class LoopStdDev(nn.Module):
    """One feature at a time, in a Python loop."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        spreads = [((flat[:, j] - flat[:, j].mean()) ** 2).mean().add(1e-8).sqrt()
                   for j in range(flat.shape[1])]
        spread = torch.stack(spreads).mean()
        return torch.cat([x, spread.expand(x.shape[0], 1, x.shape[2], x.shape[3])], dim=1)


@pytest.mark.parametrize("candidate", [MeanSquareStdDev, GuardedUnbiasedStdDev, LoopStdDev],
                         ids=["mean_square", "guarded_unbiased_float64", "loop"])
def test_minibatch_stddev_alternatives_pass(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(discriminator.check_minibatch_stddev, candidate, capsys, monkeypatch)
    assert "a batch of one" in line and "train and eval mode" in line


class UnbiasedStdDev(nn.Module):
    """torch.std's default (unbiased) plus an epsilon: fine for N > 1, NaN for a batch of one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spread = (x.var(dim=0) + 1e-8).sqrt().mean()
        return torch.cat([x, spread.expand(x.shape[0], 1, *x.shape[2:])], dim=1)


class TrainOnlyStdDev(MinibatchStdDev):
    """Appends zeros in eval mode, as if the statistic were a training-only trick."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) if self.training else torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)


@pytest.mark.parametrize(("candidate", "phrases"), [
    (UnbiasedStdDev, ("NaN or inf on a batch of one image", "unbiased=False")),
    (TrainOnlyStdDev, ("different output in eval mode",)),
])
def test_minibatch_stddev_names_the_property_probe(candidate, phrases):
    fails_naming(discriminator.check_minibatch_stddev, candidate, *phrases)


# ------------------------------------------------------------------ 02: the 28-pixel discriminator


class FunctionalDiscriminator(nn.Module):
    """Layers as attributes, F.leaky_relu in forward, the stddev computed inline, a bias on the first conv."""

    def __init__(self, channels: int = 1, base_width: int = 64) -> None:
        super().__init__()
        self.first = nn.Conv2d(channels, base_width, 4, 2, 1)  # no BatchNorm follows: a bias is fine
        self.second = nn.Conv2d(base_width, 2 * base_width, 4, 2, 1, bias=False)
        self.norm = nn.BatchNorm2d(2 * base_width)
        self.logit = nn.Conv2d(2 * base_width + 1, 1, 7, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.first(x), 0.2)
        h = F.leaky_relu(self.norm(self.second(h)), negative_slope=0.2)
        spread = (h.var(0, unbiased=False) + 1e-8).sqrt().mean()
        h = torch.cat([h, spread.expand(len(h), 1, 7, 7)], 1)
        return self.logit(h).view(-1)


class Kernel3Discriminator(nn.Module):
    """Kernel 3, stride 2, padding 1 (28 -> 14 -> 7), in-place LeakyReLU, logits by indexing."""

    def __init__(self, channels: int = 1, base_width: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, base_width, 3, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(base_width, base_width * 2, 3, 2, 1, bias=False), nn.BatchNorm2d(base_width * 2),
            nn.LeakyReLU(0.2, inplace=True), MinibatchStdDev(epsilon=1e-6))
        self.head = nn.Conv2d(base_width * 2 + 1, 1, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))[:, 0, 0, 0]


@pytest.mark.parametrize("candidate", [FunctionalDiscriminator, Kernel3Discriminator],
                         ids=["functional_inline_stddev", "kernel3_inplace"])
def test_discriminator_28_alternatives_pass(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(discriminator.check_discriminator_28, candidate, capsys, monkeypatch)
    for claim in ("starts in training mode", "a batch of one", "widths", "running statistics", "gradient"):
        assert claim in line


class SqueezingDiscriminator(Discriminator28):
    """.squeeze() on the (N, 1, 1, 1) output: (N,) for N > 1, but a 0-d tensor for a batch of one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).squeeze()


class UnbiasedStdDevDiscriminator(Discriminator28):
    """Its minibatch stddev uses the unbiased variance: NaN logits for a batch of one."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.layers[-2] = UnbiasedStdDev()


class DetachedStdDevDiscriminator(Discriminator28):
    """Its minibatch-stddev statistic is detached."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.layers[-2] = MinibatchStdDev(detach=True)


class EvalDiscriminator(Discriminator28):
    """Puts its BatchNorm in eval mode in __init__."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.layers[3].eval()


class NarrowDiscriminator(Discriminator28):
    """2 * base_width on the first layer and base_width on the second (G's order)."""

    def __init__(self, channels: int = 1, base_width: int = 8) -> None:
        super().__init__(channels=channels, base_width=base_width)
        self.layers[0] = nn.Conv2d(channels, 2 * base_width, 4, 2, 1, bias=False)
        self.layers[2] = nn.Conv2d(2 * base_width, 2 * base_width, 4, 2, 1, bias=False)


class NormalisedLogitDiscriminator(Discriminator28):
    """BatchNorm after the final convolution."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.layers.append(nn.BatchNorm2d(1))


class UntrackedDiscriminator(Discriminator28):
    """BatchNorm without running statistics."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.layers[3] = nn.BatchNorm2d(self.layers[3].num_features, track_running_stats=False)


class DefaultSlopeDiscriminator(FunctionalDiscriminator):
    """F.leaky_relu with its default slope 0.01 on the first layer (no module whose slope could be read)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.first(x))
        h = F.leaky_relu(self.norm(self.second(h)), 0.2)
        return self.logit(MinibatchStdDev()(h)).view(-1)


class DetachedInputDiscriminator(Discriminator28):
    """Detaches its input (e.g. converts it through NumPy): G could not learn through D."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.detach())


class ActivateThenNormalise(Discriminator28):
    """Conv2d -> LeakyReLU -> BatchNorm2d on the second layer (the order swapped)."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.layers[3], self.layers[4] = self.layers[4], self.layers[3]


class StdDevBeforeNorm(Discriminator28):
    """Conv2d -> MinibatchStdDev -> BatchNorm2d -> LeakyReLU: BatchNorm erases the constant channel."""

    def __init__(self, channels: int = 1, base_width: int = 8) -> None:
        super().__init__(channels=channels, base_width=base_width)
        wide = 2 * base_width
        self.layers = nn.Sequential(*self.layers[:2], nn.Conv2d(base_width, wide, 4, 2, 1, bias=False),
                                    MinibatchStdDev(), nn.BatchNorm2d(wide + 1), nn.LeakyReLU(0.2),
                                    nn.Conv2d(wide + 1, 1, 7, bias=False))


@pytest.mark.parametrize(("candidate", "phrases"), [
    (StdDevBeforeNorm, ("extra channel that is not the minibatch stddev", "normalise the constant channel")),
    (ActivateThenNormalise, ("layer 2 applies LeakyReLU before BatchNorm",)),
    (SqueezingDiscriminator, ("on a batch of one", ".squeeze() also drops the batch dimension")),
    (UnbiasedStdDevDiscriminator, ("non-finite values", "batch of one", "unbiased=False")),
    (DetachedStdDevDiscriminator, ("no gradient with respect to them", "detached")),
    (EvalDiscriminator, ("starts in eval mode", "BatchNorm2d")),
    (NarrowDiscriminator, ("output [16, 16, 1] channels", "base_width (8), then 2 * base_width (16)")),
    (NormalisedLogitDiscriminator, ("BatchNorm after its final convolution",)),
    (UntrackedDiscriminator, ("keeps no running statistics", "track_running_stats=False")),
    (DefaultSlopeDiscriminator, ("layer 1 applies LeakyReLU with slope 0.01", "DCGAN uses 0.2")),
    (DetachedInputDiscriminator, ("no gradient with respect to them",)),
])
def test_discriminator_28_names_the_property_probe(candidate, phrases):
    fails_naming(discriminator.check_discriminator_28, candidate, *phrases)


@pytest.mark.parametrize(("check", "candidate"), [
    (networks.check_paper_block, paper_block),
    (networks.check_generator_28, Generator28),
    (discriminator.check_minibatch_stddev, MinibatchStdDev),
    (discriminator.check_discriminator_28, Discriminator28),
], ids=["paper_block", "generator_28", "minibatch_stddev", "discriminator_28"])
def test_the_reference_passes_under_every_seed_with_what_it_verified(check, candidate, capsys, monkeypatch):
    passes_with_verified_line(check, candidate, capsys, monkeypatch)


@pytest.mark.parametrize(("check", "candidate"), [
    (networks.check_paper_block, partial(paper_block, norm=False)),
    (networks.check_generator_28, planted(Generator28, output="sigmoid")),
    (discriminator.check_minibatch_stddev, planted(MinibatchStdDev, dim=1)),
    (discriminator.check_discriminator_28, planted(Discriminator28, sigmoid=True)),
])
def test_every_failure_prints_the_seed(check, candidate):
    fails_naming(check, candidate)
