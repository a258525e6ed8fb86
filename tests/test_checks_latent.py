"""The latent-space checks (notebook 04) pass the analysis and name each planted mistake."""

from __future__ import annotations

import math

import pytest
import torch

from dcgan_course import latent
from dcgan_course.checks import latent as checks


def radius(latent_dim: int, distribution: str) -> float:
    """The reference: sqrt(d · Var(z_i))."""
    return math.sqrt(latent_dim * {"normal": 1.0, "uniform": 1 / 3}[distribution])


def nlerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The reference: lerp's points rescaled to norms interpolated between |z0| and |z1|."""
    straight, weights = latent.lerp(z0, z1, t), t.reshape(-1, 1)
    return straight / straight.norm(dim=1, keepdim=True) * ((1 - weights) * z0.norm() + weights * z1.norm())


def test_references_pass_with_one_tick_line(capsys):
    checks.check_shell_radius(radius)
    checks.check_nlerp(nlerp)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("✅") for line in lines)
    assert "20,000 sampled codes give 5.77" in lines[0]  # the pass line's figure is measured


def test_stubs_get_the_not_implemented_message():
    def stub(*args: object) -> None:
        raise NotImplementedError

    for check in (checks.check_shell_radius, checks.check_nlerp):
        with pytest.raises(AssertionError, match="not implemented yet"):
            check(stub)


@pytest.mark.parametrize(("mistake", "phrase"), [
    (lambda d, dist: math.sqrt(d), "variance 1/3, not 1"),
    (lambda d, dist: math.sqrt(d / (1 if dist == "normal" else 12)), "variance of U(0, 1)"),
    (lambda d, dist: d * (1 if dist == "normal" else 1 / 3), "squared norm"),
    (lambda d, dist: math.sqrt(d / 3), "1/3 is the variance of U(-1, 1)"),
    (lambda d, dist: math.sqrt(d) - 0.5, "sum of the coordinates' variances"),
    (lambda d, dist: "ten", "one number"),
])
def test_shell_radius_check_names_the_mistake(mistake, phrase):
    with pytest.raises(AssertionError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        checks.check_shell_radius(mistake)


@pytest.mark.parametrize(("mistake", "phrase"), [
    (latent.lerp, "plain lerp"),
    (lambda z0, z1, t: latent.lerp(z0, z1, t) / latent.lerp(z0, z1, t).norm(dim=1, keepdim=True), "norm 1"),
    (lambda z0, z1, t: latent.lerp(z0, z1, t) / latent.lerp(z0, z1, t).norm(dim=1, keepdim=True) * z0.norm(),
     "|z0|'s norm"),
    (lambda z0, z1, t: nlerp(z0, z1, t)[:, :50], "one row per fraction"),
    (lambda z0, z1, t: latent.slerp(z0, z1, t) / latent.slerp(z0, z1, t).norm(dim=1, keepdim=True)
     * nlerp(z0, z1, t).norm(dim=1, keepdim=True), "do not point where the straight line's do"),
])
def test_nlerp_check_names_the_mistake(mistake, phrase):
    with pytest.raises(AssertionError, match=phrase.replace("(", r"\(").replace("|", r"\|")):
        checks.check_nlerp(mistake)


def test_cube_prediction_is_measured_on_seeded_uniform_codes(capsys):
    checks.check_cube_prediction("stays inside", "slerp keeps the norm")
    out = capsys.readouterr().out
    assert 'it shows "leaves the cube"' in out and "100% of 200 slerp midpoints" in out
    with pytest.raises(AssertionError, match="still None"):
        checks.check_cube_prediction(None)
