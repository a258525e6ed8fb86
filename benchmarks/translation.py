"""Benchmark pix2pix against the L1-only U-Net on the offline edges -> digits task.

Prints seconds per training step for both models and their held-out metrics (L1, PSNR,
sharpness relative to the targets, digit-classifier accuracy) as JSON.

    python benchmarks/translation.py --steps 1000 --out runs/bench_translation.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from dcgan_course import data, settings, translation


def main() -> None:
    """Train both models for the same number of steps and print what they cost and score."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--base-width", type=int, default=translation.DEMO_WIDTH)
    parser.add_argument("--downsamplings", type=int, default=translation.DEMO_DOWNSAMPLINGS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    cfg = settings.setup(args.seed)
    train_pairs = data.paired.load_pairs("edges2digits", "train")
    test_pairs = data.paired.load_pairs("edges2digits", "test")
    metrics, _ = translation.compare_with_l1_baseline(
        train_pairs, test_pairs, args.steps, args.base_width, args.downsamplings, seed=args.seed,
        device=cfg.device, progress=False)
    metrics |= {"base_width": args.base_width, "downsamplings": args.downsamplings,
                "device": str(cfg.device), "threads": torch.get_num_threads()}
    text = json.dumps(metrics, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
