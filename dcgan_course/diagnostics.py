"""Why the DCGAN guidelines matter, and whether D memorises: two measurements on real training runs.

- The **ablation** trains the same GAN with one guideline broken at a time (no BatchNorm, ReLU
  in D, Adam's beta1 = 0.9, a 10x learning rate) and scores each run with the Fréchet
  classifier distance (``metrics``), over several seeds.
- The **memorisation** measurement follows one run epoch by epoch: D's mean probability on its
  training images vs on held-out images (a gap means D has learned *those* images, not the
  distribution), and the pixel distance of G's samples to their nearest training image next to
  that of held-out images (samples much closer than held-out images would be copies).
- ``compare_generators`` puts a few runs side by side: each one's FCD and its samples from one shared
  noise batch (exercise 03 trains the learner's repaired D step beside the planted-bug one, and the
  learner's LSGAN and hinge losses beside BCE).
``benchmarks/diagnostics.py`` runs both measurements at full scale and commits the results; notebook 10
shows them, and notebook 07 cites the memorisation figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import torch
from torch import nn

from . import latent, metrics, models, train, viz
from .data import ImageData


@dataclass(frozen=True)
class Recipe:
    """One training recipe: the DCGAN guidelines, or one of them broken."""

    batch_norm: bool = True
    d_activation: str = "leaky_relu"  # or "relu"
    beta1: float = 0.5
    lr: float = train.LEARNING_RATE


ABLATIONS: dict[str, Recipe] = {
    "DCGAN": Recipe(),
    "no BatchNorm": Recipe(batch_norm=False),
    "ReLU in D": Recipe(d_activation="relu"),
    "beta1 = 0.9": Recipe(beta1=0.9),
    "lr x10 (2e-3)": Recipe(lr=10 * train.LEARNING_RATE),
}


def replace_layers(model: nn.Module, kind: type, make: Callable[[], nn.Module]) -> None:
    """Swap every sub-module of type ``kind`` for ``make()``, in place."""
    for name, child in model.named_children():
        if isinstance(child, kind):
            setattr(model, name, make())
        else:
            replace_layers(child, kind, make)


def build_recipe_gan(recipe: Recipe, image_size: int, channels: int, base_width: int,
                     seed: int) -> tuple[models.Generator, models.Discriminator]:
    """The course's initialised GAN pair, with the recipe's architecture changes applied."""
    torch.manual_seed(seed)
    generator, discriminator = models.build_gan(image_size, channels, base_width=base_width)
    if not recipe.batch_norm:
        for model in (generator, discriminator):
            replace_layers(model, nn.BatchNorm2d, nn.Identity)
    if recipe.d_activation == "relu":
        replace_layers(discriminator, nn.LeakyReLU, nn.ReLU)
    elif recipe.d_activation != "leaky_relu":
        raise ValueError(f"d_activation must be 'leaky_relu' or 'relu', got {recipe.d_activation!r}.")
    return generator, discriminator


def train_recipe(generator: nn.Module, discriminator: nn.Module, data: ImageData, recipe: Recipe,
                 epochs: int, batch_size: int, seed: int,
                 after_epoch: Callable[[int], None] | None = None) -> float:
    """Train with the recipe's optimiser settings (``train.train_gan``, on the models' device); returns
    the seconds spent training (``after_epoch`` measurements not counted)."""
    history = train.train_gan(generator, discriminator, data, epochs, batch_size, lr=recipe.lr, seed=seed,
                              device=models.model_device(generator), progress=False,
                              betas=(recipe.beta1, 0.999), after_epoch=after_epoch)
    return history.seconds


def run_ablation(data: ImageData, scorer: metrics.SampleQualityScorer, epochs: int, seeds: list[int],
                 base_width: int, batch_size: int = 64,
                 recipes: dict[str, Recipe] | None = None) -> tuple[list[dict], dict[str, torch.Tensor]]:
    """Train every recipe for every seed: one result row per run, and the first seed's samples per recipe."""
    rows, samples = [], {}
    for name, recipe in (recipes or ABLATIONS).items():
        for seed in seeds:
            generator, discriminator = build_recipe_gan(recipe, data.image_size, data.channels, base_width,
                                                        seed)
            seconds = train_recipe(generator, discriminator, data, recipe, epochs, batch_size, seed)
            rows.append({"recipe": name, **asdict(recipe), "seed": seed, "epochs": epochs,
                         "fcd": scorer.score(generator), "seconds": round(seconds, 1)})
            samples.setdefault(name, models.generate(generator, latent.sample_latents(
                32, generator.latent_dim, seed=0, device=models.model_device(generator))).cpu())
    return rows, samples


def mean_probability(discriminator: nn.Module, images: torch.Tensor) -> float:
    """D's mean sigmoid output on ``images``, in eval mode (BatchNorm's running statistics)."""
    with models.evaluation_mode(discriminator), torch.no_grad():
        return torch.sigmoid(discriminator(images)).mean().item()


def memorisation_curve(train_data: ImageData, held_out: ImageData, epochs: int, base_width: int,
                       batch_size: int = 64, sample_count: int = 256, seed: int = 0) -> list[dict]:
    """Train one DCGAN; after every epoch measure D(train) vs D(held-out) and nearest-neighbour distances.

    ``held_out`` must not overlap ``train_data`` (e.g. the test split); both are compared with an
    equal number of images. Returns one dict per epoch.
    """
    count = min(len(held_out), len(train_data), sample_count)
    seen, unseen = train_data.images[:count], held_out.images[:count]
    _, held_out_distance = latent.nearest_neighbours(unseen, train_data)
    generator, discriminator = build_recipe_gan(Recipe(), train_data.image_size, train_data.channels,
                                                base_width, seed)
    records: list[dict] = []

    def measure(epoch: int) -> None:
        device = models.model_device(discriminator)
        noise = latent.sample_latents(count, generator.latent_dim, seed=seed + 1, device=device)
        _, sample_distance = latent.nearest_neighbours(models.generate(generator, noise), train_data)
        records.append({
            "epoch": epoch,
            "d_train": mean_probability(discriminator, seen.to(device)),
            "d_held_out": mean_probability(discriminator, unseen.to(device)),
            "nn_sample_to_train": sample_distance.median().item(),
            "nn_held_out_to_train": held_out_distance.median().item(),
            "share_of_samples_closer_than_any_held_out": (sample_distance < held_out_distance.min()).float()
            .mean().item(),
        })

    train_recipe(generator, discriminator, train_data, Recipe(), epochs, batch_size, seed,
                 after_epoch=measure)
    return records


def compare_generators(generators: Mapping[str, models.Generator], scorer: metrics.SampleQualityScorer,
                       title: str = "", sample_count: int = 12) -> dict[str, float]:
    """Each run's FCD against real images (lower is better), beside its samples from one shared noise."""
    fcd = {name: scorer.score(generator) for name, generator in generators.items()}
    latent_dim = next(iter(generators.values())).latent_dim
    noise = latent.sample_latents(sample_count, latent_dim, seed=scorer.seed + 2)
    viz.show_rows({f"{name}\nFCD {fcd[name]:.1f}": models.generate(generator, noise)
                   for name, generator in generators.items()}, title=title)
    return fcd
