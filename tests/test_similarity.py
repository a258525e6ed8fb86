"""Copied source: a solution region shaped like a package function is reported for the instructor.

The checks cannot see pasted source while it runs; the grader compares each region with the
package's functions (names normalised) and the reports show "matches `dcgan_course.X`".
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from dcgan_course.classroom import grading, reports, similarity

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "03_adversarial_training.ipynb"
PASTED_LSGAN = ("    return (0.5 * ((real_outputs - 1) ** 2).mean() + 0.5 * (fake_outputs**2).mean(),\n"
                "            0.5 * ((fake_outputs - 1) ** 2).mean())")
PASTED_HINGE = ("    return (torch.nn.functional.relu(1 - real_outputs).mean() + "
                "torch.nn.functional.relu(1 + fake_outputs).mean(), -fake_outputs.mean())")


def reference() -> nbformat.NotebookNode:
    """Notebook 03's solution, the reference the grader compares with."""
    return nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)


def submission(**regions: str) -> nbformat.NotebookNode:
    """Notebook 03's exercise with the learner's code written in place of the named cells' stubs."""
    notebook = nbformat.read(ROOT / "exercises" / NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.get("id") in regions:
            stub = "    # YOUR CODE HERE\n    raise NotImplementedError"
            assert stub in cell.source
            cell.source = cell.source.replace(stub, regions[cell.get("id")])
    return notebook


def region_ids() -> dict[str, str]:
    """The ids of the LSGAN and hinge exercise cells."""
    cells = reference().cells
    return {name: next(cell.get("id") for cell in cells if cell.source.startswith(f"def {name}_losses"))
            for name in ("lsgan", "hinge")}


def test_pasted_package_code_is_reported_with_names_and_module_paths_normalised():
    ids = region_ids()
    found = similarity.copied_from_package(submission(**{ids["lsgan"]: PASTED_LSGAN,
                                                         ids["hinge"]: PASTED_HINGE}), reference())
    assert found == ["lsgan_losses matches `dcgan_course.losses.lsgan`",
                     "hinge_losses matches `dcgan_course.losses.hinge`"]


def test_cells_without_ids_are_compared_by_place():
    ids = region_ids()
    notebook = submission(**{ids["lsgan"]: PASTED_LSGAN})
    for cell in notebook.cells:
        cell.pop("id", None)
    assert similarity.copied_from_package(notebook, reference()) == [
        "lsgan_losses matches `dcgan_course.losses.lsgan`"]


@pytest.mark.parametrize("name", sorted(path.name for path in (ROOT / "solutions").glob("0*.ipynb")))
def test_the_unsolved_exercises_match_nothing(name):
    solution = nbformat.read(ROOT / "solutions" / name, as_version=4)
    exercise = nbformat.read(ROOT / "exercises" / name, as_version=4)
    assert similarity.copied_from_package(exercise, solution) == []


def test_own_code_and_short_bodies_match_nothing():
    ids = region_ids()
    own = "    return 0.5 * (real_outputs - 1).pow(2).mean() + 0.5 * fake_outputs.pow(2).mean(), fake_outputs"
    assert similarity.copied_from_package(submission(**{ids["lsgan"]: own}), reference()) == []
    assert similarity.copied_from_package(reference(), copy.deepcopy(reference())) == []  # the course's own


def test_reports_show_the_match_for_the_instructor():
    row = grading.NotebookGrade("dave", NOTEBOOK, grading.GRADED, 1,
                                (grading.CheckResult("check", True),),
                                matches=("lsgan_losses matches `dcgan_course.losses.lsgan`",))
    assert "lsgan_losses matches `dcgan_course.losses.lsgan`" in reports.grades_csv([row])
    summary = reports.markdown_summary([row])
    assert f"| dave | {NOTEBOOK} | lsgan_losses matches `dcgan_course.losses.lsgan` |" in summary
