"""The latent-space checks (notebook 04) pass correct answers written several ways, with the line of what
they verified, and name each planted mistake."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from check_helpers import fails_naming, passes_with_verified_line

from dcgan_course import latent
from dcgan_course.checks import latent as checks


def radius(latent_dim: int, distribution: str) -> float:
    """The reference: sqrt(d · Var(z_i))."""
    return math.sqrt(latent_dim * {"normal": 1.0, "uniform": 1 / 3}[distribution])


def radius_summed(latent_dim: int, distribution: str) -> float:
    """Coordinate by coordinate: the variance of U(a, b) is (b - a)² / 12."""
    variance = 1.0 if distribution == "normal" else (1 - (-1)) ** 2 / 12
    return sum(variance for _ in range(latent_dim)) ** 0.5


def radius_tensor(latent_dim: int, distribution: str) -> torch.Tensor:
    """A one-element tensor in float64, the variance of U(-1, 1) from its integral ∫ x² · ½ dx."""
    variance = 1.0 if distribution == "normal" else (1 ** 3 - (-1) ** 3) / 3 * 0.5
    return torch.tensor(latent_dim * variance, dtype=torch.float64).sqrt()


def nlerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The reference: lerp's points rescaled to norms interpolated between |z0| and |z1|."""
    straight, weights = latent.lerp(z0, z1, t), t.reshape(-1, 1)
    return straight / straight.norm(dim=1, keepdim=True) * ((1 - weights) * z0.norm() + weights * z1.norm())


def nlerp_loop(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """One fraction at a time, in float64, with torch.lerp."""
    rows = []
    for fraction in t.double().tolist():
        point = torch.lerp(z0.double(), z1.double(), fraction)
        norm = (1 - fraction) * z0.double().norm() + fraction * z1.double().norm()
        rows.append(point / point.norm() * norm)
    return torch.stack(rows).to(z0.dtype)


def nlerp_normalize(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """F.normalize of the broadcast line, times the interpolated norms as a column."""
    t = t[:, None]
    norms = torch.stack([z0.norm(), z1.norm()])
    return F.normalize(z0 + t * (z1 - z0), dim=1) * (norms[0] + t * (norms[1] - norms[0]))


@pytest.mark.parametrize("candidate", [radius, radius_summed, radius_tensor])
def test_shell_radius_passes_correct_answers_with_the_verified_line(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(checks.check_shell_radius, candidate, capsys, monkeypatch)
    assert "N(0, I) and U(-1, 1)^d" in line and "20,000 codes sampled" in line


@pytest.mark.parametrize("candidate", [nlerp, nlerp_loop, nlerp_normalize])
def test_nlerp_passes_correct_answers_with_the_verified_line(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(checks.check_nlerp, candidate, capsys, monkeypatch)
    assert "parallel and for opposite ends" in line and "a single fraction" in line


def test_stubs_get_the_not_implemented_message():
    def stub(*args: object) -> None:
        raise NotImplementedError

    for check in (checks.check_shell_radius, checks.check_nlerp):
        fails_naming(check, stub, "not implemented yet")


@pytest.mark.parametrize(("mistake", "phrase"), [
    (lambda d, dist: math.sqrt(d), "variance 1/3, not 1"),
    (lambda d, dist: math.sqrt(d / (1 if dist == "normal" else 12)), "variance of U(0, 1)"),
    (lambda d, dist: d * (1 if dist == "normal" else 1 / 3), "squared norm"),
    (lambda d, dist: math.sqrt(d / 3), "1/3 is the variance of U(-1, 1)"),
    (lambda d, dist: math.sqrt(d * (1 if dist == "normal" else 2 / 3)), "without the density ½"),  # new
    (lambda d, dist: math.sqrt(d) / (1 if dist == "normal" else 3), "not the standard deviation"),  # new
    (lambda d, dist: math.sqrt(d) - 0.5, "sum of the coordinates' variances"),
    (lambda d, dist: "ten", "one number"),
    (lambda d, dist: True, "one number"),
    (lambda d, dist: math.sqrt(100 / 3) if d == 100 else radius(d, dist) + 1, "sum of the coordinates'"),
])
def test_shell_radius_check_names_the_mistake(mistake, phrase):
    fails_naming(checks.check_shell_radius, mistake, phrase)


def norms_column(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return (1 - t.reshape(-1, 1)) * z0.norm() + t.reshape(-1, 1) * z1.norm()


def in_place(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    path = nlerp(z0, z1, t)
    z0 /= z0.norm()  # "I only need the direction now"
    return path


def breaks_on_parallel_ends(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A stand-in for an angle-based formula: right in general, divides by sin 0 for (anti)parallel ends."""
    cosine = F.cosine_similarity(z0, z1, dim=0)
    return nlerp(z0, z1, t) / (1 - cosine.abs() > 1e-4).float()


@pytest.mark.parametrize(("mistake", "phrase"), [
    (latent.lerp, "plain lerp"),
    (lambda z0, z1, t: latent.lerp(z0, z1, t) / latent.lerp(z0, z1, t).norm(dim=1, keepdim=True), "norm 1"),
    (lambda z0, z1, t: latent.lerp(z0, z1, t) / latent.lerp(z0, z1, t).norm(dim=1, keepdim=True) * z0.norm(),
     "|z0|'s norm"),
    (lambda z0, z1, t: nlerp(z0, z1, t)[:, :-1], "one row per fraction"),
    (lambda z0, z1, t: latent.slerp(z0, z1, t) / latent.slerp(z0, z1, t).norm(dim=1, keepdim=True)
     * nlerp(z0, z1, t).norm(dim=1, keepdim=True), "do not point where the straight line's do"),
    # new: t used as (T,) against codes (D,); the whole path normalised at once; unit ends interpolated
    (lambda z0, z1, t: (1 - t) * z0 + t * z1, "make the fractions a column (T, 1)"),
    (lambda z0, z1, t: latent.lerp(z0, z1, t) / latent.lerp(z0, z1, t).norm() * norms_column(z0, z1, t),
     "norm of the whole path"),
    (lambda z0, z1, t: F.normalize(latent.lerp(z0 / z0.norm(), z1 / z1.norm(), t), dim=1)
     * norms_column(z0, z1, t), "unit vectors z0/|z0| and z1/|z1|"),
    (in_place, "changed its argument z0 in place"),
    (breaks_on_parallel_ends, "nlerp needs no angle"),
    (lambda z0, z1, t: nlerp(z0, z1, t) if len(t) > 1 else latent.lerp(z0, z1, t), "a single fraction"),
])
def test_nlerp_check_names_the_mistake(mistake, phrase):
    fails_naming(checks.check_nlerp, mistake, phrase)


def test_check_inputs_follow_the_grader_seed(monkeypatch):
    first = checks.nlerp_inputs()
    monkeypatch.setenv("DCGAN_COURSE_CHECK_SEED", "7")
    assert not torch.equal(checks.nlerp_inputs()[0][:5], first[0][:5])


def test_cube_prediction_is_measured_on_seeded_uniform_codes(capsys):
    checks.check_cube_prediction("stays inside", "slerp keeps the norm")
    out = capsys.readouterr().out
    assert 'it shows "leaves the cube"' in out and "100% of 200 slerp midpoints" in out
    with pytest.raises(AssertionError, match="still None"):
        checks.check_cube_prediction(None)
