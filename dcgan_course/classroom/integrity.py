"""Tampering: a learner cell that rebinds what the checks rely on gets the notebook graded ``tampered``.

Check cells are restored, but an earlier cell can still rebind ``checks.gan_losses.check_gan_losses``,
``checks.passed``, ``torch.allclose`` or the name ``checks`` itself, and then every check passes.
The grader adds hidden cells to its copy of a submission: the first, before any learner code,
imports what the notebook's cells import and records a fingerprint of what the checks rely on (the
course's modules, builtins, math, torch, NumPy and ``sys.setprofile``: each callable's identity,
code and defaults, and the checks' constants); one before every check cell, and one at the end,
compares the kernel with it and raises ``TamperedError`` naming what changed. The fingerprint is
kept under a name chosen per run, with the original ``verify``; a learner who reads the grader
and attacks its hidden cells is beyond any test run inside the kernel (the instructor still sees
the code).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import secrets
import sys
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the kernel imports this module: the standard library only, nbformat takes seconds
    import nbformat

INTEGRITY_TAG = "grader-integrity"
COURSE = "dcgan_course"
WATCHED_MODULES = ("builtins", "math", "numpy", "numpy.linalg", "torch", "torch.nn",
                   "torch.nn.functional", "torch.autograd", "torch.linalg", "torch.optim")
WATCHED_CLASSES = (("torch", "Tensor"), ("torch.nn", "Module"),
                   ("torch.optim", "Optimizer"), ("torch.optim", "SGD"), ("numpy", "ndarray"))
SYS_FUNCTIONS = ("setprofile", "getprofile", "settrace", "gettrace")  # the shortcut guard's hook
VOLATILE = {"builtins.input"}  # ipykernel binds a fresh one for every execution (to forward stdin)
VALUE_TYPES = (bool, int, float, str, bytes, tuple, frozenset, dict, list)
STORE_PREFIX = "_dcgan_course_grader_"


class TamperedError(RuntimeError):
    """Something a check relies on was rebound after the kernel started."""


# -- inside the kernel ------------------------------------------------------------------------------

Entry = tuple[tuple[object, ...], object]  # (what identifies the attribute, the object itself)


def entry(value: object, with_value: bool) -> Entry:
    """What identifies an attribute (object, code and defaults, a constant's value), and the object."""
    code = getattr(value, "__code__", None)
    defaults = getattr(value, "__defaults__", None) if code is not None else None
    shown = repr(value) if with_value and isinstance(value, VALUE_TYPES) else None
    return (id(value), id(code) if code is not None else None, id(defaults), shown), value


def watched(value: object) -> bool:
    """Callables and modules count (a checks module's constants are added by ``fingerprint``)."""
    return callable(value) or isinstance(value, ModuleType)


def fingerprint() -> dict[str, Entry]:
    """``qualified name -> entry`` for everything the checks rely on that this kernel has imported."""
    prints: dict[str, Entry] = {}
    course = [name for name in sys.modules if name.split(".")[0] == COURSE and ".classroom" not in name]
    for name in (*WATCHED_MODULES, *course):
        module = sys.modules.get(name)
        if not isinstance(module, ModuleType):
            continue
        prints[f"sys.modules[{name!r}]"] = (id(module),), module
        constants = name.startswith(f"{COURSE}.checks")
        for attribute, value in list(vars(module).items()):
            if f"{name}.{attribute}" in VOLATILE:
                continue
            if watched(value) or (constants and not attribute.startswith("__")):
                prints[f"{name}.{attribute}"] = entry(value, constants)
    prints.update({f"sys.{name}": entry(getattr(sys, name), False) for name in SYS_FUNCTIONS})
    for module_name, class_name in WATCHED_CLASSES:
        cls = getattr(sys.modules.get(module_name), class_name, None)
        for attribute in dir(cls) if isinstance(cls, type) else ():
            value = inspect.getattr_static(cls, attribute, None)  # what the class holds, inherited or not
            if watched(value) or isinstance(value, (staticmethod, classmethod)):
                prints[f"{module_name}.{class_name}.{attribute}"] = entry(value, False)
    return prints


def changed(before: Mapping[str, Entry], after: Mapping[str, Entry]) -> list[str]:
    """Names whose object, code, defaults or value differ (or are gone), the library's own wrappers aside."""
    return sorted(name for name, (key, original) in before.items() if name not in after
                  or (after[name][0] != key and not library_wrapper(after[name][1], original)))


def library_wrapper(value: object, original: object) -> bool:
    """True when ``value`` wraps ``original`` (via ``__wrapped__``) in code of the original's own library.

    torch does so by itself: ``torch.manual_seed`` once dynamo loads, ``Optimizer.step`` at the first
    optimiser. A wrapper written in a notebook cell is not the library's.
    """
    library = sys.modules.get(str(getattr(original, "__module__", None)).split(".")[0])
    folder = getattr(library, "__file__", None)
    code = getattr(value, "__code__", None)
    if folder is None or code is None or not code.co_filename.startswith(folder.rsplit("/", 1)[0] + "/"):
        return False
    for _ in range(16):  # a chain of decorators, each with its __wrapped__
        value = getattr(value, "__wrapped__", None)
        if value is original or value is None:
            return value is original
    return False


def check_names(namespace: Mapping[str, object], check_source: str) -> list[str]:
    """Names a check cell reads that now hold a different module than the one of that name (``checks``)."""
    try:
        tree = ast.parse(check_source)
    except SyntaxError:
        return []
    wrong = []
    for name in sorted({node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}):
        value = namespace.get(name)
        if name == "checks" and name in namespace:
            real = sys.modules.get(f"{COURSE}.checks")
        elif isinstance(value, ModuleType):
            real = sys.modules.get(value.__name__)
        else:
            continue
        if value is not real:
            wrong.append(name)
    return wrong


class Snapshot:
    """The fingerprint taken before any learner code ran, and the ``verify`` that compares with it."""

    def __init__(self) -> None:
        self.before = fingerprint()
        self.fingerprint, self.changed, self.check_names = fingerprint, changed, check_names

    def verify(self, namespace: Mapping[str, object], check_source: str = "") -> None:
        """Raise ``TamperedError`` naming whatever was rebound since the snapshot."""
        rebound = self.changed(self.before, self.fingerprint())
        names = [f"the name `{name}` in the notebook" for name in self.check_names(namespace, check_source)]
        if rebound or names:
            shown = [*names, *rebound]
            more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
            raise TamperedError(f"tampered: {', '.join(shown[:5])}{more} changed after the kernel started "
                                "(a learner cell rebinds what the checks rely on)")


def snapshot(store: str, modules: Iterable[str]) -> None:
    """Import ``modules`` (what the notebook imports and the checks it calls), then fingerprint the kernel."""
    for name in modules:
        with contextlib.suppress(Exception):  # ``from x import function`` names no module
            importlib.import_module(name)
    holder = ModuleType(store)
    holder.snapshot = Snapshot()  # type: ignore[attr-defined]
    sys.modules[store] = holder


# -- in the grader ----------------------------------------------------------------------------------

def checked_modules(sources: Iterable[str]) -> list[str]:
    """The checks modules that check cells call (``checks.gan_losses.check_gan_losses(...)``)."""
    topics = set()
    for source in sources:
        with contextlib.suppress(SyntaxError):
            for node in ast.walk(ast.parse(source)):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id == "checks"):
                    topics.update({f"{COURSE}.checks", f"{COURSE}.checks.{node.attr}"})
    return sorted(topics)


