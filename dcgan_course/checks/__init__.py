"""Exercise checks: one function per exercise, grouped by topic (``checks.networks``, ...).

A check prints a single deterministic line starting with a tick when the learner's code is
right, and raises ``AssertionError`` with a message naming the likely bug when it is not.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TypeVar

import torch

# -- off-limits shortcuts (issue 17, item 1): kept apart so other edits to this module merge cleanly
from .shortcuts import ShortcutError, refusing_shortcuts

PASS_MARK = "✅"
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


def check_prediction(name: str, prediction: object, options: Sequence[str], outcome: str,
                     explanation: str) -> None:
    """Score a committed prediction: any listed option passes, saying whether the run agreed; a blank fails.

    ``outcome`` must come from the learner's own run or from analysis, never from a constant that
    fast-mode noise could flip; ``explanation`` says why the outcome is what it is.
    """
    expect(prediction is not None,
           f"{name} is still None: commit to one of {list(options)} *before* running the experiment. "
           "Any honest guess earns this check; a blank does not.")
    expect(prediction in options, f"{name} = {prediction!r} is not one of the options {list(options)}.")
    expect(outcome in options, f"internal error: the outcome {outcome!r} is not among {list(options)}.")
    verdict = "and the run agrees" if prediction == outcome else f"but the run shows {outcome!r}"
    passed(f"prediction committed: {name} = {prediction!r}, {verdict}. {explanation}")
