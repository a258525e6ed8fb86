"""Adversarial training: the non-saturating GAN loss, one D step, one G step, and the loop.

Read top to bottom: the optimisers, a D update and a G update (``losses.bce`` by default), the two
combined into one training step, the History a run records, and ``train_gan``, the loop. The loop keeps the
whole (small) dataset on the device and indexes mini-batches from it; mixed precision lives in
``precision``, atomic checkpoints and exact resume in ``checkpoint``, the CUDA-graph replay of
the step in ``cuda_graph``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed, settings
from .checkpoint import load_checkpoint, model_config, restore_run, save_checkpoint
from .cuda_graph import CUDAGraphStep, use_cuda_graph
from .data import ImageData, load_dataset
from .losses import LossPair, bce
from .losses import gan_loss as gan_loss  # re-exported: lectures call train.gan_loss
from .models import Discriminator, Generator, build_gan, generate
from .precision import apply_step, autocast, grad_scaler

ADAM_BETAS = (0.5, 0.999)
LEARNING_RATE = 2e-4
FIXED_NOISE_COUNT = 64
ExtraLoss = Callable[[nn.Module, torch.Tensor], torch.Tensor]
"""An extra term of D's loss: (discriminator, real batch) -> scalar, added to the real/fake loss every
step. An ``nn.Module`` (e.g. a rotation head, ``improve.RotationLoss``) has its parameters trained by
D's optimiser and saved in the checkpoint."""
LossFunction = Callable[[torch.Tensor, torch.Tensor], LossPair]
"""A GAN loss: D's raw outputs on a real and a fake batch -> (loss of D, loss of G), e.g. ``losses.lsgan``.
G's loss must depend on the fake outputs only (true of BCE, LSGAN and hinge): G's update passes the
detached fake outputs in the real slot."""
LARGE_DATASET = 10_000  # images: above this, full mode on a CPU trains the shared GAN narrower and shorter


def make_optimizers(
    generator: nn.Module,
    discriminator: nn.Module,
    lr: float = LEARNING_RATE,
    betas: tuple[float, float] = ADAM_BETAS,
    capturable: bool = False,
    discriminator_extra: Iterable[nn.Parameter] = (),
) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Adam(2e-4, beta1=0.5) for both players, as in the DCGAN paper (capturable: CUDA-graph safe).

    ``discriminator_extra``: more parameters for D's optimiser (the head of an extra D loss).
    """
    return (
        torch.optim.Adam(generator.parameters(), lr=lr, betas=betas, capturable=capturable),
        torch.optim.Adam([*discriminator.parameters(), *discriminator_extra], lr=lr, betas=betas,
                         capturable=capturable),
    )


def discriminator_update(
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    real_images: torch.Tensor,
    fake_images: torch.Tensor,
    scaler: Any | None = None,
    extra_loss: ExtraLoss | None = None,
    loss_function: LossFunction = bce,
) -> dict[str, torch.Tensor]:
    """One D update on a real and a fake batch; G gets no gradient because the fakes are detached.

    ``loss_function`` gives D's loss (BCE by default); ``extra_loss(discriminator, real_images)`` is
    added to it (``loss_d`` includes it).
    """
    optimizer.zero_grad(set_to_none=True)
    with autocast(real_images.device):
        real_logits = discriminator(real_images)
        fake_logits = discriminator(fake_images.detach())
        loss = loss_function(real_logits, fake_logits)[0]
        if extra_loss is not None:
            loss = loss + extra_loss(discriminator, real_images)
    apply_step(loss, optimizer, scaler)
    return {
        "loss_d": loss.detach(),
        "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
        "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
    }


def generator_update(
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    fake_images: torch.Tensor,
    scaler: Any | None = None,
    loss_function: LossFunction = bce,
) -> dict[str, torch.Tensor]:
    """One G update through the fakes' graph: the non-saturating push of D(G(z)) towards "real" by default."""
    optimizer.zero_grad(set_to_none=True)
    with autocast(fake_images.device):
        fake_logits = discriminator(fake_images)
        loss = loss_function(fake_logits.detach(), fake_logits)[1]
    apply_step(loss, optimizer, scaler)
    return {"loss_g": loss.detach()}


def as_floats(values: dict[str, torch.Tensor]) -> dict[str, float]:
    """Scalar tensors to Python floats (one device sync)."""
    return dict(zip(values, torch.stack(list(values.values())).tolist(), strict=True))


def discriminator_step(
    generator: nn.Module,
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    real_images: torch.Tensor,
    noise: torch.Tensor,
    scaler: Any | None = None,
) -> dict[str, float]:
    """Teach D to call real images real and generated ones fake; G is held fixed (detach)."""
    with autocast(noise.device):
        fake_images = generator(noise)
    return as_floats(discriminator_update(discriminator, optimizer, real_images, fake_images, scaler))


