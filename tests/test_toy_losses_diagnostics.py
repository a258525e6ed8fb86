"""The GAN losses, the theory toys and the diagnostics measure what their docstrings claim."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcgan_course import data, diagnostics, losses, toy

# ---------------------------------------------------------------- losses

def test_bce_pair_is_binary_cross_entropy_with_the_generator_labelling_fakes_real():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    loss_d, loss_g = losses.bce(real, fake)
    expected_d = (F.binary_cross_entropy_with_logits(real, torch.ones(2))
                  + F.binary_cross_entropy_with_logits(fake, torch.zeros(2)))
    assert torch.isclose(loss_d, expected_d)
    assert torch.isclose(loss_g, F.binary_cross_entropy_with_logits(fake, torch.ones(2)))


def test_lsgan_and_hinge_have_their_fixed_targets():
    at_targets = losses.lsgan(torch.ones(3), torch.zeros(3))
    assert at_targets[0].item() == 0 and at_targets[1].item() == 0.5  # D is perfect, G is as far as can be
    beyond_margin = losses.hinge(torch.full((3,), 2.0), torch.full((3,), -2.0))
    assert beyond_margin[0].item() == 0 and beyond_margin[1].item() == 2.0


def test_minimax_generator_loss_saturates_where_the_non_saturating_one_does_not():
    logit = torch.tensor([-6.0], requires_grad=True)
    (minimax,) = torch.autograd.grad(losses.minimax_generator_loss(logit), logit)
    (non_saturating,) = torch.autograd.grad(losses.bce(logit.detach(), logit)[1], logit)
    assert abs(minimax.item()) < 0.01 < 0.99 < abs(non_saturating.item())


# ---------------------------------------------------------------- 1-D toy: D* and JS

GRID = torch.linspace(-8, 8, 4001)
DX = (GRID[1] - GRID[0]).item()


def test_jensen_shannon_is_zero_for_equal_densities_and_log_two_for_disjoint_ones():
    p = toy.gaussian_density(GRID, 0.0, 1.0)
    assert toy.jensen_shannon(p, p, DX) == pytest.approx(0.0, abs=1e-6)
    far_left, far_right = toy.gaussian_density(GRID, -5, 0.3), toy.gaussian_density(GRID, 5, 0.3)
    assert toy.jensen_shannon(far_left, far_right, DX) == pytest.approx(math.log(2), abs=1e-3)


def test_value_at_the_optimal_discriminator_is_minus_log_four_plus_twice_js():
    p_data, p_model = toy.gaussian_density(GRID, 0.0, 1.0), toy.gaussian_density(GRID, 1.5, 0.7)
    best = toy.optimal_discriminator(p_data, p_model)
    value = toy.game_value(best, p_data, p_model, DX)
    assert value == pytest.approx(-math.log(4) + 2 * toy.jensen_shannon(p_data, p_model, DX), abs=1e-4)
    assert value > toy.game_value(torch.full_like(best, 0.5), p_data, p_model, DX)  # D* beats a coin


def test_a_trained_discriminator_approaches_the_optimal_one():
    rng = torch.Generator().manual_seed(0)
    real, fake = torch.randn(1000, generator=rng), 1.5 + 0.7 * torch.randn(1000, generator=rng)
    discriminator = toy.fit_discriminator(real, fake, steps=200)
    x = torch.linspace(-1.5, 2.5, 41)
    with torch.no_grad():
        learned = torch.sigmoid(discriminator(x[:, None]).squeeze(1))
    best = toy.optimal_discriminator(toy.gaussian_density(x, 0, 1), toy.gaussian_density(x, 1.5, 0.7))
    assert (learned - best).abs().max() < 0.1


# ---------------------------------------------------------------- 2-D ring

def test_modes_covered_counts_real_data_as_all_eight_and_one_mode_as_one():
    rng = torch.Generator().manual_seed(0)
    assert toy.modes_covered(toy.ring_of_gaussians(2000, rng)) == 8
    one_mode = toy.ring_centres()[3] + toy.RING_STD * torch.randn(500, 2, generator=rng)
    assert toy.modes_covered(one_mode) == 1
    assert toy.modes_covered(torch.zeros(100, 2)) == 0  # the centre of the ring is no mode


def test_pacgan_discriminator_sees_packs_of_points():
    discriminator = toy.ToyDiscriminator(pack=2, hidden=8)
    assert discriminator(torch.randn(10, 2)).shape == (5,)


def test_ring_run_records_the_requested_snapshots():
    run = toy.train_ring_gan(steps=6, pack=2, snapshots=3, batch_size=16, hidden=8, grid_size=5)
    assert run.steps == [2, 4, 6] and len(run.modes) == 3
    assert run.samples[0].shape == (1000, 2) and run.surfaces[0].shape == (5, 5)
    assert all(0 <= value <= 1 for surface in run.surfaces for value in surface.flatten().tolist())
    with pytest.raises(ValueError, match="steps >= snapshots"):
        toy.train_ring_gan(steps=2, snapshots=3)


# ---------------------------------------------------------------- ablation and memorisation

def test_recipes_change_what_they_name():
    plain = diagnostics.build_recipe_gan(diagnostics.Recipe(batch_norm=False), 32, 1, 4, seed=0)
    assert not any(isinstance(m, nn.BatchNorm2d) for model in plain for m in model.modules())
    _, relu_d = diagnostics.build_recipe_gan(diagnostics.Recipe(d_activation="relu"), 32, 1, 4, seed=0)
    kinds = {type(m) for m in relu_d.modules()}
    assert nn.ReLU in kinds and nn.LeakyReLU not in kinds
    with pytest.raises(ValueError, match="d_activation"):
        diagnostics.build_recipe_gan(diagnostics.Recipe(d_activation="tanh"), 32, 1, 4, seed=0)


class ConstantScorer:
    """Stands in for the Fréchet classifier distance (whose classifier takes long to train)."""

    def score(self, generator: nn.Module) -> float:
        return 1.0


def tiny_digits(split: str, limit: int) -> data.ImageData:
    """A few embedded digits."""
    return data.load_dataset("digits", split, limit=limit)


def test_ablation_gives_one_row_per_recipe_and_seed_with_samples():
    recipes = {name: diagnostics.ABLATIONS[name] for name in ("DCGAN", "beta1 = 0.9")}
    rows, samples = diagnostics.run_ablation(tiny_digits("train", 16), ConstantScorer(), epochs=1,
                                             seeds=[0, 1], base_width=2, batch_size=16, recipes=recipes)
    runs = [(row["recipe"], row["seed"]) for row in rows]
    assert runs == [("DCGAN", 0), ("DCGAN", 1), ("beta1 = 0.9", 0), ("beta1 = 0.9", 1)]
    assert rows[2]["beta1"] == 0.9 and samples["DCGAN"].shape == (32, 1, 32, 32)


def test_memorisation_curve_records_every_epoch():
    records = diagnostics.memorisation_curve(tiny_digits("train", 16), tiny_digits("test", 8), epochs=2,
                                             base_width=2, batch_size=16)
    assert [record["epoch"] for record in records] == [1, 2]
    assert all(0 < record["d_train"] < 1 and 0 < record["d_held_out"] < 1 for record in records)
    assert records[0]["nn_held_out_to_train"] == records[1]["nn_held_out_to_train"] > 0
    with pytest.raises(ValueError, match="larger than the dataset"):
        diagnostics.memorisation_curve(tiny_digits("train", 8), tiny_digits("test", 8), 1, 4, batch_size=16)


class ReplayGenerator(nn.Module):
    """A stand-in generator: returns the first images of a fixed batch, whatever the noise."""

    latent_dim = 4

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("images", images)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.images[: len(noise)]


def test_compare_generators_scores_real_looking_samples_better_and_labels_each_row():
    import matplotlib.pyplot as plt

    from dcgan_course import metrics

    real = data.load_dataset(limit=300)
    scorer = metrics.SampleQualityScorer(real, sample_size=300)
    noise_images = torch.rand(300, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    fcd = diagnostics.compare_generators({"copies": ReplayGenerator(real.images), "noise": ReplayGenerator(
        noise_images)}, scorer, title="side by side")
    assert list(fcd) == ["copies", "noise"]
    assert fcd["copies"] < 0.1 * fcd["noise"]
    labels = [ax.get_ylabel() for ax in plt.gcf().axes]
    assert labels == [f"copies\nFCD {fcd['copies']:.1f}", f"noise\nFCD {fcd['noise']:.1f}"]
    plt.close("all")
