"""Mode collapse on the ring of 8 Gaussians, and PacGAN as a remedy: modes covered over training.

    python benchmarks/ring.py                 # 3,000 steps, seeds 0-2, pack 1 (plain GAN) and 2 (PacGAN)

Writes ``benchmarks/results/ring.json``, which notebook 10 renders next to its own fast-mode run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from dcgan_course import toy

RESULTS = Path(__file__).resolve().parent / "results" / "ring.json"


def main() -> None:
    """Train each (pack, seed) pair and record the modes covered at every snapshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--packs", default="1,2")
    parser.add_argument("--snapshots", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for pack in (int(p) for p in args.packs.split(",")):
            start = time.perf_counter()
            run = toy.train_ring_gan(args.steps, pack=pack, snapshots=args.snapshots, seed=seed)
            runs.append({"pack": pack, "seed": seed, "steps": run.steps, "modes": run.modes,
                         "seconds": round(time.perf_counter() - start, 1)})
            print(f"pack {pack} seed {seed}: modes {run.modes}", flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    report = {"data": f"ring of {toy.RING_MODES} Gaussians, radius {toy.RING_RADIUS}, std {toy.RING_STD}",
              "covered": f"a mode holds >= {toy.COVERED_SHARE:.0%} of 1,000 samples within "
                         f"{toy.COVERED_WITHIN} std of its centre",
              "command": f"python benchmarks/ring.py --steps {args.steps} --seeds {args.seeds} "
                         f"--packs {args.packs} --snapshots {args.snapshots}",
              "runs": runs}
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
