import json

import pytest

from dcgan_course.checkpoint import load_checkpoint
from dcgan_course.cli import main


def test_train_writes_checkpoint_samples_history_and_score(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--limit", "64", "--batch-size", "32", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Fréchet classifier distance" in printed
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    history = json.loads((out / "history.json").read_text())
    assert history["epochs"] == 2 and len(history["loss_d"]) == 4
    assert load_checkpoint(out / "checkpoint.pt")["config"]["image_size"] == 32


def test_train_refuses_to_overwrite_and_resumes_on_request(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--limit", "64", "--batch-size", "32", "--out", str(out), "--no-score"]
    assert main([*args, "--epochs", "1"]) == 0
    assert main([*args, "--epochs", "2"]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert json.loads((out / "history.json").read_text())["epochs"] == 2


@pytest.mark.parametrize(("argv", "message"), [
    (["--dataset", "imagenet"], "Unknown dataset 'imagenet'"),
    (["--dataset", "folder:/no/such/folder"], "Image folder not found"),
])
def test_train_bad_input_is_one_line_not_a_traceback(tmp_path, capsys, argv, message):
    assert main(["train", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_train_rejects_unsupported_sizes_at_parse_time(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--out", str(tmp_path), "--image-size", "48"])
    assert exit_info.value.code == 2 and "invalid choice: 48" in capsys.readouterr().err


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Every torchvision download fails as it does without a network; no system package is installed."""
    from urllib.error import URLError

    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.mnist as mnist
    import torchvision.datasets.svhn as svhn

    from dcgan_course.data import packaged

    def no_network(*args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    for module, name in ((mnist, "download_and_extract_archive"), (cifar, "download_and_extract_archive"),
                         (svhn, "download_url")):
        monkeypatch.setattr(module, name, no_network)
    monkeypatch.setitem(packaged.PACKAGED_DIRS, "fashion-mnist", tmp_path / "not-installed")


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "cifar10", "svhn"])
def test_an_offline_dataset_is_one_line_naming_digits_before_any_training(tmp_path, capsys, offline, dataset):
    assert main(["train", "--dataset", dataset, "--out", str(tmp_path / "run"), "--epochs", "1"]) == 2
    captured = capsys.readouterr()
    assert "training GAN" not in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert f"Could not download '{dataset}'" in captured.err and "--dataset digits" in captured.err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.parametrize("out", ["a-file", "a-file/run"])
def test_an_out_path_through_a_file_is_one_line_before_any_training(tmp_path, capsys, out):
    (tmp_path / "a-file").write_text("not a folder")
    assert main(["train", "--limit", "64", "--batch-size", "32", "--out", str(tmp_path / out)]) == 2
    captured = capsys.readouterr()
    assert "is a file" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert "training GAN" not in captured.err and "digits:" not in captured.out


def test_a_recipe_is_one_flag_away_and_recorded(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--recipe", "translate", "--limit", "64", "--batch-size", "32", "--epochs", "1",
                 "--out", str(out), "--no-score"]) == 0
    assert json.loads((out / "history.json").read_text())["recipe"] == "translate"
    assert main(["train", "--recipe", "mixup", "--out", str(tmp_path / "other")]) == 2
    error = capsys.readouterr().err
    assert "Unknown recipe 'mixup'" in error and "spectral-norm" in error
