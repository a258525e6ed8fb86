"""Benchmark the linear probe on digits at the CLI defaults: the comparison table and wall times.

    python benchmarks/probe.py [--checkpoint PATH] [--labels-per-class 10,100] [--draws 5]
                               [--encoder-steps N]

Without ``--checkpoint`` it trains the course's tuned recipe once and caches it under
``runs/benchmarks/``: a DCGAN whose discriminator sees random translations
(``improve.AugmentedDiscriminator``), 60 epochs on the 1,000 digits (about 2.5 minutes on 2 CPU
cores). Prints the table, the paired difference between the trained and the random-init
discriminator on the same label draws, and the time of feature extraction and of the probes.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from dcgan_course import cli, data, features, improve, models, probe, settings, train

RECIPE_EPOCHS = 60


def tuned_checkpoint() -> str:
    """Train (or resume from the cache) the tuned recipe: translations for D, 60 epochs on digits."""
    path = settings.runs_root() / "benchmarks" / f"digits-translations-{RECIPE_EPOCHS}ep" / "checkpoint.pt"
    settings.seed_everything(0)
    generator = models.Generator(100, 32, 1, 64)
    discriminator = improve.AugmentedDiscriminator(32, 1, 64)
    generator.apply(models.init_weights)
    discriminator.apply(models.init_weights)
    train.train_gan(generator, discriminator, data.load_dataset("digits"), RECIPE_EPOCHS,
                    checkpoint_path=path, resume=True, device="cpu")
    return str(path)


def load_gan(checkpoint: str | None):
    """The generator and discriminator to benchmark: from a checkpoint, or the tuned recipe."""
    return train.models_from_checkpoint(train.load_checkpoint(checkpoint or tuned_checkpoint()))


def paired_gaps(results: list[probe.ProbeResult], method: str, control: str) -> dict:
    """Per budget: mean and std over draws of accuracy(method) - accuracy(control), in points."""
    by_key = {(r.method, r.labels_per_class): np.array(r.accuracies) for r in results}
    gaps = {}
    for budget in dict.fromkeys(r.labels_per_class for r in results):
        difference = 100 * (by_key[(method, budget)] - by_key[(control, budget)])
        gaps[probe.budget_name(budget)] = f"{difference.mean():+.1f} ± {difference.std():.1f}"
    return gaps


def main() -> None:
    """Run the benchmark and print its report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--labels-per-class", default="10,100")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--encoder-steps", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="sklearn")
    settings.seed_everything(0)
    generator, discriminator = load_gan(args.checkpoint)
    train_data, test_data = (data.load_dataset("digits", split) for split in ("train", "test"))
    images = torch.cat([train_data.images, test_data.images])

    start = time.perf_counter()
    features.discriminator_features(discriminator, images)
    extraction = time.perf_counter() - start

    encoder = None
    if args.encoder_steps:
        encoder, _ = features.train_encoder(generator, args.encoder_steps, progress=False)
    sets = {**probe.baseline_features(train_data, test_data, discriminator),
            **probe.gan_features(train_data, test_data, generator, discriminator, encoder)}
    start = time.perf_counter()
    budgets = cli.parse_budgets(args.labels_per_class)
    results = probe.compare_representations(sets, train_data.labels, test_data.labels, budgets, args.draws,
                                            progress=False)
    probing = time.perf_counter() - start

    print(f"digits, {len(train_data)} train / {len(test_data)} test, {args.draws} draws, "
          f"{torch.get_num_threads()} threads\n")
    print(probe.results_table(results))
    print("\npaired gap, dcgan_discriminator - random_init_discriminator (points):",
          paired_gaps(results, "dcgan_discriminator", "random_init_discriminator"))
    print(f"feature extraction: {len(images) / extraction:.0f} images/s "
          f"({len(images)} images, 7168 features each, {extraction:.1f} s)")
    fits = sum(len(r.accuracies) for r in results)
    print(f"probes: {probing:.1f} s for {fits} fits ({probing / fits:.2f} s per fit)")


if __name__ == "__main__":
    main()