def generator_step(
    generator: nn.Module,
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    noise: torch.Tensor,
    scaler: Any | None = None,
) -> dict[str, float]:
    """Non-saturating G step: maximise log D(G(z)) by labelling the fakes as real."""
    with autocast(noise.device):
        fake_images = generator(noise)
    return as_floats(generator_update(discriminator, optimizer, fake_images, scaler))


STEP_KEYS = ("loss_d", "d_real", "d_fake", "loss_g")


def training_step(
    generator: nn.Module,
    discriminator: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real_images: torch.Tensor,
    noise: torch.Tensor,
    scaler: Any | None = None,
    extra_loss: ExtraLoss | None = None,
    loss_function: LossFunction = bce,
) -> torch.Tensor:
    """One D update then one G update, sharing one G forward; returns the STEP_KEYS values."""
    with autocast(noise.device):
        fake_images = generator(noise)
    step = discriminator_update(discriminator, opt_d, real_images, fake_images, scaler, extra_loss,
                                loss_function)
    step |= generator_update(discriminator, opt_g, fake_images, scaler, loss_function)
    return torch.stack([step[key] for key in STEP_KEYS])


@dataclass
class History:
    """What happened during training: per-step losses and D outputs, per-epoch sample grids."""

    loss_d: list[float] = field(default_factory=list)
    loss_g: list[float] = field(default_factory=list)
    d_real: list[float] = field(default_factory=list)
    d_fake: list[float] = field(default_factory=list)
    epoch_samples: list[torch.Tensor] = field(default_factory=list)
    fixed_noise: torch.Tensor | None = None
    epochs_done: int = 0
    seconds: float = 0.0

    def record(self, step: dict[str, float]) -> None:
        """Append one training step's numbers."""
        for key, value in step.items():
            getattr(self, key).append(value)

    def curves(self) -> dict[str, list[float]]:
        """The per-step curves, for plotting or JSON."""
        return {key: getattr(self, key) for key in ("loss_d", "loss_g", "d_real", "d_fake")}


