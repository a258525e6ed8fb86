"""What a check verified, and the seed its inputs come from (issue 17, item 5).

A pass line lists exactly the properties the check verified, no more: each property is recorded
by the ``with verified("...")`` block that tested it, and the line is built from that record.
Check inputs are drawn from a seed the grader sets (``DCGAN_COURSE_CHECK_SEED``), so an answer
hard-coded to one set of inputs fails; a failure message says which seed reproduces it.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch

from ..settings import CHECK_SEED_ENV

F = TypeVar("F", bound=Callable[..., Any])


def check_seed() -> int:
    """The seed check inputs are drawn from: the grader's ``DCGAN_COURSE_CHECK_SEED``, else 0."""
    text = os.environ.get(CHECK_SEED_ENV, "0").strip() or "0"
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{CHECK_SEED_ENV}={text!r} is not an integer seed.") from None


def check_rng(offset: int = 0) -> torch.Generator:
    """A generator for one set of check inputs: the check seed, shifted by ``offset`` per input set."""
    return torch.Generator().manual_seed(check_seed() * 1_000 + offset)


def reproducing(check: F) -> F:
    """Append to a failed check's message the seed its inputs came from, and how to rerun with it."""

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return check(*args, **kwargs)
        except AssertionError as error:
            seed = check_seed()
            note = (f"\n(check inputs drawn with seed {seed}; to reproduce, set the environment variable "
                    f"{CHECK_SEED_ENV}={seed} before starting Jupyter)")
            raise AssertionError(f"{error}{note}") from error.__cause__

    return run  # type: ignore[return-value]


class Verification:
    """The properties one check has verified so far; ``passed()`` prints exactly those."""

    last: Verification | None = None  # the latest finished verification, for the tests

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.properties: list[str] = []

    @contextlib.contextmanager
    def __call__(self, property_: str) -> Iterator[None]:
        """Record ``property_`` once the block that tests it finishes without a failed expectation."""
        yield
        self.properties.append(property_)

    def line(self) -> str:
        """The pass line's text: the subject and every verified property."""
        if not self.properties:
            raise RuntimeError(f"internal error: the check of {self.subject} verified nothing")
        return f"{self.subject}: " + "; ".join(self.properties) + "."

    def passed(self) -> None:
        """Print the pass line built from what was verified."""
        from . import passed

        Verification.last = self
        passed(self.line())
