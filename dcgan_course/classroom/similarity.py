"""Copied source: a solution region whose syntax tree is a package function's, names aside.

The checks refuse calls to the package's answers, but source pasted from ``dcgan_course/`` cannot
be told apart while it runs. The grader compares what each learner wrote in place of ``# YOUR
CODE HERE`` (the lines that differ from the exercise) with every function of the package: same
statements, with local names numbered in order of appearance and ``module.function`` read as
``function``. A match is reported ("matches `dcgan_course.losses.lsgan`") for the instructor to
judge: a short formula written from scratch can match too.
"""

from __future__ import annotations

import ast
import difflib
import functools
from collections.abc import Sequence
from pathlib import Path

import nbformat

from .authoring import has_solution, strip_solutions
from .check_cells import is_check

PACKAGE = Path(__file__).resolve().parent.parent
MIN_NODES = 12  # shorter bodies (``return a + b``) match too much to mean anything

Function = ast.FunctionDef | ast.AsyncFunctionDef


def local_names(function: Function, statements: Sequence[ast.stmt]) -> set[str]:
    """The function's arguments and every name the statements bind."""
    arguments = function.args
    names = {arg.arg for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                 *filter(None, [arguments.vararg, arguments.kwarg])]}
    for node in ast.walk(ast.Module(body=list(statements), type_ignores=[])):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


class Normaliser(ast.NodeTransformer):
    """Number local names in order of appearance; read a global ``a.b.c`` as ``c``."""

    def __init__(self, local: set[str]) -> None:
        self.local, self.numbers = local, {}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        """A local becomes ``vN``; a global keeps its name."""
        name = self.numbers.setdefault(node.id, f"v{len(self.numbers)}") if node.id in self.local else node.id
        return ast.Name(id=name, ctx=node.ctx)

    def visit_arg(self, node: ast.arg) -> ast.arg:
        """A lambda's or comprehension's argument is a local too."""
        return ast.arg(arg=self.numbers.setdefault(node.arg, f"v{len(self.numbers)}"))

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        """``module.function`` (rooted at a global) becomes ``function``; ``tensor.mean`` stays."""
        root = node.value
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id not in self.local:
            return ast.Name(id=node.attr, ctx=node.ctx)
        return self.generic_visit(node)


def shape(function: Function, statements: Sequence[ast.stmt]) -> str | None:
    """The normalised statements as one string, or None when they are too short to mean anything."""
    body = [statement for statement in statements if not is_docstring(statement)]
    normaliser = Normaliser(local_names(function, body))
    tree = ast.Module(body=[normaliser.visit(statement) for statement in body], type_ignores=[])
    return ast.dump(tree) if sum(1 for _ in ast.walk(tree)) >= MIN_NODES else None


def is_docstring(statement: ast.stmt) -> bool:
    """A bare string statement (a docstring)."""
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


def module_name(path: Path) -> str:
    """dcgan_course/losses.py -> dcgan_course.losses."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.lru_cache(maxsize=1)
def package_shapes() -> dict[str, str]:
    """``shape -> dcgan_course.module.function`` for every function outside the classroom."""
    shapes: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "classroom" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                key = shape(node, node.body)
                if key is not None:
                    shapes.setdefault(key, f"{module_name(path)}.{node.name}")
    return shapes


def learner_lines(exercise: str, submitted: str) -> list[range]:
    """Line ranges (1-based) of the submitted cell that differ from the exercise's: the learner's code."""
    matcher = difflib.SequenceMatcher(a=exercise.splitlines(), b=submitted.splitlines(), autojunk=False)
    return [range(j1 + 1, j2 + 1) for tag, _, _, j1, j2 in matcher.get_opcodes()
            if tag in ("replace", "insert")]


def region_matches(exercise: str, submitted: str) -> list[str]:
    """Package functions whose shape equals what the learner wrote inside one of this cell's functions."""
    try:
        tree = ast.parse(submitted)
    except SyntaxError:
        return []
    ranges = learner_lines(exercise, submitted)
    found = []
    for function in (node for node in ast.walk(tree) if isinstance(node, Function)):
        written = [statement for statement in function.body if any(
            statement.lineno in lines and statement.end_lineno in lines for lines in ranges)]
        match = package_shapes().get(shape(function, written) or "")
        if match:
            found.append(f"{function.name} matches `{match}`")
    return found


def copied_from_package(submission: nbformat.NotebookNode, reference: nbformat.NotebookNode) -> list[str]:
    """Every solution region of a submission that matches a package function (cells by id, else by place)."""
    reference_code = [cell for cell in reference.cells if cell.cell_type == "code"]
    submitted_code = [cell for cell in submission.cells if cell.cell_type == "code"]
    by_id = {cell.get("id"): cell for cell in submitted_code if cell.get("id") and not is_check(cell)}
    found: list[str] = []
    for position, cell in enumerate(reference_code):
        learner = by_id.get(cell.get("id")) or (submitted_code[position] if position < len(submitted_code)
                                                else None)
        if has_solution(cell.source) and learner is not None and not is_check(learner):
            found += region_matches(strip_solutions(cell.source), learner.source)
    return found


def package_matches(submitted: Path | None, reference: Path | None) -> tuple[str, ...]:
    """``copied_from_package`` for two notebook files; a missing or unreadable notebook has none."""
    try:
        notebooks = [nbformat.read(path, as_version=4) for path in (submitted, reference) if path is not None]
    except Exception:  # noqa: BLE001 - unreadable submissions get their own status elsewhere
        return ()
    return tuple(copied_from_package(*notebooks)) if len(notebooks) == 2 else ()
