import math

import pytest
import torch

from dcgan_course import cuda_graph, train
from dcgan_course.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from dcgan_course.data import load_dataset
from dcgan_course.models import build_gan
from dcgan_course.train import discriminator_step, gan_loss, generator_step, make_optimizers, train_gan


@pytest.fixture(scope="module")
def small_data():
    return load_dataset(limit=128)


def small_gan(seed: int = 0):
    torch.manual_seed(seed)
    return build_gan(32, 1, latent_dim=16, base_width=8)


def test_gan_loss_on_known_logits():
    assert gan_loss(torch.zeros(4), True).item() == pytest.approx(math.log(2))
    assert gan_loss(torch.full((4,), 20.0), True).item() == pytest.approx(0.0, abs=1e-6)
    assert gan_loss(torch.full((4,), 20.0), False).item() == pytest.approx(20.0, rel=1e-4)


def test_discriminator_step_leaves_the_generator_untouched(small_data):
    generator, discriminator = small_gan()
    opt_g, opt_d = make_optimizers(generator, discriminator)
    before = [p.clone() for p in generator.parameters()]
    step = discriminator_step(generator, discriminator, opt_d, small_data.images[:16], torch.randn(16, 16))
    assert set(step) == {"loss_d", "d_real", "d_fake"}
    assert all(p.grad is None for p in generator.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, generator.parameters(), strict=True))


def test_repeated_discriminator_steps_separate_real_from_fake(small_data):
    generator, discriminator = small_gan()
    _, opt_d = make_optimizers(generator, discriminator)
    noise, real = torch.randn(32, 16), small_data.images[:32]
    first = discriminator_step(generator, discriminator, opt_d, real, noise)
    for _ in range(20):
        last = discriminator_step(generator, discriminator, opt_d, real, noise)
    assert last["loss_d"] < first["loss_d"] * 0.5
    assert last["d_real"] > 0.75 and last["d_fake"] < 0.25


def test_generator_step_moves_only_the_generator_and_fools_d_more(small_data):
    generator, discriminator = small_gan()
    opt_g, _ = make_optimizers(generator, discriminator)
    d_before = [p.clone() for p in discriminator.parameters()]
    noise = torch.randn(32, 16)
    first = generator_step(generator, discriminator, opt_g, noise)
    for _ in range(5):
        last = generator_step(generator, discriminator, opt_g, noise)
    assert last["loss_g"] < first["loss_g"]
    assert all(torch.equal(a, b) for a, b in zip(d_before, discriminator.parameters(), strict=True))


def test_training_records_history_and_samples(small_data):
    generator, discriminator = small_gan()
    history = train_gan(generator, discriminator, small_data, epochs=2, batch_size=32, progress=False)
    assert history.epochs_done == 2 and len(history.loss_d) == 8 == len(history.d_fake)
    assert len(history.epoch_samples) == 2 and history.epoch_samples[0].shape == (64, 1, 32, 32)


def test_resumed_run_equals_an_uninterrupted_one(small_data, tmp_path):
    generator, discriminator = small_gan()
    straight = train_gan(generator, discriminator, small_data, epochs=3, batch_size=32, progress=False)
    path = tmp_path / "run" / "checkpoint.pt"
    first_g, first_d = small_gan()
    train_gan(first_g, first_d, small_data, epochs=2, batch_size=32, checkpoint_path=path, progress=False)
    resumed_g, resumed_d = small_gan(seed=123)  # different init: everything must come from the checkpoint
    resumed = train_gan(resumed_g, resumed_d, small_data, epochs=3, batch_size=32, checkpoint_path=path,
                        resume=True, progress=False)
    assert resumed.loss_d == straight.loss_d and resumed.loss_g == straight.loss_g
    for a, b in zip(generator.state_dict().values(), resumed_g.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(resumed.epoch_samples[-1], straight.epoch_samples[-1])


def test_corrupt_checkpoint_gives_a_clear_error(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="No checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_truncated_checkpoint_is_detected(small_data, tmp_path):
    path = tmp_path / "checkpoint.pt"
    train_gan(*small_gan(), small_data, epochs=1, batch_size=64, checkpoint_path=path, progress=False)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_checkpoint_from_another_architecture_is_refused(small_data, tmp_path):
    path = tmp_path / "checkpoint.pt"
    train_gan(*small_gan(), small_data, epochs=1, batch_size=64, checkpoint_path=path, progress=False)
    torch.manual_seed(0)
    wider = build_gan(32, 1, latent_dim=16, base_width=16)
    with pytest.raises(CheckpointError, match="base_width: checkpoint 8 vs now 16"):
        train_gan(*wider, small_data, epochs=2, batch_size=64, checkpoint_path=path, resume=True,
                  progress=False)


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1})

    def crash(obj, file):
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2})
    assert load_checkpoint(path)["epoch"] == 1
    assert list(tmp_path.iterdir()) == [path]


