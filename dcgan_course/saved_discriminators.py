"""Discriminators saved elsewhere, loaded for probing: course checkpoints of any recipe, and pytorch/examples.

The PyTorch DCGAN example (github.com/pytorch/examples, ``dcgan/main.py``) saves
``netD_epoch_N.pth``, the state dict of an ``nn.Sequential`` called ``main``: at 64 px it is the
paper's discriminator, layer for layer the course's ``Discriminator(64, channels, 64)``; only the
names differ. A spectral-norm discriminator is stored with its parametrisation; for probing its
normalised weights are written into a plain ``Discriminator``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from . import models
from .checkpoint import CheckpointError, load_checkpoint, models_from_checkpoint

PYTORCH_EXAMPLE_BLOCKS = (("main.0", None), ("main.2", "main.3"), ("main.5", "main.6"), ("main.8", "main.9"))
PYTORCH_EXAMPLE_LOGIT = "main.11"  # the final 4x4 convolution (a Sigmoid follows, without weights)


def pytorch_example_discriminator(state_dict: Mapping[str, torch.Tensor]) -> models.Discriminator:
    """The course's 64 px Discriminator holding the weights of pytorch/examples' dcgan ``netD``.

    ``PYTORCH_EXAMPLE_BLOCKS`` pairs each block's convolution with its BatchNorm (none in the first).
    """
    first = state_dict["main.0.weight"]
    discriminator = models.Discriminator(64, first.shape[1], first.shape[0])
    renamed = {"to_logit.weight": state_dict[f"{PYTORCH_EXAMPLE_LOGIT}.weight"]}
    for block, (conv, norm) in enumerate(PYTORCH_EXAMPLE_BLOCKS):
        renamed[f"blocks.{block}.0.weight"] = state_dict[f"{conv}.weight"]
        if norm is not None:
            renamed.update({f"blocks.{block}.1.{key.removeprefix(norm + '.')}": value
                            for key, value in state_dict.items() if key.startswith(norm + ".")})
    discriminator.load_state_dict(renamed)
    return discriminator


def load_probe_models(path: str | Path) -> tuple[dict, models.Generator | None, models.Discriminator]:
    """A course checkpoint (state, G, D), or a pytorch-examples ``netD`` file ({}, None, D)."""
    try:
        state = load_checkpoint(path)
    except CheckpointError as error:
        try:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # torch raises many types for a damaged file; the checkpoint error says it
            raise error from None
        if not isinstance(state_dict, Mapping) or f"{PYTORCH_EXAMPLE_LOGIT}.weight" not in state_dict:
            raise CheckpointError(f"{path} is neither a dcgan-course checkpoint nor a netD_epoch_N.pth of "
                                  "pytorch/examples' dcgan.") from None
        try:
            return {}, None, pytorch_example_discriminator(state_dict)
        except (KeyError, RuntimeError) as mismatch:
            raise CheckpointError(f"{path} does not match pytorch/examples' 64 px netD: {mismatch}") from None
    generator, discriminator = models_from_checkpoint(state)
    return state, generator, plain_discriminator(discriminator)


def plain_discriminator(discriminator: models.Discriminator) -> models.Discriminator:
    """A plain ``Discriminator`` with the same function: spectral norm is folded into the weights."""
    was_training = discriminator.training
    discriminator.eval()  # the normalised weight as it stands, without a power-iteration update
    with torch.no_grad():
        weights = {key: value for key, value in discriminator.state_dict().items()
                   if ".parametrizations." not in key}
        weights.update({f"{name}.weight": module.weight.clone()
                        for name, module in discriminator.named_modules()
                        if nn.utils.parametrize.is_parametrized(module, "weight")})
    discriminator.train(was_training)
    plain = models.Discriminator(discriminator.image_size, discriminator.channels, discriminator.base_width)
    plain.load_state_dict(weights)
    return plain
