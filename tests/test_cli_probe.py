import json

import pytest

from dcgan_course import cli, data, models, settings, train

METHODS = {"raw_pixels", "random_init_discriminator", "dcgan_discriminator", "generator_features"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny GAN trained for one epoch on 128 digits: enough to exercise the command."""
    path = tmp_path_factory.mktemp("run") / "checkpoint.pt"
    settings.seed_everything(0)
    generator, discriminator = models.build_gan(base_width=8)
    train.train_gan(generator, discriminator, data.load_dataset("digits", limit=128), epochs=1,
                    checkpoint_path=path, device="cpu", progress=False)
    return path


def test_probe_prints_one_json_object_with_every_method_and_budget(checkpoint, capsys):
    code = cli.main(["probe", "--checkpoint", str(checkpoint), "--dataset", "digits", "--labels-per-class",
                     "5,all", "--draws", "2", "--encoder-steps", "3", "--limit", "300", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == "digits"
    records = {(r["method"], r["labels_per_class"]): r for r in report["results"]}
    assert set(records) == {(m, b) for m in METHODS for b in (5, None)}
    assert records[("raw_pixels", 5)]["feature_dim"] == 1024
    assert records[("dcgan_discriminator", 5)]["feature_dim"] == 16 * (8 + 16 + 32)
    assert records[("raw_pixels", 5)]["draws"] == 2 and records[("raw_pixels", None)]["draws"] == 1
    assert all(set(r) >= {"accuracy_mean", "accuracy_std", "feature_dim"} for r in report["results"])
    assert records[("raw_pixels", None)]["accuracy_mean"] > 0.7  # chance: 0.1


def test_probe_prints_a_table_without_generator_features_when_there_is_no_encoder(checkpoint, capsys):
    code = cli.main(["probe", "--checkpoint", str(checkpoint), "--labels-per-class", "3",
                     "--draws", "1", "--limit", "200"])
    table = capsys.readouterr().out
    assert code == 0
    assert "| random_init_discriminator |" in table and "3/class" in table
    assert "generator_features" not in table


@pytest.mark.parametrize("arguments, message", [
    (["--checkpoint", "nowhere/checkpoint.pt"], "No checkpoint"),
    (["--labels-per-class", "10,lots"], "positive integers or 'all'"),
    (["--dataset", "imagenet"], "Unknown dataset"),
])
def test_probe_reports_user_errors_on_one_line(checkpoint, capsys, arguments, message):
    base = {"--checkpoint": str(checkpoint), "--dataset": "digits", "--labels-per-class": "3"}
    base.update(dict(zip(arguments[::2], arguments[1::2], strict=True)))
    argv = ["probe", *[item for pair in base.items() for item in pair], "--limit", "100"]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1


def test_probe_reads_a_folder_of_class_folders(checkpoint, tmp_path, capsys):
    from PIL import Image

    for label, value in (("dark", 40), ("bright", 220)):
        (tmp_path / label).mkdir()
        for index in range(10):
            Image.new("RGB", (40, 40), (value + index, value, value)).save(tmp_path / label / f"{index}.png")
    code = cli.main(["probe", "--checkpoint", str(checkpoint), "--dataset", f"folder:{tmp_path}",
                     "--labels-per-class", "3,all", "--draws", "2", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["dataset"] == f"folder:{tmp_path}"
    pixels = [r for r in report["results"] if r["method"] == "raw_pixels"]
    assert {r["labels_per_class"]: r["accuracy_mean"] for r in pixels} == {3: 1.0, None: 1.0}


def pytorch_example_netd(channels: int, width: int):
    """``_netD.main`` of pytorch/examples' dcgan/main.py, layer for layer (indices 0-12)."""
    from torch import nn

    def block(i, o):
        return [nn.Conv2d(i, o, 4, 2, 1, bias=False), nn.BatchNorm2d(o), nn.LeakyReLU(0.2, inplace=True)]

    return nn.Sequential(nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                         *block(width, width * 2), *block(width * 2, width * 4), *block(width * 4, width * 8),
                         nn.Conv2d(width * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())


def test_a_pytorch_examples_netd_loads_layer_for_layer_and_is_probed(tmp_path, capsys):
    import torch
    from torch import nn

    from dcgan_course.saved_discriminators import load_probe_models

    main = pytorch_example_netd(channels=1, width=8)
    for module in main.modules():
        if isinstance(module, nn.BatchNorm2d):  # non-trivial statistics, so a mix-up would show
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    holder = nn.Module()
    holder.main = main
    path = tmp_path / "netD_epoch_24.pth"
    torch.save(holder.state_dict(), path)
    state, generator, discriminator = load_probe_models(path)
    assert generator is None and (discriminator.image_size, discriminator.channels) == (64, 1)
    images = torch.randn(4, 1, 64, 64)
    with torch.no_grad():
        expected = main.eval()(images).flatten()
        assert torch.allclose(torch.sigmoid(discriminator.eval()(images)), expected, atol=1e-5)
    code = cli.main(["probe", "--checkpoint", str(path), "--labels-per-class", "3", "--draws", "2",
                     "--limit", "150"])
    printed = capsys.readouterr().out
    assert code == 0 and "| dcgan_discriminator | 1920 |" in printed  # 16 x (8 + 16 + 32 + 64)
    assert "paired gap, dcgan_discriminator - random_init_discriminator, 3/class:" in printed


def test_a_file_that_is_no_discriminator_is_one_line(tmp_path, capsys):
    import torch

    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pth")
    assert cli.main(["probe", "--checkpoint", str(tmp_path / "other.pth"), "--limit", "50"]) == 2
    error = capsys.readouterr().err.strip()
    assert "neither a dcgan-course checkpoint nor a netD_epoch_N.pth" in error
    assert len(error.splitlines()) == 1


def test_the_table_shows_95_percent_intervals_and_the_paired_gap(checkpoint, capsys):
    assert cli.main(["probe", "--checkpoint", str(checkpoint), "--labels-per-class", "3", "--draws", "3",
                     "--limit", "200"]) == 0
    printed = capsys.readouterr().out
    assert "mean ± 95% CI over 3 label draws" in printed
    assert "(95% CI over the same 3 draws)" in printed


def test_a_spectral_norm_run_is_probed_with_its_normalised_weights(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--recipe", "spectral-norm", "--limit", "64", "--batch-size", "32", "--epochs",
                     "1", "--out", str(out), "--no-score"]) == 0
    assert cli.main(["probe", "--checkpoint", str(out / "checkpoint.pt"), "--labels-per-class", "3",
                     "--draws", "2", "--limit", "100", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert report["paired_gap"][0]["labels_per_class"] == 3
    assert all(0.0 <= r["accuracy_mean"] <= 1.0 for r in report["results"])
