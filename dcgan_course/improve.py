"""Making the discriminator's features better: a classification objective, regularisation, transfer.

* Auxiliary classifier (the discriminator half of AC-GAN, Odena et al. 2017): besides its
  real/fake logit, D gets a second head with one logit per class and also minimises the
  cross-entropy on the few labelled training images. The generator stays unconditional.
* K+1 semi-supervised GAN (Salimans et al. 2016): D's K class logits also decide real vs fake
  ("fake" is an implicit extra class), and G matches the mean of D's features on real images.
* Regularisation: dropout and spectral norm are options of ``models.Discriminator``; random
  translations of everything D sees (DiffAugment, Zhao et al. 2020) keep it from memorising a
  small training set.
* Transfer: the probe keeps D frozen and trains a linear head; fine-tuning trains D as well.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import settings
from .data import ImageData
from .losses import gan_loss
from .models import Discriminator, Generator, evaluation_mode, init_weights, model_device
from .train import make_optimizers, train_gan

CLASS_LOSS_WEIGHT = 1.0


class ClassifierDiscriminator(Discriminator):
    """A DCGAN discriminator with a second head: one logit per class next to the real/fake logit."""

    def __init__(
        self,
        num_classes: int,
        image_size: int = 32,
        channels: int = 1,
        base_width: int = 64,
        dropout: float = 0.0,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__(image_size, channels, base_width, dropout, spectral_norm)
        self.num_classes = num_classes
        self.to_classes = nn.Conv2d(self.feature_widths[-1], num_classes, 4, stride=1, padding=0)

    def real_fake_and_class_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both heads on the shared features: real/fake logits (N,) and class logits (N, num_classes)."""
        shared = self.blocks(x)
        return self.to_logit(shared).flatten(), self.to_classes(shared).flatten(1)


def auxiliary_classifier_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    class_logits: torch.Tensor,
    labels: torch.Tensor,
    weight: float = CLASS_LOSS_WEIGHT,
) -> torch.Tensor:
    """D's loss: real/fake BCE on real and fake logits plus ``weight`` x cross-entropy of the class logits."""
    adversarial = gan_loss(real_logits, True) + gan_loss(fake_logits, False)
    return adversarial + weight * F.cross_entropy(class_logits.float(), labels)


def auxiliary_discriminator_step(
    generator: Generator,
    discriminator: ClassifierDiscriminator,
    optimizer: torch.optim.Optimizer,
    real_images: torch.Tensor,
    labelled_images: torch.Tensor,
    labels: torch.Tensor,
    noise: torch.Tensor,
) -> dict[str, float]:
    """One D update on unlabelled real images, fakes, and a batch of the labelled images."""
    optimizer.zero_grad(set_to_none=True)
    real_logits, _ = discriminator.real_fake_and_class_logits(real_images)
    fake_logits = discriminator(generator(noise).detach())
    _, class_logits = discriminator.real_fake_and_class_logits(labelled_images)
    loss = auxiliary_classifier_loss(real_logits, fake_logits, class_logits, labels)
    loss.backward()
    optimizer.step()
    return {"loss_d": loss.item()}


def k_plus_one_loss(
    labelled_logits: torch.Tensor, labels: torch.Tensor, real_logits: torch.Tensor, fake_logits: torch.Tensor
) -> torch.Tensor:
    """Class cross-entropy on labelled images + real/fake loss with D(x) = Z/(Z+1), Z = sum(exp(logits))."""
    real_fake = F.softplus(-real_logits.logsumexp(1)).mean() + F.softplus(fake_logits.logsumexp(1)).mean()
    return F.cross_entropy(labelled_logits.float(), labels) + real_fake


def feature_matching_loss(discriminator: Discriminator, real_images: torch.Tensor,
                          fake_images: torch.Tensor) -> torch.Tensor:
    """G's loss in the K+1 GAN: match the mean of D's last feature map on real and on fake images."""
    real = discriminator.blocks(real_images).flatten(1).mean(0).detach()
    return F.mse_loss(discriminator.blocks(fake_images).flatten(1).mean(0), real)


def k_plus_one_step(
    generator: Generator,
    discriminator: ClassifierDiscriminator,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    real_images: torch.Tensor,
    labelled_images: torch.Tensor,
    labels: torch.Tensor,
    noise: torch.Tensor,
) -> dict[str, float]:
    """One K+1 update of D (classes + real/fake from the class logits), then one feature-matching G update."""
    opt_g, opt_d = optimizers
    class_logits = [discriminator.real_fake_and_class_logits(images)[1]
                    for images in (labelled_images, real_images, generator(noise).detach())]
    loss_d = k_plus_one_loss(class_logits[0], labels, class_logits[1], class_logits[2])
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    loss_g = feature_matching_loss(discriminator, real_images, generator(noise))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}


