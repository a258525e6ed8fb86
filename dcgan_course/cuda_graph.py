"""One training step recorded as a CUDA graph and replayed for every batch.

Small GANs leave a GPU idle while Python launches hundreds of tiny kernels per step; replaying
a recorded graph launches them all at once (3-5x faster on an H100 at batch 64). Capture needs
capturable optimisers, static input buffers and no gradient scaler (so: bfloat16 autocast).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from . import settings

StepFunction = Callable[[nn.Module, nn.Module, torch.optim.Optimizer, torch.optim.Optimizer,
                         torch.Tensor, torch.Tensor], torch.Tensor]
WARM_UP_STEPS = 3


def use_cuda_graph(device: torch.device) -> bool:
    """Graph capture pays off on CUDA when bfloat16 autocast makes the gradient scaler unnecessary."""
    return device.type == "cuda" and settings.amp_dtype() == torch.bfloat16


def optimizer_snapshot(optimizer: torch.optim.Optimizer) -> dict[torch.Tensor, dict[str, torch.Tensor]]:
    """Copies of the optimiser's per-parameter state tensors (empty for a fresh optimiser)."""
    return {param: {key: value.clone() for key, value in state.items() if torch.is_tensor(value)}
            for param, state in optimizer.state.items()}


def restore_optimizer_in_place(optimizer: torch.optim.Optimizer, snapshot: dict) -> None:
    """Put back a snapshot without replacing tensors (a captured graph keeps their addresses).

    State created after the snapshot (a fresh Adam's moments and step count) goes back to zero.
    """
    for param, state in optimizer.state.items():
        before = snapshot.get(param, {})
        for key, value in state.items():
            if torch.is_tensor(value) and key in before:
                value.copy_(before[key])
            elif torch.is_tensor(value):
                value.zero_()


class CUDAGraphStep:
    """``step`` (one D and one G update) captured once as a CUDA graph and replayed per batch.

    The warm-up steps that capture needs are undone in place, so the run is the same run.
    """

    def __init__(self, step: StepFunction, generator: nn.Module, discriminator: nn.Module,
                 opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, real_images: torch.Tensor,
                 noise: torch.Tensor) -> None:
        self.real_images, self.noise = real_images.clone(), noise.clone()
        models = (generator, discriminator)
        model_states = [copy.deepcopy(model.state_dict()) for model in models]
        optimizer_states = [optimizer_snapshot(optimizer) for optimizer in (opt_g, opt_d)]
        side_stream = torch.cuda.Stream()
        side_stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side_stream):  # warm-up steps allocate gradients and optimiser state
            for _ in range(WARM_UP_STEPS):
                step(generator, discriminator, opt_g, opt_d, self.real_images, self.noise)
        torch.cuda.current_stream().wait_stream(side_stream)
        for model, state in zip(models, model_states, strict=True):  # undo the warm-up, in place
            model.load_state_dict(state)
        for optimizer, state in zip((opt_g, opt_d), optimizer_states, strict=True):
            restore_optimizer_in_place(optimizer, state)
        opt_g.zero_grad(set_to_none=True)
        opt_d.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.output = step(generator, discriminator, opt_g, opt_d, self.real_images, self.noise)

    def __call__(self, real_images: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Run the recorded step on a new batch."""
        self.real_images.copy_(real_images)
        self.noise.copy_(noise)
        self.graph.replay()
        return self.output.clone()
