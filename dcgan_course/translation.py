"""Image-to-image translation with pix2pix (Isola et al. 2017): U-Net generator, PatchGAN critic.

The generator maps an input image x to an output y; the discriminator judges (x, y) pairs patch
by patch; the generator's loss is the conditional GAN loss plus lambda * L1(G(x), y). Switching
the discriminator off gives the L1-only baseline the paper compares against.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import settings
from .data import ImageData
from .data.paired import PairedData
from .losses import gan_loss
from .metrics import SampleQualityScorer
from .models import evaluation_mode, init_weights, model_device
from .precision import apply_step, autocast, grad_scaler
from .train import ADAM_BETAS, LEARNING_RATE

L1_WEIGHT = 100.0
DROPOUT = 0.5
DROPOUT_LEVELS = 3
KERNEL = 4
DEMO_WIDTH = 16  # U-Net / PatchGAN base width for the offline demo: small enough for a CPU
DEMO_DOWNSAMPLINGS = 1  # 16x16-pixel patches: about half a 32-pixel digit


# --- the U-Net generator -------------------------------------------------------------------------

class UNetBlock(nn.Module):
    """One level of the U: downsample, run the deeper levels, upsample, concatenate the skip.

    Input: (N, outer, H, W). Output: (N, 2 * outer, H, W) -- the input itself, followed along
    the channel dimension by what came back up from the deeper levels.
    """

    def __init__(
        self, outer_channels: int, inner_channels: int, inner: nn.Module | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        innermost = inner is None
        self.down = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.Conv2d(outer_channels, inner_channels, KERNEL, stride=2, padding=1, bias=innermost),
            nn.Identity() if innermost else nn.BatchNorm2d(inner_channels),
        )
        self.inner = nn.Identity() if innermost else inner
        returned = inner_channels if innermost else 2 * inner_channels
        self.up = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(returned, outer_channels, KERNEL, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(outer_channels),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The skip connection: the input and its round trip through the U, side by side."""
        return torch.cat([x, self.up(self.inner(self.down(x)))], dim=1)


class UNetGenerator(nn.Module):
    """An encoder-decoder down to 1x1 whose mirrored layers are joined by skip connections.

    Widths double from ``base_width`` up to 8x (512 for the paper's 64); the deepest three
    decoder layers use dropout 0.5 (the paper's only source of noise). ``block`` lets you plug
    in your own ``UNetBlock``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        image_size: int = 32,
        base_width: int = 64,
        dropout: float = DROPOUT,
        block: type[UNetBlock] = UNetBlock,
    ) -> None:
        super().__init__()
        if image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 8, got {image_size}.")
        self.in_channels, self.out_channels, self.image_size = in_channels, out_channels, image_size
        levels = int(math.log2(image_size)) - 1  # sizes H/2 ... 2, each halved once more inside
        widths = [base_width * 2 ** min(i, 3) for i in range(levels + 1)]
        core: nn.Module | None = None
        for level in reversed(range(levels)):
            deep = level >= levels - DROPOUT_LEVELS
            core = block(widths[level], widths[level + 1], core, dropout if deep else 0.0)
        self.encode_input = nn.Conv2d(in_channels, widths[0], KERNEL, stride=2, padding=1)
        self.unet = core
        self.to_image = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(2 * widths[0], out_channels, KERNEL, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Input images (N, C_in, H, W) -> translated images (N, C_out, H, W) in [-1, 1]."""
        return self.to_image(self.unet(self.encode_input(x)))


# --- the PatchGAN discriminator -------------------------------------------------------------------

