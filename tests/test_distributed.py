"""Training with DDP on 2 CPU processes (gloo): sharding, one step's maths, torchrun end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from dcgan_course import distributed, train
from dcgan_course.checkpoint import load_checkpoint
from dcgan_course.data import ImageData
from dcgan_course.models import build_gan

PROCESSES = 2
LATENT_DIM = 100
TORCHRUN_ARGS = ["--dataset", "digits", "--limit", "128", "--batch-size", "16", "--no-score", "--seed", "3"]


def numbered_images(count: int) -> ImageData:
    """Images whose every pixel holds the image's own number, so a batch says which images it has."""
    images = torch.arange(count, dtype=torch.float32).view(count, 1, 1, 1).expand(count, 1, 4, 4).clone()
    return ImageData(images, torch.zeros(count, dtype=torch.long), ["x"], "numbered")


def test_ranks_see_disjoint_chunks_of_every_global_batch_and_no_padding():
    data, seen = numbered_images(70), []
    for rank in range(PROCESSES):
        world = distributed.World(rank, PROCESSES)
        rng = torch.Generator().manual_seed(0)
        seen.append([real[:, 0, 0, 0].long().tolist()
                     for real, _ in distributed.epoch_batches(data, 8, LATENT_DIM, rng, world)])
    first, second = ([image for batch in ranks for image in batch] for ranks in seen)
    assert not set(first) & set(second)
    assert len(set(first + second)) == len(first + second) == 64  # 4 global batches of 16; 6 left out
    assert all(len(batch) == 8 for batch in seen[0] + seen[1])


def test_one_process_gets_the_batches_and_noise_of_the_plain_loop():
    data = numbered_images(40)
    rng, expected_rng = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    expected = [(real, torch.randn(8, LATENT_DIM, generator=expected_rng))
                for real, _ in data.batches(8, shuffle=True, rng=expected_rng)]
    got = list(distributed.epoch_batches(data, 8, LATENT_DIM, rng, distributed.World()))
    assert len(got) == len(expected) == 5
    assert all(torch.equal(real, want_real) and torch.equal(noise, want_noise)
               for (real, noise), (want_real, want_noise) in zip(got, expected, strict=True))


def test_resume_gives_each_rank_its_own_random_state():
    states = [{"rng": torch.Generator().manual_seed(rank).get_state(),
               "torch_rng": torch.manual_seed(100 + rank).get_state()} for rank in range(PROCESSES)]
    rng = torch.Generator()
    distributed.restore_rank_rng({distributed.RANK_RNG_KEY: states}, rng, distributed.World(1, PROCESSES))
    assert torch.equal(rng.get_state(), states[1]["rng"])
    assert torch.equal(torch.get_rng_state(), states[1]["torch_rng"])
    with pytest.raises(ValueError, match="written by 2 training process"):
        distributed.restore_rank_rng({distributed.RANK_RNG_KEY: states}, rng, distributed.World())


def step_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """A global batch of 8 real images and its noise, the same in every process."""
    rng = torch.Generator().manual_seed(1)
    return torch.rand(8, 1, 32, 32, generator=rng) * 2 - 1, torch.randn(8, LATENT_DIM, generator=rng)


def fresh_gan() -> tuple[torch.nn.Module, torch.nn.Module]:
    """A small GAN with the same initial weights in every process."""
    torch.manual_seed(0)
    return build_gan(32, 1, LATENT_DIM, base_width=8)


