"""Exercise checks: one function per exercise, grouped by topic (``checks.networks``, ...).

A check prints a single deterministic line starting with a tick when the learner's code is
right, and raises ``AssertionError`` with a message naming the likely bug when it is not. A
prediction check is different: it fails only on a blank, prints the committed value under its
own mark (never the tick), then whether the run agrees, and that agreement is never graded.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TypeVar

import torch

# -- off-limits shortcuts (issue 17, item 1): kept apart so other edits to this module merge cleanly
from .shortcuts import ShortcutError, refusing_shortcuts
from .verified import Verification, check_rng, check_seed, reproducing  # noqa: F401 (the checks' toolkit)

PASS_MARK = "✅"
PREDICTION_MARK = "🔶"  # a committed prediction: never the pass mark, never graded for agreement
COMMITTED = "prediction committed"
AGREES_MARK, CONTRADICTS_MARK, NO_VERDICT_MARK, CANNOT_JUDGE_MARK = "🎯", "🔸", "⚖️", "⚠️"
T = TypeVar("T")


def __getattr__(topic: str) -> ModuleType:
    """Import a topic's checks on first use: ``checks.networks.check_generator(...)`` needs no import."""
    try:
        return importlib.import_module(f"{__name__}.{topic}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{topic}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {topic!r}") from None


def passed(message: str) -> None:
    """Report a passed check on one deterministic line."""
    print(f"{PASS_MARK} {message}")


def expect(condition: bool, message: str) -> None:
    """Raise ``AssertionError(message)`` unless ``condition`` holds."""
    if not condition:
        raise AssertionError(message)


