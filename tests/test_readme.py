"""README.md is for learners: short, narrow, how to take the course first; its links resolve."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LINK_DEFINITION = re.compile(r"^\[[^\]]+\]:\s*\S+$")  # a URL that cannot be wrapped
INLINE_TARGET = re.compile(r"\]\(([^)\s]+)\)")
DEFINED_TARGET = re.compile(r"^\[[^\]]+\]:\s*(\S+)", re.M)


def test_the_readme_is_short_and_narrow():
    text = README.read_text(encoding="utf-8")
    assert len(text.split()) <= 1200, "README.md is over 1,200 words (wc -w): move detail into docs/"
    wide = [number for number, line in enumerate(text.splitlines(), 1)
            if len(line) > 100 and not LINK_DEFINITION.match(line)]
    assert wide == [], f"README.md lines over 100 characters: {wide}"


def test_the_first_40_lines_say_how_to_take_the_course_in_order():
    head = "\n".join(README.read_text(encoding="utf-8").splitlines()[:40])
    steps = {"setup": "make lab",
             "Colab": "colab.research.google.com/github/",
             "the loop": "# YOUR CODE HERE",
             "when stuck": "docs/gan_failures.md"}
    missing = [step for step, marker in steps.items() if marker not in head]
    assert missing == [], f"not in README.md's first 40 lines: {missing}"
    assert "notebooks/00_setup_and_data.ipynb" in head[head.index(steps["Colab"]):], "Colab link: notebook 00"
    assert "exercises/" in head
    positions = [head.index(marker) for marker in steps.values()]
    assert positions == sorted(positions), f"expected this order: {list(steps)}"


def test_relative_links_point_at_files_that_exist():
    for page in (README, ROOT / "docs" / "results.md"):
        text = page.read_text(encoding="utf-8")
        targets = INLINE_TARGET.findall(text) + DEFINED_TARGET.findall(text)
        relative = [target.split("#")[0] for target in targets if not re.match(r"[a-z]+:", target)]
        missing = [target for target in relative if target and not (page.parent / target).exists()]
        assert relative, page
        assert missing == [], f"{page.relative_to(ROOT)} links to missing files: {missing}"
