"""The README's result pictures, made by the course's own code: samples over training, a latent
interpolation, the linear-probe chart and an offline style transfer (docs/figures/readme_*.png).

One DCGAN trained on the embedded digits feeds the first three; the probe compares its
discriminator with raw pixels and an untrained discriminator at 10 labels per class.

    python scripts/readme_figures.py [--epochs 20] [--out docs/figures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from figure_files import FIGURES, save_small_png

from dcgan_course import latent, probe, settings, style, viz
from dcgan_course.data import load_dataset
from dcgan_course.models import build_gan, generate
from dcgan_course.train import train_gan


def samples_over_training(history, epochs: list[int]) -> plt.Figure:
    """Eight fixed-noise samples after each of the chosen epochs, one row per epoch."""
    rows = {f"epoch {epoch}": history.epoch_samples[epoch - 1][:8] for epoch in epochs}
    return viz.show_rows(rows, "the same eight noise vectors during training")


def interpolation(generator, seed: int) -> plt.Figure:
    """Three spherical interpolations between random codes, eight steps each."""
    rng = torch.Generator().manual_seed(seed)
    starts, ends = (torch.randn(3, generator.latent_dim, generator=rng) for _ in range(2))
    images = generate(generator, latent.interpolation_grid(starts, ends, 8))
    figure, ax = plt.subplots(figsize=(6, 2.6))
    viz.show_grid(images, "slerp between random codes", nrow=8, ax=ax)
    return figure


def probe_chart(generator, discriminator, seed: int) -> plt.Figure:
    """Probe accuracy at 10 labels per class: raw pixels, untrained D, the trained DCGAN's D."""
    train_data, test_data = load_dataset("digits", "train", 32), load_dataset("digits", "test", 32)
    feature_sets = {**probe.baseline_features(train_data, test_data, discriminator, seed),
                    **probe.gan_features(train_data, test_data, generator, discriminator)}
    results = probe.compare_representations(feature_sets, train_data.labels, test_data.labels, (10,), draws=5,
                                            seed=seed, progress=False)
    figure, ax = plt.subplots(figsize=(5, 3.2))
    viz.plot_accuracy_bars(results, "linear probe, 10 labels per class (5 draws)", ax=ax)
    return figure


def style_transfer(size: int) -> plt.Figure:
    """The default offline recipe on a scikit-learn photo and the generated brush-stroke painting."""
    content, painting = viz.sample_image("china", size), viz.sample_image("strokes", size)
    result = style.evaluation.run_recipe("adam_photo", content, painting)
    return viz.show_rows({"photo | painting | result": torch.cat([content, painting, result.image])},
                         "offline style transfer (random multi-scale filters, Adam)")


def main() -> None:
    """Train once, then write the four README pictures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="GAN training epochs on the digits")
    parser.add_argument("--size", type=int, default=128, help="style-transfer image size")
    parser.add_argument("--out", type=Path, default=FIGURES)
    args = parser.parse_args()
    if args.epochs < 4:
        parser.error(f"--epochs must be at least 4 (the figure shows four epochs), got {args.epochs}")
    settings.seed_everything(settings.DEFAULT_SEED)
    generator, discriminator = build_gan(32, 1)
    history = train_gan(generator, discriminator, load_dataset("digits", "train", 32), args.epochs,
                        device="cpu", progress=False)
    shown = sorted({1, args.epochs // 4, args.epochs // 2, args.epochs})
    save_small_png(samples_over_training(history, shown), args.out / "readme_samples_over_training.png")
    save_small_png(interpolation(generator, settings.DEFAULT_SEED), args.out / "readme_interpolation.png")
    chart = probe_chart(generator, discriminator, settings.DEFAULT_SEED)
    save_small_png(chart, args.out / "readme_probe.png")
    save_small_png(style_transfer(args.size), args.out / "readme_style_transfer.png", colors=128)
    print(f"wrote four pictures to {args.out}")


if __name__ == "__main__":
    main()
