"""Every correctness check prints a pass line built from what it verified and reproduces its failures.

Issue 17, item 5: a pass line claims only what the check verified. Each check records its
properties with ``Verification`` and prints them with ``Verification.passed()``; the per-check tests
(``tests/test_checks_*``) assert the line equals that record under five grader seeds. This test keeps
every check on that mechanism, so no hand-written pass line can come back.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from dcgan_course import checks

TOPICS = [info.name for info in pkgutil.iter_modules(checks.__path__)
          if info.name not in ("shortcuts", "verified")]


def correctness_checks() -> list[tuple[str, object]]:
    """(``topic.check_name``, function) for every check that judges code (predictions are apart)."""
    found = []
    for topic in TOPICS:
        module = importlib.import_module(f"dcgan_course.checks.{topic}")
        for name, function in vars(module).items():
            if (name.startswith("check_") and callable(function) and not name.endswith("_prediction")
                    and getattr(inspect.unwrap(function), "__module__", "") == module.__name__):
                found.append((f"{topic}.{name}", function))
    return found


def test_every_exercise_topic_has_checks():
    assert len(correctness_checks()) >= 15


@pytest.mark.parametrize(("name", "check"), correctness_checks(), ids=lambda value: value
                         if isinstance(value, str) else "")
def test_each_check_builds_its_pass_line_from_what_it_verified(name, check):
    source = inspect.getsource(inspect.unwrap(check))
    assert "Verification(" in source and ".passed()" in source, f"{name} must print Verification.passed()"
    assert "\n    passed(" not in source and " passed(f" not in source, f"{name} writes its own pass line"
    wrappers, function = [], check
    while hasattr(function, "__wrapped__"):
        wrappers.append(function.__code__.co_qualname)
        function = function.__wrapped__
    assert wrappers and wrappers[0].startswith("reproducing"), (
        f"{name} must be wrapped by @reproducing (outermost), so a failure names its check seed")
