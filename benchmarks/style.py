"""Benchmark offline style transfer: two recipes, judged in networks neither of them used.

For each content/style pair that ships with the dependencies (or is generated), stylise with
each of ``style.evaluation.RECIPES`` and report, per recipe: the style distance in
two judge networks as a fraction of the content photo's own (lower = more of the painting's
style), the edge similarity to the photo (the content floor) and seconds. Prints JSON.

    python benchmarks/style.py --size 128 [--steps N] [--pair 0]
"""

from __future__ import annotations

import argparse
import json

import torch

from dcgan_course import settings, style, viz

PAIRS = (("china", "strokes"), ("grace_hopper", "waves"), ("flower", "strokes"))


def pair_rows(content_name: str, style_name: str, size: int, steps: int | None) -> dict[str, dict]:
    """Both recipes on one pair: judge scores, edge similarity and seconds."""
    content, painting = viz.sample_image(content_name, size), viz.sample_image(style_name, size)
    rows = {}
    for recipe in style.evaluation.RECIPES:
        torch.manual_seed(settings.DEFAULT_SEED)
        result = style.evaluation.run_recipe(recipe, content, painting, steps)
        rows[recipe] = {**style.evaluation.judge(result.image, content, painting), "seconds": result.seconds}
    return rows


def main() -> None:
    """Run every pair and print the table as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=None, help="override both recipes' step counts")
    parser.add_argument("--pair", type=int, choices=range(len(PAIRS)), help="only PAIRS[i]")
    args = parser.parse_args()
    settings.setup()
    report = {f"{content} + {style}": pair_rows(content, style, args.size, args.steps)
              for content, style in (PAIRS if args.pair is None else [PAIRS[args.pair]])}
    print(json.dumps({"size": args.size, "pairs": report}, indent=1))


if __name__ == "__main__":
    main()