class LabelledClassLoss(nn.Module):
    """AC-GAN's extra D term for ``train.train_gan``: ``weight`` x the class cross-entropy of a random
    batch of the few labelled images (drawn with torch's global RNG, which the checkpoint saves)."""

    def __init__(self, labelled: ImageData, batch_size: int, weight: float = CLASS_LOSS_WEIGHT) -> None:
        super().__init__()
        self.labelled, self.batch_size, self.weight = labelled, batch_size, weight

    def forward(self, discriminator: ClassifierDiscriminator, real_images: torch.Tensor) -> torch.Tensor:
        pick = torch.randint(len(self.labelled), (self.batch_size,)).to(self.labelled.device)
        _, class_logits = discriminator.real_fake_and_class_logits(self.labelled.images[pick])
        return self.weight * F.cross_entropy(class_logits.float(), self.labelled.labels[pick])


def train_auxiliary_gan(
    generator: Generator,
    discriminator: ClassifierDiscriminator,
    data: ImageData,
    labelled: ImageData,
    epochs: int,
    batch_size: int = 64,
    k_plus_one: bool = False,
    seed: int = settings.DEFAULT_SEED,
    progress: bool = True,
) -> list[float]:
    """Train a GAN whose discriminator also classifies the few ``labelled`` images; returns D's losses.

    ``k_plus_one=False``: the auxiliary-classifier objective, ``train.train_gan`` with the class loss
    as its extra D term; ``True``: the K+1 semi-supervised GAN (its own D and G losses, its own loop).
    """
    device = model_device(discriminator)
    data, labelled = data.to(device), labelled.to(device)
    if not k_plus_one:
        class_loss = LabelledClassLoss(labelled, batch_size)
        history = train_gan(generator, discriminator, data, epochs, batch_size, seed=seed, device=device,
                            progress=progress, extra_discriminator_loss=class_loss)
        return history.loss_d
    opt_g, opt_d = make_optimizers(generator, discriminator)
    rng = torch.Generator().manual_seed(seed)
    losses = []
    bar = tqdm(total=epochs * (len(data) // batch_size), desc="K+1 GAN", disable=not progress)
    for _ in range(epochs):
        for real_images, _ in data.batches(batch_size, shuffle=True, rng=rng):
            pick = torch.randint(len(labelled), (batch_size,), generator=rng).to(device)
            noise = torch.randn(batch_size, generator.latent_dim, generator=rng).to(device)
            step = k_plus_one_step(generator, discriminator, (opt_g, opt_d), real_images,
                                   labelled.images[pick], labelled.labels[pick], noise)
            losses.append(step["loss_d"])
            bar.update()
    bar.close()
    return losses


ROTATIONS = 4


def rotate_quarter_turns(images: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Rotate image i of (N, C, H, W) by ``turns[i]`` x 90 degrees (square images)."""
    rotated = images.clone()
    for k in range(1, ROTATIONS):
        chosen = turns == k
        if chosen.any():
            rotated[chosen] = torch.rot90(images[chosen], k, dims=(2, 3))
    return rotated


class RotationLoss(nn.Module):
    """SS-GAN's self-supervised D term (Chen et al. 2019): predict how far each real image was rotated.

    One random rotation (0/90/180/270 degrees) per real image, drawn with torch's global RNG (saved in
    the checkpoint, so resume stays exact); a linear head on D's last block (its 4x4 map); ``weight``
    is SS-GAN's beta. G gets no rotation term (SS-GAN's alpha = 0). No label is used: the "class" is
    the rotation we applied. Pass it as ``train.train_gan(..., extra_discriminator_loss=RotationLoss(D))``.
    """

    def __init__(self, discriminator: Discriminator, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = weight
        self.head = nn.Linear(discriminator.feature_widths[-1] * 16, ROTATIONS)

    def logits(self, discriminator: Discriminator, images: torch.Tensor) -> torch.Tensor:
        """Rotation logits (N, 4) from D's last block."""
        return self.head(discriminator.blocks(images).flatten(1))

    def forward(self, discriminator: Discriminator, real_images: torch.Tensor) -> torch.Tensor:
        turns = torch.randint(ROTATIONS, (len(real_images),)).to(real_images.device)
        logits = self.logits(discriminator, rotate_quarter_turns(real_images, turns))
        return self.weight * F.cross_entropy(logits.float(), turns)


def random_translate(images: torch.Tensor, max_shift: int = 4) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels in x and y, filling in background (-1)."""
    count, _, height, width = images.shape
    padded = F.pad(images, (max_shift,) * 4, value=-1.0).permute(0, 2, 3, 1)  # (N, H', W', C)
    shift_x, shift_y = torch.randint(0, 2 * max_shift + 1, (2, count), device=images.device)
    rows = (shift_y[:, None] + torch.arange(height, device=images.device))[:, :, None]
    cols = (shift_x[:, None] + torch.arange(width, device=images.device))[:, None, :]
    batch = torch.arange(count, device=images.device)[:, None, None]
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


class AugmentedDiscriminator(Discriminator):
    """A DCGAN discriminator that sees randomly translated images (real and fake) while training.

    The translation is differentiable, so G still gets gradients through it; in eval mode (feature
    extraction) images pass unchanged. Same parameters as ``Discriminator``: checkpoints load into either.
    """

    def __init__(self, image_size: int = 32, channels: int = 1, base_width: int = 64, dropout: float = 0.0,
                 spectral_norm: bool = False, max_shift: int = 4) -> None:
        super().__init__(image_size, channels, base_width, dropout, spectral_norm)
        self.max_shift = max_shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate the batch (training only), then the usual real/fake logits."""
        return super().forward(random_translate(x, self.max_shift) if self.training else x)


RECIPES = {
    "plain": "the paper's DCGAN discriminator",
    "translate": "D sees every image (real and fake) shifted by up to 4 pixels (DiffAugment-style)",
    "dropout": "Dropout2d(0.3) after every D block",
    "spectral-norm": "spectral normalisation of every D convolution (Miyato et al. 2018)",
}


def recipe_gan(recipe: str, image_size: int = 32, channels: int = 1,
               base_width: int = 64) -> tuple[Generator, Discriminator]:
    """A fresh generator and the named recipe's discriminator (``RECIPES``), initialised as in the paper."""
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe '{recipe}'. Choose one of: {', '.join(RECIPES)}.")
    generator = Generator(100, image_size, channels, base_width)
    if recipe == "translate":
        discriminator = AugmentedDiscriminator(image_size, channels, base_width)
    else:
        discriminator = Discriminator(image_size, channels, base_width, dropout=0.3 * (recipe == "dropout"),
                                      spectral_norm=recipe == "spectral-norm")
    generator.apply(init_weights)
    discriminator.apply(init_weights)
    return generator, discriminator


class FineTunedClassifier(nn.Module):
    """A discriminator's blocks with a new linear head on its last feature map."""

    def __init__(self, discriminator: Discriminator, num_classes: int) -> None:
        super().__init__()
        self.blocks = discriminator.blocks
        self.head = nn.Linear(discriminator.feature_widths[-1] * 16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images -> class logits."""
        return self.head(self.blocks(x).flatten(1))


def fine_tune(
    discriminator: Discriminator,
    labelled: ImageData,
    epochs: int,
    lr: float = 1e-3,
    freeze: bool = False,
    seed: int = settings.DEFAULT_SEED,
) -> FineTunedClassifier:
    """Train a new head on the labelled images; with ``freeze=False`` the discriminator's blocks train too.

    The blocks are copied first, so the discriminator passed in is left untouched.
    """
    torch.manual_seed(seed)
    model = FineTunedClassifier(copy.deepcopy(discriminator), labelled.num_classes)
    model.to(model_device(discriminator))
    for parameter in model.blocks.parameters():
        parameter.requires_grad_(not freeze)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    rng = torch.Generator().manual_seed(seed)
    batch_size = min(64, len(labelled))
    for _ in range(epochs):
        model.train()
        if freeze:
            model.blocks.eval()
        for images, labels in labelled.batches(batch_size, shuffle=True, rng=rng, drop_last=False):
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model


def accuracy(model: nn.Module, data: ImageData, batch_size: int = 256) -> float:
    """The fraction of ``data`` a classifier labels correctly (evaluated frozen, in batches)."""
    device = model_device(model)
    with torch.no_grad(), evaluation_mode(model):
        correct = sum(
            (model(images.to(device)).argmax(1) == labels.to(device)).sum().item()
            for images, labels in data.batches(batch_size, shuffle=False, drop_last=False)
        )
    return correct / len(data)
