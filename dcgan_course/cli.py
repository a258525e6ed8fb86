"""The ``dcgan-course`` command line: one sub-command per course task.

Each sub-command is registered by an ``add_*_command(subparsers)`` function listed in
``COMMANDS``; it sets ``run=<function(args) -> int>``. User mistakes raise ``CommandError`` (or
``ValueError`` / ``FileNotFoundError``) and are printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


class CommandError(Exception):
    """A mistake in the command line or its inputs, reported as one line."""


USER_ERRORS: tuple[type[BaseException], ...] = (CommandError, ValueError, FileNotFoundError, OSError)

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="dcgan-course", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the sub-command, and turn user errors into a one-line message."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except USER_ERRORS as error:
        print(f"dcgan-course {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
