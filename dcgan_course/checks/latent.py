"""Checks for the latent-space exercises (notebook 04): where uniform codes live, whether slerp
keeps them in their cube, and the norm-preserving interpolation ``nlerp``.

Each check compares the learner's function with the analysis (and with Monte Carlo where that
is the evidence) on inputs drawn from the grader's seed, names the mistake a wrong answer
matches, and passes with the list of what it verified.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import latent
from . import (
    Verification,
    call_learner,
    check_prediction,
    check_rng,
    expect,
    expect_shape,
    expect_tensor,
    reproducing,
)

DISTRIBUTIONS = ("normal", "uniform")
RADIUS_LECTURE = "lecture 04, 'Where the codes live'"
NORM_MISTAKES = {
    "uniform": {
        math.sqrt: "that is the radius for N(0, I): each coordinate of U(-1, 1) has variance 1/3, not 1",
        lambda d: math.sqrt(d / 12): "1/12 is the variance of U(0, 1); U(-1, 1) is twice as wide",
        lambda d: d / 3: "that is the squared norm: take its square root",
        lambda d: math.sqrt(2 * d / 3): "2/3 is the integral of x² over [-1, 1] without the density ½: the "
                                        "variance weighs x² by the density",
        lambda d: math.sqrt(d) / 3: "1/3 is the variance, not the standard deviation: the radius is "
                                    "sqrt(d · variance)",
    },
    "normal": {
        lambda d: float(d): "that is the squared norm: take its square root",
        lambda d: math.sqrt(d / 3): "1/3 is the variance of U(-1, 1); N(0, 1) has variance 1",
    },
}
SAMPLED_CODES = 20_000


def uniform_codes(count: int, latent_dim: int, seed: int) -> torch.Tensor:
    """Reproducible codes z ~ U(-1, 1)^d, the paper's prior."""
    return torch.rand(count, latent_dim, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def shell_dimensions() -> tuple[int, int, int]:
    """A small and a large d drawn from the check seed, then d = 1 (a single coordinate, where several
    mistakes coincide with each other, so it comes last)."""
    rng = check_rng(0)
    return int(torch.randint(2, 64, (), generator=rng)), int(torch.randint(64, 1025, (), generator=rng)), 1


def sampled_radius(distribution: str, latent_dim: int, rng: torch.Generator) -> float:
    """sqrt of the mean squared norm of ``SAMPLED_CODES`` codes drawn from the prior."""
    if distribution == "normal":
        codes = torch.randn(SAMPLED_CODES, latent_dim, generator=rng, dtype=torch.float64)
    else:
        codes = torch.rand(SAMPLED_CODES, latent_dim, generator=rng, dtype=torch.float64) * 2 - 1
    return codes.pow(2).sum(1).mean().sqrt().item()


@reproducing
def check_shell_radius(shell_radius: Callable[[int, str], float]) -> None:
    """``shell_radius(latent_dim, distribution)`` = sqrt(E|z|²) for z ~ N(0, I) or U(-1, 1)^d."""
    name = "shell_radius"
    verified = Verification(name)
    dims = shell_dimensions()
    values: dict[tuple[str, int], float] = {}
    with verified("one number, sqrt(d · Var(z_i)), for N(0, I) and U(-1, 1)^d at d = 1 and two drawn "
                  "sizes up to 1024"):
        for distribution in DISTRIBUTIONS:
            for latent_dim in dims:
                value = call_learner(name, f"{name}({latent_dim}, {distribution!r})", shell_radius,
                                     latent_dim, distribution)
                one_number = isinstance(value, torch.Tensor) and value.numel() == 1
                expect(not isinstance(value, bool) and isinstance(value, (int, float)) or one_number,
                       f"{name} should return one number, got {type(value).__name__}.")
                value = float(value)
                variance = 1.0 if distribution == "normal" else 1 / 3
                expected = math.sqrt(latent_dim * variance)
                values[distribution, latent_dim] = value
                if abs(value - expected) <= 1e-3 * expected:
                    continue
                for mistake, explanation in NORM_MISTAKES[distribution].items():
                    expect(abs(value - mistake(latent_dim)) > 1e-6 * max(1.0, abs(value)),
                           f"{name}({latent_dim}, {distribution!r}) = {value:.3f}: {explanation} "
                           f"({RADIUS_LECTURE}).")
                raise AssertionError(f"{name}({latent_dim}, {distribution!r}) = {value:.3f}, but the root "
                                     "mean square norm is different: E|z|² is the sum of the coordinates' "
                                     f"variances ({RADIUS_LECTURE}).")
    with verified(f"within 1 % of the root mean square norm of {SAMPLED_CODES:,} codes sampled from each "
                  "prior"):
        rng = check_rng(1)
        for distribution in DISTRIBUTIONS:
            sampled = sampled_radius(distribution, dims[0], rng)
            value = values[distribution, dims[0]]
            expect(abs(value - sampled) <= 0.01 * sampled,
                   f"{name}({dims[0]}, {distribution!r}) = {value:.3f}, but {SAMPLED_CODES:,} sampled codes "
                   f"have a root mean square norm of {sampled:.3f} ({RADIUS_LECTURE}).")
    verified.passed()


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


# ---------------------------------------------------------------- nlerp

def nlerp_reference(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Lerp's points rescaled to norms interpolated linearly from |z0| to |z1|, in float64: (T, D)."""
    z0, z1, weights = z0.double(), z1.double(), t.double().reshape(-1, 1)
    straight = (1 - weights) * z0 + weights * z1
    return straight / straight.norm(dim=1, keepdim=True) * ((1 - weights) * z0.norm() + weights * z1.norm())


def nlerp_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two codes of different norms and drawn dimension, and fractions 0, a few drawn ones, and 1."""
    rng = check_rng(10)
    dim = int(torch.randint(16, 129, (), generator=rng))
    z0 = torch.randn(dim, generator=rng)
    z1 = torch.randn(dim, generator=rng) * (1.3 + 0.7 * torch.rand((), generator=rng))  # different norms
    inner = torch.rand(int(torch.randint(3, 7, (), generator=rng)), generator=rng).sort().values
    return z0, z1, torch.cat([torch.zeros(1), 0.05 + 0.9 * inner, torch.ones(1)])


def call_nlerp(nlerp: Callable[..., torch.Tensor], z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor,
               what: str) -> torch.Tensor:
    """The learner's path for copies of the inputs, insisting that those copies come back unchanged."""
    copies = z0.clone(), z1.clone(), t.clone()
    try:
        path = call_learner("nlerp", f"nlerp(z0, z1, t) {what}", nlerp, *copies)
    except AssertionError as error:
        if "must match the size" in str(error):
            raise AssertionError(f"{error}\nt has shape (T,) and each code (D,): make the fractions a "
                                 "column (T, 1) so that every fraction scales a whole code (broadcasting)."
                                 ) from None
        raise
    for copy, original, label in zip(copies, (z0, z1, t), ("z0", "z1", "t"), strict=True):
        expect(torch.equal(copy, original), f"nlerp changed its argument {label} in place: compute new "
                                            "tensors (an in-place op such as /= or mul_ on the inputs "
                                            "corrupts the caller's codes).")
    path = expect_tensor(path, "The result of nlerp")
    expect_shape(path, (len(t), len(z0)), f"nlerp(z0, z1, t) {what}, with T = {len(t)} fractions and codes "
                                          f"of length D = {len(z0)} (one row per fraction)")
    expect(bool(torch.isfinite(path).all()), f"nlerp(z0, z1, t) {what} returned NaN or inf values.")
    return path


def nlerp_mistakes(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor]:
    """The norms along the path that likely mistakes give, keyed by the mistake."""
    straight, count = latent.lerp(z0, z1, t), len(t)
    wanted = (1 - t) * z0.norm() + t * z1.norm()
    return {
        "the norms dip mid-way: this is plain lerp; rescale each point": straight.norm(dim=1),
        "every point has norm 1: after normalising, scale to the interpolated norm": torch.ones(count),
        "every point has |z0|'s norm: interpolate the norms of both ends": z0.norm().expand(count),
        "each point was divided by the norm of the whole path (all rows together), not by its own: take "
        "the norm along each row (dim=1, keepdim=True)": straight.norm(dim=1) / straight.norm() * wanted,
    }


@reproducing
def check_nlerp(nlerp: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``nlerp(z0, z1, t)``: the straight line's directions, with norms going linearly from |z0| to |z1|."""
    name = "nlerp"
    verified = Verification(name)
    z0, z1, fractions = nlerp_inputs()
    with verified("one row per fraction, inputs left unchanged"):
        path = call_nlerp(nlerp, z0, z1, fractions, "with drawn codes and fractions")
    with verified("norms linear from |z0| to |z1|"):
        norms = path.double().norm(dim=1)
        wanted = (1 - fractions.double()) * z0.double().norm() + fractions.double() * z1.double().norm()
        if not torch.allclose(norms, wanted, rtol=1e-4):
            for mistake, mistaken in nlerp_mistakes(z0, z1, fractions).items():
                expect(not torch.allclose(norms, mistaken.double(), rtol=1e-4),
                       f"{name}: {mistake} (lecture 04).")
            raise AssertionError(f"{name}: the norms along the path are "
                                 f"{[round(n, 2) for n in norms.tolist()]}; expected "
                                 f"{[round(n, 2) for n in wanted.tolist()]}, linear from |z0| to |z1|.")
    with verified("the straight line's directions"):
        straight = latent.lerp(z0, z1, fractions).double()
        cosines = torch.nn.functional.cosine_similarity(path.double(), straight, dim=1)
        if not bool((cosines > 1 - 1e-5).all()):
            units = latent.lerp(z0 / z0.norm(), z1 / z1.norm(), fractions).double()
            along_units = torch.nn.functional.cosine_similarity(path.double(), units, dim=1)
            expect(not bool((along_units > 1 - 1e-5).all()),
                   f"{name}: your points follow the line between the unit vectors z0/|z0| and z1/|z1|, a "
                   "different path when the norms differ: take the directions of lerp's points between z0 "
                   "and z1 themselves (lecture 04).")
            raise AssertionError(f"{name}'s points do not point where the straight line's do (cosine down "
                                 f"to {cosines.min():.3f}): rescale lerp's points, do not change their "
                                 "direction.")
    with verified("z0 at t = 0 and z1 at t = 1"):
        for row, end, label in ((0, z0, "t = 0 should give z0"), (-1, z1, "t = 1 should give z1")):
            expect(torch.allclose(path[row].double(), end.double(), rtol=1e-4, atol=1e-4 * float(end.norm())),
                   f"{name}: {label} exactly; your path's row {row % len(fractions)} is off by up to "
                   f"{(path[row].double() - end.double()).abs().max():.3g}.")
    with verified("a single fraction gives one row"):
        single = torch.rand(1, generator=check_rng(11)) * 0.9 + 0.05
        point = call_nlerp(nlerp, z0, z1, single, "with one fraction")
        expect(torch.allclose(point.double(), nlerp_reference(z0, z1, single), rtol=1e-4, atol=1e-5),
               f"{name}(z0, z1, t) with a single fraction t = {single.item():.2f} gives a point off the "
               "path: one fraction is a batch of one, (1, D), lerp's point rescaled like any other.")
    with verified("finite and right for parallel and for opposite ends"):
        rng = check_rng(12)
        scale = 1.5 + torch.rand((), generator=rng).item()
        for sign, label in ((1, "parallel ends (z1 = k · z0)"), (-1, "opposite ends (z1 = -k · z0)")):
            end = sign * scale * z0
            crossing = 1 / (1 + scale)  # where opposite ends' straight line passes through 0
            t = torch.tensor([0.0, crossing - 0.15, crossing + 0.15, 0.9, 1.0])
            try:
                path = call_nlerp(nlerp, z0, end, t, f"for {label}")
            except AssertionError as error:
                if "NaN or inf" in str(error):
                    raise AssertionError(f"{error} An angle between the ends (arccos of their cosine, as "
                                         "slerp uses) is 0 or π there, and dividing by its sine divides by "
                                         "0; nlerp needs no angle: rescale lerp's points.") from None
                raise
            expect(torch.allclose(path.double(), nlerp_reference(z0, end, t), rtol=1e-4, atol=1e-5),
                   f"{name} is wrong for {label}: lerp's points still have a direction there (z0's or "
                   "-z0's), rescale them to the interpolated norm.")
    verified.passed()
