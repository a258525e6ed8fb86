"""Walking the latent space: interpolation, vector arithmetic and the nearest real neighbour.

Latent codes are drawn from N(0, I). In 100 dimensions such a vector almost surely has a norm near
sqrt(100) = 10, so codes live on a thin shell; a straight line between two codes cuts through the
low-norm interior the generator never saw, while spherical interpolation stays on the shell.
"""

from __future__ import annotations

import torch

from .data import ImageData

DOT_EPSILON = 1e-7


def sample_latents(
    count: int, latent_dim: int = 100, seed: int = 0, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """``count`` latent codes z ~ N(0, I), reproducible from ``seed``."""
    rng = torch.Generator().manual_seed(seed)
    return torch.randn(count, latent_dim, generator=rng).to(device)


def as_fractions(t: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """Interpolation fractions as a column (T, 1) on ``like``'s device and dtype."""
    return torch.as_tensor(t, dtype=like.dtype, device=like.device).reshape(-1, 1)


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Linear interpolation (1 - t) z0 + t z1 between two codes (D,), for every fraction in ``t``: (T, D)."""
    t = as_fractions(t, z0)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical interpolation along the great circle from z0 to z1 (D,), one row per ``t``: (T, D)."""
    t = as_fractions(t, z0)
    cosine = torch.dot(z0, z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cosine.clamp(-1 + DOT_EPSILON, 1 - DOT_EPSILON))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """``steps`` evenly spaced codes from z0 to z1, both ends included, by ``slerp`` or ``lerp``."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (the two end points), got {steps}.")
    methods = {"slerp": slerp, "lerp": lerp}
    if method not in methods:
        raise ValueError(f"method must be 'slerp' or 'lerp', got '{method}'.")
    return methods[method](z0, z1, torch.linspace(0, 1, steps))


def interpolation_grid(
    starts: torch.Tensor, ends: torch.Tensor, steps: int, method: str = "slerp"
) -> torch.Tensor:
    """One interpolation per row, starts (R, D) to ends (R, D), flattened row by row: (R * steps, D)."""
    if starts.shape != ends.shape or starts.dim() != 2:
        raise ValueError(f"starts and ends must both be (rows, latent_dim), got {tuple(starts.shape)} "
                         f"and {tuple(ends.shape)}.")
    return torch.cat([interpolate(z0, z1, steps, method) for z0, z1 in zip(starts, ends, strict=True)])


def arithmetic(plus_a: torch.Tensor, minus_b: torch.Tensor, plus_c: torch.Tensor) -> torch.Tensor:
    """The paper's vector arithmetic on averaged codes: mean(A) - mean(B) + mean(C)."""
    return plus_a.mean(dim=0) - minus_b.mean(dim=0) + plus_c.mean(dim=0)


def walk(z: torch.Tensor, direction: torch.Tensor, amounts: torch.Tensor) -> torch.Tensor:
    """Codes z + a * direction / |direction| for every amount ``a``: a straight walk, (A, D)."""
    unit = direction / direction.norm()
    return z + as_fractions(amounts, z) * unit


def nearest_neighbours(
    queries: torch.Tensor, references: ImageData | torch.Tensor, chunk: int = 512
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query image, the index of and pixel distance to its closest reference image.

    A generator that memorises reproduces training images: its samples sit at distance ~0.
    """
    references = references.images if isinstance(references, ImageData) else references
    flat_queries = queries.detach().float().cpu().flatten(1)
    best_distance, best_index = [], []
    for block in flat_queries.split(chunk):
        distances = torch.cdist(block, references.detach().float().cpu().flatten(1))
        distance, index = distances.min(dim=1)
        best_distance.append(distance)
        best_index.append(index)
    return torch.cat(best_index), torch.cat(best_distance)
