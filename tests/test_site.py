"""`make site` in fast mode: every lecture gets a page that shows its figures, linked from the course map."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import build_site  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUILDER = ROOT / "scripts" / "build_site.py"
LECTURES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def image_outputs(notebook: Path) -> int:
    """How many PNG figures the executed notebook holds in its outputs."""
    cells = json.loads(notebook.read_text())["cells"]
    return sum("image/png" in output.get("data", {}) for cell in cells for output in cell.get("outputs", []))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built once, in fast mode, two notebooks at a time (as CI builds it)."""
    out = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, str(BUILDER), "--fast", "--jobs", "2", "--out", str(out)],
                   check=True, cwd=ROOT)
    return out


def test_the_course_map_is_the_front_page_and_links_every_lecture(site: Path) -> None:
    index = (site / "index.html").read_text()
    assert "<table>" in index
    linked = set(re.findall(r'href="(\d\d_\w+\.html)"', index))
    assert linked == {notebook.with_suffix(".html").name for notebook in LECTURES}


@pytest.mark.parametrize("lecture", LECTURES, ids=lambda path: path.stem)
def test_every_lecture_page_embeds_the_figures_its_run_made(site: Path, lecture: Path) -> None:
    figures = image_outputs(site / "executed" / lecture.name)
    assert figures > 0, f"{lecture.name} produced no figure when executed in fast mode"
    page = (site / lecture.with_suffix(".html").name).read_text()
    assert page.count("data:image/png;base64,") >= figures
    assert 'href="index.html"' in page


def test_an_executed_notebook_is_reused_only_while_newer_than_its_source_and_in_the_same_mode(
        site: Path, tmp_path: Path) -> None:
    source, executed = tmp_path / "00_x.ipynb", tmp_path / "executed.ipynb"
    executed.write_bytes((site / "executed" / LECTURES[0].name).read_bytes())
    source.write_text("{}")
    os.utime(source, (1, 1))
    assert build_site.executed_is_current(source, executed, "fast")
    assert not build_site.executed_is_current(source, executed, "full")
    source.touch()
    os.utime(executed, (0, 0))
    assert not build_site.executed_is_current(source, executed, "fast")


def test_the_builder_rejects_a_missing_notebook(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, str(BUILDER), "--out", str(tmp_path), "nope.ipynb"],
                              capture_output=True, text=True, cwd=ROOT)
    assert finished.returncode != 0 and "no such notebook: nope.ipynb" in finished.stderr
