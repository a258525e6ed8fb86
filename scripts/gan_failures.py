"""Figures for docs/gan_failures.md: real runs of the course's GAN with exactly one thing broken.

Every run trains the course's DCGAN (``models.build_gan``, ``train.gan_loss``, Adam(2e-4, 0.5))
on the embedded digits with the same seed and step count as a healthy reference run; only the
named thing differs. Each figure shows the loss curves and samples from fixed noise. Writes
``docs/figures/failure_<name>.png`` and ``docs/figures/failures.json`` (the numbers the page
quotes). A few minutes on 2 idle CPU cores at the default 300 steps.

    python scripts/gan_failures.py [--steps 300] [--jobs 2] [--only healthy float16]
"""

from __future__ import annotations

import argparse
import json
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from figure_files import FIGURES, save_small_png
from torch import nn

from dcgan_course import losses, settings, viz
from dcgan_course.data import load_dataset
from dcgan_course.losses import gan_loss
from dcgan_course.models import build_gan, generate
from dcgan_course.train import ADAM_BETAS, LEARNING_RATE

BATCH_SIZE = 64
SAMPLES = 16
BASE_WIDTH = 32


@dataclass
class Breakage:
    """The one thing a run does differently from the healthy reference."""

    g_lr: float = LEARNING_RATE
    g_steps_per_d_step: int = 1
    saturating_g_loss: bool = False  # minimise log(1 - D(G(z))) instead of -log D(G(z))
    detach_fakes: bool = True
    float16_weights: bool = False  # model.half(): weights, activations and Adam state in float16
    unit_range_data: bool = False  # real images in [0, 1], generator still ends in Tanh
    odd_kernel: bool = False  # 3x3 stride-2 transposed convolutions (kernel not divisible by stride)


@dataclass
class Run:
    """Per-step curves, the trained generator and its samples from the fixed noise."""

    generator: nn.Module
    samples: torch.Tensor
    curves: dict[str, list[float]] = field(default_factory=dict)


def odd_kernel_upsampling(generator: nn.Module) -> None:
    """Swap every stride-2 4x4 transposed convolution for a 3x3 one with the same output size."""
    for parent in generator.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.ConvTranspose2d) and child.stride == (2, 2):
                setattr(parent, name, nn.ConvTranspose2d(child.in_channels, child.out_channels, 3, stride=2,
                                                         padding=1, output_padding=1, bias=False))
    for module in generator.modules():
        if isinstance(module, nn.ConvTranspose2d):
            nn.init.normal_(module.weight, 0.0, 0.02)


def generator_loss(fake_logits: torch.Tensor, saturating: bool) -> torch.Tensor:
    """Non-saturating -log D(G(z)), or the minimax log(1 - D(G(z))) whose gradient vanishes when D wins."""
    return losses.minimax_generator_loss(fake_logits) if saturating else gan_loss(fake_logits, True)


