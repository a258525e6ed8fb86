"""The student edition: lectures, exercises and the package, and no solution code in any notebook."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dcgan_course import cli
from dcgan_course.classroom import authoring

ROOT = Path(__file__).resolve().parent.parent
REGION = re.compile(rf"^[ \t]*{re.escape(authoring.BEGIN_MARK)}\n(.*?)^[ \t]*{re.escape(authoring.END_MARK)}",
                    re.MULTILINE | re.DOTALL)


def solution_regions() -> list[str]:
    """Every solution region of solutions/, as its code lines stripped of indentation."""
    regions = []
    for path in authoring.solution_notebooks(ROOT / "solutions"):
        for cell in nbformat.read(path, as_version=4).cells:
            for region in REGION.findall(cell.source if cell.cell_type == "code" else ""):
                regions.append("\n".join(line.strip() for line in region.splitlines() if line.strip()))
    return regions


def notebook_code(path: Path) -> str:
    """All code of a notebook, stripped of indentation, one line per line."""
    cells = nbformat.read(path, as_version=4).cells
    lines = (line.strip() for cell in cells if cell.cell_type == "code" for line in cell.source.splitlines())
    return "\n".join(lines)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """The student edition of this checkout, written through the CLI."""
    out = tmp_path_factory.mktemp("release") / "dcgan-course-student"
    assert cli.main(["release", str(out), "--root", str(ROOT)]) == 0
    return out


def test_release_has_lectures_exercises_and_the_package_but_no_solutions_or_tests(release):
    assert not (release / "solutions").exists() and not (release / "tests").exists()
    names = sorted(path.name for path in authoring.solution_notebooks(ROOT / "solutions"))
    assert sorted(path.name for path in (release / "exercises").glob("*.ipynb")) == names
    assert (release / "notebooks").is_dir() and (release / "dcgan_course" / "checks").is_dir()
    assert (release / "pyproject.toml").is_file() and (release / "STUDENT_EDITION.md").is_file()


def test_no_notebook_in_the_release_holds_solution_code(release):
    regions = solution_regions()
    assert len(regions) > 10
    for path in release.rglob("*.ipynb"):
        code = notebook_code(path)
        assert authoring.BEGIN_MARK not in code, path
        leaked = [region for region in regions if region in code]
        assert not leaked, f"{path.relative_to(release)} holds the solution {leaked[0]!r}"


def test_the_student_edition_has_no_classroom_and_grade_says_so_in_one_line(release):
    assert not (release / "dcgan_course" / "classroom").exists()
    environment = {**os.environ, "PYTHONPATH": str(release)}
    # -S: no site-packages, so the editable install of this checkout cannot lend its classroom/
    run = subprocess.run([sys.executable, "-S", "-m", "dcgan_course.cli", "grade", "submissions"],
                         cwd=release, env=environment, capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "student edition" in run.stderr and "Traceback" not in run.stderr
    imports = "from dcgan_course import checks, data, features, models, probe, settings, style, train, viz"
    where = "import dcgan_course; print(dcgan_course.__file__)"
    learner = subprocess.run([sys.executable, "-c", f"{imports}; {where}"], cwd=release, env=environment,
                             capture_output=True, text=True, check=True)
    assert learner.stdout.strip() == str(release / "dcgan_course" / "__init__.py")


def test_release_into_a_folder_that_is_not_empty_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("mine", encoding="utf-8")
    assert cli.main(["release", str(tmp_path), "--root", str(ROOT)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
