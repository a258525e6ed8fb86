"""Every prediction of the solutions, in fast mode over 5 seeds: no run contradicts the stated answer.

Each solution notebook runs here, in this process, from its first cell up to its last prediction
check (correctness checks skipped), with ``settings.setup`` seeded 0-4. A prediction check may
agree with the solution's answer or, for a noisy measurement, give no verdict at this scale; it
must never contradict it, and never call the solution's own measurement broken. Slow (a few
minutes on 2 cores: notebooks 05, 06 and 08 train), so it is marked ``notebooks``.
"""

from __future__ import annotations

import contextlib
import io
import time
from functools import partial
from pathlib import Path

import matplotlib
import nbformat
import pytest

from dcgan_course import checks, settings
from dcgan_course.classroom import check_cells

ROOT = Path(__file__).resolve().parent.parent
SEEDS = range(5)
SOLUTIONS = [path for path in sorted((ROOT / "solutions").glob("*.ipynb"))
             if any(check_cells.is_prediction(cell) for cell in nbformat.read(path, as_version=4).cells)]


def prediction_outputs(path: Path, seed: int) -> dict[str, str]:
    """Run a solution up to its last prediction check with ``seed``; what each prediction check printed."""
    code = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    last = max(index for index, cell in enumerate(code) if check_cells.is_prediction(cell))
    namespace = {"__name__": "__main__", "display": lambda *args, **kwargs: None}
    printed = {}
    for cell in code[: last + 1]:
        if check_cells.is_check(cell) and not check_cells.is_prediction(cell):
            continue
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(cell.source, f"{path.name}:{cell.get('id')}", "exec"), namespace)  # noqa: S102
        if check_cells.is_prediction(cell):
            printed[check_cells.prediction_name(check_cells.check_label(cell))] = buffer.getvalue()
    return printed


@pytest.mark.notebooks
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda path: path.stem)
def test_no_seed_contradicts_the_stated_answer(path, seed, monkeypatch, tmp_path_factory):
    monkeypatch.setenv(settings.FAST_ENV, "1")
    monkeypatch.setenv(settings.RUNS_ENV, str(tmp_path_factory.getbasetemp() / "prediction-runs"))
    monkeypatch.setattr(settings, "setup", partial(settings.setup, seed))
    matplotlib.use("Agg")
    started = time.perf_counter()
    printed = prediction_outputs(path, seed)
    assert printed, f"{path.name} ran no prediction check"
    for name, output in printed.items():
        summary = f"{path.name} seed {seed}, {name}:\n{output}"
        commitment = check_cells.read_commitment(output)
        assert commitment is not None and commitment[0] == name, summary
        assert checks.CONTRADICTS_MARK not in output and checks.CANNOT_JUDGE_MARK not in output, summary
        assert checks.AGREES_MARK in output or checks.NO_VERDICT_MARK in output, summary
        verdict = output.splitlines()[-1][:200]
        print(f"\n{path.stem} seed {seed} {name} ({time.perf_counter() - started:.0f} s): {verdict}")