def train(images: torch.Tensor, steps: int, broken: Breakage, seed: int) -> Run:
    """A plain training loop (zero both gradients, D step, G step) with one thing possibly broken."""
    settings.seed_everything(seed)
    generator, discriminator = build_gan(32, images.shape[1], base_width=BASE_WIDTH)
    if broken.odd_kernel:
        odd_kernel_upsampling(generator)
    dtype = torch.float16 if broken.float16_weights else torch.float32
    generator, discriminator = generator.to(dtype), discriminator.to(dtype)
    images = ((images + 1) / 2 if broken.unit_range_data else images).to(dtype)
    opt_g = torch.optim.Adam(generator.parameters(), lr=broken.g_lr, betas=ADAM_BETAS)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=LEARNING_RATE, betas=ADAM_BETAS)
    rng = torch.Generator().manual_seed(seed)
    fixed_noise = torch.randn(SAMPLES, generator.latent_dim, generator=rng).to(dtype)
    curves: dict[str, list[float]] = {"loss_d": [], "loss_g": [], "d_real": [], "d_fake": []}
    for _ in range(steps):
        real = images[torch.randint(len(images), (BATCH_SIZE,), generator=rng)]
        noise = torch.randn(BATCH_SIZE, generator.latent_dim, generator=rng).to(dtype)
        opt_d.zero_grad()
        opt_g.zero_grad()
        fakes = generator(noise)
        real_logits = discriminator(real)
        fake_logits = discriminator(fakes.detach() if broken.detach_fakes else fakes)
        loss_d = gan_loss(real_logits, True) + gan_loss(fake_logits, False)
        loss_d.backward(retain_graph=not broken.detach_fakes)  # the usual "fix" for the error
        opt_d.step()
        for g_step in range(broken.g_steps_per_d_step):
            if g_step:
                opt_g.zero_grad()
                fakes = generator(torch.randn(BATCH_SIZE, generator.latent_dim, generator=rng).to(dtype))
            loss_g = generator_loss(discriminator(fakes), broken.saturating_g_loss)
            loss_g.backward()
            opt_g.step()
        step = {"loss_d": loss_d, "loss_g": loss_g, "d_real": torch.sigmoid(real_logits).mean(),
                "d_fake": torch.sigmoid(fake_logits).mean()}
        for key, value in step.items():
            curves[key].append(float(value.detach()))
        if math.isnan(curves["loss_d"][-1]):
            break  # a NaN weight never recovers: stop, as a learner should
    return Run(generator, generate(generator, fixed_noise).nan_to_num(0.0), curves)


def diversity(images: torch.Tensor) -> float:
    """Mean pixel distance between pairs of images: near 0 when every sample is the same."""
    flat = images.float().flatten(1)
    return float(torch.cdist(flat, flat).sum() / (len(flat) * (len(flat) - 1)) / math.sqrt(flat.shape[1]))


