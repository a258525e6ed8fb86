"""Training on several processes with DistributedDataParallel, as started by ``torchrun``.

Each process (rank) holds a full copy of G and D and trains on its own chunk of every global batch
of ``world size × batch_size`` images; DDP averages the gradients, so all copies take the same
step. What a GAN needs beyond the textbook DDP recipe:

- D runs forward twice (real, then fake) before one backward. DDP's default re-broadcasts the
  BatchNorm buffers at every forward, which breaks that backward; ``broadcast_buffers=False``
  (``forward_sync_buffers=False`` in newer PyTorch, which deprecates the old name) keeps each
  rank's running statistics its own (rank 0's are the ones saved). Real and fake are
  never concatenated into one batch: that would change what BatchNorm normalises.
- BatchNorm normalises each rank's chunk on its own. ``SyncBatchNorm`` would normalise the whole
  global batch, but it needs CUDA tensors; the CPU (gloo) path the tests use cannot have it.
- Every rank draws the same permutation and noise (its ``rng`` is seeded alike) and keeps only its
  chunk: ranks see disjoint images, and the last incomplete global batch is dropped instead of
  padded with repeated images the way ``DistributedSampler`` does by default.
- Only rank 0 writes checkpoints, samples and history; a checkpoint stores every rank's random
  state, and a resume gives each rank back its own.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .data import ImageData

RANK_RNG_KEY = "rank_rng"
NO_BUFFER_SYNC = ({"forward_sync_buffers": False}
                  if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                  else {"broadcast_buffers": False})


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """True on the process that writes files and prints."""
        return self.rank == 0


def current_world() -> World:
    """The initialised process group as a World, or a single process when there is none."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def launched_by_torchrun() -> bool:
    """True when torchrun (or another launcher) described a process group in the environment."""
    return all(key in os.environ for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def init_from_environment(device: torch.device) -> tuple[World, torch.device]:
    """Join torchrun's process group (NCCL on CUDA, gloo on CPU); returns the world and this rank's device."""
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    return current_world(), device


def leave(world: World) -> None:
    """Leave the process group once training is over (nothing to do on one process)."""
    if world.size > 1:
        dist.destroy_process_group()


def wrap(module: nn.Module, world: World) -> nn.Module:
    """The module as DDP trains it (buffers not re-broadcast, see above), or itself on one process."""
    if world.size == 1:
        return module
    device = next(module.parameters()).device
    return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None,
                                   **NO_BUFFER_SYNC)


def epoch_batches(data: ImageData, batch_size: int, latent_dim: int, rng: torch.Generator,
                  world: World) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of (real images, noise): this rank's chunk of every global batch, whole on one process."""
    global_batch = batch_size * world.size
    for real_images, _ in data.batches(global_batch, shuffle=True, rng=rng):
        noise = torch.randn(global_batch, latent_dim, generator=rng).to(data.device, non_blocking=True)
        yield real_images.chunk(world.size)[world.rank], noise.chunk(world.size)[world.rank]


def mean_over_ranks(values: torch.Tensor, world: World) -> torch.Tensor:
    """The element-wise mean of a tensor across ranks (the tensor itself on one process)."""
    if world.size == 1:
        return values
    total = values.clone()
    dist.all_reduce(total)
    return total / world.size


def rank_rng_states(rng: torch.Generator, world: World) -> dict[str, Any]:
    """Every rank's random state for the checkpoint (a collective: all ranks call it); {} on one process."""
    if world.size == 1:
        return {}
    states: list[Any] = [None] * world.size
    dist.all_gather_object(states, {"rng": rng.get_state(), "torch_rng": torch.get_rng_state()})
    return {RANK_RNG_KEY: states}


def restore_rank_rng(state: dict[str, Any], rng: torch.Generator, world: World) -> None:
    """Give this rank back its own random state from a checkpoint written by ``world.size`` ranks."""
    saved = state.get(RANK_RNG_KEY)
    processes = len(saved) if saved else 1
    if processes != world.size:
        raise ValueError(f"the checkpoint was written by {processes} training process(es), this run has "
                         f"{world.size}: resume with torchrun --nproc-per-node {processes}")
    if saved:
        rng.set_state(saved[world.rank]["rng"])
        torch.set_rng_state(saved[world.rank]["torch_rng"])
