"""The DCGAN generator and discriminator (Radford et al. 2016), for 32x32 and 64x64 images.

Guidelines from the paper: no pooling (strided convolutions instead), no fully connected hidden
layers, BatchNorm in both networks (except the generator's output and the discriminator's input
layer), ReLU + Tanh in the generator, LeakyReLU(0.2) in the discriminator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

SUPPORTED_IMAGE_SIZES = (32, 64)
SUPPORTED_CHANNELS = (1, 3)
KERNEL = 4
INIT_STD = 0.02


def validate_image_spec(image_size: int, channels: int) -> None:
    """Raise a clear ``ValueError`` for an image size or channel count the models don't support."""
    if image_size not in SUPPORTED_IMAGE_SIZES:
        raise ValueError(
            f"image_size must be one of {SUPPORTED_IMAGE_SIZES}, got {image_size}. "
            "Resize your images (load_dataset(..., image_size=32)) or pick a supported size."
        )
    if channels not in SUPPORTED_CHANNELS:
        raise ValueError(
            f"channels must be 1 (grayscale) or 3 (RGB), got {channels}."
        )


def num_stages(image_size: int) -> int:
    """Number of 2x up/down-sampling stages between a 4x4 map and the image (3 for 32, 4 for 64)."""
    return {32: 3, 64: 4}[image_size]


def generator_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Double the spatial size: ConvTranspose(4, stride 2, pad 1) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, KERNEL, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def discriminator_block(in_channels: int, out_channels: int, batch_norm: bool = True) -> nn.Sequential:
    """Halve the spatial size: Conv(4, stride 2, pad 1) -> [BatchNorm] -> LeakyReLU(0.2)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, KERNEL, stride=2, padding=1, bias=False)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """Map a latent vector z ~ N(0, I) to an image in [-1, 1] by repeated 2x upsampling.

    At image_size=64 with the defaults this is the network of the paper and pytorch/examples.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        image_size: int = 64,
        channels: int = 3,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        validate_image_spec(image_size, channels)
        self.latent_dim, self.image_size, self.channels = latent_dim, image_size, channels
        self.base_width = base_width
        stages = num_stages(image_size)
        widths = [base_width * 2 ** (stages - 1 - i) for i in range(stages)]  # e.g. 512..64
        self.project = nn.Sequential(  # z (as a 1x1 map) -> 4x4 feature map
            nn.ConvTranspose2d(latent_dim, widths[0], KERNEL, stride=1, padding=0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        self.upsample = nn.Sequential(
            *[generator_block(widths[i], widths[i + 1]) for i in range(stages - 1)]
        )
        self.to_image = nn.Sequential(
            nn.ConvTranspose2d(widths[-1], channels, KERNEL, stride=2, padding=1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z of shape (N, latent_dim) or (N, latent_dim, 1, 1) -> images (N, C, H, W)."""
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.to_image(self.upsample(self.project(z)))


class Discriminator(nn.Module):
    """Map an image to one real/fake logit by repeated 2x strided downsampling.

    ``features(x)`` returns every block's activation, the raw material of the representation
    experiments. At image_size=64 with the defaults this is the paper's / pytorch-examples' D.
    """

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        base_width: int = 64,
        dropout: float = 0.0,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        validate_image_spec(image_size, channels)
        self.image_size, self.channels, self.base_width = image_size, channels, base_width
        stages = num_stages(image_size)
        widths = [base_width * 2**i for i in range(stages)]  # e.g. 64..512
        blocks = [discriminator_block(channels, widths[0], batch_norm=False)]
        blocks += [discriminator_block(widths[i], widths[i + 1]) for i in range(stages - 1)]
        if dropout > 0:
            for block in blocks:
                block.append(nn.Dropout2d(dropout))
        self.blocks = nn.Sequential(*blocks)
        self.to_logit = nn.Conv2d(widths[-1], 1, KERNEL, stride=1, padding=0, bias=False)
        self.feature_widths = widths
        if spectral_norm:
            for conv in [m for m in self.modules() if isinstance(m, nn.Conv2d)]:
                nn.utils.parametrizations.spectral_norm(conv)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activation after every downsampling block, from the first to the last."""
        activations = []
        for block in self.blocks:
            x = block(x)
            activations.append(x)
        return activations

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> logits (N,); apply a sigmoid only to read a probability."""
        return self.to_logit(self.blocks(x)).flatten()


def model_device(model: nn.Module) -> torch.device:
    """Where a model's weights live (its buffers if it has no parameters; CPU if neither)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put a model in eval mode (BatchNorm running statistics, no dropout) and restore its mode after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def generate(generator: Generator, noise: torch.Tensor) -> torch.Tensor:
    """Samples from G in inference mode (BatchNorm running statistics), returned on the CPU."""
    with torch.no_grad(), evaluation_mode(generator):
        return generator(noise.to(model_device(generator))).float().cpu()


def init_weights(module: nn.Module) -> None:
    """The paper's init: conv weights ~ N(0, 0.02); BatchNorm scale ~ N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        weight = getattr(module, "parametrizations", None)
        target = weight.weight.original if weight is not None else module.weight
        nn.init.normal_(target, 0.0, INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, INIT_STD)
        nn.init.zeros_(module.bias)


def build_gan(
    image_size: int = 32,
    channels: int = 1,
    latent_dim: int = 100,
    base_width: int = 64,
    device: torch.device | str = "cpu",
    spectral_norm: bool = False,
) -> tuple[Generator, Discriminator]:
    """A freshly initialised generator/discriminator pair on ``device``."""
    generator = Generator(latent_dim, image_size, channels, base_width)
    discriminator = Discriminator(image_size, channels, base_width, spectral_norm=spectral_norm)
    generator.apply(init_weights)
    discriminator.apply(init_weights)
    return generator.to(device), discriminator.to(device)