def test_batch_larger_than_the_dataset_is_rejected(small_data):
    with pytest.raises(ValueError, match="larger than the dataset"):
        train_gan(*small_gan(), small_data, epochs=1, batch_size=1000, progress=False)


def test_pretrained_gan_is_cached_between_calls():
    first_g, _, first = train.pretrained_gan(epochs=1, progress=False)
    second_g, _, second = train.pretrained_gan(epochs=1, progress=False)
    assert second.loss_d == first.loss_d
    assert all(torch.equal(a, b) for a, b in zip(first_g.state_dict().values(),
                                                  second_g.state_dict().values(), strict=True))


def test_optimizer_restore_in_place_keeps_tensors_and_rewinds_values():
    generator, discriminator = small_gan()
    opt_g, _ = make_optimizers(generator, discriminator)
    fresh = cuda_graph.optimizer_snapshot(opt_g)
    generator_step(generator, discriminator, opt_g, torch.randn(4, 16))
    after_one = cuda_graph.optimizer_snapshot(opt_g)
    tensors = {id(v) for state in opt_g.state.values() for v in state.values()}
    generator_step(generator, discriminator, opt_g, torch.randn(4, 16))
    cuda_graph.restore_optimizer_in_place(opt_g, after_one)
    assert {id(v) for state in opt_g.state.values() for v in state.values()} == tensors
    for param, state in opt_g.state.items():
        assert all(torch.equal(state[k], after_one[param][k]) for k in after_one[param])
    cuda_graph.restore_optimizer_in_place(opt_g, fresh)
    assert all(not v.any() for state in opt_g.state.values() for v in state.values())


def test_pretrained_gan_on_a_cpu_trains_a_large_dataset_narrower_and_shorter(monkeypatch, tmp_path):
    from dcgan_course.data import ImageData

    large = ImageData(torch.zeros(train.LARGE_DATASET + 1, 3, 32, 32), torch.zeros(train.LARGE_DATASET + 1,
                      dtype=torch.long), [str(c) for c in range(10)], "large")
    trained = {}

    def record(generator, discriminator, data, epochs, **kwargs):
        trained.update(width=discriminator.feature_widths[0], epochs=epochs, path=kwargs["checkpoint_path"])
        return train.History()

    monkeypatch.setattr(train, "load_dataset", lambda *args, **kwargs: large)
    monkeypatch.setattr(train, "train_gan", record)
    monkeypatch.setenv("DCGAN_COURSE_RUNS", str(tmp_path))
    monkeypatch.setenv("DCGAN_COURSE_FAST", "0")
    monkeypatch.setenv("DCGAN_COURSE_DEVICE", "cpu")
    train.pretrained_gan("large", progress=False)
    assert (trained["width"], trained["epochs"]) == (32, 5) and "w32" in str(trained["path"])
    monkeypatch.setenv("DCGAN_COURSE_DEVICE", "cuda")
    train.pretrained_gan("large", progress=False, device="cpu")
    assert (trained["width"], trained["epochs"]) == (64, 20)  # the real size where a GPU is there


def test_betas_reach_both_optimisers_and_change_the_run(small_data):
    runs = {}
    for betas in ((0.5, 0.999), (0.9, 0.99)):
        generator, discriminator = small_gan()
        seen = []
        original = torch.optim.Adam.__init__

        def spy(self, params, *args, _seen=seen, _original=original, **kwargs):
            _seen.append(kwargs.get("betas"))
            _original(self, params, *args, **kwargs)

        torch.optim.Adam.__init__ = spy
        try:
            train_gan(generator, discriminator, small_data, 1, batch_size=32, progress=False, betas=betas)
        finally:
            torch.optim.Adam.__init__ = original
        assert seen == [betas, betas]
        runs[betas] = [p.detach().clone() for p in discriminator.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(*runs.values(), strict=True))


def test_after_epoch_runs_once_per_new_epoch_and_not_for_restored_ones(small_data, tmp_path):
    path, calls = tmp_path / "run.pt", []
    generator, discriminator = small_gan()
    def record(epoch):
        calls.append((epoch, load_checkpoint(path)["history"]["epochs_done"]))

    train_gan(generator, discriminator, small_data, 2, batch_size=32, checkpoint_path=path, progress=False,
              after_epoch=record)
    assert calls == [(1, 1), (2, 2)]  # after the epoch's checkpoint is written
    generator, discriminator = small_gan()
    train_gan(generator, discriminator, small_data, 3, batch_size=32, checkpoint_path=path, resume=True,
              progress=False, after_epoch=lambda epoch: calls.append((epoch, None)))
    assert calls[2:] == [(3, None)]