class PatchDiscriminator(nn.Module):
    """Classify every overlapping patch of an (input, output) pair as real or fake.

    It sees the input and the output concatenated along channels, so it judges whether the
    output fits *this* input, not just whether it looks real. Three stride-2 layers give the
    paper's 70x70 patches; fewer give smaller patches for small images.
    """

    def __init__(
        self, in_channels: int = 1, out_channels: int = 1, base_width: int = 64, downsamplings: int = 3
    ) -> None:
        super().__init__()
        widths = [base_width * 2 ** min(i, 3) for i in range(downsamplings + 1)]
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels + out_channels, widths[0], KERNEL, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        ]
        for i in range(1, downsamplings + 1):
            stride = 2 if i < downsamplings else 1
            layers += [
                nn.Conv2d(widths[i - 1], widths[i], KERNEL, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(widths[i]),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(widths[-1], 1, KERNEL, stride=1, padding=1))
        self.judge = nn.Sequential(*layers)
        self.downsamplings = downsamplings

    def forward(self, inputs: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
        """A map of real/fake logits, one per patch: (N, 1, h, w)."""
        return self.judge(torch.cat([inputs, outputs], dim=1))


def patch_size(downsamplings: int) -> int:
    """The receptive field (in pixels) of one PatchGAN logit: 70 for the paper's 3 downsamplings."""
    strides = [2] * downsamplings + [1, 1]  # the stride-2 convs, a stride-1 conv, the logit conv
    field_size = 1
    for stride in reversed(strides):
        field_size = (field_size - 1) * stride + KERNEL
    return field_size


def build_pix2pix(
    in_channels: int = 1,
    out_channels: int = 1,
    image_size: int = 32,
    base_width: int = 64,
    downsamplings: int = 3,
    device: torch.device | str = "cpu",
) -> tuple[UNetGenerator, PatchDiscriminator]:
    """A freshly initialised U-Net generator and PatchGAN discriminator on ``device``."""
    generator = UNetGenerator(in_channels, out_channels, image_size, base_width)
    discriminator = PatchDiscriminator(in_channels, out_channels, base_width, downsamplings)
    generator.apply(init_weights)  # N(0, 0.02), as in DCGAN and pix2pix
    discriminator.apply(init_weights)
    return generator.to(device), discriminator.to(device)


# --- losses and training ---------------------------------------------------------------------------

def pix2pix_generator_loss(
    fake_logits: torch.Tensor, fake_images: torch.Tensor, target_images: torch.Tensor,
    l1_weight: float = L1_WEIGHT,
) -> torch.Tensor:
    """Fool the discriminator (fakes labelled real) and stay close to the target: GAN + lambda * L1."""
    return gan_loss(fake_logits, True) + l1_weight * (fake_images - target_images).abs().mean()


def pix2pix_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Real pairs -> 1, generated pairs -> 0; halved, as in the paper, to slow D down relative to G."""
    return 0.5 * (gan_loss(real_logits, True) + gan_loss(fake_logits, False))


@dataclass
class TranslationHistory:
    """Per-step losses of a pix2pix (or L1-only) run and its wall-clock time."""

    loss_g: list[float] = field(default_factory=list)
    l1: list[float] = field(default_factory=list)
    loss_d: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.l1)


def train_pix2pix(
    generator: UNetGenerator,
    discriminator: PatchDiscriminator | None,
    pairs: PairedData,
    steps: int,
    batch_size: int = 32,
    lr: float = LEARNING_RATE,
    l1_weight: float = L1_WEIGHT,
    seed: int = settings.DEFAULT_SEED,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> TranslationHistory:
    """Train G (and D) for ``steps`` mini-batches; ``discriminator=None`` trains the L1-only baseline."""
    if batch_size > len(pairs):
        raise ValueError(f"batch_size {batch_size} is larger than the dataset ({len(pairs)} pairs).")
    device = torch.device(device) if device is not None else settings.get_device()
    torch.manual_seed(seed)
    generator.to(device).train()
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=ADAM_BETAS)
    opt_d = None
    if discriminator is not None:
        discriminator.to(device).train()
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=ADAM_BETAS)
    scaler = grad_scaler(device)
    batches = pairs.to(device).batches(batch_size, rng=torch.Generator().manual_seed(seed))
    history = TranslationHistory()
    name = "pix2pix" if discriminator is not None else "L1-only"
    start = time.perf_counter()
    for _, (inputs, targets) in zip(tqdm(range(steps), desc=f"training {name}", disable=not progress),
                                    batches, strict=False):
        with autocast(device):
            fakes = generator(inputs)
        if discriminator is not None:
            opt_d.zero_grad(set_to_none=True)
            with autocast(device):
                loss_d = pix2pix_discriminator_loss(discriminator(inputs, targets),
                                                    discriminator(inputs, fakes.detach()))
            apply_step(loss_d, opt_d, scaler)
            history.loss_d.append(loss_d.item())
        opt_g.zero_grad(set_to_none=True)
        with autocast(device):
            l1 = (fakes.float() - targets).abs().mean()
            loss_g = l1 if discriminator is None else pix2pix_generator_loss(
                discriminator(inputs, fakes), fakes.float(), targets, l1_weight)
        apply_step(loss_g, opt_g, scaler)
        history.loss_g.append(loss_g.item())
        history.l1.append(l1.item())
    history.seconds = time.perf_counter() - start
    return history


# --- evaluation --------------------------------------------------------------------------------------

def translate(generator: nn.Module, inputs: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Run G in inference mode (BatchNorm running statistics, no dropout); outputs on the CPU."""
    device = model_device(generator)
    with torch.no_grad(), evaluation_mode(generator):
        return torch.cat([generator(chunk.to(device)).float().cpu() for chunk in inputs.split(batch_size)])


def l1_error(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean absolute pixel error on the [0, 1] scale (lower is better)."""
    return ((outputs - targets).abs().mean() / 2.0).item()


def psnr(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB on the [0, 1] scale, averaged over images (higher is better)."""
    mse = (((outputs - targets) / 2.0) ** 2).flatten(1).mean(dim=1).clamp_min(1e-10)
    return (10.0 * torch.log10(1.0 / mse)).mean().item()


def sharpness(images: torch.Tensor) -> float:
    """Mean absolute Laplacian on the [0, 1] scale: how much fine detail (edges) an image has."""
    laplacian = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).to(images)
    kernel = laplacian.expand(images.shape[1], 1, 3, 3)
    return F.conv2d(images / 2.0, kernel, groups=images.shape[1]).abs().mean().item()


def discriminator_verdicts(discriminator: nn.Module, generator: nn.Module,
                           pairs: PairedData) -> tuple[float, float]:
    """D's mean P(real) on real (input, target) pairs and on (input, G(input)) pairs, in eval mode."""
    device = model_device(discriminator)
    inputs, targets = pairs.inputs.to(device), pairs.targets.to(device)
    fakes = translate(generator, inputs).to(device)
    with torch.no_grad(), evaluation_mode(discriminator):
        return (torch.sigmoid(discriminator(inputs, targets)).mean().item(),
                torch.sigmoid(discriminator(inputs, fakes)).mean().item())


def quality_scorer(pairs: PairedData) -> SampleQualityScorer | None:
    """An FCD scorer (and digit classifier) fitted on the real targets, when they have labels."""
    if pairs.labels is None:
        return None
    classes = [str(label) for label in range(int(pairs.labels.max()) + 1)]
    return SampleQualityScorer(ImageData(pairs.targets.cpu(), pairs.labels.cpu(), classes, pairs.name))


def class_accuracy(scorer: SampleQualityScorer, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of images that the scorer's classifier assigns to their label."""
    with torch.no_grad():
        predictions = scorer.classifier(images.float().cpu()).argmax(dim=1)
    return (predictions == labels.cpu()).float().mean().item()


def evaluate_translation(
    generator: nn.Module, pairs: PairedData, scorer: SampleQualityScorer | None = None
) -> dict[str, float]:
    """Held-out scores: L1, PSNR, sharpness relative to the targets; with a scorer, accuracy and FCD."""
    outputs = translate(generator, pairs.inputs)
    targets = pairs.targets.float().cpu()
    scores = {
        "l1": l1_error(outputs, targets),
        "psnr": psnr(outputs, targets),
        "sharpness_ratio": sharpness(outputs) / max(sharpness(targets), 1e-8),
    }
    if scorer is not None and pairs.labels is not None:
        scores["accuracy"] = class_accuracy(scorer, outputs, pairs.labels)
        scores["fcd"] = scorer.score_images(outputs)
    return scores


def compare_with_l1_baseline(
    train_pairs: PairedData,
    test_pairs: PairedData,
    steps: int,
    base_width: int = 64,
    downsamplings: int = 3,
    batch_size: int = 32,
    seed: int = settings.DEFAULT_SEED,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> tuple[dict, dict[str, UNetGenerator]]:
    """Train pix2pix and an L1-only U-Net (same start, same steps) and score both on held-out pairs."""
    torch.manual_seed(seed)
    generator, discriminator = build_pix2pix(train_pairs.in_channels, train_pairs.out_channels,
                                             train_pairs.image_size, base_width, downsamplings)
    baseline = copy.deepcopy(generator)
    scorer = quality_scorer(train_pairs)
    metrics: dict = {"task": train_pairs.name, "steps": steps, "test_pairs": len(test_pairs)}
    if scorer is not None:  # the floor: real held-out targets against real training targets
        metrics["targets_fcd"] = scorer.score_images(test_pairs.targets)
    for name, model, critic in (("pix2pix", generator, discriminator), ("l1_only", baseline, None)):
        history = train_pix2pix(model, critic, train_pairs, steps, batch_size, seed=seed, device=device,
                                progress=progress)
        scores = evaluate_translation(model, test_pairs, scorer)
        metrics[name] = {**scores, "seconds_per_step": history.seconds / max(steps, 1)}
    return metrics, {"pix2pix": generator, "l1_only": baseline}
