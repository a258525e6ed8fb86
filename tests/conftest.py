"""Shared test setup: fast mode, CPU, and run folders inside pytest's temp dirs."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def course_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test runs in fast mode on the CPU, with its own runs folder and no data downloads."""
    monkeypatch.setenv("DCGAN_COURSE_FAST", "1")
    monkeypatch.setenv("DCGAN_COURSE_DEVICE", "cpu")
    monkeypatch.setenv("DCGAN_COURSE_RUNS", str(tmp_path_factory.mktemp("runs")))
    monkeypatch.setenv("DCGAN_COURSE_DATA", str(tmp_path_factory.mktemp("data")))
