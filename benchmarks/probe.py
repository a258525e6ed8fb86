"""Do a DCGAN discriminator's features help without labels? One benchmark, with sound statistics.

    python benchmarks/probe.py --dataset fashion-mnist --seeds 3
    python benchmarks/probe.py --dataset digits --seeds 3 --pool 1000 --validation-per-class 20 --epochs 15,30

Protocol (``dcgan_course.evaluation``): a labelled pool (the GAN's unlabelled training images and
where the few labels are drawn) and a validation split are carved, disjoint, from the training
split. Stage 1 (seed 0): every recipe trains, snapshots are taken at each epoch count, and the
recipe and epoch count are chosen by the trained D's best *validation* accuracy. Stage 2: the chosen
recipe trains with every seed; per seed, pixels, a random-init D (same architecture, that seed)
and the trained D each get the same search (layers, normalisation, ridge penalty) on validation,
then are scored once on the test split, on that seed's label draws. The result goes into
``benchmarks/results/probe.json`` (one entry per dataset), which docs/results.md, 06 and 07 render.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from dcgan_course import data, evaluation, improve, models, probe, settings, train

RESULTS = Path(__file__).resolve().parent / "results" / "probe.json"
RESULTS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "results.md"
MARKERS = ("<!-- benchmark: probe results (python benchmarks/probe.py --render) -->",
           "<!-- end of benchmark results -->")


def plot_results(results: dict, path: Path) -> None:
    """One panel per dataset: test accuracy with its 95 % CI over seeds, one bar per representation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 3.2), squeeze=False)
    for axis, (dataset, entry) in zip(axes[0], sorted(results.items()), strict=True):
        controls = ["raw_pixels", "random_init_discriminator"]
        rows = sorted(entry["results"].items(),
                      key=lambda item: (item[0] not in controls, item[0] != controls[0]))
        means = [100 * row["accuracy"]["mean"] for _, row in rows]
        errors = [100 * row["accuracy"]["ci95"] for _, row in rows]
        axis.barh([name.replace("_", " ").replace(" (", "\n(") for name, _ in rows], means, xerr=errors,
                  color=["#999", "#69c", "#d62"][: len(rows)], capsize=4)
        axis.set_xlim(min(means) - 10, 100)
        axis.set_title(f"{dataset}: {entry['labels_per_class']} labels/class, {entry['seeds']} seeds",
                       fontsize=10)
        axis.set_xlabel("test accuracy, % (95 % CI)")
    figure.tight_layout()
    figure.savefig(path, dpi=80)


def render_page(results_path: Path = RESULTS, page: Path = RESULTS_PAGE) -> None:
    """Rewrite docs/results.md's block between ``MARKERS`` from the results file."""
    text = page.read_text()
    start, end = (text.index(marker) for marker in MARKERS)
    report = evaluation.benchmark_report(evaluation.load_results(results_path))
    page.write_text(f"{text[:start]}{MARKERS[0]}\n{report}\n{text[end:]}")


def label_draws(labels: torch.Tensor, per_class: int, seed: int, draws: int) -> list[np.ndarray]:
    """The label draws of one repeat: seed ``s`` uses draw seeds s*draws ... s*draws + draws - 1."""
    return [probe.labelled_subset(labels, per_class, seed * draws + d) for d in range(draws)]


def trained_snapshots(dataset: str, recipe: str, pool: data.ImageData, epochs: list[int], seed: int,
                      base_width: int) -> dict[int, models.Discriminator]:
    """Train ``recipe`` up to each epoch count in turn; D at each count. Every count is cached in its own
    file, continued (exact resume) from the previous count's, so a rerun trains nothing twice."""
    settings.seed_everything(seed)
    generator, discriminator = improve.recipe_gan(recipe, 32, pool.channels, base_width)
    folder = settings.runs_root() / "benchmarks" / f"{dataset}-{recipe}-w{base_width}-n{len(pool)}-seed{seed}"
    snapshots, previous = {}, None
    for count in sorted(epochs):
        path = folder / f"epochs{count}.pt"
        if previous is not None and not path.exists():
            shutil.copyfile(previous, path)
        train.train_gan(generator, discriminator, pool, count, seed=seed, checkpoint_path=path, resume=True,
                        device="cpu", progress=False)
        previous = path
        snapshot = models.Discriminator(32, pool.channels, base_width)
        snapshot.load_state_dict(discriminator.state_dict())
        snapshots[count] = snapshot
    return snapshots


def random_init_discriminator(channels: int, base_width: int, seed: int) -> models.Discriminator:
    """The control: the same architecture, initialised with the same seed, never trained."""
    settings.seed_everything(seed)
    discriminator = models.Discriminator(32, channels, base_width)
    discriminator.apply(models.init_weights)
    return discriminator


