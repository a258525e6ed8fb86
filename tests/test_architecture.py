"""The package's module boundaries, written down once so later work cannot quietly undo them.

``ALLOWED_IMPORTS`` says which course modules each module may import; a new edge must be added
here on purpose. ``LONG_MODULES`` names the modules allowed past ``LINE_LIMIT`` and why.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from dcgan_course import cli

PACKAGE = Path(__file__).resolve().parent.parent / "dcgan_course"
LINE_LIMIT = 300
LONG_MODULES = {
    "translation": 350,  # pix2pix is one idea: U-Net, PatchGAN, its loss, its loop, its evaluation
    "cli": 365,  # one small function pair per sub-command, and the loader of the classroom's commands
    "classroom.grading": 370,  # finding, reading, running, scoring (predictions apart, tampering): to split
    "checks.feature_pyramid": 315,  # hooks probed in both modes, on failing and activation-wiping models
    "checks.probing": 315,  # traps that tell distance, centroid, standardisation and label leaks apart
    "checks.networks": 410,  # the layer tracing the network checks share, and two checks' probes
    "checks.discriminator": 375,  # minibatch stddev and the 28-px D: every property the text states
    "checks.training": 380,  # the D step in train and eval mode, on one image and at far logits, bug by bug
    "checks.translation": 345,  # the L1-best output and the pix2pix D loss (bug combinations, train mode)
    "improve": 320,  # the seed's techniques, now with SS-GAN's rotation head: to split by technique
    "probe": 305,  # linear probes and their tables; the ridge itself lives in evaluation
    "train": 320,  # the loop, with Adam betas, the GAN loss, an extra D term and an after-epoch hook
    "style": 305,  # losses, feature networks and Gatys' loop; its two submodules are imported at the end
}
FOUNDATION = {"settings", "data", "models"}  # anything that trains may build on these
CLASSROOM = "classroom"  # instructors' and maintainers' machinery: no learner module may import it
ALLOWED_IMPORTS: dict[str, set[str]] = {
    "settings": set(),
    "models": set(),
    "data": {"settings", "models", "data.packaged", "data.image_folder", "data.paired"},
    "data.packaged": set(),  # reads files the OS package manager installed; knows nothing of the course
    "data.image_folder": set(),
    "data.paired": {"settings", "data"},
    "precision": {"settings"},
    "checkpoint": {"models"},
    "cuda_graph": {"settings"},
    "distributed": {"data"},  # DDP under torchrun: sharding batches, rank-0 writes, every rank's RNG
    "train": FOUNDATION | {"losses", "precision", "checkpoint", "cuda_graph", "distributed"},
    "metrics": {"data", "models"},
    "latent": {"data"},
    "viz": {"settings", "models", "latent"},
    "features": {"data", "models"},
    "stats": set(),  # means, confidence intervals and paired differences: plain numbers in, numbers out
    "saved_discriminators": {"models", "checkpoint"},  # any recipe's checkpoint, pytorch-examples netD
    "probe": {"data", "models", "features", "stats", "saved_discriminators", "evaluation"},  # one ridge
    "evaluation": {"data", "models", "features", "stats"},  # choose on validation, test once, over seeds
    "cifar10_results": {"stats"},  # the committed CIFAR-10 benchmark: load, curve, table
    "improve": FOUNDATION | {"losses", "train"},
    "translation": FOUNDATION | {"data.paired", "losses", "precision", "train", "metrics"},
    "style": {"models", "settings", "style.evaluation", "style.feedforward"},
    "style.feedforward": {"settings", "models", "style"},
    "style.evaluation": {"style"},  # judges a transfer in networks the optimisation never used
    "checks": {"stats", "checks.shortcuts", "checks.verified"},  # verdicts need a paired 95 % interval
    "checks.verified": {"checks", "settings"},  # pass lines from verified properties; the grader's seed
    "checks.shortcuts": set(),  # the off-limits list and the profile hook that refuses it: stdlib only
    "losses": set(),
    "toy": {"losses"},  # the 1-D and ring toys of the theory notebook
    "diagnostics": {"data", "latent", "metrics", "models", "train", "viz"},  # ablation, runs side by side
    "checks.networks": {"checks"},
    "checks.discriminator": {"checks", "checks.networks"},  # reuses the layer tracing of the generator checks
    "checks.training": {"checks", "checks.shortcuts", "models"},
    "checks.gan_losses": {"checks", "checks.shortcuts", "losses"},  # term by term against losses.LOSSES
    "checks.latent": {"checks", "latent"},
    "checks.feature_pyramid": {"checks", "checks.shortcuts", "features", "models"},
    "checks.probing": {"checks", "checks.shortcuts"},
    "checks.k_plus_one": {"checks", "checks.shortcuts"},
    "checks.translation": {"checks", "losses", "translation"},
    "checks.style": {"checks", "checks.shortcuts", "style"},
    "cli": {"data", "distributed", "metrics", "models", "improve", "probe", "settings", "style", "train",
            "translation", "viz"},  # the classroom's commands load it by name: the student edition has none
    "classroom": set(),
    "classroom.colab": set(),
    "classroom.authoring": {"classroom.colab"},
    "classroom.check_cells": set(),
    "classroom.plugin": set(),
    "classroom.kernels": set(),  # the warm-kernel template runs in the kernel's process: stdlib only
    "classroom.runs": {"settings"},  # the pretrained GAN trained once by the grader, copied per notebook
    "classroom.grading": {"settings", "classroom.check_cells", "classroom.plugin", "classroom.kernels",
                          "classroom.runs", "classroom.integrity", "classroom.similarity"},
    "classroom.integrity": {"classroom.check_cells"},  # hidden cells that catch rebinding, and their snapshot
    "classroom.similarity": {"classroom.authoring", "classroom.check_cells"},  # copied-source report
    "classroom.reports": {"classroom.grading", "classroom.check_cells"},  # names the prediction of a check
    "classroom.nbgrader_export": {"classroom.authoring", "classroom.check_cells"},  # nbgrader's metadata
    "classroom.release": {"classroom.authoring"},  # the student edition: lectures, fresh exercises, package
}


def module_name(path: Path) -> str:
    """dcgan_course/checks/gan.py -> 'checks.gan'; a package's __init__ -> the package name."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_module(module: list[str], name: str) -> str:
    """``from <module> import <name>``: the submodule if ``name`` is one, else ``module`` itself."""
    candidate = PACKAGE.joinpath(*module, name)
    is_module = candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file()
    return ".".join([*module, name] if is_module else module)


