"""Tampering: rebinding what the checks rely on is caught, in the kernel and through the grader.

The unit tests take a snapshot in this process, plant one rebinding and undo it; the grading test
runs a tiny course notebook whose earlier learner cell plants each rebinding the issue names
(``checks.passed``, ``checks.gan_losses.check_gan_losses``, ``torch.allclose``) and asserts that
the grade is ``tampered`` while the honest copy is graded.
"""

from __future__ import annotations

import csv
import importlib
import inspect
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from dcgan_course import checks, cli
from dcgan_course.checks import gan_losses, training
from dcgan_course.classroom import grading, integrity

CHECK_CALL = 'checks.gan_losses.check_gan_losses(lsgan_losses, "lsgan")'


@pytest.fixture
def snapshot() -> integrity.Snapshot:
    """A fingerprint of this process, taken before the test plants anything."""
    return integrity.Snapshot()


def tampered_names(snapshot: integrity.Snapshot, namespace: dict | None = None) -> str:
    """The message ``verify`` raises (asserting that it raises)."""
    with pytest.raises(integrity.TamperedError) as failure:
        snapshot.verify(namespace or {"checks": checks}, CHECK_CALL)
    return str(failure.value)


def test_an_untouched_kernel_verifies(snapshot):
    snapshot.verify({"checks": checks, "lsgan_losses": lambda r, f: None}, CHECK_CALL)


@pytest.mark.parametrize(("owner", "attribute", "name"), [
    (checks, "passed", "dcgan_course.checks.passed"),
    (gan_losses, "check_gan_losses", "dcgan_course.checks.gan_losses.check_gan_losses"),
    (training, "Verification", "dcgan_course.checks.training.Verification"),
    (torch, "allclose", "torch.allclose"),
    (torch.Tensor, "allclose", "torch.Tensor.allclose"),
    (training, "SAME_DIRECTION", "dcgan_course.checks.training.SAME_DIRECTION"),
])
def test_a_rebound_name_is_reported(snapshot, monkeypatch, owner, attribute, name):
    monkeypatch.setattr(owner, attribute, lambda *args, **kwargs: True)
    assert name in tampered_names(snapshot)


def test_a_swapped_code_object_is_reported(snapshot):
    original = checks.expect.__code__
    checks.expect.__code__ = (lambda condition, message: None).__code__
    try:
        assert "dcgan_course.checks.expect" in tampered_names(snapshot)
    finally:
        checks.expect.__code__ = original


def test_the_name_checks_bound_to_something_else_is_reported(snapshot):
    fake = type(sys)("fake_checks")
    assert "the name `checks`" in tampered_names(snapshot, {"checks": fake})


def test_hidden_cells_surround_every_check_and_learner_tags_do_not_count():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": [integrity.INTEGRITY_TAG]}),
        nbformat.v4.new_code_cell(CHECK_CALL, metadata={"tags": ["check"]}),
    ])
    guarded = integrity.add_integrity_cells(notebook, ["torch"])
    sources = [cell.source for cell in guarded.cells]
    assert ".snapshot(" in sources[0] and "dcgan_course.checks.gan_losses" in sources[0]
    assert sources[1] == "x = 1" and ".verify(globals()" in sources[2] and sources[3] == CHECK_CALL
    assert ".verify(globals()" in sources[4]
    assert integrity.integrity_positions(guarded) == [0, 2, 4]


# -- through the grader ------------------------------------------------------------------------------

SETUP = "import torch\nfrom dcgan_course import checks"
SOLVED = ("def lsgan_losses(real_outputs, fake_outputs):\n    ### BEGIN SOLUTION\n"
          "    loss_d = 0.5 * (real_outputs - 1).pow(2).mean() + 0.5 * fake_outputs.pow(2).mean()\n"
          "    return loss_d, 0.5 * (fake_outputs - 1).pow(2).mean()\n    ### END SOLUTION")
PASTED = ("def lsgan_losses(real_outputs, fake_outputs):\n"
          "    return (0.5 * ((real_outputs - 1) ** 2).mean() + 0.5 * (fake_outputs**2).mean(),\n"
          "            0.5 * ((fake_outputs - 1) ** 2).mean())")
