"""Judging a style transfer without trusting the loss it optimised.

A style loss measured in the very network the pixels were optimised against says little: the
optimiser can satisfy that network's Gram matrices with patterns no other network (and no
person) reads as the painting's style. So a result is judged in *judge* networks the optimisation
never saw (a differently built and seeded random CNN, a differently seeded filter bank), and
the content is held to a floor: the edges of the result must still line up with the photo's.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import (
    FeatureNetwork,
    RandomFeatureNetwork,
    StyleResult,
    gram_matrix,
    measure,
    painterly_network,
    style_targets,
    stylize,
)

SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def edge_map(images: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of the grayscale image at half resolution (borders dropped)."""
    gray = F.avg_pool2d(images.detach().float().cpu().mean(dim=1, keepdim=True), 2)
    kernels = torch.stack([SOBEL, SOBEL.T]).unsqueeze(1)
    gradients = F.conv2d(gray, kernels, padding=1)[..., 1:-1, 1:-1]
    return gradients.pow(2).sum(dim=1).sqrt()


def edge_similarity(image: torch.Tensor, content: torch.Tensor) -> float:
    """Correlation of the two edge maps: 1 when every edge of the photo is where it was, ~0 when lost."""
    return float(np.corrcoef(edge_map(image).flatten().numpy(), edge_map(content).flatten().numpy())[0, 1])


def deep_random_network(seed: int = 11, widths: tuple[int, ...] = (32, 64, 128, 128)) -> FeatureNetwork:
    """A VGG-like stack of random 3x3 conv + ReLU + average pooling (He init): a judge, not a painter."""
    rng = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for in_channels, out_channels in zip((3, *widths), widths, strict=False):
        conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=rng) * (2 / (9 * in_channels)) ** 0.5)
        layers += [conv, nn.ReLU(), nn.AvgPool2d(2)]
    relus = [3 * block + 1 for block in range(len(widths))]
    return FeatureNetwork(nn.Sequential(*layers[:-1]), content_layer=relus[-2], style_layers=relus,
                          name=f"random 4-layer CNN (seed {seed})", style_weight=1.0)


def judge_networks() -> dict[str, FeatureNetwork]:
    """Two networks no optimisation in the course uses: a deep random CNN and a 3x3 filter bank."""
    return {"deep random CNN": deep_random_network(),
            "3x3 filter bank": RandomFeatureNetwork(width=96, kernel=3, scales=5, seed=7)}


def style_distance(image: torch.Tensor, style: torch.Tensor, network: FeatureNetwork) -> float:
    """Sum over the network's style layers of the squared Gram difference relative to the style's Gram."""
    with torch.no_grad():
        _, image_features = network(image.to(network.mean.device))
        _, style_features = network(style.to(network.mean.device))
    total = 0.0
    for mine, theirs in zip(image_features, style_features, strict=True):
        target = gram_matrix(theirs)
        total += float((gram_matrix(mine) - target).pow(2).sum() / target.pow(2).sum())
    return total


def judge(image: torch.Tensor, content: torch.Tensor, style: torch.Tensor,
          judges: dict[str, FeatureNetwork] | None = None) -> dict[str, float]:
    """Style distance in each judge as a fraction of the content photo's own (lower = more style),
    and the edge similarity to the photo (the content floor)."""
    judges = judge_networks() if judges is None else judges
    scores = {name: style_distance(image, style, net) / style_distance(content, style, net)
              for name, net in judges.items()}
    return {**scores, "edge similarity": edge_similarity(image, content)}


def losses_of(image: torch.Tensor, content: torch.Tensor, style: torch.Tensor,
              network: FeatureNetwork) -> dict[str, float]:
    """The unweighted content and style losses of a finished image in ``network``, for comparing methods."""
    device = network.mean.device
    targets = style_targets(network, content.to(device), style.to(device))
    with torch.no_grad():
        c_loss, s_loss = measure(network, image.to(device), targets)
    return {"content_loss": c_loss.item(), "style_loss": s_loss.item()}


RECIPES = {  # the default (stylize's defaults), and the palette/L-BFGS variant the judges did not prefer
    "adam_photo": {"network": RandomFeatureNetwork, "optimizer": "adam", "start": "content", "steps": 200},
    "lbfgs_palette": {"network": painterly_network, "optimizer": "lbfgs", "start": "recoloured",
                      "steps": 100},
}


def run_recipe(name: str, content: torch.Tensor, style: torch.Tensor, steps: int | None = None,
               progress: bool = False) -> StyleResult:
    """Stylise with one of ``RECIPES`` (``steps`` overrides the recipe's, e.g. in fast mode)."""
    recipe = RECIPES[name]
    network = recipe["network"]().to(content.device)
    return stylize(content, style, network, steps or recipe["steps"], optimizer=recipe["optimizer"],
                   start=recipe["start"], progress=progress)
