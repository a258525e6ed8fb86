"""Benchmark style transfer: optimisation (Gatys) per-step time and results, feed-forward speed.

For each image size: seconds per optimisation step, the style-loss reduction from the content
image, and how well the layout of the content survives (correlation of blurred images). Then
a feed-forward network: seconds per training step and per stylised image. Prints JSON.

    python benchmarks/style.py --sizes 64 128 256 --steps 100
"""

from __future__ import annotations

import argparse
import json

from dcgan_course import settings, style, style_feedforward, viz


def optimisation_row(size: int, steps: int, network: style.FeatureNetwork) -> dict[str, float]:
    """Stylise Grace Hopper with the generated waves at one size and summarise the run."""
    content, painting = viz.sample_image("grace_hopper", size), viz.sample_image("waves", size)
    result = style.stylize(content, painting, network, steps, progress=False)
    return {
        "size": size, "steps": steps, "seconds_per_step": result.seconds / steps,
        "style_loss_reduction": result.style_loss[0] / result.style_loss[-1],
        "final_content_loss": result.content_loss[-1], "final_style_loss": result.style_loss[-1],
        "layout_kept": style.structure_similarity(result.image, content),
    }


def feedforward_row(size: int, steps: int, network: style.FeatureNetwork) -> dict[str, float]:
    """Train a small transform network for one style, then time one forward pass."""
    painting = viz.sample_image("waves", size)
    contents = [viz.sample_image(name, 2 * size) for name in ("china", "flower")]
    transform = style_feedforward.TransformNetwork(width=16, residual_blocks=3)
    history = style_feedforward.train_feedforward(transform, painting, contents, network, steps, batch_size=4,
                                      crop_size=size, progress=False)
    content = viz.sample_image("grace_hopper", size)
    image, seconds = style_feedforward.apply_style(transform, content)
    return {"size": size, "train_steps": steps, "seconds_per_train_step": history.seconds / steps,
            "seconds_per_image": seconds, **style.losses_of(image, content, painting, network)}


def main() -> None:
    """Run the optimisation rows and the feed-forward row and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--feedforward-steps", type=int, default=300)
    parser.add_argument("--network", default="random", choices=("auto", "random", "vgg19"))
    args = parser.parse_args()
    cfg = settings.setup()
    network = style.load_feature_network(args.network, cfg.device)
    report = {
        "network": network.name, "device": str(cfg.device),
        "optimisation": [optimisation_row(size, args.steps, network) for size in args.sizes],
        "feedforward": feedforward_row(args.sizes[0], args.feedforward_steps, network),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
