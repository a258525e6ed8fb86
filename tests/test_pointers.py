"""Every "notebook N §k" (or "lecture N, section 'Name'") in a check message or a notebook points at a
heading that exists, so a learner sent there finds the section."""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NUMBERED = re.compile(r"\b(?:lecture|notebook)\s+(\d{2}),?\s*\(?(?:§\s*|sections?\s+)(\d+)"
                      r"(?:\s*(?:-|–|and)\s*(\d+))?", re.IGNORECASE)
NAMED = re.compile(r"\b(?:lecture|notebook)\s+(\d{2}),?\s+(?:section\s+)?'(.+?)'(?=[\s).,:;]|$)",
                   re.IGNORECASE)
SOURCES = sorted((ROOT / "dcgan_course" / "checks").glob("*.py"))
NOTEBOOKS = sorted([*(ROOT / "exercises").glob("*.ipynb"), *(ROOT / "notebooks").glob("*.ipynb")])


def python_strings(path: Path) -> list[str]:
    """Every string in a module, f-strings joined with ``{}`` for their fields."""
    texts = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr):
            texts.append("".join(part.value if isinstance(part, ast.Constant) else "{}"
                                 for part in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.append(node.value)
    return texts


def notebook_texts(path: Path) -> list[str]:
    """Every cell's source."""
    return ["".join(cell["source"]) for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]]


@cache
def headings(number: str) -> list[str]:
    """The Markdown headings of lecture notebook ``number``, without their #s."""
    lectures = list((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
    assert len(lectures) == 1, f"no lecture notebook {number}"
    return [line.lstrip("#").strip() for text in notebook_texts(lectures[0]) for line in text.splitlines()
            if line.startswith("#")]


def broken_references(text: str) -> list[str]:
    """The references in ``text`` whose section has no heading."""
    broken = []
    for match in NUMBERED.finditer(text):
        number, first, last = match.group(1), int(match.group(2)), int(match.group(3) or match.group(2))
        for section in range(first, last + 1):
            if not any(heading.startswith(f"{section} · ") for heading in headings(number)):
                broken.append(f"{match.group(0)!r}: notebook {number} has no heading '{section} · ...'")
    for match in NAMED.finditer(text):
        if not any(heading.startswith(match.group(2)) for heading in headings(match.group(1))):
            broken.append(f"{match.group(0)!r}: notebook {match.group(1)} has no heading {match.group(2)!r}")
    return broken


def test_the_reference_reader_sees_numbered_and_named_sections():
    assert broken_references("(theory notebook 10, §2)") == []
    assert broken_references("see lecture 02 §4, lecture 03 §3 and lecture 01, §3-4") == []
    assert broken_references("notebook 05, section 'The paper's protocol'") == []
    assert len(broken_references("(notebook 10 §12) and lecture 04, 'Where codes live'")) == 2
    assert broken_references("Karras et al. 2018, §3") == []  # a paper's section, not ours


@pytest.mark.parametrize("path", [*SOURCES, *NOTEBOOKS], ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_section_reference_points_at_a_heading(path):
    texts = python_strings(path) if path.suffix == ".py" else notebook_texts(path)
    broken = [problem for text in texts for problem in broken_references(text)]
    assert not broken, "\n".join(broken)


def test_loss_messages_point_at_the_section_on_the_losses():
    source = (ROOT / "dcgan_course" / "checks" / "gan_losses.py").read_text(encoding="utf-8")
    sections = {int(k) for k in re.findall(r"notebook 10, §(\d+)", source)}
    assert sections == {2}
    assert "losses" in next(heading for heading in headings("10") if heading.startswith("2 · "))
