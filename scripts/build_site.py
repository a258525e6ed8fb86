"""Build the executed course as a static site: the course map as index.html, one page per lecture.

Each lecture notebook is executed headless (fast or full mode) with ``jupyter nbconvert
--execute`` and exported with nbconvert's HTML exporter, which embeds every figure in the page,
so the site is a folder of self-contained HTML files that any static host can serve. Executed
notebooks are kept in ``<out>/executed/`` and reused while they are newer than their source and
were run in the same mode, so a second build only re-renders.

    python scripts/build_site.py                 # full mode, all lectures -> build/site
    python scripts/build_site.py --fast --jobs 2 # what CI builds
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODE_KEY = "dcgan_course_site_mode"
STYLE = ("body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;"
         "line-height:1.5}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem}")


def lecture_notebooks(root: Path = ROOT) -> list[Path]:
    """The lecture notebooks, in course order (``notebooks/NN_name.ipynb``)."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def page_name(notebook: Path) -> str:
    """The HTML page a notebook becomes: ``03_adversarial_training.html``."""
    return notebook.with_suffix(".html").name


def executed_is_current(source: Path, executed: Path, mode: str) -> bool:
    """True if ``executed`` was made from the current ``source`` in the same mode."""
    if not executed.is_file() or executed.stat().st_mtime < source.stat().st_mtime:
        return False
    return json.loads(executed.read_text()).get("metadata", {}).get(MODE_KEY) == mode


def execute(source: Path, executed: Path, fast: bool, threads: int) -> None:
    """Run one notebook headless in its own folder and save it, with outputs, to ``executed``."""
    env = {**os.environ, "DCGAN_COURSE_FAST": "1" if fast else "0", "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               "--ExecutePreprocessor.timeout=-1", "--output-dir", str(executed.parent),
               "--output", executed.stem, str(source)]
    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RuntimeError(f"{source.name} failed to execute:\n{finished.stderr[-3000:]}")
    notebook = json.loads(executed.read_text())
    notebook.setdefault("metadata", {})[MODE_KEY] = "fast" if fast else "full"
    executed.write_text(json.dumps(notebook, indent=1))


def navigation(notebooks: list[Path], index: int) -> str:
    """A top bar linking the course map and the previous and next lectures."""
    links = ['<a href="index.html">course map</a>']
    if index > 0:
        links.append(f'<a href="{page_name(notebooks[index - 1])}">&larr; {notebooks[index - 1].stem}</a>')
    if index + 1 < len(notebooks):
        links.append(f'<a href="{page_name(notebooks[index + 1])}">{notebooks[index + 1].stem} &rarr;</a>')
    return ('<nav style="padding:.5rem 1rem;border-bottom:1px solid #ccc;font-family:sans-serif">'
            + " · ".join(links) + "</nav>")


def export_page(executed: Path, page: Path, nav: str) -> None:
    """Executed notebook -> one self-contained HTML page (figures embedded) with the top bar."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_filename(str(executed))
    page.write_text(re.sub(r"(<body[^>]*>)", lambda match: match.group(1) + nav, body, count=1))


def course_map(readme: Path) -> str:
    """The README's "The course" section as HTML, its notebook links pointing at the site's pages."""
    text = readme.read_text()
    match = re.search(r"^## The course\n(.*?)(?=^## )", text, flags=re.S | re.M)
    if match is None:
        raise ValueError(f"{readme} has no '## The course' section to use as the course map.")
    section = re.sub(r"\(notebooks/(\d\d_\w+)\.ipynb\)", r"(\1.html)", match.group(1))
    # reference-style links ([01]: notebooks/01_generator.ipynb) keep the README's table rows short
    section = re.sub(r"^(\[[^\]]+\]:\s*)notebooks/(\d\d_\w+)\.ipynb", r"\1\2.html", section, flags=re.M)
    from nbconvert.filters.markdown import markdown2html

    return markdown2html(section)


def write_index(out: Path, readme: Path, mode: str) -> None:
    """index.html: the course title, how the pages were made, and the course map."""
    intro = (f"<p>Every lecture notebook, executed headless in <b>{mode} mode</b> with its outputs "
             "(sample grids, curves, tables): compare your own run with these reference outputs. "
             "Rebuild with <code>make site</code> (<code>make site FAST=1</code> for the quick version).</p>")
    out.joinpath("index.html").write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>dcgan-course</title>"
        f"<style>{STYLE}</style></head><body><h1>dcgan-course</h1>{intro}"
        f"<h2>The course</h2>{course_map(readme)}<p><small>Built from {html.escape(ROOT.name)}.</small></p>"
        "</body></html>")


def build_site(out: Path, fast: bool, jobs: int = 1, notebooks: list[Path] | None = None) -> list[Path]:
    """Execute (or reuse) and export each lecture, write the index; returns the pages written."""
    notebooks = notebooks or lecture_notebooks()
    mode = "fast" if fast else "full"
    executed_dir = out / "executed"
    executed_dir.mkdir(parents=True, exist_ok=True)
    stale = [nb for nb in notebooks if not executed_is_current(nb, executed_dir / nb.name, mode)]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # each worker waits on a separate kernel
        list(pool.map(lambda nb: execute(nb, executed_dir / nb.name, fast, threads), stale))
    pages = []
    for index, notebook in enumerate(notebooks):
        page = out / page_name(notebook)
        export_page(executed_dir / notebook.name, page, navigation(notebooks, index))
        pages.append(page)
    write_index(out, ROOT / "README.md", mode)
    return pages


def main() -> None:
    """Parse the options and build."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="output folder")
    parser.add_argument("--fast", action="store_true", help="execute in fast mode (as CI does)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks executed at the same time")
    parser.add_argument("notebooks", type=Path, nargs="*", help="a subset of lecture notebooks")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    missing = [str(nb) for nb in args.notebooks if not nb.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    pages = build_site(args.out, args.fast, args.jobs, [nb.resolve() for nb in args.notebooks] or None)
    print(f"wrote {len(pages)} pages and index.html to {args.out}")


if __name__ == "__main__":
    main()
