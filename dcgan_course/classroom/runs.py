"""A trusted run cache for grading: the pretrained GAN is trained once, by the grader, not per notebook.

Notebooks 04-06 start from ``train.pretrained_gan`` (04 on digits, 05-06 on
``data.representation_dataset()``), which trains a small GAN unless its checkpoint is in the runs
folder. Each graded notebook gets a runs folder of its own in its scratch folder,
so without help every one of them (for every student) trains the same GAN again. The grader
trains it once before grading, in a folder no student code ever touches, and copies it into each
notebook's scratch runs folder: a notebook finds the checkpoint and resumes it exactly (weights and
random state, see ``checkpoint``), so it computes what it would have computed by training, and
whatever it writes there stays in its own copy.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREBUILT_CALL = "pretrained_gan("  # a reference notebook that calls it makes the grader prebuild
PREBUILD = ("from dcgan_course import data, train\n"  # 04 draws on digits; 05-06 on the representation data
            "for name in dict.fromkeys(['digits', data.representation_dataset()]):\n"
            "    train.pretrained_gan(name, progress=False)")


@contextlib.contextmanager
def prebuilt_runs(environment: dict[str, str]) -> Iterator[Path]:
    """A runs folder holding the pretrained GAN, trained under the grading ``environment``."""
    from dcgan_course import settings  # imported here: the grading side stays free of torch

    with tempfile.TemporaryDirectory(prefix="dcgan-grade-runs-") as folder:
        subprocess.run([sys.executable, "-c", PREBUILD], env={**environment, settings.RUNS_ENV: folder},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        yield Path(folder)  # if training failed the folder is empty and notebooks train for themselves


def copy_runs(cache: Path | None, scratch: Path) -> None:
    """Give one notebook its own copy of the cached runs, as ``runs/`` in its scratch folder."""
    if cache is not None:
        shutil.copytree(cache, scratch / "runs", dirs_exist_ok=True)
