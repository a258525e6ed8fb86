"""What the check tests share: a check fails naming the mistake, or passes with the line it verified."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dcgan_course.checks import PASS_MARK, Verification

SEEDS = (0, 1, 2, 3, 4)  # grader seeds every correct implementation must pass under


def fails_naming(check: Callable[..., None], candidate: object, *phrases: str) -> str:
    """Run ``check`` on ``candidate``; assert it fails with a message containing every phrase."""
    with pytest.raises(AssertionError) as failure:
        check(candidate)
    message = str(failure.value)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    assert "check inputs drawn with seed" in message, "a failure must print the seed that reproduces it"
    return message


def passes_with_verified_line(check: Callable[..., None], candidate: object, capsys: pytest.CaptureFixture,
                              monkeypatch: pytest.MonkeyPatch, seeds: tuple[int, ...] = SEEDS) -> str:
    """Under every grader seed, ``check`` passes ``candidate`` with one line: exactly what it verified."""
    lines = set()
    for seed in seeds:
        monkeypatch.setenv("DCGAN_COURSE_CHECK_SEED", str(seed))
        Verification.last = None
        capsys.readouterr()
        check(candidate)
        out = capsys.readouterr().out.splitlines()
        assert len(out) == 1 and out[0].startswith(PASS_MARK), (seed, out)
        assert Verification.last is not None, "the pass line must come from Verification.passed()"
        assert out[0] == f"{PASS_MARK} {Verification.last.line()}", out[0]
        lines.add(out[0])
    assert len(lines) == 1, f"the pass line must not depend on the seed: {lines}"
    return lines.pop()