def call_learner(name: str, action: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run the learner's code; a stub or a crash becomes an ``AssertionError`` that says what was tried."""
    try:
        with refusing_shortcuts(name):
            return function(*args, **kwargs)
    except ShortcutError as error:
        raise AssertionError(str(error)) from None
    except NotImplementedError:
        raise AssertionError(
            f"{name} is not implemented yet: replace `raise NotImplementedError` with your code, "
            "run that cell, then run this check again."
        ) from None
    except AssertionError:
        raise
    except Exception as error:
        raise AssertionError(f"{action} raised {type(error).__name__}: {error}") from error


def expect_tensor(value: object, what: str) -> torch.Tensor:
    """Insist that ``value`` is a tensor, naming ``what`` it should have been."""
    expect(isinstance(value, torch.Tensor),
           f"{what} should be a torch.Tensor, got {type(value).__name__}.")
    return value  # type: ignore[return-value]


def expect_shape(tensor: torch.Tensor, shape: Sequence[int], what: str) -> None:
    """Insist on an exact shape, showing expected and actual."""
    expect(tuple(tensor.shape) == tuple(shape),
           f"{what}: expected shape {tuple(shape)}, got {tuple(tensor.shape)}.")


def expect_close(actual: torch.Tensor, expected: torch.Tensor, what: str, atol: float = 1e-5) -> None:
    """Insist that two tensors agree to ``atol``, reporting the largest difference."""
    expect_shape(actual, expected.shape, what)
    error = (actual.detach().float() - expected.detach().float()).abs().max().item()
    expect(error <= atol, f"{what}: values differ from the reference by up to {error:.3g}.")


# --- predictions: committed before a run, shown against it, never graded for agreement ------------

def commit_prediction(name: str, prediction: object, options: Sequence[str], reason: object = "") -> str:
    """Insist on a committed option and print it with the learner's reason under the prediction mark.

    The line is what the grader reads (``classroom.check_cells.read_commitment``): the variable, the
    value and the reason, each as JSON. A blank fails ("not committed"); nothing here judges the value.
    """
    expect(prediction is not None,
           f"{name} is still None: not committed. Commit to one of {list(options)} *before* running the "
           "experiment, with a one-line reason. Any honest guess counts; a wrong one costs nothing.")
    expect(prediction in options, f"{name} = {prediction!r} is not one of the options {list(options)}.")
    expect(reason is None or isinstance(reason, str),
           f"The reason should be one line of text (a str), got {type(reason).__name__}.")
    text = " ".join((reason or "").split())
    print(f"{PREDICTION_MARK} {COMMITTED}: {name} = {json.dumps(prediction, ensure_ascii=False)}; "
          f"your reason: {json.dumps(text, ensure_ascii=False)}")
    if not text:
        print("   (no reason given: write one line in the reason variable next to the prediction, so you can "
              "compare your reasoning, not just your answer, with the outcome)")
    return prediction  # type: ignore[return-value]


def judge_prediction(prediction: str, outcome: str, explanation: str) -> None:
    """Show whether the run agrees, and why; a contradiction gets its own mark, never the pass mark."""
    if prediction == outcome:
        print(f"{AGREES_MARK} the run agrees. {explanation}")
    else:
        shown = json.dumps(outcome, ensure_ascii=False)
        print(f"{CONTRADICTS_MARK} the run contradicts it: it shows {shown}. {explanation} A wrong "
              "prediction costs no marks; work out why the run went the other way.")


def no_verdict(explanation: str) -> None:
    """Say that the measurement cannot separate the options at this scale, so no verdict is given."""
    print(f"{NO_VERDICT_MARK} no verdict at this scale: {explanation}")


def cannot_judge(problem: str) -> None:
    """Say that the learner's measurement is broken, so no verdict is given (the prediction still counts)."""
    print(f"{CANNOT_JUDGE_MARK} cannot judge: {problem}")


def check_prediction(name: str, prediction: object, options: Sequence[str], outcome: str,
                     explanation: str, reason: object = "") -> None:
    """Commit a prediction, then show the outcome the check computed; a blank fails, a wrong guess does not.

    ``outcome`` must come from analysis or from the learner's own run, validated first, never from a
    constant that fast-mode noise could flip; ``explanation`` says why the outcome is what it is.
    """
    expect(outcome in options, f"internal error: the outcome {outcome!r} is not among {list(options)}.")
    judge_prediction(commit_prediction(name, prediction, options, reason), outcome, explanation)


def measured_number(value: object, what: str, low: float, high: float) -> tuple[float | None, str]:
    """A learner's measurement as a float if it is one and lies in [low, high]; else None and the problem."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        return None, f"{what} should be a number, got {type(value).__name__}."
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        return None, f"{what} is {number}: the measurement broke (a division by zero, an empty selection?)."
    if not low <= number <= high:
        return None, f"{what} is {number:g}, outside [{low:g}, {high:g}] where it must lie: check its units."
    return number, ""


def measured_series(values: object, what: str, low: float, high: float, length: int | None = None
                    ) -> tuple[list[float] | None, str]:
    """Per-repeat measurements as floats in [low, high] (at least two); else None and the problem."""
    if isinstance(values, torch.Tensor):
        values = values.flatten()
    if hasattr(values, "tolist") and not isinstance(values, (list, tuple)):
        values = values.tolist()  # a tensor or a NumPy array
    if not isinstance(values, Sequence) or isinstance(values, str) or len(values) < 2:
        return None, (f"{what} should hold one number per repeat (at least two, for an interval), got "
                      f"{values!r:.80}.")
    if length is not None and len(values) != length:
        return None, f"{what} has {len(values)} repeats, its partner {length}: pair them repeat by repeat."
    numbers = []
    for value in values:
        number, problem = measured_number(value, f"a value of {what}", low, high)
        if number is None:
            return None, problem
        numbers.append(number)
    return numbers, ""


def paired_outcome(differences: Sequence[float], if_positive: str, if_negative: str, scale: float = 1.0,
                   unit: str = "") -> tuple[str | None, str]:
    """The option a paired 95 % interval supports (None when it includes 0), and the interval as text."""
    from .. import stats

    estimate = stats.mean_ci(differences)
    text = (f"{scale * estimate.mean:+.3g}{unit} ± {scale * estimate.half_width:.2g}{unit} (95 % interval, "
            f"{estimate.count} paired repeats)")
    if estimate.low > 0:
        return if_positive, text
    if estimate.high < 0:
        return if_negative, text
    return None, text
