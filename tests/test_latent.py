import pytest
import torch

from dcgan_course import latent
from dcgan_course.data import ImageData


def test_sample_latents_is_reproducible_from_the_seed():
    assert torch.equal(latent.sample_latents(4, 10, seed=3), latent.sample_latents(4, 10, seed=3))
    assert not torch.equal(latent.sample_latents(4, 10, seed=3), latent.sample_latents(4, 10, seed=4))


def test_lerp_and_slerp_hit_both_end_points():
    z0, z1 = latent.sample_latents(2, 50, seed=1)
    for path in (latent.lerp(z0, z1, [0.0, 1.0]), latent.slerp(z0, z1, [0.0, 1.0])):
        torch.testing.assert_close(path[0], z0, atol=1e-4, rtol=0)
        torch.testing.assert_close(path[1], z1, atol=1e-4, rtol=0)


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    z0, z1 = latent.sample_latents(2, 100, seed=0)
    middle_lerp = latent.lerp(z0, z1, 0.5)[0].norm()
    middle_slerp = latent.slerp(z0, z1, 0.5)[0].norm()
    ends = (z0.norm() + z1.norm()) / 2
    assert middle_lerp < 0.8 * ends  # nearly orthogonal codes: |mid| ~ |z| / sqrt(2)
    assert abs(middle_slerp - ends) < 0.05 * ends


def test_slerp_of_nearly_identical_codes_is_finite():
    z = latent.sample_latents(1, 20)[0]
    assert torch.isfinite(latent.slerp(z, z.clone(), torch.linspace(0, 1, 5))).all()


def test_interpolation_grid_has_one_row_of_steps_per_pair():
    starts, ends = latent.sample_latents(3, 16, seed=0), latent.sample_latents(3, 16, seed=1)
    grid = latent.interpolation_grid(starts, ends, steps=7)
    assert grid.shape == (21, 16)
    torch.testing.assert_close(grid[7], starts[1])
    torch.testing.assert_close(grid[13], ends[1], atol=1e-4, rtol=0)


def test_interpolate_rejects_unknown_methods_and_too_few_steps():
    z0, z1 = latent.sample_latents(2, 8)
    with pytest.raises(ValueError, match="slerp"):
        latent.interpolate(z0, z1, 5, method="cubic")
    with pytest.raises(ValueError, match="at least 2"):
        latent.interpolate(z0, z1, 1)


def test_arithmetic_averages_each_group():
    a, b, c = torch.ones(3, 4), torch.full((2, 4), 2.0), torch.full((5, 4), 4.0)
    torch.testing.assert_close(latent.arithmetic(a, b, c), torch.full((4,), 3.0))


def test_walk_moves_a_unit_direction_by_each_amount():
    z, direction = torch.zeros(3), torch.tensor([0.0, 3.0, 4.0])
    steps = latent.walk(z, direction, torch.tensor([-1.0, 0.0, 2.0]))
    torch.testing.assert_close(steps.norm(dim=1), torch.tensor([1.0, 0.0, 2.0]))


def test_nearest_neighbours_finds_a_copied_training_image():
    images = torch.rand(50, 1, 8, 8) * 2 - 1
    data = ImageData(images, torch.zeros(50, dtype=torch.long), ["x"], "toy")
    queries = torch.stack([images[17], images[3] + 0.01])
    index, distance = latent.nearest_neighbours(queries, data, chunk=1)
    assert index.tolist() == [17, 3]
    assert distance[0] < 1e-2 and 0.05 < distance[1] < 0.1
