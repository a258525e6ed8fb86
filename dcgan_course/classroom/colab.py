"""Colab support: the "Open in Colab" badge and the install guard every notebook starts with.

The repository is named in one place (``REPOSITORY``); ``dcgan-course set-repo OWNER/NAME``
rewrites it and every notebook's badge and install cell. ``notebook_problems`` says whether a
notebook's badge and guard are current (``tests/test_colab.py`` runs it on every notebook).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

REPOSITORY = "dcgan-course/dcgan-course"
BRANCH = "main"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
NOTEBOOK_FOLDERS = ("notebooks", "solutions", "exercises")

REPOSITORY_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
REPOSITORY_LINE = re.compile(r'^REPOSITORY = "[^"]*"$', re.MULTILINE)
ANY_BADGE = re.compile(
    r"\[!\[Open In Colab\]\([^)\s]*\)\]\(https://colab\.research\.google\.com/github/[^)\s]*\)"
)
ANY_GUARD = re.compile(r'\Aimport sys\nif "google\.colab" in sys\.modules:.*(?:\n[ \t]+.*)*(?:\n|\Z)')


def badge_markdown(notebook_path: str, repository: str | None = None) -> str:
    """The Markdown "Open in Colab" badge for a notebook path relative to the repository root."""
    repository = repository or REPOSITORY
    url = f"https://colab.research.google.com/github/{repository}/blob/{BRANCH}/{notebook_path}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def install_requirement(repository: str | None = None) -> str:
    """The pip requirement that installs this course package from its Git repository."""
    return f"dcgan-course @ git+https://github.com/{repository or REPOSITORY}.git@{BRANCH}"


def install_guard_source(repository: str | None = None) -> str:
    """The code that opens every notebook's first code cell: install on Colab, nothing elsewhere.

    It must be self-contained, because on Colab the package is not installed yet. Colab's own
    torch and torchvision (built for its GPU) are pinned to the installed versions, so pip can
    never replace them: it keeps them or stops with a clear conflict.
    """
    return (
        "import sys\n"
        "if \"google.colab\" in sys.modules:  # Colab: install the course, keep Colab's own torch\n"
        "    import subprocess\n"
        "    from importlib.metadata import version\n"
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",\n"
        f"                    \"{install_requirement(repository)}\",\n"
        "                    f\"torch=={version('torch')}\", f\"torchvision=={version('torchvision')}\"],\n"
        "                   check=True)\n"
    )


def validate_repository(repository: str) -> str:
    """Return ``repository`` if it looks like a GitHub ``OWNER/NAME``, else raise ``ValueError``."""
    if not REPOSITORY_NAME.fullmatch(repository):
        raise ValueError(f"expected a GitHub repository as OWNER/NAME (e.g. ada/dcgan-course), "
                         f"got {repository!r}.")
    return repository


def first_code_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """The notebook's first code cell, or None when it has none."""
    return next((cell for cell in notebook.cells if cell.cell_type == "code"), None)


def notebook_problems(notebook: nbformat.NotebookNode, notebook_path: str,
                      repository: str | None = None) -> list[str]:
    """What is stale or missing in a notebook's badge (cell 1) and install guard (first code cell)."""
    problems = []
    expected_badge = badge_markdown(notebook_path, repository)
    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "markdown" or expected_badge not in first.source:
        found = ANY_BADGE.search(first.source) if first is not None else None
        problems.append(f"cell 1 should be markdown holding the badge {expected_badge}"
                        + (f", found {found.group()}" if found else ", found none"))
    code = first_code_cell(notebook)
    if code is None or not code.source.startswith(install_guard_source(repository)):
        problems.append("the first code cell should start with colab.install_guard_source() verbatim "
                        f"(installing {install_requirement(repository)})")
    return problems


def refresh_notebook(notebook: nbformat.NotebookNode, notebook_path: str, repository: str) -> bool:
    """Point the notebook's badge and install guard at ``repository``; True if anything changed."""
    first, code = notebook.cells[0] if notebook.cells else None, first_code_cell(notebook)
    if first is None or not ANY_BADGE.search(first.source):
        raise ValueError(f"{notebook_path}: cell 1 has no 'Open In Colab' badge to rewrite; "
                         f"add {badge_markdown(notebook_path, repository)}")
    if code is None or not ANY_GUARD.match(code.source):
        raise ValueError(f"{notebook_path}: the first code cell does not start with the install "
                         "guard; paste colab.install_guard_source() at its top")
    before = (first.source, code.source)
    first.source = ANY_BADGE.sub(lambda _: badge_markdown(notebook_path, repository), first.source)
    code.source = ANY_GUARD.sub(lambda _: install_guard_source(repository), code.source, count=1)
    return (first.source, code.source) != before


def course_notebooks(root: Path) -> list[Path]:
    """Every notebook in the course folders under ``root``, in a stable order."""
    return sorted(path for folder in NOTEBOOK_FOLDERS for path in (root / folder).glob("*.ipynb"))


def set_repo(repository: str, root: Path, module: Path | None = None) -> list[Path]:
    """Make ``repository`` the course's home in the checkout at ``root``: in its ``colab.py``
    (``module``, by default ``root/dcgan_course/classroom/colab.py``) and in every notebook.

    Every notebook is checked before anything is written; returns the files that changed.
    """
    validate_repository(repository)
    module = module or root / "dcgan_course" / "classroom" / "colab.py"
    paths = course_notebooks(root)
    if not module.is_file() or not paths:
        raise FileNotFoundError(f"{root.resolve()} is not a course checkout (it needs "
                                f"dcgan_course/classroom/colab.py and notebooks in "
                                f"{', '.join(NOTEBOOK_FOLDERS)}); run there or pass --root")
    notebooks = {path: nbformat.read(path, as_version=4) for path in paths}
    changed = [path for path, notebook in notebooks.items()
               if refresh_notebook(notebook, path.relative_to(root).as_posix(), repository)]
    for path in changed:
        nbformat.write(notebooks[path], path)
    source = module.read_text(encoding="utf-8")
    updated = REPOSITORY_LINE.sub(f'REPOSITORY = "{repository}"', source, count=1)
    if updated != source:
        module.write_text(updated, encoding="utf-8")
        changed.append(module)
    return changed
