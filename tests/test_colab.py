"""Colab: every notebook's badge and install guard are current; the guard is a no-op off Colab."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import nbformat
import pytest

from dcgan_course import cli
from dcgan_course.classroom import colab

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOTEBOOKS = [path.relative_to(ROOT).as_posix() for path in colab.course_notebooks(ROOT)]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_badge_and_install_guard_are_current(notebook):
    problems = colab.notebook_problems(nbformat.read(ROOT / notebook, as_version=4), notebook)
    assert not problems, (f"{notebook}: " + "; ".join(problems) + f". Rebuild the notebook, or run "
                          f"`dcgan-course set-repo {colab.REPOSITORY}` to refresh every badge and guard.")


def test_badge_opens_the_notebook_from_the_configured_repository():
    assert colab.badge_markdown("notebooks/04_latent_space.ipynb") == (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{colab.REPOSITORY}/blob/main/notebooks/04_latent_space.ipynb)")


def test_install_guard_is_a_no_op_outside_colab(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append(args))
    namespace: dict = {}
    exec(colab.install_guard_source(), namespace)
    assert calls == []
    assert set(namespace) == {"__builtins__", "sys"}


def test_install_guard_runs_silently_in_a_fresh_interpreter():
    result = subprocess.run([sys.executable, "-c", colab.install_guard_source()], capture_output=True,
                            text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_install_guard_on_colab_installs_the_course_and_pins_colabs_torch(monkeypatch):
    calls = []
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: calls.append((command, kwargs)))
    exec(colab.install_guard_source("ada/course"), {})
    [(command, kwargs)] = calls
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert "dcgan-course @ git+https://github.com/ada/course.git@main" in command
    assert not {"-U", "--upgrade", "--force-reinstall", "--no-deps"} & set(command)
    pins = [argument for argument in command if argument.startswith("torch")]
    assert pins == [f"torch=={version('torch')}", f"torchvision=={version('torchvision')}"]
    assert kwargs == {"check": True}


def course_copy(root: Path) -> Path:
    """A course checkout with the fixture notebooks in all three folders and its own colab.py."""
    sources = {"notebooks": "solutions", "solutions": "solutions", "exercises": "exercises"}
    for folder, source in sources.items():
        (root / folder).mkdir(parents=True)
        shutil.copy(FIXTURES / source / "01_arithmetic.ipynb", root / folder / "01_arithmetic.ipynb")
    shutil.copy(colab.__file__, root / "colab.py")
    return root


def test_set_repo_rewrites_the_setting_and_every_badge_and_guard(tmp_path):
    root = course_copy(tmp_path)
    changed = colab.set_repo("ada/gan-class", root, module=root / "colab.py")
    assert {path.relative_to(root).as_posix() for path in changed} == {
        "notebooks/01_arithmetic.ipynb", "solutions/01_arithmetic.ipynb", "exercises/01_arithmetic.ipynb",
        "colab.py"}
    assert 'REPOSITORY = "ada/gan-class"' in (root / "colab.py").read_text(encoding="utf-8")
    for path in colab.course_notebooks(root):
        notebook = nbformat.read(path, as_version=4)
        assert colab.notebook_problems(notebook, path.relative_to(root).as_posix(), "ada/gan-class") == []
        assert "dcgan-course/dcgan-course" not in nbformat.writes(notebook)
        assert cell_text(notebook, "setup").endswith("import math")
    assert colab.set_repo("ada/gan-class", root, module=root / "colab.py") == []


def cell_text(notebook: nbformat.NotebookNode, cell_id: str) -> str:
    """The source of the cell with this id."""
    return next(cell.source for cell in notebook.cells if cell.get("id") == cell_id)


def test_stale_badge_and_missing_guard_are_reported():
    notebook = nbformat.read(FIXTURES / "solutions" / "01_arithmetic.ipynb", as_version=4)
    assert colab.notebook_problems(notebook, "solutions/01_arithmetic.ipynb") == []
    problems = colab.notebook_problems(notebook, "notebooks/01_arithmetic.ipynb", "ada/gan-class")
    assert len(problems) == 2
    assert "found [![Open In Colab]" in problems[0] and "ada/gan-class" in problems[1]


@pytest.mark.parametrize("repository", ["ada", "ada/gan/class", "https://github.com/ada/gan", "ada/ gan", ""])
def test_set_repo_rejects_what_is_not_owner_slash_name(tmp_path, repository, capsys):
    assert cli.main(["set-repo", repository, "--root", str(tmp_path)]) == 2
    assert "expected a GitHub repository as OWNER/NAME" in capsys.readouterr().err


def test_set_repo_writes_nothing_when_a_notebook_has_no_badge(tmp_path):
    root = course_copy(tmp_path)
    broken = root / "notebooks" / "01_arithmetic.ipynb"
    notebook = nbformat.read(broken, as_version=4)
    notebook.cells[0].source = "# 01 · Arithmetic"
    nbformat.write(notebook, broken)
    before = {path: path.read_bytes() for path in [*colab.course_notebooks(root), root / "colab.py"]}
    with pytest.raises(ValueError, match="notebooks/01_arithmetic.ipynb: cell 1 has no 'Open In Colab'"):
        colab.set_repo("ada/gan-class", root, module=root / "colab.py")
    assert {path: path.read_bytes() for path in before} == before


def test_set_repo_outside_a_course_checkout_is_refused(tmp_path, capsys):
    assert cli.main(["set-repo", "ada/gan-class", "--root", str(tmp_path)]) == 2
    assert "is not a course checkout" in capsys.readouterr().err