def integrity_cell(source: str, number: int) -> nbformat.NotebookNode:
    """A hidden grader cell, tagged so the grader finds its outcome."""
    import nbformat  # the grader's side only (see the imports above)

    return nbformat.v4.new_code_cell(source, id=f"grader-integrity-{number}",
                                     metadata={"tags": [INTEGRITY_TAG]})


def verify_source(store: str, check_source: str = "") -> str:
    """The hidden cell that compares the kernel with the snapshot (its store gone counts as tampering)."""
    return (f"__import__('sys').modules.get({store!r}, __import__('types').SimpleNamespace(snapshot=None))"
            f".snapshot.verify(globals(), {check_source!r})")


def add_integrity_cells(notebook: nbformat.NotebookNode, modules: Iterable[str]) -> nbformat.NotebookNode:
    """The notebook with a snapshot cell first, a verify cell before every check and one at the end.

    Cells a learner tagged ``grader-integrity`` lose the tag, so only the grader's own cells count.
    """
    from .check_cells import is_check  # the grader's side only: check_cells imports nbformat

    store = STORE_PREFIX + secrets.token_hex(8)
    checks = [cell.source for cell in notebook.cells if is_check(cell)]
    imports = sorted({*modules, *checked_modules(checks)})
    cells = [integrity_cell(f"__import__('{COURSE}.classroom.integrity', fromlist=['snapshot'])"
                            f".snapshot({store!r}, {imports!r})", 0)]
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags")
        if isinstance(tags, list) and INTEGRITY_TAG in tags:
            cell.metadata["tags"] = [tag for tag in tags if tag != INTEGRITY_TAG]
        if is_check(cell):
            cells.append(integrity_cell(verify_source(store, cell.source), len(cells)))
        cells.append(cell)
    cells.append(integrity_cell(verify_source(store), len(cells)))
    notebook.cells = cells
    return notebook


def integrity_positions(notebook: nbformat.NotebookNode) -> list[int]:
    """The grader's hidden cells by their nbval number (the index among code cells)."""
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return [number for number, cell in enumerate(code_cells)
            if INTEGRITY_TAG in (cell.get("metadata", {}).get("tags") or [])]


def tampering(records: Mapping[int, dict], guards: Iterable[int]) -> str:
    """The first hidden cell's error, if one failed (a time-out is slowness, not tampering); else ""."""
    failed = [records[number] for number in guards if number in records and not records[number]["passed"]]
    return next((record["error"] for record in failed if not record["timed_out"]), "")
