"""Neural style transfer by optimisation: content and Gram-matrix style losses, feature networks.

Gatys et al. (2016) optimise the pixels of an image so its deep features match a content
image while its feature correlations (Gram matrices) match a style image. Images are
(N, 3, H, W) in [-1, 1]. The one-pass network of Johnson et al. is in ``style.feedforward``;
judging a result outside its own loss is in ``style.evaluation``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..models import model_device
from ..settings import running_on_colab

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG_STYLE_LAYERS = (1, 6, 11, 20, 29)  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
VGG_CONTENT_LAYER = 22  # relu4_2


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be loaded (usually: offline and not cached)."""


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
    """Random multi-scale filters (Ustyuzhaninov et al. 2016): no training, no download needed.

    The filters are zero-mean, so they ignore flat colour; ``colour_weight`` > 0 adds the pixels
    themselves as a first style layer, whose Gram matrix is the palette (RGB second moments).
    """

    def __init__(self, width: int = 128, kernel: int = 5, scales: int = 4, seed: int = 0,
                 colour_weight: float = 0.0, style_weight: float = 1e6) -> None:
        super().__init__(nn.Sequential(), content_layer=1, style_layers=range(scales),
                         name="random multi-scale filters", style_weight=style_weight)
        self.filters = MultiScaleRandomFilters(3, width, kernel, scales, seed).requires_grad_(False)
        self.colour_weight = colour_weight

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Content: the half-resolution scale; style: [the weighted pixels,] every scale."""
        images = self.prepare(images)
        activations = self.filters(images)
        palette = [self.colour_weight * images] if self.colour_weight else []
        return activations[self.content_layer], palette + activations


def painterly_network() -> RandomFeatureNetwork:
    """Random filters plus the palette, style weight 1e7: a variant notebook 09 measures (not the default)."""
    network = RandomFeatureNetwork(colour_weight=0.3, style_weight=1e7)
    network.name = "random filters + palette"
    return network


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


def match_colours(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Linear colour transfer: give ``image`` the mean and RGB covariance of ``reference``."""
    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = x[0].flatten(1).double()
        return pixels.mean(dim=1, keepdim=True), torch.cov(pixels) + 1e-6 * torch.eye(3, dtype=torch.double)

    def matrix_power(covariance: torch.Tensor, power: float) -> torch.Tensor:
        values, vectors = torch.linalg.eigh(covariance)
        return vectors @ torch.diag(values.clamp_min(1e-9) ** power) @ vectors.T

    (mean, cov), (ref_mean, ref_cov) = stats(image), stats(reference)
    transform = matrix_power(ref_cov, 0.5) @ matrix_power(cov, -0.5)
    pixels = transform @ (image[0].flatten(1).double() - mean) + ref_mean
    return pixels.reshape(image.shape).to(image.dtype).clamp(-1.0, 1.0)


STARTS = ("content", "recoloured", "noise")


def stylize(
    content: torch.Tensor,
    style: torch.Tensor,
    network: FeatureNetwork,
    steps: int = 200,
    style_weight: float | None = None,
    content_weight: float = 1.0,
    optimizer: str = "adam",
    start: str = "content",
    lr: float = 0.1,
    progress: bool = True,
) -> StyleResult:
    """Optimise the pixels to minimise content + w * style loss, one Adam step (or L-BFGS iteration)
    per step, starting from the content, the content in the style's palette, or noise (Gatys)."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}.")
    if optimizer not in ("lbfgs", "adam") or start not in STARTS:
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam' and start one of {STARTS}, "
                         f"got '{optimizer}' and '{start}'.")
    device = model_device(network)
    content, style = content.to(device), style.to(device)
    targets = style_targets(network, content, style)
    weight = network.style_weight if style_weight is None else style_weight
    if start == "noise":
        image = (0.5 * torch.randn_like(content)).clamp(-1.0, 1.0)
    else:
        image = match_colours(content, style) if start == "recoloured" else content.clone()
    image.requires_grad_(True)
    solver = (torch.optim.LBFGS([image], max_iter=1, history_size=20, line_search_fn="strong_wolfe")
              if optimizer == "lbfgs" else torch.optim.Adam([image], lr=lr))
    result = StyleResult(image)

    def total_loss() -> torch.Tensor:
        """The weighted objective; records the unweighted losses of the last evaluation."""
        solver.zero_grad(set_to_none=True)
        c_loss, s_loss = measure(network, image, targets)
        loss = content_weight * c_loss + weight * s_loss
        loss.backward()
        last[:] = [c_loss.item(), s_loss.item()]
        return loss

    last = [0.0, 0.0]
    start_time = time.perf_counter()
    for _ in tqdm(range(steps), desc="style transfer", disable=not progress):
        solver.step(total_loss)
        with torch.no_grad():
            image.clamp_(-1.0, 1.0)
        result.content_loss.append(last[0])
        result.style_loss.append(last[1])
    result.seconds = time.perf_counter() - start_time
    result.image = image.detach()
    return result


from . import evaluation, feedforward  # noqa: E402, F401  (they build on the definitions above)