WRONG = "def lsgan_losses(real_outputs, fake_outputs):\n    return real_outputs.sum(), fake_outputs.sum()"
PLANTS = {
    "passed": "checks.passed = lambda *a, **k: None",
    "check": 'checks.gan_losses.check_gan_losses = lambda *a, **k: print("✅")',
    "allclose": "torch.allclose = lambda *a, **k: True",
    "name": "import types\nchecks = types.SimpleNamespace(gan_losses=types.SimpleNamespace(\n"
            "    check_gan_losses=lambda *a, **k: None))",
}
NAME = "03_tiny.ipynb"


def course_notebook(exercise: str, plant: str = "") -> nbformat.NotebookNode:
    """A tiny notebook with one course check; ``plant`` is an extra learner cell before the check."""
    cells = [nbformat.v4.new_code_cell(SETUP, id="setup"), nbformat.v4.new_code_cell(exercise, id="lsgan")]
    if plant:
        cells.append(nbformat.v4.new_code_cell(plant, id="plant"))
    cells.append(nbformat.v4.new_code_cell(CHECK_CALL, id="check-lsgan", metadata={"tags": ["check"]}))
    return nbformat.v4.new_notebook(cells=cells)


@pytest.mark.notebooks
def test_grading_reports_each_planted_rebinding_as_tampered(tmp_path):
    reference, submissions = tmp_path / "solutions", tmp_path / "submissions"
    reference.mkdir()
    nbformat.write(course_notebook(SOLVED), reference / NAME)
    students = {"honest": course_notebook(SOLVED), "pasted": course_notebook(PASTED),
                **{f"plant-{key}": course_notebook(WRONG, source) for key, source in PLANTS.items()}}
    for student, notebook in students.items():
        (submissions / student).mkdir(parents=True)
        nbformat.write(notebook, submissions / student / NAME)
    out = tmp_path / "grades.csv"
    assert cli.main(["grade", str(submissions), "--reference", str(reference), "--out", str(out),
                     "--jobs", "2", "--timeout", "60"]) == 0
    rows = {row["student"]: row for row in csv.DictReader(out.open(encoding="utf-8"))}
    assert (rows["honest"]["status"], rows["honest"]["checks_passed"]) == (grading.GRADED, "1")
    assert rows["honest"]["matches"] == ""  # the same run also reports source shaped like the package's
    assert (rows["pasted"]["status"], rows["pasted"]["checks_passed"]) == (grading.GRADED, "1")
    assert rows["pasted"]["matches"] == "lsgan_losses matches `dcgan_course.losses.lsgan`"
    expected = {"passed": "dcgan_course.checks.passed", "check": "check_gan_losses",
                "allclose": "torch.allclose", "name": "the name `checks`"}
    for key, name in expected.items():
        row = rows[f"plant-{key}"]
        assert (row["status"], row["checks_passed"]) == (grading.TAMPERED, "0"), row
        assert name in row["first_error"], row
    assert "tampered" in Path(out.with_suffix(".md")).read_text(encoding="utf-8")


def test_torchs_own_lazy_wrappers_are_not_tampering(snapshot):
    importlib.import_module("torch._dynamo")  # wraps torch.manual_seed (in torch/_compile.py)
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # wraps the class's step, once
    for owner, name in ((torch, "manual_seed"), (torch.optim.SGD, "step")):
        wrapper = inspect.getattr_static(owner, name)
        before = {name: integrity.entry(wrapper.__wrapped__, False)}  # as a kernel that had not wrapped yet
        assert integrity.changed(before, {name: integrity.entry(wrapper, False)}) == []
    snapshot.verify({"checks": checks}, CHECK_CALL)


def test_a_wrapper_written_in_the_notebook_is_tampering_even_with_wrapped(snapshot, monkeypatch):
    import functools

    monkeypatch.setattr(torch, "allclose", functools.wraps(torch.allclose)(lambda *a, **k: True))
    assert "torch.allclose" in tampered_names(snapshot)
