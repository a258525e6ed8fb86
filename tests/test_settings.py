import torch

from dcgan_course import settings


def test_fast_mode_reads_the_environment_each_time(monkeypatch):
    monkeypatch.setenv("DCGAN_COURSE_FAST", "0")
    assert not settings.is_fast() and settings.pick("small", "big") == "big"
    monkeypatch.setenv("DCGAN_COURSE_FAST", "true")
    assert settings.is_fast() and settings.pick("small", "big") == "small"


def test_device_override_wins(monkeypatch):
    monkeypatch.setenv("DCGAN_COURSE_DEVICE", "cpu")
    assert settings.get_device() == torch.device("cpu")


def test_amp_only_on_cuda():
    assert settings.use_amp("cuda") and not settings.use_amp("cpu") and not settings.use_amp("mps")
    assert settings.precision_name("cpu") == "float32"


def test_seed_everything_repeats_random_draws():
    settings.seed_everything(7)
    first = torch.randn(5)
    settings.seed_everything(7)
    assert torch.equal(first, torch.randn(5))


def test_folders_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DCGAN_COURSE_RUNS", str(tmp_path / "drive"))
    monkeypatch.setenv("DCGAN_COURSE_DATA", str(tmp_path / "data"))
    assert settings.runs_root() == tmp_path / "drive"
    assert settings.data_root() == tmp_path / "data"


def test_setup_prints_device_precision_and_mode(capsys):
    current = settings.setup(seed=3)
    line = capsys.readouterr().out
    assert current.fast and current.seed == 3
    assert "device: cpu" in line and "float32" in line and "FAST" in line


def test_pick_has_a_third_scale_for_full_mode_without_a_gpu(monkeypatch):
    monkeypatch.setenv("DCGAN_COURSE_FAST", "1")
    assert settings.pick("fast", "full", cpu="cpu") == "fast"
    monkeypatch.setenv("DCGAN_COURSE_FAST", "0")
    monkeypatch.setenv("DCGAN_COURSE_DEVICE", "cpu")
    assert settings.pick("fast", "full", cpu="cpu") == "cpu"
    assert settings.pick("fast", "full") == "full"  # no CPU value: full mode as before
    monkeypatch.setenv("DCGAN_COURSE_DEVICE", "cuda")
    assert settings.pick("fast", "full", cpu="cpu") == "full"
