"""Checkpoints: written atomically, read with clear errors, and enough state for an exact resume.

A checkpoint is one ``torch.save`` dict: the networks, their optimisers (and AMP scaler), the
architecture numbers to rebuild them, the training history and the random-number state. It is
written to a temporary file and renamed into place, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .models import Discriminator, Generator, build_gan

CHECKPOINT_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint is unreadable, truncated, or belongs to a different model or run."""


def model_config(generator: Generator, discriminator: Discriminator) -> dict[str, int]:
    """The architecture numbers needed to rebuild both networks from a checkpoint."""
    return {
        "image_size": generator.image_size,
        "channels": generator.channels,
        "latent_dim": generator.latent_dim,
        "base_width": discriminator.base_width,
    }


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` with torch.save to a temp file in the same folder, then rename it into place.

    A crash mid-write leaves the previous checkpoint intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp_file:
            torch.save({"format": CHECKPOINT_FORMAT, **state}, temp_file)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; unreadable files raise ``CheckpointError``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise CheckpointError(
            f"Checkpoint {path} is corrupt or truncated ({type(error).__name__}: {error}). "
            "Delete it and train again, or point to another checkpoint."
        ) from error
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a dcgan-course checkpoint (format {CHECKPOINT_FORMAT}).")
    return state


def stores_spectral_norm(state_dict: dict[str, torch.Tensor]) -> bool:
    """True when a discriminator's state dict holds spectral-norm parametrisations of its weights."""
    return any(".parametrizations." in key for key in state_dict)


def models_from_checkpoint(
    state: dict[str, Any], device: torch.device | str = "cpu"
) -> tuple[Generator, Discriminator]:
    """Rebuild the generator and discriminator stored in a loaded checkpoint (spectral norm included)."""
    config = state["config"]
    generator, discriminator = build_gan(
        config["image_size"], config["channels"], config["latent_dim"], config["base_width"], device,
        spectral_norm=stores_spectral_norm(state["discriminator"]),
    )
    generator.load_state_dict(state["generator"])
    discriminator.load_state_dict(state["discriminator"])
    return generator, discriminator


def restore_run(
    state: dict[str, Any],
    config: dict[str, Any],
    modules: dict[str, Any],
    rng: torch.Generator,
) -> dict[str, Any]:
    """Load models, optimisers, scaler and RNG state from a checkpoint into a live run.

    Returns the stored training history (a dict) for the trainer to continue.
    """
    saved = state["config"]
    keys = sorted({*config, *saved})  # a key only one side has (an extra D loss, betas) is a mismatch too
    mismatched = {k: (saved.get(k), config.get(k)) for k in keys if saved.get(k) != config.get(k)}
    if mismatched:
        details = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in mismatched.items())
        raise CheckpointError(f"The checkpoint belongs to a different run ({details}).")
    try:
        for name, module in modules.items():
            if module is not None:
                module.load_state_dict(state[name])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(f"The checkpoint does not fit these models: {error}") from error
    rng.set_state(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    return state["history"]
