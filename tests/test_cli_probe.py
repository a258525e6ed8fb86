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
