"""Off-limits shortcuts: while a check runs the learner's code, the package's own answer cannot be used.

Each exercise's text names what it asks you to write yourself; ``OFF_LIMITS`` lists, per check,
the functions (and library classes) that already do it. While ``call_learner`` runs the learner's
code, a profile hook watches every Python call: entering the code of one of them, however it was
reached (an alias, ``losses.LOSSES["lsgan"]``, ``functools.partial``, a lambda), fails the check
with a message that says to write it yourself. A class counts through the methods defined in its
own body. The check computes its own reference outside that window.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from types import CodeType, FrameType, MappingProxyType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

OFF_LIMITS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "gan_losses.check_gan_losses": ("dcgan_course.losses.lsgan", "dcgan_course.losses.hinge"),
    "training.check_discriminator_step": ("dcgan_course.train.discriminator_step",
                                          "dcgan_course.train.discriminator_update"),
    "probing.check_probe": ("sklearn.neighbors.NearestCentroid",),
    "k_plus_one.check_k_plus_one_loss": ("dcgan_course.improve.k_plus_one_loss",),
    "style.check_style_loss": ("dcgan_course.style.style_loss",),
})
ACTIVE: ContextVar[tuple[str, ...]] = ContextVar("off_limits", default=())


class ShortcutError(AssertionError):
    """The learner's code called something the exercise asks them to write themselves."""


def off_limits(check: F) -> F:
    """Mark a check whose learner calls refuse the names ``OFF_LIMITS`` lists for it."""
    key = f"{check.__module__.rsplit('.', 1)[-1]}.{check.__name__}"
    if key not in OFF_LIMITS:
        raise KeyError(f"{key} has no entry in checks.shortcuts.OFF_LIMITS; add one or drop @off_limits.")

    @functools.wraps(check)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        token = ACTIVE.set(OFF_LIMITS[key])
        try:
            return check(*args, **kwargs)
        finally:
            ACTIVE.reset(token)

    return guarded  # type: ignore[return-value]


def resolve(dotted: str) -> object:
    """The object a dotted name such as ``dcgan_course.losses.lsgan`` names (longest importable module)."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ImportError(f"cannot resolve {dotted!r}")


def own_code(target: object) -> list[CodeType]:
    """The code a function runs, or that of every method a class defines in its own body (unwrapped)."""
    if inspect.isclass(target):
        members = [getattr(member, "__func__", member) for member in vars(target).values()]
        functions = [inspect.unwrap(member) for member in members if inspect.isfunction(member)]
        return [f.__code__ for f in functions if f.__qualname__.split(".")[0] == target.__name__]
    function = inspect.unwrap(target)  # type: ignore[arg-type]
    return [function.__code__] if inspect.isfunction(function) else []


def forbidden_code(names: tuple[str, ...]) -> dict[int, str]:
    """``id(code) -> dotted name`` for every off-limits name (a library that is not installed is skipped)."""
    codes: dict[int, str] = {}
    for name in names:
        with contextlib.suppress(ImportError):
            codes.update({id(code): name for code in own_code(resolve(name))})
    return codes


def shortcut_message(learner: str, name: str) -> str:
    """Why the check failed: which off-limits function the learner's code reached, and what to do."""
    owner = ("the package's own answer to this exercise" if name.startswith("dcgan_course.")
             else "a library that does this exercise for you")
    return (f"{learner} calls `{name}`, {owner}: it is off-limits here (the exercise's text says so). "
            "Write it yourself, from the formula and steps above the exercise.")


@contextlib.contextmanager
def refusing_shortcuts(learner: str) -> Iterator[None]:
    """While the block runs, entering an off-limits function raises ``ShortcutError`` (even if caught)."""
    codes = forbidden_code(ACTIVE.get())
    if not codes:
        yield
        return
    reached: list[str] = []

    def hook(frame: FrameType, event: str, _arg: object) -> None:
        if event == "call" and id(frame.f_code) in codes:
            reached.append(codes[id(frame.f_code)])
            raise ShortcutError(shortcut_message(learner, reached[0]))

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        yield
    finally:
        still_on = sys.getprofile() is hook
        sys.setprofile(previous)
        if reached:
            raise ShortcutError(shortcut_message(learner, reached[0]))
        if not still_on:
            raise ShortcutError(f"{learner} switched off the check's profile hook (sys.setprofile): "
                                "leave it alone and write the exercise yourself.")
