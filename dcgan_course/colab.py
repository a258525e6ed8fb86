"""Colab support: the "Open in Colab" badge and the install guard every notebook starts with.

The repository is named in one place (``REPOSITORY``); ``dcgan-course set-repo OWNER/NAME``
rewrites it and every notebook's badge and install cell.
"""

from __future__ import annotations

import sys

REPOSITORY = "dcgan-course/dcgan-course"
BRANCH = "main"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def running_on_colab() -> bool:
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules


def badge_markdown(notebook_path: str, repository: str = REPOSITORY) -> str:
    """The Markdown "Open in Colab" badge for a notebook path relative to the repository root."""
    url = f"https://colab.research.google.com/github/{repository}/blob/{BRANCH}/{notebook_path}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def install_requirement(repository: str = REPOSITORY) -> str:
    """The pip requirement that installs this course package from its Git repository."""
    return f"dcgan-course @ git+https://github.com/{repository}.git@{BRANCH}"


def install_guard_source(repository: str = REPOSITORY) -> str:
    """The code that opens every notebook's first code cell: install on Colab, nothing elsewhere.

    It must be self-contained, because on Colab the package is not installed yet.
    """
    return (
        "import sys\n"
        "if \"google.colab\" in sys.modules:  # Colab: install the course, keep Colab's torch\n"
        "    import subprocess\n"
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",\n"
        f"                    \"{install_requirement(repository)}\"], check=True)\n"
    )