def ddp_step_worker(rank: int, init_file: str, out: str) -> None:
    """One rank: one DDP training step on its chunk; rank 0 saves the resulting weights."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=PROCESSES)
    world = distributed.current_world()
    generator, discriminator = fresh_gan()
    opt_g, opt_d = train.make_optimizers(generator, discriminator)
    real, noise = step_inputs()
    train.training_step(distributed.wrap(generator, world), distributed.wrap(discriminator, world), opt_g,
                        opt_d, real.chunk(PROCESSES)[rank], noise.chunk(PROCESSES)[rank])
    if world.is_main:
        torch.save({"generator": generator.state_dict(), "discriminator": discriminator.state_dict()}, out)
    distributed.leave(world)


def chunkwise_reference_step() -> tuple[torch.nn.Module, torch.nn.Module]:
    """One process, one step: every loss is the mean of per-chunk losses, each chunk normalised alone."""
    generator, discriminator = fresh_gan()
    opt_g, opt_d = train.make_optimizers(generator, discriminator)
    real, noise = step_inputs()
    fakes = [generator(chunk) for chunk in noise.chunk(PROCESSES)]
    opt_d.zero_grad()
    loss_d = sum(train.gan_loss(discriminator(chunk), True)
                 + train.gan_loss(discriminator(fake.detach()), False)
                 for chunk, fake in zip(real.chunk(PROCESSES), fakes, strict=True)) / PROCESSES
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    loss_g = sum(train.gan_loss(discriminator(fake), True) for fake in fakes) / PROCESSES
    loss_g.backward()
    opt_g.step()
    return generator, discriminator


def test_one_ddp_step_equals_one_process_that_normalises_each_chunk_alone(tmp_path):
    out = tmp_path / "rank0.pt"
    mp.spawn(ddp_step_worker, args=(str(tmp_path / "init"), str(out)), nprocs=PROCESSES)
    trained = torch.load(out)
    generator, discriminator = chunkwise_reference_step()
    untouched_g, _ = fresh_gan()
    for name, module in (("generator", generator), ("discriminator", discriminator)):
        for key, value in module.named_parameters():
            torch.testing.assert_close(trained[name][key], value.detach(), atol=1e-5, rtol=0)
    moved = max((generator.state_dict()[key] - value).abs().max().item()
                for key, value in untouched_g.named_parameters())
    assert moved > 1e-5  # the step did something the comparison can see


def torchrun(out: Path, epochs: int, *extra: str) -> subprocess.CompletedProcess:
    """``torchrun --nproc-per-node 2 -m dcgan_course.cli train`` on 128 digits, 16 per process."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(PROCESSES),
               "--standalone", "-m", "dcgan_course.cli", "train", "--out", str(out),
               "--epochs", str(epochs), *TORCHRUN_ARGS, *extra]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def torchrun_runs(tmp_path_factory):
    """A 2-epoch run, and a 1-epoch run resumed to 2 epochs, both on 2 processes."""
    root = tmp_path_factory.mktemp("ddp")
    torchrun(root / "straight", 2)
    torchrun(root / "resumed", 1)
    torchrun(root / "resumed", 2, "--resume")
    return root


def test_torchrun_run_finishes_and_losses_fall(torchrun_runs):
    history = json.loads((torchrun_runs / "straight" / "history.json").read_text())
    assert history["epochs"] == 2 and len(history["loss_d"]) == 2 * 128 // (16 * PROCESSES)
    assert sum(history["loss_d"][-4:]) < sum(history["loss_d"][:4])


def test_torchrun_writes_one_checkpoint_atomically_from_rank_0(torchrun_runs):
    out = torchrun_runs / "straight"
    assert sorted(path.name for path in out.iterdir()) == ["checkpoint.pt", "history.json", "samples"]
    assert len(list((out / "samples").iterdir())) == 2
    states = load_checkpoint(out / "checkpoint.pt")[distributed.RANK_RNG_KEY]
    assert len(states) == PROCESSES
    assert not torch.equal(states[0]["torch_rng"], states[1]["torch_rng"])


def test_torchrun_resume_continues_the_same_run(torchrun_runs):
    straight = load_checkpoint(torchrun_runs / "straight" / "checkpoint.pt")
    resumed = load_checkpoint(torchrun_runs / "resumed" / "checkpoint.pt")
    for name in ("generator", "discriminator"):
        for key, value in straight[name].items():
            assert torch.equal(value, resumed[name][key]), f"{name}.{key} differs after resume"
    assert straight["history"]["loss_g"] == resumed["history"]["loss_g"]
    rank_states = zip(straight[distributed.RANK_RNG_KEY], resumed[distributed.RANK_RNG_KEY], strict=True)
    for mine, theirs in rank_states:
        assert torch.equal(mine["rng"], theirs["rng"]) and torch.equal(mine["torch_rng"], theirs["torch_rng"])