def summary(run: Run, real: torch.Tensor) -> dict[str, float | int | None]:
    """The numbers the gallery page quotes about one run."""
    tail = max(1, len(run.curves["loss_d"]) // 10)
    nan_steps = [i for i, value in enumerate(run.curves["loss_d"]) if math.isnan(value)]
    finite = [v for v in run.curves["loss_d"][-tail:] if not math.isnan(v)]
    return {
        "final_loss_d": sum(finite) / len(finite) if finite else None,
        "final_d_fake": sum(run.curves["d_fake"][-tail:]) / tail,
        "first_nan_step": nan_steps[0] if nan_steps else None,
        "sample_diversity": diversity(run.samples), "real_diversity": diversity(real),
    }


def figure(title: str, curves: dict[str, list[float]], rows: dict[str, torch.Tensor]) -> plt.Figure:
    """Loss curves on the left, labelled blocks of samples (8 per row) on the right."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3), gridspec_kw={"width_ratios": [1, 1.3]})
    window = max(1, len(curves["loss_d"]) // 40)
    viz.plot_curves({key: curves[key] for key in ("loss_d", "loss_g")}, "", window=window, ax=left)
    left.set_yscale("symlog", linthresh=0.1)
    nans = [step for step, value in enumerate(curves["loss_d"]) if math.isnan(value)]
    if nans:
        left.plot(range(nans[0]), curves["loss_d"][: nans[0]], "o", color="tab:blue")
        left.text(0.5, 0.25, f"loss is NaN from step {nans[0]} on", transform=left.transAxes, ha="center")
    grids = [viz.image_grid(images, nrow=8) for images in rows.values()]
    centres = torch.tensor([grid.shape[0] for grid in grids]).cumsum(0) - torch.tensor(
        [grid.shape[0] / 2 for grid in grids])
    right.imshow(torch.cat(grids).numpy(), cmap="gray")
    right.set_yticks(centres.tolist(), list(rows))
    right.set_xticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def training_mode_samples(generator: nn.Module, noise: torch.Tensor) -> dict[str, torch.Tensor]:
    """The same noise through G in eval mode, in training mode as a batch, and one at a time."""
    in_eval_mode = generate(generator, noise)  # first: training-mode passes also move the running stats
    with torch.no_grad():
        generator.train()
        as_batch = generator(noise)
        one_by_one = torch.cat([generator(z[None]) for z in noise])
    return {"eval": in_eval_mode, "train, batch": as_batch, "train, one by one": one_by_one}


def detach_error_message(images: torch.Tensor) -> str:
    """The error a learner sees when fakes are not detached and the graph is not retained."""
    generator, discriminator = build_gan(32, images.shape[1], base_width=BASE_WIDTH)
    fakes = generator(torch.randn(4, generator.latent_dim))
    gan_loss(discriminator(fakes), False).backward()
    try:
        gan_loss(discriminator(fakes), True).backward()
    except RuntimeError as error:
        return str(error).split(".")[0] + "."
    return "no error"


SCENARIOS: dict[str, tuple[str, Breakage]] = {
    "healthy": ("healthy reference run", Breakage()),
    "mode_collapse": ("mode collapse: G takes 5 steps at 5x the learning rate per D step",
                      Breakage(g_lr=5 * LEARNING_RATE, g_steps_per_d_step=5)),
    "d_wins": ("D wins outright: the saturating minimax G loss log(1 - D(G(z)))",
               Breakage(saturating_g_loss=True)),
    "checkerboard": ("checkerboard: 3x3 stride-2 transposed convolutions", Breakage(odd_kernel=True)),
    "float16": ("NaNs: weights and Adam state cast to float16 (model.half())",
                Breakage(float16_weights=True)),
    "no_detach": ("forgotten .detach() (graph retained so it runs)", Breakage(detach_fakes=False)),
    "unit_range": ("real images in [0, 1], generator ends in Tanh", Breakage(unit_range_data=True)),
}


def run_scenario(name: str, steps: int, seed: int, out: Path) -> dict:
    """Train one scenario, write its figure(s) and return its numbers (healthy adds training mode)."""
    torch.set_num_threads(1)  # scenarios run side by side, one per core
    title, broken = SCENARIOS[name]
    real = load_dataset("digits", "train", 32).images
    run = train(real, steps, broken, seed)
    shown = {"samples": run.samples, "real": (real[:8] + 1) / 2 if broken.unit_range_data else real[:8]}
    if broken.odd_kernel:  # the pattern is there before any training: it comes from the layer itself
        untrained = train(real, 0, broken, seed)
        shown = {"samples": run.samples[:8], "untrained G": untrained.samples[:8], "real": real[:8]}
    save_small_png(figure(title, run.curves, shown), out / f"failure_{name}.png")
    report = {"title": title, **summary(run, real[:256])}
    if name == "healthy":
        noise = torch.randn(SAMPLES, run.generator.latent_dim, generator=torch.Generator().manual_seed(seed))
        rows = training_mode_samples(run.generator, noise)
        save_small_png(figure("samples drawn in training mode (the healthy run's G, one noise batch)",
                              run.curves, rows), out / "failure_train_mode.png")
        report["train_mode_mean_abs_change"] = {label: float((images - rows["eval"]).abs().mean())
                                                for label, images in rows.items()}
    if not broken.detach_fakes:
        report["error_without_retain_graph"] = detach_error_message(real)
    return report


def main(argv: list[str] | None = None) -> dict[str, dict]:
    """Run every scenario (``--jobs`` at a time), write the figures and failures.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per run")
    parser.add_argument("--out", type=Path, default=FIGURES, help="folder for the PNGs and failures.json")
    parser.add_argument("--seed", type=int, default=settings.DEFAULT_SEED)
    parser.add_argument("--jobs", type=int, default=2, help="scenarios trained at the same time")
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), help="a subset of the scenarios")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.jobs < 1:
        parser.error(f"--steps and --jobs must be at least 1, got {args.steps} and {args.jobs}")
    names = args.only or list(SCENARIOS)
    with ProcessPoolExecutor(args.jobs) as pool:
        count = len(names)
        reports = pool.map(run_scenario, names, [args.steps] * count, [args.seed] * count, [args.out] * count)
        report = dict(zip(names, reports, strict=True))
    path = args.out / "failures.json"
    earlier = json.loads(path.read_text()) if path.is_file() and args.only else {}  # --only updates
    path.write_text(json.dumps({**earlier, "steps": args.steps, "seed": args.seed, **report}, indent=1))
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
