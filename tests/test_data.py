"""Loaders: the embedded digits, and the torchvision datasets on tiny files in their real format."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_course.data import DatasetDownloadError, convert_channels, load_dataset, packaged

FIXTURE_COUNT = 12


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write an array in the IDX format MNIST ships in (magic, dims, big-endian uint8 data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_packaged_fashion_mnist(folder: Path) -> np.ndarray:
    """Debian's layout: gzipped IDX files with the original names in one folder; returns the train labels."""
    import gzip

    labels = np.arange(FIXTURE_COUNT) % 10
    for prefix in ("train", "t10k"):
        images = np.random.default_rng(1).integers(0, 256, size=(FIXTURE_COUNT, 28, 28))
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            plain = folder / f"{prefix}-{kind}-ubyte"
            write_idx(plain, array)
            plain.with_name(plain.name + ".gz").write_bytes(gzip.compress(plain.read_bytes()))
            plain.unlink()
    return labels


def write_mnist_like(root: Path, folder: str) -> np.ndarray:
    """Write train and test idx files for an MNIST-like dataset; return the train labels."""
    rng = np.random.default_rng(0)
    labels = np.arange(FIXTURE_COUNT) % 10
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, size=(FIXTURE_COUNT, 28, 28))
        images[:, 0, 0] = 0
        images[:, 0, 1] = 255
        write_idx(root / folder / "raw" / f"{prefix}-images-idx3-ubyte", images)
        write_idx(root / folder / "raw" / f"{prefix}-labels-idx1-ubyte", labels)
    return labels


def exists_only(path: str, md5: str | None = None) -> bool:
    """Stand-in for torchvision's md5 check on fixture files."""
    return Path(path).is_file()


def test_digits_is_the_default_and_is_scaled_to_the_tanh_range():
    data = load_dataset()
    assert data.name == "digits" and data.images.shape == (1000, 1, 32, 32)
    assert data.images.min() >= -1.0 and data.images.max() <= 1.0
    assert data.images.min() < -0.99 and data.images.max() > 0.99
    assert data.num_classes == 10 and torch.bincount(data.labels).min() >= 95


def test_digits_splits_are_disjoint_and_complete():
    train, test = load_dataset(split="train"), load_dataset(split="test")
    assert len(train) + len(test) == 1797
    flat_train = {tuple(row.tolist()) for row in train.images.flatten(1)[:, ::37]}
    assert not any(tuple(row.tolist()) in flat_train for row in test.images.flatten(1)[:, ::37][:50])


def test_digits_at_64_pixels_in_rgb():
    data = load_dataset(image_size=64, channels=3, limit=20)
    assert data.images.shape == (20, 3, 64, 64)
    assert torch.equal(data.images[:, 0], data.images[:, 2])


def test_unknown_dataset_lists_the_valid_names():
    with pytest.raises(ValueError, match="Unknown dataset 'imagenet'.*digits.*mnist.*folder:PATH"):
        load_dataset("imagenet")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"image_size": 48}, "image_size must be one of"),
    ({"channels": 2}, "channels must be 1"),
    ({"split": "valid"}, "split must be one of"),
])
def test_bad_requests_are_rejected_with_the_valid_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_dataset("digits", **kwargs)


def test_rgb_to_gray_uses_luma_weights():
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1.0
    assert torch.allclose(convert_channels(red, 1), torch.full((1, 1, 2, 2), 0.299))


def test_batches_cover_the_data_once_per_epoch_without_repeats():
    data = load_dataset(limit=100)
    seen = torch.cat([labels for _, labels in data.batches(32, rng=torch.Generator().manual_seed(1))])
    assert len(seen) == 96
    index_batches = list(data.subset(slice(0, 10)).batches(4, shuffle=False, drop_last=False))
    assert [len(images) for images, _ in index_batches] == [4, 4, 2]


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_like_loaders_read_idx_files(tmp_path, name, folder):
    labels = write_mnist_like(tmp_path, folder)
    data = load_dataset(name, root=tmp_path, image_size=32)
    assert data.images.shape == (FIXTURE_COUNT, 1, 32, 32)
    assert data.images.min() >= -1.0 and data.images.max() <= 1.0
    assert torch.equal(torch.sort(data.labels).values, torch.sort(torch.as_tensor(labels)).values)
    assert len(load_dataset(name, split="test", root=tmp_path)) == FIXTURE_COUNT


