"""Small GANs where the theory can be checked: a 1-D toy for D* and Jensen-Shannon, and the 2-D
ring of 8 Gaussians (Metz et al., 2017) where mode collapse and its remedy can be watched.

- 1-D: for fixed densities p_data and p_g the best discriminator is
  D*(x) = p_data(x) / (p_data(x) + p_g(x)), and the game's value at D* is
  -log 4 + 2 JS(p_data || p_g). ``gaussian_density``, ``optimal_discriminator``,
  ``jensen_shannon`` and ``game_value`` compute both sides on a grid; ``fit_discriminator``
  trains a small D on samples to show it approaches D*.
- 2-D: ``ring_of_gaussians`` samples the data, ``ToyGenerator`` / ``ToyDiscriminator`` are small
  MLPs, ``train_ring_gan`` trains them (optionally PacGAN: D judges ``pack`` samples at once,
  Lin et al., 2018) and records samples and D's decision surface, and ``modes_covered`` counts
  the modes that received samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import losses

RING_MODES = 8
RING_RADIUS = 2.0
RING_STD = 0.05
COVERED_WITHIN = 3  # a sample belongs to a mode when it lies within 3 standard deviations of its centre
COVERED_SHARE = 0.02  # a mode counts as covered when it holds at least 2 % of the samples


# ---------------------------------------------------------------- 1-D: D* and Jensen-Shannon

def gaussian_density(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """The normal density N(mean, std²) at ``x``."""
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def optimal_discriminator(p_data: torch.Tensor, p_model: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data / (p_data + p_g): the best D for a fixed G (Goodfellow et al., 2014, Prop. 1)."""
    return p_data / (p_data + p_model).clamp(min=1e-30)


def jensen_shannon(p: torch.Tensor, q: torch.Tensor, dx: float) -> float:
    """JS(p || q) in nats, by a Riemann sum of two densities sampled on an even grid of step ``dx``."""
    mixture = (p + q) / 2

    def kl(a: torch.Tensor) -> torch.Tensor:
        ratio = a.double().clamp(min=1e-300) / mixture.double().clamp(min=1e-300)
        return torch.xlogy(a.double(), ratio).sum() * dx

    return (0.5 * kl(p) + 0.5 * kl(q)).item()


def game_value(discriminator: torch.Tensor, p_data: torch.Tensor, p_model: torch.Tensor, dx: float) -> float:
    """V(D, G) = E_data[log D] + E_g[log(1 - D)] for a D given by its values on the grid (float64)."""
    d = discriminator.double().clamp(1e-12, 1 - 1e-12)
    return ((torch.xlogy(p_data.double(), d) + torch.xlogy(p_model.double(), 1 - d)).sum() * dx).item()


def mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    """Two hidden layers with LeakyReLU(0.2)."""
    return nn.Sequential(nn.Linear(inputs, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                         nn.LeakyReLU(0.2), nn.Linear(hidden, outputs))


def fit_discriminator(real: torch.Tensor, fake: torch.Tensor, steps: int, seed: int = 0) -> nn.Module:
    """Train a small 1-D D with BCE on two fixed sample sets (N,) -> a module mapping x (N, 1) to logits."""
    torch.manual_seed(seed)
    discriminator = mlp(1, 32, 1)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        logits = discriminator(torch.cat([real, fake])[:, None]).squeeze(1)
        loss_d, _ = losses.bce(logits[: len(real)], logits[len(real) :])
        loss_d.backward()
        optimizer.step()
    return discriminator.eval()


# ---------------------------------------------------------------- 2-D: the ring of 8 Gaussians

def ring_centres(modes: int = RING_MODES, radius: float = RING_RADIUS) -> torch.Tensor:
    """The modes' centres, evenly spaced on a circle: (modes, 2)."""
    angles = torch.arange(modes) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def ring_of_gaussians(count: int, rng: torch.Generator, std: float = RING_STD) -> torch.Tensor:
    """``count`` points from an equal mixture of Gaussians on the ring: (count, 2)."""
    centres = ring_centres()
    which = torch.randint(len(centres), (count,), generator=rng)
    return centres[which] + std * torch.randn(count, 2, generator=rng)


def modes_covered(samples: torch.Tensor, std: float = RING_STD) -> int:
    """How many ring modes hold at least ``COVERED_SHARE`` of the samples within 3 std of their centre."""
    distances = torch.cdist(samples.detach().float(), ring_centres())
    nearest, mode = distances.min(dim=1)
    close = nearest < COVERED_WITHIN * std
    counts = torch.bincount(mode[close], minlength=RING_MODES)
    return int((counts >= COVERED_SHARE * len(samples)).sum())


class ToyGenerator(nn.Module):
    """z (N, latent_dim) -> points (N, 2)."""

    def __init__(self, latent_dim: int = 16, hidden: int = 128) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = mlp(latent_dim, hidden, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Points in the plane."""
        return self.net(z)


class ToyDiscriminator(nn.Module):
    """``pack`` points at a time (N, pack, 2) -> one logit per pack (N,); pack 1 is a plain D."""

    def __init__(self, pack: int = 1, hidden: int = 128) -> None:
        super().__init__()
        self.pack = pack
        self.net = mlp(2 * pack, hidden, 1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Logits for (N * pack, 2) points grouped in consecutive packs."""
        return self.net(points.reshape(-1, 2 * self.pack)).squeeze(1)


@dataclass
class RingRun:
    """A ring GAN's trajectory: step numbers, samples and D's surface at each snapshot, modes covered."""

    steps: list[int] = field(default_factory=list)
    samples: list[torch.Tensor] = field(default_factory=list)
    surfaces: list[torch.Tensor] = field(default_factory=list)
    modes: list[int] = field(default_factory=list)


def decision_surface(discriminator: ToyDiscriminator, grid: torch.Tensor) -> torch.Tensor:
    """σ(D) at every grid point (a pack of copies of the point for PacGAN), shape (len(grid),)."""
    with torch.no_grad():
        return torch.sigmoid(discriminator(grid.repeat_interleave(discriminator.pack, dim=0)))


def train_ring_gan(steps: int, pack: int = 1, snapshots: int = 6, batch_size: int = 128, lr: float = 1e-3,
                   hidden: int = 64, seed: int = 0, grid_size: int = 60) -> RingRun:
    """Train a non-saturating GAN on the ring; ``pack`` > 1 is PacGAN. Records ``snapshots`` snapshots."""
    if steps < snapshots or snapshots < 1:
        raise ValueError(f"need steps >= snapshots >= 1, got steps={steps}, snapshots={snapshots}.")
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    generator, discriminator = ToyGenerator(hidden=hidden), ToyDiscriminator(pack, hidden=hidden)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    axis = torch.linspace(-3, 3, grid_size)
    grid = torch.cartesian_prod(axis, axis).flip(1)  # rows of (x, y), y varying slowest
    probe_noise = torch.randn(1000, generator.latent_dim, generator=rng)
    record_at = {round((i + 1) * steps / snapshots) for i in range(snapshots)}
    run = RingRun()
    for step in range(1, steps + 1):
        real = ring_of_gaussians(batch_size * pack, rng)
        fake = generator(torch.randn(batch_size * pack, generator.latent_dim, generator=rng))
        opt_d.zero_grad()
        loss_d, _ = losses.bce(discriminator(real), discriminator(fake.detach()))
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = F.softplus(-discriminator(fake)).mean()  # non-saturating: label the fakes real
        loss_g.backward()
        opt_g.step()
        if step in record_at:
            with torch.no_grad():
                samples = generator(probe_noise)
            run.steps.append(step)
            run.samples.append(samples)
            run.surfaces.append(decision_surface(discriminator, grid).reshape(grid_size, grid_size))
            run.modes.append(modes_covered(samples))
    return run
