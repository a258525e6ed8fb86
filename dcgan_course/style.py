"""Neural style transfer: content and Gram-matrix style losses, by optimisation and feed-forward.

Gatys et al. (2016) optimise the pixels of an image so its deep features match a content
image while its feature correlations (Gram matrices) match a style image. Johnson et al. (2016)
train a network to do the same in one forward pass. Images are (N, 3, H, W) in [-1, 1].
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import settings
from .colab import running_on_colab
from .models import model_device

SAMPLE_IMAGES = ("china", "flower", "grace_hopper", "waves")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG_STYLE_LAYERS = (1, 6, 11, 20, 29)  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
VGG_CONTENT_LAYER = 22  # relu4_2


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be loaded (usually: offline and not cached)."""


# --- images ---------------------------------------------------------------------------------------

def pil_to_tensor(image, size: int) -> torch.Tensor:
    """A PIL image -> (1, 3, size, size) in [-1, 1]: shorter side resized to ``size``, centre-cropped."""
    from torchvision.transforms import functional as TF

    image = TF.center_crop(TF.resize(image.convert("RGB"), size, antialias=True), size)
    return TF.to_tensor(image).unsqueeze(0) * 2.0 - 1.0


def load_image(path: str | Path, size: int = 256) -> torch.Tensor:
    """Read an image file as a (1, 3, size, size) tensor in [-1, 1]; clear errors for bad files."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No image file at {path}.")
    try:
        with Image.open(path) as image:
            return pil_to_tensor(image, size)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"Cannot read {path} as an image ({error}). Use a JPEG or PNG file.") from error


def save_image(image: torch.Tensor, path: str | Path) -> Path:
    """Write a (1, 3, H, W) or (3, H, W) image in [-1, 1] to a PNG/JPEG file."""
    from torchvision.utils import save_image as write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write((image.detach().float().cpu() + 1.0) / 2.0, path)
    return path


def waves(size: int) -> torch.Tensor:
    """A generated, colourful swirl pattern: a style image that needs no file at all."""
    coords = torch.linspace(0, 6 * torch.pi, size)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    phase = torch.sin(x + 2.0 * torch.sin(0.5 * y)) + torch.cos(0.7 * y - 1.5 * torch.cos(0.4 * x))
    channels = [torch.sin(2.0 * phase + shift) for shift in (0.0, 2.1, 4.2)]
    return (0.9 * torch.stack(channels)).unsqueeze(0)


def sample_image(name: str, size: int = 256) -> torch.Tensor:
    """An image that ships with a dependency (scikit-learn, matplotlib) or is generated, in [-1, 1]."""
    from PIL import Image

    if name == "waves":
        return waves(size)
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return pil_to_tensor(Image.fromarray(load_sample_image(f"{name}.jpg")), size)
    if name == "grace_hopper":
        from matplotlib import cbook

        with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
            return pil_to_tensor(image, size)
    raise ValueError(f"Unknown sample image '{name}'. Choose one of: {', '.join(SAMPLE_IMAGES)}.")


# --- losses ----------------------------------------------------------------------------------------

def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel-by-channel feature correlations (N, C, C), normalised by C * H * W."""
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width)
    return flat @ flat.transpose(1, 2) / (channels * height * width)


