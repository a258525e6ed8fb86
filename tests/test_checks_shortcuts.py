"""Off-limits shortcuts: the package's own answer (or a library doing the exercise) fails its check.

Each row plants one way of reaching an off-limits function (direct, an alias, the ``LOSSES`` table,
``functools.partial``, a lambda, a caught exception, a switched-off hook) and asserts the message
that says to write it yourself. The checks' own references, computed outside the guarded call,
still work, and a call to an allowed package function inside the learner's code is fine.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestCentroid
from sklearn.preprocessing import StandardScaler

from dcgan_course import improve, losses, style, train
from dcgan_course.checks import gan_losses, k_plus_one, probing, shortcuts, training
from dcgan_course.checks import style as style_checks
from dcgan_course.losses import lsgan as renamed_lsgan

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"


def fails_as_shortcut(check: Callable[[object], None], candidate: object, name: str) -> None:
    """The check must fail naming ``name`` and telling the learner to write it themselves."""
    with pytest.raises(AssertionError) as failure:
        check(candidate)
    message = str(failure.value)
    assert f"`{name}`" in message and "off-limits" in message and "Write it yourself" in message, message


def swallowing_lsgan(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Peeks at the package's answer, hides the error, then returns its own (correct) formula."""
    try:
        losses.lsgan(real, fake)
    except Exception:  # noqa: BLE001 - the point of the plant
        pass
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(), 0.5 * ((fake - 1) ** 2).mean()


def hook_switched_off(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Turns the guard off before calling the package's answer."""
    sys.setprofile(None)
    return losses.lsgan(real, fake)


LSGAN = functools.partial(gan_losses.check_gan_losses, kind="lsgan")
HINGE = functools.partial(gan_losses.check_gan_losses, kind="hinge")


@pytest.mark.parametrize(("check", "candidate", "name"), [
    (LSGAN, lambda r, f: losses.lsgan(r, f), "dcgan_course.losses.lsgan"),
    (LSGAN, losses.lsgan, "dcgan_course.losses.lsgan"),
    (LSGAN, renamed_lsgan, "dcgan_course.losses.lsgan"),
    (LSGAN, lambda r, f: losses.LOSSES["lsgan"](r, f), "dcgan_course.losses.lsgan"),
    (LSGAN, functools.partial(losses.lsgan), "dcgan_course.losses.lsgan"),
    (LSGAN, swallowing_lsgan, "dcgan_course.losses.lsgan"),
    (HINGE, losses.hinge, "dcgan_course.losses.hinge"),
    (HINGE, lambda r, f: functools.partial(losses.LOSSES["hinge"], r)(f), "dcgan_course.losses.hinge"),
    (training.check_discriminator_step, train.discriminator_step, "dcgan_course.train.discriminator_step"),
    (training.check_discriminator_step, lambda g, d, opt, x, z: train.discriminator_update(d, opt, x, g(z)),
     "dcgan_course.train.discriminator_update"),
    (style_checks.check_style_loss, style.style_loss, "dcgan_course.style.style_loss"),
    (style_checks.check_style_loss, lambda f, g: style.style_loss(f, g), "dcgan_course.style.style_loss"),
    (k_plus_one.check_k_plus_one_loss, improve.k_plus_one_loss, "dcgan_course.improve.k_plus_one_loss"),
], ids=["lambda", "direct", "renamed-import", "LOSSES-table", "partial", "caught", "hinge", "hinge-partial",
        "d-step", "d-update", "style-loss", "style-lambda", "k-plus-one"])
def test_the_packages_answer_fails_its_check(check, candidate, name):
    fails_as_shortcut(check, candidate, name)


def scaled_nearest_centroid(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                            test_y: np.ndarray) -> float:
    """The lecture's StandardScaler, then scikit-learn's NearestCentroid: the exercise done by a library."""
    scaler = StandardScaler().fit(train_x)
    model = NearestCentroid().fit(scaler.transform(train_x), train_y)
    return float(model.score(scaler.transform(test_x), test_y))


def test_nearest_centroid_from_scikit_learn_fails_the_by_hand_probe():
    fails_as_shortcut(probing.check_probe, scaled_nearest_centroid,
                      "sklearn.neighbors.NearestCentroid")


def test_switching_the_guard_off_fails_the_check():
    with pytest.raises(AssertionError, match="switched off the check's profile hook"):
        LSGAN(hook_switched_off)


def test_the_guard_is_off_outside_the_learners_call_and_restores_a_previous_profile(capsys):
    def lsgan_losses(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert sys.getprofile() is not None  # the guard watches the learner's call ...
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(), 0.5 * ((fake - 1) ** 2).mean()

    def outer_profile(frame, event, arg):  # a profiler someone runs around the check
        return None

    sys.setprofile(outer_profile)
    try:
        LSGAN(lsgan_losses)  # ... while the check's reference, losses.LOSSES["lsgan"], runs unguarded
        assert sys.getprofile() is outer_profile
    finally:
        sys.setprofile(None)
    assert capsys.readouterr().out.startswith("✅")
    losses.lsgan(torch.zeros(2), torch.zeros(2))  # and outside a check the package's loss is free to use


def test_an_unguarded_check_and_allowed_package_functions_are_not_refused():
    assert shortcuts.forbidden_code(()) == {}
    with shortcuts.refusing_shortcuts("anything"):
        losses.lsgan(torch.zeros(2), torch.zeros(2))


def test_a_class_counts_through_its_own_methods_only():
    codes = shortcuts.forbidden_code(("sklearn.neighbors.NearestCentroid",))
    assert {name for name in codes.values()} == {"sklearn.neighbors.NearestCentroid"}
    assert id(NearestCentroid.__init__.__code__) in codes
    assert id(StandardScaler.__init__.__code__) not in codes  # shared mix-ins and other estimators stay free


def test_every_off_limits_entry_names_a_check_and_resolves():
    for key, names in shortcuts.OFF_LIMITS.items():
        topic, check = key.split(".")
        module = sys.modules.get(f"dcgan_course.checks.{topic}") or __import__(
            f"dcgan_course.checks.{topic}", fromlist=[check])
        assert hasattr(module, check), key
        for name in names:
            assert shortcuts.own_code(shortcuts.resolve(name)), name
    with pytest.raises(KeyError, match="no entry in checks.shortcuts.OFF_LIMITS"):
        shortcuts.off_limits(lambda: None)


def exercise_text(check_call: str) -> tuple[str, str]:
    """The notebook and the ``## Exercise`` markdown above the check cell that makes ``check_call``."""
    for path in sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for index, cell in enumerate(cells):
            if cell.cell_type == "code" and check_call in cell.source:
                heading = next(c for c in reversed(cells[:index])
                               if c.cell_type == "markdown" and c.source.startswith("## Exercise"))
                return path.name, heading.source
    raise AssertionError(f"no solution notebook calls {check_call}")


@pytest.mark.parametrize("key", sorted(shortcuts.OFF_LIMITS))
def test_each_exercise_text_says_what_is_off_limits(key):
    notebook, text = exercise_text(f"checks.{key}(")
    assert "Off-limits here" in text, f"{notebook}: say what {key} refuses in the exercise's text"
    for name in shortcuts.OFF_LIMITS[key]:
        short = name.split(".")[-1] if name.startswith("sklearn.") else ".".join(name.split(".")[-2:])
        assert f"`{short}`" in text, f"{notebook}: the exercise's text does not name `{short}`"
