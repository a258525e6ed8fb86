"""Smoke tests of the figure scripts' code paths (the real runs are too long for the test suite)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import gan_failures  # noqa: E402


def test_a_gallery_run_writes_small_figures_and_merges_its_numbers(tmp_path: Path) -> None:
    gan_failures.main(["--steps", "2", "--jobs", "1", "--out", str(tmp_path), "--only", "healthy"])
    gan_failures.main(["--steps", "2", "--jobs", "1", "--out", str(tmp_path), "--only", "no_detach"])
    report = json.loads((tmp_path / "failures.json").read_text())
    assert {"healthy", "no_detach"} <= set(report)
    assert "backward through the graph a second time" in report["no_detach"]["error_without_retain_graph"]
    for name in ("healthy", "train_mode", "no_detach"):
        assert 0 < (tmp_path / f"failure_{name}.png").stat().st_size < 60_000


def test_odd_kernel_upsampling_keeps_the_image_size_and_uses_3x3_kernels() -> None:
    images = torch.zeros(4, 1, 32, 32)
    run = gan_failures.train(images, 0, gan_failures.Breakage(odd_kernel=True), seed=0)
    assert run.samples.shape == (gan_failures.SAMPLES, 1, 32, 32)
    kernels = {m.kernel_size for m in run.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)}
    assert (3, 3) in kernels


def test_a_float16_run_records_its_losses_and_the_summary_reports_the_first_nan() -> None:
    run = gan_failures.Run(torch.nn.Identity(), torch.zeros(4, 1, 8, 8),
                           {"loss_d": [1.0, math.nan, math.nan], "d_fake": [0.5, 0.4, 0.3]})
    summary = gan_failures.summary(run, torch.randn(4, 1, 8, 8))
    assert summary["first_nan_step"] == 1 and summary["sample_diversity"] == 0.0
