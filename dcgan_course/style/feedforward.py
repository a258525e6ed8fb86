"""Feed-forward style transfer (Johnson et al. 2016): a network trained to stylise in one pass.

Optimisation-based transfer (``style``'s ``stylize``) solves one optimisation per image; here a transform
network is trained once, on random crops of content photos, to minimise the same content and
style losses, and then stylises any photo with a single forward pass.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .. import settings
from ..models import model_device
from . import FeatureNetwork, StyleTargets, gram_matrix, measure


def conv_layer(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """Reflection-padded convolution -> InstanceNorm -> ReLU (Johnson et al. with Ulyanov's norm)."""
    return nn.Sequential(
        nn.ReflectionPad2d(kernel // 2),
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride),
        nn.InstanceNorm2d(out_channels, affine=True),
        nn.ReLU(),
    )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions whose output is added to the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_layer(channels, channels, 3), nn.ReflectionPad2d(1),
                                  nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + F(x)."""
        return x + self.body(x)


class TransformNetwork(nn.Module):
    """Downsample twice, a few residual blocks, upsample twice: one forward pass stylises an image."""

    def __init__(self, width: int = 32, residual_blocks: int = 5) -> None:
        super().__init__()
        self.encode = nn.Sequential(conv_layer(3, width, 9), conv_layer(width, 2 * width, 3, stride=2),
                                    conv_layer(2 * width, 4 * width, 3, stride=2))
        self.transform = nn.Sequential(*[ResidualBlock(4 * width) for _ in range(residual_blocks)])
        self.decode = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), conv_layer(4 * width, 2 * width, 3),
            nn.Upsample(scale_factor=2, mode="nearest"), conv_layer(2 * width, width, 3),
            nn.ReflectionPad2d(4), nn.Conv2d(width, 3, 9), nn.Tanh(),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Content images (N, 3, H, W), H and W divisible by 4 -> stylised images in [-1, 1]."""
        return self.decode(self.transform(self.encode(images)))


def random_crops(
    images: Sequence[torch.Tensor], count: int, size: int, rng: torch.Generator
) -> torch.Tensor:
    """``count`` random square crops (with random flips) from a list of (1, 3, H, W) images."""
    crops = []
    for _ in range(count):
        image = images[int(torch.randint(len(images), (1,), generator=rng))]
        top = int(torch.randint(image.shape[-2] - size + 1, (1,), generator=rng))
        left = int(torch.randint(image.shape[-1] - size + 1, (1,), generator=rng))
        crop = image[..., top : top + size, left : left + size]
        crops.append(crop.flip(-1) if torch.rand(1, generator=rng) < 0.5 else crop)
    return torch.cat(crops)


@dataclass
class FeedForwardHistory:
    """Per-step unweighted content and style losses of the transform network's outputs."""

    content_loss: list[float] = field(default_factory=list)
    style_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_feedforward(
    transform: TransformNetwork,
    style: torch.Tensor,
    content_images: Sequence[torch.Tensor],
    network: FeatureNetwork,
    steps: int = 500,
    batch_size: int = 4,
    crop_size: int = 64,
    style_weight: float | None = None,
    content_weight: float = 1.0,
    lr: float = 1e-3,
    seed: int = settings.DEFAULT_SEED,
    progress: bool = True,
) -> FeedForwardHistory:
    """Train ``transform`` so its outputs on random content crops minimise content + w * style loss."""
    device = model_device(network)
    transform.to(device).train()
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        _, style_features = network(style.to(device))
    grams = [gram_matrix(f) for f in style_features]
    weight = network.style_weight if style_weight is None else style_weight
    optimizer = torch.optim.Adam(transform.parameters(), lr=lr)
    history = FeedForwardHistory()
    start = time.perf_counter()
    for _ in tqdm(range(steps), desc="training transform network", disable=not progress):
        batch = random_crops(content_images, batch_size, crop_size, rng).to(device)
        with torch.no_grad():
            content_features, _ = network(batch)
        targets = StyleTargets(content_features, grams)
        optimizer.zero_grad(set_to_none=True)
        c_loss, s_loss = measure(network, transform(batch), targets)
        (content_weight * c_loss + weight * s_loss).backward()
        optimizer.step()
        history.content_loss.append(c_loss.item())
        history.style_loss.append(s_loss.item())
    history.seconds = time.perf_counter() - start
    return history


def apply_style(transform: TransformNetwork, content: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Stylise with one forward pass; returns the image and the seconds it took."""
    transform.eval()
    device = model_device(transform)
    start = time.perf_counter()
    with torch.no_grad():
        image = transform(content.to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()  # GPU work is asynchronous: wait before reading the clock
    return image, time.perf_counter() - start