def train_gan(
    generator: Generator,
    discriminator: Discriminator,
    data: ImageData,
    epochs: int,
    batch_size: int = 64,
    lr: float = LEARNING_RATE,
    seed: int = settings.DEFAULT_SEED,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
    device: torch.device | str | None = None,
    progress: bool = True,
    betas: tuple[float, float] = ADAM_BETAS,
    extra_discriminator_loss: ExtraLoss | None = None,
    after_epoch: Callable[[int], None] | None = None,
    loss_function: LossFunction = bce,
) -> History:
    """Train G and D against each other for ``epochs`` epochs and return the History.

    With ``checkpoint_path`` a checkpoint is written (atomically) after every epoch; with
    ``resume=True`` an existing one is loaded and training continues up to ``epochs`` in total,
    giving exactly the run an uninterrupted call would have produced. Under an initialised process
    group (torchrun) every rank trains on its chunk of a global batch of ``world size × batch_size``
    with DDP; see ``distributed``.

    ``betas``: Adam's (beta1, beta2) for both players. ``extra_discriminator_loss``: a term added to
    D's loss every step (see ``ExtraLoss``; e.g. the rotation head of ``improve.RotationLoss``).
    ``after_epoch(epoch)`` runs after every epoch trained here (1-based, after its checkpoint), e.g.
    to snapshot or measure D; epochs restored from a checkpoint are not replayed.
    ``loss_function``: the GAN loss (see ``LossFunction``), BCE with G's non-saturating loss by default.
    """
    world = distributed.current_world()
    if batch_size * world.size > len(data):
        split = f" for each of {world.size} processes" if world.size > 1 else ""
        raise ValueError(f"batch_size {batch_size}{split} is larger than the dataset ({len(data)} images).")
    device = torch.device(device) if device is not None else settings.get_device()
    generator.to(device)
    discriminator.to(device)
    data = data.to(device)
    if extra_discriminator_loss is not None and world.size > 1:
        raise ValueError("extra_discriminator_loss is not supported under torchrun (DDP) yet.")
    extra_module = extra_discriminator_loss if isinstance(extra_discriminator_loss, nn.Module) else None
    if extra_module is not None:
        extra_module.to(device)
    graphed = use_cuda_graph(device) and world.size == 1 and extra_discriminator_loss is None
    opt_g, opt_d = make_optimizers(generator, discriminator, lr, betas, capturable=graphed,
                                   discriminator_extra=extra_module.parameters() if extra_module else ())
    scaler = grad_scaler(device)
    rng = torch.Generator().manual_seed(seed)  # batch order and noise: saved for exact resume
    torch.manual_seed(seed + world.rank)
    config = {**model_config(generator, discriminator), "batch_size": batch_size, "lr": lr, "seed": seed}
    if tuple(betas) != ADAM_BETAS:  # only when set: checkpoints written before betas existed still resume
        config["betas"] = list(betas)
    if extra_discriminator_loss is not None:
        config["extra_discriminator_loss"] = type(extra_discriminator_loss).__name__
    if loss_function is not bce:  # only when set, as betas: a resume must use the same loss
        config["loss_function"] = getattr(loss_function, "__name__", type(loss_function).__name__)
    step = functools.partial(training_step, loss_function=loss_function)
    modules = {"generator": generator, "discriminator": discriminator, "opt_g": opt_g, "opt_d": opt_d,
               "scaler": scaler, "extra_discriminator_loss": extra_module}
    history = History(fixed_noise=torch.randn(FIXED_NOISE_COUNT, generator.latent_dim, generator=rng))
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path)
        history = History(**restore_run(state, config, modules, rng))
        distributed.restore_rank_rng(state, rng, world)
    trained_g, trained_d = distributed.wrap(generator, world), distributed.wrap(discriminator, world)
    steps_per_epoch = len(data) // (batch_size * world.size)
    remaining = max(0, epochs - history.epochs_done) * steps_per_epoch
    bar = tqdm(total=remaining, desc="training GAN", unit="step", disable=not progress)
    step_fn: CUDAGraphStep | None = None
    for _ in range(history.epochs_done, epochs):
        epoch_start = time.perf_counter()
        generator.train()
        discriminator.train()
        epoch_steps, latent_dim = [], generator.latent_dim
        for real_images, noise in distributed.epoch_batches(data, batch_size, latent_dim, rng, world):
            if graphed and step_fn is None:
                step_fn = CUDAGraphStep(step, generator, discriminator, opt_g, opt_d,
                                        real_images, noise)
            if step_fn is not None:
                epoch_steps.append(step_fn(real_images, noise))
            else:
                epoch_steps.append(step(trained_g, trained_d, opt_g, opt_d, real_images, noise, scaler,
                                        extra_discriminator_loss))
            bar.update()
        for values in distributed.mean_over_ranks(torch.stack(epoch_steps), world).tolist():  # one sync
            history.record(dict(zip(STEP_KEYS, values, strict=True)))
        bar.set_postfix(loss_d=f"{history.loss_d[-1]:.2f}", loss_g=f"{history.loss_g[-1]:.2f}")
        history.epoch_samples.append(generate(generator, history.fixed_noise))
        history.epochs_done += 1
        history.seconds += time.perf_counter() - epoch_start
        if checkpoint_path is not None:
            rank_states = distributed.rank_rng_states(rng, world)
            if world.is_main:
                save_checkpoint(checkpoint_path, {
                    **{name: m.state_dict() for name, m in modules.items() if m is not None},
                    "config": config, "history": asdict(history),
                    "rng": rng.get_state(), "torch_rng": torch.get_rng_state(), **rank_states,
                })
        if after_epoch is not None:
            after_epoch(history.epochs_done)
    bar.close()
    return history


def pretrained_gan(
    dataset: str = "digits",
    image_size: int = 32,
    epochs: int | None = None,
    seed: int = settings.DEFAULT_SEED,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> tuple[Generator, Discriminator, History]:
    """A GAN trained on ``dataset``: loaded from the run cache if present, else trained and cached.

    Lets any notebook start from a trained GAN without depending on another notebook having run.
    On a CPU a large dataset (CIFAR-10) gets a narrower GAN for fewer epochs: minutes, not hours.
    """
    data = load_dataset(dataset, "train", image_size, limit=settings.pick(512, None))
    large = len(data) > LARGE_DATASET
    epochs = epochs if epochs is not None else settings.pick(3, 20, cpu=5 if large else 20)
    base_width = settings.pick(64, 64, cpu=32 if large else 64)
    mode = "fast" if settings.is_fast() else "full"
    safe_name = dataset.replace("/", "_").replace(":", "_")
    path = (settings.runs_root() / "pretrained"
            / f"{safe_name}-{image_size}px-{epochs}ep-w{base_width}-seed{seed}-{mode}")
    settings.seed_everything(seed)
    generator, discriminator = build_gan(image_size, data.channels, base_width=base_width)
    history = train_gan(generator, discriminator, data, epochs, seed=seed,
                        checkpoint_path=path / "checkpoint.pt", resume=True, device=device,
                        progress=progress)
    return generator, discriminator, history