class CountingLoss(torch.nn.Module):
    """An extra D term with a parameter of its own: pulls ``offset`` to 3 through D's optimiser."""

    def __init__(self):
        super().__init__()
        self.offset = torch.nn.Parameter(torch.zeros(()))
        self.calls = 0

    def forward(self, discriminator, real_images):
        self.calls += 1
        assert real_images.shape[0] == 32
        return 10.0 * (self.offset - 3.0) ** 2 + 0.0 * discriminator(real_images).sum()


def test_an_extra_discriminator_loss_runs_every_step_and_trains_its_own_parameters(small_data):
    generator, discriminator = small_gan()
    extra = CountingLoss()
    history = train_gan(generator, discriminator, small_data, 2, batch_size=32, progress=False,
                        extra_discriminator_loss=extra)
    assert extra.calls == 2 * (128 // 32)
    assert 0.0 < extra.offset.item() < 3.0  # moved towards 3 by D's Adam (lr 2e-4, 8 steps: a little)
    plain_generator, plain_discriminator = small_gan()
    plain = train_gan(plain_generator, plain_discriminator, small_data, 2, batch_size=32, progress=False)
    # loss_d includes the extra term (about 10 x 9 = 90 at the start)
    assert history.loss_d[0] > plain.loss_d[0] + 80


def test_an_extra_loss_module_is_checkpointed_and_resumes_exactly(small_data, tmp_path):
    from dcgan_course.improve import RotationLoss

    generator, discriminator = small_gan()
    whole = RotationLoss(discriminator)
    train_gan(generator, discriminator, small_data, 2, batch_size=32, seed=3, progress=False,
              extra_discriminator_loss=whole)
    path = tmp_path / "rot.pt"
    g1, d1 = small_gan()
    train_gan(g1, d1, small_data, 1, batch_size=32, seed=3, checkpoint_path=path, progress=False,
              extra_discriminator_loss=RotationLoss(d1))
    g2, d2 = small_gan()
    resumed = RotationLoss(d2)
    train_gan(g2, d2, small_data, 2, batch_size=32, seed=3, checkpoint_path=path, resume=True,
              progress=False, extra_discriminator_loss=resumed)
    for a, b in zip([*discriminator.parameters(), *whole.parameters()],
                    [*d2.parameters(), *resumed.parameters()], strict=True):
        torch.testing.assert_close(a, b)
    g3, d3 = small_gan()
    with pytest.raises(CheckpointError, match="different run"):  # a plain run cannot resume it
        train_gan(g3, d3, small_data, 3, batch_size=32, seed=3, checkpoint_path=path, resume=True,
                  progress=False)


def test_the_loss_function_drives_both_updates(small_data):
    """One training step with LSGAN: D's recorded loss is LSGAN's on the step's logits, and G's update
    follows LSGAN's G loss (not BCE's), so the two losses give different generators."""
    from dcgan_course import losses

    calls = []

    def spying_lsgan(real, fake):
        calls.append(real.requires_grad)
        return losses.lsgan(real, fake)

    generators = {}
    for name, loss_function in (("bce", losses.bce), ("lsgan", spying_lsgan)):
        generator, discriminator = small_gan()
        opt_g, opt_d = make_optimizers(generator, discriminator)
        real, noise = small_data.images[:16], torch.randn(16, 16)
        with torch.no_grad():
            expected_d = loss_function(discriminator(real), discriminator(generator(noise)))[0].item()
        calls.clear()
        values = train.training_step(generator, discriminator, opt_g, opt_d, real, noise,
                                     loss_function=loss_function)
        assert values[0].item() == pytest.approx(expected_d, rel=1e-5)
        generators[name] = [p.detach().clone() for p in generator.parameters()]
    assert calls == [True, False]  # D's update sees live real logits; G's gets the detached fakes there
    assert any(not torch.equal(a, b) for a, b in zip(*generators.values(), strict=True))


def test_a_checkpoint_resumes_only_with_its_own_loss(small_data, tmp_path):
    from dcgan_course import losses

    path = tmp_path / "hinge.pt"
    generator, discriminator = small_gan()
    train_gan(generator, discriminator, small_data, 1, batch_size=32, checkpoint_path=path, progress=False,
              loss_function=losses.hinge)
    generator, discriminator = small_gan()
    with pytest.raises(CheckpointError, match="loss_function"):
        train_gan(generator, discriminator, small_data, 2, batch_size=32, checkpoint_path=path, resume=True,
                  progress=False)
    history = train_gan(generator, discriminator, small_data, 2, batch_size=32, checkpoint_path=path,
                        resume=True, progress=False, loss_function=losses.hinge)
    assert history.epochs_done == 2
