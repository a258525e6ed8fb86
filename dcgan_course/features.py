"""Frozen networks as feature extractors: forward hooks, the paper's 4x4 max-pool protocol, and
generator-side features for real images through an encoder that inverts the generator.

The protocol of Radford et al. (2016): run images through the frozen discriminator, max-pool
every conv layer's activation to a 4x4 grid, flatten and concatenate. For a 32-pixel
discriminator with widths 64/128/256 that is 16 x 448 = 7168 features per image.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .data import ImageData
from .models import (
    Discriminator,
    Generator,
    discriminator_block,
    evaluation_mode,
    init_weights,
    model_device,
    num_stages,
)

PAPER_GRID = 4
BATCH_SIZE = 256


def get_layers(model: nn.Module, layer_names: Sequence[str]) -> list[nn.Module]:
    """Look up sub-modules by their dotted names (``"blocks.0"``), listing the valid names on a typo."""
    available = dict(model.named_modules())
    missing = [name for name in layer_names if name not in available]
    if missing or not layer_names:
        choices = ", ".join(name for name in available if name)
        raise ValueError(f"Unknown layer name(s) {missing or '(none given)'}. Choose from: {choices}.")
    return [available[name] for name in layer_names]


@contextmanager
def capture_activations(model: nn.Module, layer_names: Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Record each named layer's output on every forward pass inside the block; remove the hooks after."""
    activations: dict[str, torch.Tensor] = {}

    def recorder(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            activations[name] = output.detach()
        return hook

    handles = [layer.register_forward_hook(recorder(name))
               for name, layer in zip(layer_names, get_layers(model, layer_names), strict=True)]
    try:
        yield activations
    finally:
        for handle in handles:
            handle.remove()


def pool_to_grid(activation: torch.Tensor, grid: int | None = PAPER_GRID) -> torch.Tensor:
    """Max-pool (N, C, H, W) to (N, C, grid, grid) and flatten; ``grid=None`` keeps the whole map."""
    if grid is not None and activation.dim() == 4:
        activation = F.adaptive_max_pool2d(activation, grid)
    return activation.flatten(1)


def extract_features(
    model: nn.Module,
    images: torch.Tensor,
    layer_names: Sequence[str],
    grid: int | None = PAPER_GRID,
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
) -> torch.Tensor:
    """The paper's protocol for any network: pool each named layer's activation to a grid and concatenate.

    The model runs frozen (eval mode, no gradients) in batches; returns a CPU float tensor (N, F).
    """
    device = model_device(model)
    chunks = []
    with torch.no_grad(), evaluation_mode(model), capture_activations(model, layer_names) as activations:
        for batch in tqdm(images.split(batch_size), desc="features", disable=not progress, leave=False):
            model(batch.to(device))
            pooled = [pool_to_grid(activations[name], grid) for name in layer_names]
            chunks.append(torch.cat(pooled, dim=1).float().cpu())
    return torch.cat(chunks)


def discriminator_layers(discriminator: Discriminator) -> list[str]:
    """The names of the discriminator's downsampling blocks: ``blocks.0``, ``blocks.1``, ..."""
    return [f"blocks.{i}" for i in range(len(discriminator.blocks))]


def discriminator_features(
    discriminator: Discriminator,
    images: torch.Tensor,
    layers: Sequence[int] | None = None,
    grid: int | None = PAPER_GRID,
    batch_size: int = BATCH_SIZE,
) -> torch.Tensor:
    """Paper features from the discriminator's blocks (all of them, or the indices in ``layers``)."""
    names = discriminator_layers(discriminator)
    if layers is not None:
        names = [names[i] for i in layers]
    return extract_features(discriminator, images, names, grid, batch_size)


def pixel_features(images: torch.Tensor) -> torch.Tensor:
    """The baseline every representation must beat: the flattened pixels."""
    return images.detach().float().cpu().flatten(1)


class Encoder(nn.Module):
    """Image -> latent code: the discriminator's downsampling blocks, then a 4x4 conv to ``latent_dim``."""

    def __init__(self, latent_dim: int = 100, image_size: int = 32, channels: int = 1, base_width: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        widths = [base_width * 2**i for i in range(num_stages(image_size))]
        blocks = [discriminator_block(channels, widths[0], batch_norm=False)]
        blocks += [discriminator_block(widths[i], widths[i + 1]) for i in range(len(widths) - 1)]
        self.blocks = nn.Sequential(*blocks)
        self.to_latent = nn.Conv2d(widths[-1], latent_dim, 4, stride=1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> latent codes (N, latent_dim)."""
        return self.to_latent(self.blocks(x)).flatten(1)


def train_encoder(
    generator: Generator,
    steps: int,
    base_width: int = 64,
    batch_size: int = 64,
    lr: float = 2e-4,
    seed: int = 0,
    progress: bool = True,
) -> tuple[Encoder, list[float]]:
    """Invert a frozen generator by latent regression: learn E with E(G(z)) close to z on G's own samples.

    No real image and no label is used. Returns the encoder and its per-step loss.
    """
    device = model_device(generator)
    torch.manual_seed(seed)
    encoder = Encoder(generator.latent_dim, generator.image_size, generator.channels, base_width).to(device)
    encoder.apply(init_weights)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=lr, betas=(0.5, 0.999))
    losses = []
    with evaluation_mode(generator):
        for _ in tqdm(range(steps), desc="encoder", disable=not progress, leave=False):
            z = torch.randn(batch_size, generator.latent_dim, device=device)
            with torch.no_grad():
                fakes = generator(z)
            loss = F.mse_loss(encoder(fakes), z)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return encoder, losses


def encode(encoder: nn.Module, images: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """Latent codes for a batch of real images, computed frozen and in batches."""
    device = model_device(encoder)
    with torch.no_grad(), evaluation_mode(encoder):
        return torch.cat([encoder(batch.to(device)).cpu() for batch in images.split(batch_size)])


def refine_latents(
    generator: Generator, images: torch.Tensor, z: torch.Tensor, steps: int, lr: float = 0.05
) -> torch.Tensor:
    """Latent optimisation: nudge z by gradient descent so that G(z) reconstructs the images."""
    device = model_device(generator)
    images, z = images.to(device), z.detach().clone().to(device).requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    with evaluation_mode(generator):
        for _ in range(steps):
            loss = F.mse_loss(generator(z), images)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return z.detach().cpu()


def generator_layers(generator: Generator) -> list[str]:
    """The names of the generator's hidden layers: ``project``, ``upsample.0``, ..."""
    return ["project", *[f"upsample.{i}" for i in range(len(generator.upsample))]]


def generator_features(
    generator: Generator, latents: torch.Tensor, grid: int | None = PAPER_GRID, batch_size: int = BATCH_SIZE
) -> torch.Tensor:
    """Generator-side features of real images: their latent codes plus G's pooled hidden layers on them."""
    hidden = extract_features(generator, latents, generator_layers(generator), grid, batch_size)
    return torch.cat([latents.float().cpu(), hidden], dim=1)


def train_autoencoder(
    data: ImageData,
    epochs: int,
    latent_dim: int = 100,
    base_width: int = 64,
    batch_size: int = 64,
    lr: float = 2e-4,
    seed: int = 0,
    progress: bool = True,
) -> tuple[Encoder, Generator]:
    """The classic unsupervised baseline: encoder and decoder (a DCGAN generator) trained to reconstruct."""
    torch.manual_seed(seed)
    device = data.device
    encoder = Encoder(latent_dim, data.image_size, data.channels, base_width).to(device)
    decoder = Generator(latent_dim, data.image_size, data.channels, base_width).to(device)
    encoder.apply(init_weights)
    decoder.apply(init_weights)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=lr, betas=(0.5, 0.999))
    rng = torch.Generator().manual_seed(seed)
    steps = epochs * (len(data) // batch_size)
    bar = tqdm(total=steps, desc="autoencoder", disable=not progress, leave=False)
    for _ in range(epochs):
        for images, _ in data.batches(batch_size, rng=rng):
            loss = F.mse_loss(decoder(encoder(images)), images)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bar.update()
    bar.close()
    return encoder, decoder
