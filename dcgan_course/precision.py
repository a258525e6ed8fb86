"""Mixed precision in one place: autocast, the gradient scaler, and an update through it.

On CUDA the networks run under autocast in bfloat16 where the GPU supports it, else float16.
float16 gradients can underflow, so a float16 run scales the loss up before backward (a
``GradScaler``); bfloat16 has float32's range and needs no scaler. Elsewhere all three are no-ops.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from . import settings


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed-precision autocast on CUDA (bfloat16 where supported, else float16), a no-op elsewhere."""
    if settings.use_amp(device):  # no weight-cast cache, so the step can be captured as a CUDA graph
        return torch.autocast(device_type="cuda", dtype=settings.amp_dtype(), cache_enabled=False)
    return contextlib.nullcontext()


def grad_scaler(device: torch.device) -> torch.amp.GradScaler | None:
    """A gradient scaler for float16 autocast; None where it is not needed (bfloat16, CPU, MPS)."""
    if settings.use_amp(device) and settings.amp_dtype() == torch.float16:
        return torch.amp.GradScaler("cuda")
    return None


def apply_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: Any | None) -> None:
    """Backpropagate ``loss`` and update, through the AMP gradient scaler when there is one."""
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
