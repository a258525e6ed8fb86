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
