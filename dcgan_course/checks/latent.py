"""Checks for the latent-space exercises (notebook 04): where uniform codes live, whether slerp
keeps them in their cube, and the norm-preserving interpolation ``nlerp``.

Each check compares the learner's function with the analysis (and with Monte Carlo where that
is the evidence), and names the mistake a wrong answer matches.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import latent
from . import call_learner, check_prediction, expect, expect_shape, expect_tensor, passed

FRACTIONS = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
DISTRIBUTIONS = ("normal", "uniform")
NORM_MISTAKES = {
    "uniform": {
        math.sqrt: "that is the radius for N(0, I): each coordinate of U(-1, 1) has variance 1/3, not 1",
        lambda d: math.sqrt(d / 12): "1/12 is the variance of U(0, 1); U(-1, 1) is twice as wide",
        lambda d: d / 3: "that is the squared norm: take its square root",
    },
    "normal": {
        lambda d: float(d): "that is the squared norm: take its square root",
        lambda d: math.sqrt(d / 3): "1/3 is the variance of U(-1, 1); N(0, 1) has variance 1",
    },
}


def uniform_codes(count: int, latent_dim: int, seed: int) -> torch.Tensor:
    """Reproducible codes z ~ U(-1, 1)^d, the paper's prior."""
    return torch.rand(count, latent_dim, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def check_shell_radius(shell_radius: Callable[[int, str], float]) -> None:
    """``shell_radius(latent_dim, distribution)`` = sqrt(E|z|²) for z ~ N(0, I) or U(-1, 1)^d."""
    name = "shell_radius"
    for distribution in DISTRIBUTIONS:
        for latent_dim in (2, 100, 512):
            value = call_learner(name, f"{name}({latent_dim}, {distribution!r})", shell_radius, latent_dim,
                                 distribution)
            one_number = isinstance(value, torch.Tensor) and value.numel() == 1
            expect(isinstance(value, (int, float)) or one_number,
                   f"{name} should return one number, got {type(value).__name__}.")
            value = float(value)
            variance = 1.0 if distribution == "normal" else 1 / 3
            expected = math.sqrt(latent_dim * variance)
            if abs(value - expected) <= 1e-3 * expected:
                continue
            for mistake, explanation in NORM_MISTAKES[distribution].items():
                expect(abs(value - mistake(latent_dim)) > 1e-6,
                       f"{name}({latent_dim}, {distribution!r}) = {value:.3f}: {explanation} (lecture 04, "
                       "'Where the codes live').")
            raise AssertionError(f"{name}({latent_dim}, {distribution!r}) = {value:.3f}, but the root mean "
                                 f"square norm is {expected:.3f}: E|z|² is the sum of the coordinates' "
                                 "variances (lecture 04, 'Where the codes live').")
    sampled = uniform_codes(20_000, 100, seed=0).pow(2).sum(1).mean().sqrt().item()
    passed(f"{name}: sqrt(d · Var) for both priors (d = 2, 100, 512); for U(-1, 1)^100 that is "
           f"{math.sqrt(100 / 3):.3f}, and 20,000 sampled codes give {sampled:.3f}.")


def check_cube_prediction(prediction: object, reason: object = "") -> None:
    """Does slerp between two uniform codes stay inside [-1, 1]^d? Measured on 200 seeded pairs, d = 100."""
    starts, ends = uniform_codes(200, 100, seed=1), uniform_codes(200, 100, seed=2)
    midpoints = torch.stack([latent.slerp(z0, z1, 0.5)[0] for z0, z1 in zip(starts, ends, strict=True)])
    outside = (midpoints.abs().amax(dim=1) > 1).float().mean().item()
    largest = midpoints.abs().max().item()
    outcome = "leaves the cube" if outside > 0.5 else "stays inside"
    check_prediction("prediction_cube", prediction, ("stays inside", "leaves the cube"), outcome,
                     f"{outside:.0%} of 200 slerp midpoints have a coordinate outside [-1, 1] (up to "
                     f"{largest:.2f}): two nearly orthogonal codes are mixed with weights "
                     "sin(45°)/sin(90°) ≈ 0.71 each, so coordinates near ±1 in both ends add up to about "
                     "±1.4. Slerp keeps the norm, but uniform codes live in a cube, and G never saw "
                     "coordinates beyond 1.", reason)


def check_nlerp(nlerp: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``nlerp(z0, z1, t)``: the straight line's directions, with norms going linearly from |z0| to |z1|."""
    name = "nlerp"
    z0, z1 = latent.sample_latents(2, 100, seed=4)
    z1 = z1 * 1.5  # different norms, so "keeps |z0|" and "interpolates the norms" disagree
    path = expect_tensor(call_learner(name, f"{name}(z0, z1, t) with 5 fractions", nlerp, z0, z1, FRACTIONS),
                         f"The result of {name}")
    expect_shape(path, (len(FRACTIONS), len(z0)), f"{name}(z0, z1, t) with t of length 5 and codes of length "
                                                  "100 (one row per fraction)")
    expect(bool(torch.isfinite(path).all()), f"{name} returned NaN or inf values.")
    norms = path.norm(dim=1)
    wanted = (1 - FRACTIONS) * z0.norm() + FRACTIONS * z1.norm()
    straight = latent.lerp(z0, z1, FRACTIONS)
    mistakes = {
        "the norms dip mid-way: this is plain lerp; rescale each point": straight.norm(dim=1),
        "every point has norm 1: after normalising, scale to the interpolated norm": torch.ones(5),
        "every point has |z0|'s norm: interpolate the norms of both ends": z0.norm().expand(5),
    }
    if not torch.allclose(norms, wanted, rtol=1e-4):
        for mistake, mistaken_norms in mistakes.items():
            expect(not torch.allclose(norms, mistaken_norms, rtol=1e-4), f"{name}: {mistake} (lecture 04).")
        raise AssertionError(f"{name}: the norms along the path are {[round(n, 2) for n in norms.tolist()]}; "
                             f"expected {[round(n, 2) for n in wanted.tolist()]}, linear from |z0| to |z1|.")
    cosines = torch.nn.functional.cosine_similarity(path, straight, dim=1)
    expect(bool((cosines > 1 - 1e-5).all()), f"{name}'s points do not point where the straight line's do "
                                            f"(cosine down to {cosines.min():.3f}): rescale lerp's points, "
                                            "do not change their direction.")
    passed(f"{name}: ends exact, one row per fraction, the straight line's directions with norms going "
           "linearly from |z0| to |z1|.")
