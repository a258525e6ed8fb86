"""The DCGAN-guidelines ablation and the memorisation measurement, run once and committed.

    python benchmarks/diagnostics.py                      # digits, the defaults below
    python benchmarks/diagnostics.py --epochs 20 --base-width 64 --seeds 0,1,2 --dataset mnist

Writes ``benchmarks/results/diagnostics.json`` (the settings, machine, one row per ablation run,
the per-epoch memorisation record) and ``benchmarks/results/ablation_samples.png`` (32 samples of
each recipe, first seed). Notebook 10 renders both; notebook 07 cites the memorisation record.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from dcgan_course import data, diagnostics, metrics, viz  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    """Parse the settings, run both measurements, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per ablation run")
    parser.add_argument("--memorisation-epochs", type=int, default=30)
    parser.add_argument("--base-width", type=int, default=16)
    parser.add_argument("--seeds", default="0", help="comma-separated GAN seeds for the ablation")
    parser.add_argument("--score-samples", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    start = time.perf_counter()
    train_data = data.load_dataset(args.dataset, "train")
    test_data = data.load_dataset(args.dataset, "test")
    scorer = metrics.SampleQualityScorer(train_data, sample_size=args.score_samples)
    rows, samples = diagnostics.run_ablation(train_data, scorer, args.epochs, seeds, args.base_width)
    real_floor = scorer.score_images(test_data.images[: args.score_samples])
    memorisation = diagnostics.memorisation_curve(train_data, test_data, args.memorisation_epochs,
                                                  args.base_width)
    RESULTS.mkdir(exist_ok=True)
    fig, axes = plt.subplots(1, len(samples), figsize=(3.2 * len(samples), 3.6))
    for ax, (name, images) in zip(axes, samples.items(), strict=True):
        viz.show_grid(images, title=name, nrow=8, ax=ax)
    fig.tight_layout()
    fig.savefig(RESULTS / "ablation_samples.png", dpi=80)
    report = {
        "dataset": args.dataset, "train_images": len(train_data), "held_out_images": len(test_data),
        "settings": {key: value for key, value in vars(args).items() if key != "threads"},
        "machine": f"{platform.machine()} CPU, {args.threads} torch thread(s), shared with other jobs",
        "fcd_of_real_test_images": real_floor, "ablation": rows, "memorisation": memorisation,
        "command": "python benchmarks/diagnostics.py " + " ".join(
            f"--{key.replace('_', '-')} {value}" for key, value in vars(args).items()),
        "wall_seconds": round(time.perf_counter() - start),
    }
    (RESULTS / "diagnostics.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for row in rows:
        print(f"{row['recipe']:16s} seed {row['seed']}: FCD {row['fcd']:8.1f}  ({row['seconds']:.0f} s)")
    print(f"real test images: FCD {real_floor:.1f}")


if __name__ == "__main__":
    main()
