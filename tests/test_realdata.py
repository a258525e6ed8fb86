"""The real-data tier: Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package, no download.

Runs when ``/usr/share/datasets/fashion-mnist/`` holds the files (``apt-get install
dataset-fashion-mnist``; CI's ``.ci/run`` installs it) and is skipped, saying so, otherwise.
Select it alone with ``pytest -m realdata``.
"""

from __future__ import annotations

import json

import pytest
import torch

from dcgan_course import cli, data, features, models, probe, train
from dcgan_course.data.packaged import PACKAGED_DIRS, packaged_files

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(
        packaged_files("fashion-mnist", "train") is None or packaged_files("fashion-mnist", "test") is None,
        reason=f"real-data tier: no Fashion-MNIST files in {PACKAGED_DIRS['fashion-mnist']} "
               "(apt-get install dataset-fashion-mnist to run it)"),
]


def test_fashion_mnist_loads_whole_and_balanced_from_the_system_package():
    train_split, test_split = (data.load_dataset("fashion-mnist", split) for split in ("train", "test"))
    assert train_split.images.shape == (60000, 1, 32, 32) and len(test_split) == 10000
    assert torch.bincount(train_split.labels).tolist() == [6000] * 10
    assert -1.0 <= float(train_split.images.min()) < -0.99 and float(train_split.images.max()) > 0.99
    assert train_split.classes[:2] == ["T-shirt/top", "Trouser"]


def test_a_short_training_run_on_real_images_moves_the_discriminator():
    images = data.load_dataset("fashion-mnist", limit=256)
    generator, discriminator = models.build_gan(base_width=8)
    history = train.train_gan(generator, discriminator, images, epochs=2, batch_size=32, device="cpu",
                              progress=False)
    assert len(history.loss_d) == 16 and all(torch.isfinite(torch.tensor(history.loss_d)))
    assert history.epoch_samples[-1].shape == (64, 1, 32, 32)


def test_a_probe_on_real_images_reads_the_classes_far_above_chance():
    train_split = data.load_dataset("fashion-mnist", limit=2000)
    test_split = data.load_dataset("fashion-mnist", "test", limit=1000)
    _, discriminator = models.build_gan(base_width=8)
    sets = probe.baseline_features(train_split, test_split, discriminator)
    results = probe.compare_representations(sets, train_split.labels, test_split.labels, (10,), draws=2,
                                            progress=False)
    accuracy = {result.method: result.mean for result in results}
    assert accuracy["raw_pixels"] > 0.55 and accuracy["random_init_discriminator"] > 0.55  # chance: 0.1
    assert features.pixel_features(test_split.images).shape == (1000, 1024)


def test_the_probe_command_runs_on_real_images(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--dataset", "fashion-mnist", "--limit", "128", "--epochs", "1",
                     "--batch-size", "32", "--out", str(out), "--no-score"]) == 0
    capsys.readouterr()
    assert cli.main(["probe", "--checkpoint", str(out / "checkpoint.pt"), "--dataset", "fashion-mnist",
                     "--labels-per-class", "5", "--draws", "2", "--limit", "600", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {r["method"] for r in report["results"]} >= {"raw_pixels", "dcgan_discriminator"}
    assert all(r["accuracy_mean"] > 0.3 for r in report["results"])