def scored(discriminator, splits, draws, num_classes) -> tuple[evaluation.Choice, list[float]]:
    """Search on validation, then the test accuracy of each draw with the chosen setting."""
    pool, validation, test = splits
    feature_sets = evaluation.representation(discriminator, splits)
    labels = [split.labels.numpy() for split in splits]
    choice = evaluation.search(feature_sets, labels[0], labels[1], draws, num_classes)
    return choice, evaluation.test_accuracies(feature_sets, choice, labels[0], labels[2], draws, num_classes)


def main() -> None:
    """Run both stages and write the dataset's entry of the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=10000, help="unlabelled GAN images = labelled pool")
    parser.add_argument("--validation-per-class", type=int, default=50)
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--recipes", default="plain,translate")
    parser.add_argument("--epochs", default="2,4,6", help="snapshot epoch counts searched on validation")
    parser.add_argument("--base-width", type=int, default=32)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--render", action="store_true",
                        help="only redraw probe.png and rewrite the results block of docs/results.md")
    args = parser.parse_args()
    if args.render:
        plot_results(evaluation.load_results(args.out), args.out.with_suffix(".png"))
        return render_page(args.out)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.perf_counter()
    pool, validation = evaluation.carve_splits(data.load_dataset(args.dataset), args.pool,
                                               args.validation_per_class)
    splits = (pool, validation, data.load_dataset(args.dataset, "test"))
    num_classes = pool.num_classes
    epochs = [int(e) for e in args.epochs.split(",")]

    selection, seed0 = [], {}
    for recipe in args.recipes.split(","):
        for count, discriminator in trained_snapshots(args.dataset, recipe, pool, epochs, 0,
                                                      args.base_width).items():
            choice = evaluation.search(evaluation.representation(discriminator, splits),
                                       pool.labels.numpy(), validation.labels.numpy(),
                                       label_draws(pool.labels, args.labels_per_class, 0, args.draws),
                                       num_classes)
            selection.append({"recipe": recipe, "epochs": count, "layers": choice.layers,
                              "validation": round(choice.validation_accuracy, 4)})
            seed0[(recipe, count)] = discriminator
            print(f"[validation] {recipe} {count} epochs: {100 * choice.validation_accuracy:.1f} "
                  f"({choice.layers})", flush=True)
    best = max(selection, key=lambda row: row["validation"])
    recipe, count = best["recipe"], best["epochs"]
    dcgan = f"dcgan_discriminator ({recipe}, {count} epochs)"

    per_seed: dict[str, list[float]] = {"raw_pixels": [], "random_init_discriminator": [], dcgan: []}
    choices: dict[str, list[dict]] = {name: [] for name in per_seed}
    for seed in range(args.seeds):
        draws = label_draws(pool.labels, args.labels_per_class, seed, args.draws)
        trained = seed0[(recipe, count)] if seed == 0 else trained_snapshots(
            args.dataset, recipe, pool, [count], seed, args.base_width)[count]
        control = random_init_discriminator(pool.channels, args.base_width, seed)
        for name, network in (("raw_pixels", None), ("random_init_discriminator", control), (dcgan, trained)):
            choice, accuracies = scored(network, splits, draws, num_classes)
            per_seed[name].append(float(np.mean(accuracies)))
            choices[name].append({"layers": choice.layers, "normalisation": choice.normalisation,
                                  "alpha": choice.alpha})
        print(f"[test] seed {seed}: " + ", ".join(f"{k} {100 * v[-1]:.1f}" for k, v in per_seed.items()),
              flush=True)

    entry = {
        "command": f"python benchmarks/probe.py --dataset {args.dataset} --seeds {args.seeds} "
                   f"--pool {args.pool} --validation-per-class {args.validation_per_class} "
                   f"--epochs {args.epochs} --recipes {args.recipes} --base-width {args.base_width}",
        "pool": len(pool), "validation": len(validation), "test": len(splits[2]),
        "labels_per_class": args.labels_per_class, "draws_per_seed": args.draws, "seeds": args.seeds,
        "base_width": args.base_width, "selection": selection,
        "results": evaluation.summarise(per_seed, "random_init_discriminator"), "choices": choices,
        "wall_seconds": round(time.perf_counter() - start), "threads": torch.get_num_threads(),
    }
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results[args.dataset] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(evaluation.results_table(entry))
    if args.out == RESULTS:
        render_page()
        plot_results(results, RESULTS.with_suffix(".png"))


if __name__ == "__main__":
    main()
