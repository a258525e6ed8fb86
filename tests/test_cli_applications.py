"""The application sub-commands: ``stylize`` and ``translate-demo``."""

import json

from dcgan_course import cli, viz


def test_stylize_writes_the_image_and_prints_both_losses(tmp_path, capsys):
    content, painting = tmp_path / "content.png", tmp_path / "style.png"
    viz.save_image(viz.sample_image("grace_hopper", 32), content)
    viz.save_image(viz.sample_image("waves", 32), painting)
    out = tmp_path / "out.png"
    code = cli.main(["stylize", "--content", str(content), "--style", str(painting), "--out", str(out),
                     "--steps", "3", "--size", "32", "--network", "random"])
    assert code == 0 and out.is_file()
    printed = capsys.readouterr().out
    assert "content loss" in printed and "style loss" in printed


def test_stylize_with_a_missing_image_is_a_one_line_error(tmp_path, capsys):
    code = cli.main(["stylize", "--content", str(tmp_path / "none.jpg"), "--style", str(tmp_path / "x.jpg"),
                     "--out", str(tmp_path / "out.png")])
    error = capsys.readouterr().err
    assert code == 2 and "none.jpg" in error and len(error.strip().splitlines()) == 1


def test_stylize_with_an_unreadable_image_is_a_one_line_error(tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_text("not an image")
    code = cli.main(["stylize", "--content", str(broken), "--style", str(broken),
                     "--out", str(tmp_path / "o.png")])
    error = capsys.readouterr().err
    assert code == 2 and "Cannot read" in error and len(error.strip().splitlines()) == 1


def test_translate_demo_writes_the_grid_and_metrics_for_both_models(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_COURSE_FAST", "1")  # a training subset keeps the test quick
    assert cli.main(["translate-demo", "--out", str(tmp_path), "--steps", "2"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["task"] == "edges2digits" and metrics["steps"] == 2
    for name in ("pix2pix", "l1_only"):
        assert {"l1", "psnr", "accuracy"} <= set(metrics[name])
    assert (tmp_path / "comparison.png").is_file()