def test_cifar10_loader_reads_pickled_batches(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar

    # The fixture cannot reproduce the real files' md5 sums: check existence only.
    monkeypatch.setattr(cifar, "check_integrity", exists_only)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    for name in names:
        batch = {"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), "labels": [1, 9]}
        (folder / name).write_bytes(pickle.dumps(batch))
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": classes}))
    data = load_dataset("cifar10", root=tmp_path)
    assert data.images.shape == (10, 3, 32, 32) and data.classes == classes
    assert data.labels.tolist() == [1, 9] * 5


def test_svhn_loader_reads_mat_files_and_maps_label_10_to_0(tmp_path, monkeypatch):
    import torchvision.datasets.svhn as svhn
    from scipy.io import savemat

    monkeypatch.setattr(svhn, "check_integrity", exists_only)
    (tmp_path / "svhn").mkdir()
    images = np.random.default_rng(0).integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    savemat(tmp_path / "svhn" / "train_32x32.mat", {"X": images, "y": np.array([[10], [1], [2], [3]])})
    data = load_dataset("svhn", root=tmp_path, channels=1)
    assert data.images.shape == (4, 1, 32, 32) and data.labels.tolist() == [0, 1, 2, 3]


def test_folder_loader_reads_class_folders_and_splits_them(tmp_path):
    for class_name, colour in [("cats", (255, 0, 0)), ("dogs", (0, 0, 255))]:
        (tmp_path / class_name).mkdir()
        for i in range(5):
            Image.new("RGB", (40, 30), colour).save(tmp_path / class_name / f"{i}.png")
    train = load_dataset(f"folder:{tmp_path}", split="train")
    test = load_dataset(f"folder:{tmp_path}", split="test")
    assert train.classes == ["cats", "dogs"] and len(train) == 8 and len(test) == 2
    assert train.images.shape[1:] == (3, 32, 32)
    cat = train.images[train.labels == 0][0]
    assert cat[0].mean() > 0.99 and cat[2].mean() < -0.99


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="Image folder not found"):
        load_dataset(f"folder:{tmp_path / 'nope'}")


def test_failed_download_names_the_offline_alternative(tmp_path, monkeypatch):
    import torchvision.datasets.mnist as mnist

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(mnist, "download_and_extract_archive", offline)
    with pytest.raises(DatasetDownloadError, match="load_dataset\\('digits'\\)"):
        load_dataset("mnist", root=tmp_path)


def test_fashion_mnist_is_read_from_the_system_package_without_a_download(tmp_path, monkeypatch):
    import torchvision.datasets.mnist as mnist

    labels = write_packaged_fashion_mnist(tmp_path / "usr-share")
    monkeypatch.setitem(packaged.PACKAGED_DIRS, "fashion-mnist", tmp_path / "usr-share")
    monkeypatch.setattr(mnist, "download_and_extract_archive", lambda *a, **k: pytest.fail("downloaded"))
    train = load_dataset("fashion-mnist", root=tmp_path / "empty-root")
    assert train.images.shape == (FIXTURE_COUNT, 1, 32, 32) and train.classes[0] == "T-shirt/top"
    assert sorted(train.labels.tolist()) == sorted(labels.tolist())
    assert len(load_dataset("fashion-mnist", split="test", root=tmp_path / "empty-root")) == FIXTURE_COUNT


def test_files_in_the_data_root_win_over_the_system_package(tmp_path, monkeypatch):
    write_packaged_fashion_mnist(tmp_path / "usr-share")
    monkeypatch.setitem(packaged.PACKAGED_DIRS, "fashion-mnist", tmp_path / "usr-share")
    write_mnist_like(tmp_path / "root", "FashionMNIST")
    images = load_dataset("fashion-mnist", root=tmp_path / "root", image_size=32).images
    assert torch.all(images[:, 0, 0, 0] < 0)  # the data-root fixture's corner pixel is black


def test_a_damaged_idx_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad-idx").write_bytes(b"\x00\x00\x0d\x01" + bytes(8))
    with pytest.raises(ValueError, match="not a uint8 IDX file"):
        packaged.read_idx(tmp_path / "bad-idx")


def test_offline_hint_for_fashion_mnist_names_the_debian_package(tmp_path, monkeypatch):
    import torchvision.datasets.mnist as mnist

    def offline(*args, **kwargs):
        raise URLError("no network\nsecond line")

    monkeypatch.setitem(packaged.PACKAGED_DIRS, "fashion-mnist", tmp_path / "not-installed")
    monkeypatch.setattr(mnist, "download_and_extract_archive", offline)
    with pytest.raises(DatasetDownloadError, match="apt-get install dataset-fashion-mnist") as error:
        load_dataset("fashion-mnist", root=tmp_path)
    assert "\n" not in str(error.value) and isinstance(error.value, OSError)


def test_the_course_dataset_is_digits_in_fast_mode_and_mnist_in_full_mode(tmp_path, monkeypatch):
    from dcgan_course.data import course_dataset

    assert course_dataset() == "digits"  # fast mode (the test default), even with MNIST at hand
    write_mnist_like(tmp_path, "MNIST")
    monkeypatch.setenv("DCGAN_COURSE_DATA", str(tmp_path))
    monkeypatch.setenv("DCGAN_COURSE_FAST", "0")
    assert course_dataset(device="cuda") == "mnist"


def test_the_course_dataset_stays_on_digits_on_a_cpu_in_full_mode_and_says_why(tmp_path, monkeypatch, capsys):
    from dcgan_course.data import course_dataset

    write_mnist_like(tmp_path, "MNIST")
    monkeypatch.setenv("DCGAN_COURSE_DATA", str(tmp_path))
    monkeypatch.setenv("DCGAN_COURSE_FAST", "0")
    assert course_dataset(device="cpu") == "digits"
    assert "No GPU" in capsys.readouterr().out


def test_the_course_dataset_falls_back_to_digits_offline_and_says_so(tmp_path, monkeypatch, capsys):
    import torchvision.datasets.mnist as mnist

    from dcgan_course.data import course_dataset

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(mnist, "download_and_extract_archive", offline)
    monkeypatch.setenv("DCGAN_COURSE_FAST", "0")
    assert course_dataset(device="cuda") == "digits"
    assert "mnist is not available, so this notebook uses the embedded 'digits'" in capsys.readouterr().out


def cifar10_offline(monkeypatch) -> None:
    """torchvision's CIFAR-10 download fails as it does on a machine without the network."""
    import torchvision.datasets.cifar as cifar

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(cifar, "download_and_extract_archive", offline)


def test_the_representation_lectures_use_digits_in_fast_mode(monkeypatch):
    from dcgan_course.data import representation_dataset

    cifar10_offline(monkeypatch)  # would fail loudly if fast mode tried to load CIFAR-10
    assert representation_dataset() == "digits"


def test_the_representation_lectures_read_a_cifar10_folder_copy_offline(tmp_path, monkeypatch, capsys):
    from dcgan_course.data import CIFAR10_FOLDER_ENV, representation_dataset

    cifar10_offline(monkeypatch)
    for split in ("train", "test"):
        (tmp_path / "copy" / split / "airplane").mkdir(parents=True)
    monkeypatch.setenv("DCGAN_COURSE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv(CIFAR10_FOLDER_ENV, str(tmp_path / "copy"))
    monkeypatch.setenv("DCGAN_COURSE_FAST", "0")
    assert representation_dataset() == f"folder:{tmp_path / 'copy'}"
    assert "CIFAR-10 from the folder copy" in capsys.readouterr().out


def test_the_representation_lectures_fall_back_to_digits_and_say_where_a_copy_would_go(tmp_path, monkeypatch,
                                                                                      capsys):
    from dcgan_course.data import CIFAR10_FOLDER_ENV, representation_dataset

    cifar10_offline(monkeypatch)
    monkeypatch.setenv("DCGAN_COURSE_DATA", str(tmp_path))
    monkeypatch.delenv(CIFAR10_FOLDER_ENV, raising=False)
    monkeypatch.setenv("DCGAN_COURSE_FAST", "0")
    assert representation_dataset() == "digits"
    printed = capsys.readouterr().out
    assert "uses the embedded 'digits'" in printed and str(tmp_path / "cifar10-images") in printed


def test_a_folder_of_small_square_images_keeps_its_size_and_is_decoded_once(tmp_path, monkeypatch):
    from torchvision import datasets

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for class_name in ("airplane", "automobile"):
            (tmp_path / "cifar" / split / class_name).mkdir(parents=True)
            for i in range(3):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / "cifar" / split / class_name / f"{i}.png")
    first = load_dataset(f"folder:{tmp_path / 'cifar'}", "test", root=tmp_path / "data")
    stored = np.array(Image.open(tmp_path / "cifar" / "test" / "airplane" / "0.png"))
    expected = torch.as_tensor(stored).permute(2, 0, 1)
    assert torch.equal(first.images[0], expected.float() / 127.5 - 1.0)  # not blurred by a resize round trip
    monkeypatch.setattr(datasets, "ImageFolder", None)  # a second load must come from the cache
    again = load_dataset(f"folder:{tmp_path / 'cifar'}", "test", root=tmp_path / "data")
    assert torch.equal(again.images, first.images) and again.classes == ["airplane", "automobile"]