def course_imports(path: Path) -> set[str]:
    """The course modules a file imports (relative or absolute), by module name."""
    name = module_name(path)
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            module = [*base, *node.module.split(".")] if node.module else base
            imported.update(imported_module(module, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dcgan_course"):
            module = node.module.split(".")[1:]
            imported.update(imported_module(module, alias.name) for alias in node.names)
    return {module for module in imported if module and module != name}


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_the_import_map() -> None:
    names = {module_name(path) for path in MODULES} - {""}
    assert names == set(ALLOWED_IMPORTS), "add new modules to ALLOWED_IMPORTS (and drop removed ones)"


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_module_imports_only_what_the_map_allows(path: Path) -> None:
    name = module_name(path) or "dcgan_course"
    unexpected = course_imports(path) - ALLOWED_IMPORTS.get(name, set())
    allowed = sorted(ALLOWED_IMPORTS.get(name, ()))
    assert not unexpected, f"{name} imports {sorted(unexpected)}; allowed: {allowed}"


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_module_stays_readable_in_one_sitting(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    limit = LONG_MODULES.get(module_name(path), LINE_LIMIT)
    assert lines <= limit, f"{module_name(path)} has {lines} lines (limit {limit}): split it by concept"


def test_the_import_check_sees_relative_and_absolute_imports() -> None:
    assert course_imports(PACKAGE / "train.py") >= {"checkpoint", "precision", "models"}
    assert "losses" in course_imports(PACKAGE / "checks" / "translation.py")
    assert course_imports(PACKAGE / "checks" / "discriminator.py") == {"checks", "checks.networks"}


def test_python_dash_m_cli_lists_the_same_commands_as_the_entry_point() -> None:
    listed = subprocess.run([sys.executable, "-m", "dcgan_course.cli", "--help"], capture_output=True,
                            text=True, check=True).stdout
    for command in cli.build_parser()._subparsers._group_actions[0].choices:
        assert f"    {command}" in listed, f"`python -m dcgan_course.cli --help` does not list {command}"


def test_the_module_map_in_the_package_docstring_lists_every_module() -> None:
    import dcgan_course

    rows = [line for line in dcgan_course.__doc__.splitlines() if line.startswith("| ")]
    mapped = {row.split("|")[1].strip() for row in rows}
    expected = {name for name in ALLOWED_IMPORTS if not name.startswith("checks.")}  # checks: one row
    assert expected - mapped == set(), "add these modules to the map in dcgan_course/__init__.py"
    assert mapped - expected - {"module"} == set(), "the map names modules that no longer exist"


def test_no_learner_module_imports_the_classroom() -> None:
    outside = {name for name in ALLOWED_IMPORTS if name.split(".")[0] != CLASSROOM}
    reaching_in = {name: allowed for name in outside
                   if (allowed := {m for m in ALLOWED_IMPORTS[name] if m.split(".")[0] == CLASSROOM})}
    assert reaching_in == {}, "the student edition leaves classroom/ out: learner modules must not need it"


def test_the_classroom_modules_live_in_the_classroom_folder() -> None:
    tools = {"authoring", "check_cells", "colab", "grading", "integrity", "kernels", "nbgrader_export",
             "plugin", "release", "reports", "runs", "similarity"}
    assert {path.stem for path in (PACKAGE / CLASSROOM).glob("*.py")} == tools | {"__init__"}
    moved = tools | {"grading_reports", "grading_plugin", "style_evaluation", "paired_data"}
    assert not any((PACKAGE / f"{name}.py").exists() for name in moved)


def test_contributing_shows_the_same_module_map_as_the_package() -> None:
    import dcgan_course

    contributing = (PACKAGE.parent / "CONTRIBUTING.md").read_text(encoding="utf-8")
    rows = [line for line in dcgan_course.__doc__.splitlines() if line.startswith("| ")]
    assert all(row in contributing for row in rows), "copy the module map into CONTRIBUTING.md"