def content_loss(features: torch.Tensor, target_features: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the activations at the content layer."""
    return F.mse_loss(features, target_features)


def style_loss(features: Sequence[torch.Tensor], target_grams: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum over style layers of the mean squared difference between Gram matrices."""
    return sum(F.mse_loss(gram_matrix(f), g) for f, g in zip(features, target_grams, strict=True))


# --- feature networks ------------------------------------------------------------------------------

class FeatureNetwork(nn.Module):
    """A frozen CNN read at chosen layers: one content activation and a list of style activations."""

    def __init__(
        self, layers: nn.Sequential, content_layer: int, style_layers: Sequence[int], name: str,
        style_weight: float, mean: Sequence[float] = (0.5,), std: Sequence[float] = (0.5,),
        channels: int = 3,
    ) -> None:
        super().__init__()
        self.layers = layers.eval().requires_grad_(False)
        self.content_layer, self.style_layers = content_layer, tuple(style_layers)
        self.name, self.style_weight, self.channels = name, style_weight, channels
        device = model_device(layers)  # e.g. a discriminator already on the GPU
        self.register_buffer("mean", torch.tensor(mean, device=device).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, device=device).view(1, -1, 1, 1))
        self.depth = max(content_layer, *style_layers) + 1

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """[-1, 1] RGB -> the network's own input: grayscale if it wants 1 channel, then normalised."""
        images = (images + 1.0) / 2.0
        if self.channels == 1:
            images = images.mean(dim=1, keepdim=True)
        return (images - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(content activation, style activations) for a batch of images."""
        x, content, styles = self.prepare(images), None, []
        for index, layer in enumerate(self.layers[: self.depth]):
            x = layer(x)
            if index == self.content_layer:
                content = x
            if index in self.style_layers:
                styles.append(x)
        return content, styles


class MultiScaleRandomFilters(nn.Module):
    """One layer of random filters + ReLU applied at several scales (an image pyramid)."""

    def __init__(self, channels: int, width: int, kernel: int, scales: int, seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.filters = nn.ParameterList()
        for _ in range(scales):
            weight = torch.randn(width, channels, kernel, kernel, generator=generator)
            weight -= weight.mean(dim=(1, 2, 3), keepdim=True)  # zero-mean: respond to structure
            self.filters.append(nn.Parameter(weight / weight.flatten(1).norm(dim=1).view(-1, 1, 1, 1)))

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """One ReLU activation per scale, scale s seeing the image downsampled 2^s times."""
        activations = []
        for scale, weight in enumerate(self.filters):
            x = F.avg_pool2d(images, 2**scale) if scale else images
            activations.append(F.relu(F.conv2d(x, weight, padding=weight.shape[-1] // 2)))
        return activations


class RandomFeatureNetwork(FeatureNetwork):
    """Random multi-scale filters (Ustyuzhaninov et al. 2016): no training, no download needed."""

    def __init__(self, width: int = 128, kernel: int = 5, scales: int = 4, seed: int = 0) -> None:
        super().__init__(nn.Sequential(), content_layer=1, style_layers=range(scales),
                         name="random multi-scale filters", style_weight=1e6)
        self.filters = MultiScaleRandomFilters(3, width, kernel, scales, seed).requires_grad_(False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Content: the half-resolution scale; style: every scale."""
        activations = self.filters(self.prepare(images))
        return activations[self.content_layer], activations


def discriminator_network(discriminator: nn.Module) -> FeatureNetwork:
    """The course's trained DCGAN discriminator as a feature network (its blocks, read in turn)."""
    blocks = len(discriminator.blocks)
    return FeatureNetwork(discriminator.blocks, content_layer=1, style_layers=range(blocks),
                          name="DCGAN discriminator", style_weight=1e6,
                          channels=discriminator.channels)


def vgg19_network() -> FeatureNetwork:
    """torchvision's ImageNet VGG-19 with Gatys et al.'s layers; raises if the weights can't be had."""
    from torchvision.models import VGG19_Weights, vgg19

    try:
        layers = vgg19(weights=VGG19_Weights.IMAGENET1K_V1).features
    except (OSError, RuntimeError) as error:  # URLError is an OSError
        raise WeightsUnavailableError(f"Could not load VGG-19 weights ({error}).") from error
    for index, layer in enumerate(layers):
        if isinstance(layer, nn.MaxPool2d):  # Gatys et al.: average pooling gives smoother images
            layers[index] = nn.AvgPool2d(2)
        elif isinstance(layer, nn.ReLU):  # the activations we read must not be overwritten later
            layer.inplace = False
    return FeatureNetwork(layers, VGG_CONTENT_LAYER, VGG_STYLE_LAYERS, "VGG-19 (ImageNet)",
                          style_weight=1e6, mean=IMAGENET_MEAN, std=IMAGENET_STD)


def vgg19_weights_cached() -> bool:
    """True if torchvision's VGG-19 weights are already on disk (so loading needs no network)."""
    from torchvision.models import VGG19_Weights

    file_name = Path(VGG19_Weights.IMAGENET1K_V1.url).name
    return (Path(torch.hub.get_dir()) / "checkpoints" / file_name).is_file()


def load_feature_network(name: str = "auto", device: torch.device | str = "cpu") -> FeatureNetwork:
    """``random``, ``vgg19`` (falls back to random, with a message, when offline) or ``auto``.

    ``auto`` uses VGG-19 on Colab or when its weights are cached, random filters otherwise, so
    it never tries a download that cannot succeed.
    """
    if name not in ("auto", "random", "vgg19"):
        raise ValueError(f"Unknown feature network '{name}'. Choose 'auto', 'random' or 'vgg19' "
                         "(or build one with discriminator_network(D)).")
    if name == "vgg19" or (name == "auto" and (running_on_colab() or vgg19_weights_cached())):
        try:
            return vgg19_network().to(device)
        except WeightsUnavailableError as error:
            print(f"{error} Falling back to random multi-scale filters, which work offline.")
    return RandomFeatureNetwork().to(device)


# --- optimisation-based transfer (Gatys et al.) ----------------------------------------------------

@dataclass
class StyleTargets:
    """What an image is compared with: the content activation and the style Gram matrices."""

    content_features: torch.Tensor
    style_grams: list[torch.Tensor]


def style_targets(network: FeatureNetwork, content: torch.Tensor, style: torch.Tensor) -> StyleTargets:
    """Compute the (fixed) content activation and style Grams once, before optimising."""
    with torch.no_grad():
        content_features, _ = network(content)
        _, style_features = network(style)
    return StyleTargets(content_features, [gram_matrix(f) for f in style_features])


def measure(
    network: FeatureNetwork, image: torch.Tensor, targets: StyleTargets
) -> tuple[torch.Tensor, torch.Tensor]:
    """(content loss, style loss) of a batch of images against the targets (unweighted)."""
    features, style_features = network(image)
    batch = len(image)
    grams = [g.expand(batch, -1, -1) for g in targets.style_grams]
    return (content_loss(features, targets.content_features.expand_as(features)),
            style_loss(style_features, grams))


@dataclass
class StyleResult:
    """The stylised image, per-step content and style losses (unweighted) and the time it took."""

    image: torch.Tensor
    content_loss: list[float] = field(default_factory=list)
    style_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


def stylize(
    content: torch.Tensor,
    style: torch.Tensor,
    network: FeatureNetwork,
    steps: int = 300,
    style_weight: float | None = None,
    content_weight: float = 1.0,
    lr: float = 0.1,
    progress: bool = True,
) -> StyleResult:
    """Optimise the pixels, starting from the content image, to minimise content + w * style loss."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}.")
    device = model_device(network)
    content, style = content.to(device), style.to(device)
    targets = style_targets(network, content, style)
    weight = network.style_weight if style_weight is None else style_weight
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=lr)
    result = StyleResult(image)
    start = time.perf_counter()
    for _ in tqdm(range(steps), desc="style transfer", disable=not progress):
        optimizer.zero_grad(set_to_none=True)
        c_loss, s_loss = measure(network, image, targets)
        (content_weight * c_loss + weight * s_loss).backward()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(-1.0, 1.0)
        result.content_loss.append(c_loss.item())
        result.style_loss.append(s_loss.item())
    result.seconds = time.perf_counter() - start
    result.image = image.detach()
    return result


def losses_of(image: torch.Tensor, content: torch.Tensor, style: torch.Tensor,
              network: FeatureNetwork) -> dict[str, float]:
    """The unweighted content and style losses of a finished image, for comparing methods."""
    device = model_device(network)
    targets = style_targets(network, content.to(device), style.to(device))
    with torch.no_grad():
        c_loss, s_loss = measure(network, image.to(device), targets)
    return {"content_loss": c_loss.item(), "style_loss": s_loss.item()}


def structure_similarity(image: torch.Tensor, reference: torch.Tensor, blur: int = 4) -> float:
    """Correlation of blurred grayscale versions: near 1 when the layout (the content) is kept."""
    def layout(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x.float().cpu().mean(dim=1, keepdim=True), blur).flatten()

    a, b = layout(image), layout(reference)
    return float(np.corrcoef(a.numpy(), b.numpy())[0, 1])


# --- feed-forward transfer (Johnson et al.) --------------------------------------------------------

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
    images: Sequence[torch.Tensor], count: int, size: int, generator: torch.Generator
) -> torch.Tensor:
    """``count`` random square crops (with random flips) from a list of (1, 3, H, W) images."""
    crops = []
    for _ in range(count):
        image = images[int(torch.randint(len(images), (1,), generator=generator))]
        top = int(torch.randint(image.shape[-2] - size + 1, (1,), generator=generator))
        left = int(torch.randint(image.shape[-1] - size + 1, (1,), generator=generator))
        crop = image[..., top : top + size, left : left + size]
        crops.append(crop.flip(-1) if torch.rand(1, generator=generator) < 0.5 else crop)
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
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        _, style_features = network(style.to(device))
    grams = [gram_matrix(f) for f in style_features]
    weight = network.style_weight if style_weight is None else style_weight
    optimizer = torch.optim.Adam(transform.parameters(), lr=lr)
    history = FeedForwardHistory()
    start = time.perf_counter()
    for _ in tqdm(range(steps), desc="training transform network", disable=not progress):
        batch = random_crops(content_images, batch_size, crop_size, generator).to(device)
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
