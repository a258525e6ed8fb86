"""Tests for dcgan_course.style: images, Gram and losses, feature networks, both transfer methods."""

import pytest
import torch

from dcgan_course import style, viz
from dcgan_course.models import build_gan


def test_gram_matrix_is_per_image_and_normalised_by_c_h_w():
    features = torch.ones(2, 3, 4, 5)
    gram = style.gram_matrix(features)
    assert gram.shape == (2, 3, 3)
    assert torch.allclose(gram, torch.full((2, 3, 3), 1 / 3))


def test_style_loss_is_zero_for_the_style_itself_and_positive_otherwise():
    features = [torch.rand(1, 4, 8, 8), torch.rand(1, 6, 4, 4)]
    grams = [style.gram_matrix(f) for f in features]
    assert style.style_loss(features, grams).item() == 0.0
    assert style.style_loss([f * 2 for f in features], grams).item() > 0.0


@pytest.mark.parametrize("name", viz.SAMPLE_IMAGES)
def test_sample_images_ship_offline_in_the_unit_range(name):
    image = viz.sample_image(name, 32)
    assert image.shape == (1, 3, 32, 32)
    assert -1.0 <= image.min() and image.max() <= 1.0


def test_load_image_reports_missing_and_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        viz.load_image(tmp_path / "nope.jpg")
    broken = tmp_path / "broken.jpg"
    broken.write_text("not an image")
    with pytest.raises(ValueError, match="Cannot read"):
        viz.load_image(broken)


def test_save_then_load_round_trips_an_image(tmp_path):
    image = viz.sample_image("waves", 16)
    path = viz.save_image(image, tmp_path / "waves.png")
    assert (viz.load_image(path, 16) - image).abs().max() < 0.01


def test_vgg19_falls_back_to_random_filters_with_a_message_when_weights_are_missing(monkeypatch, capsys):
    def unavailable():
        raise style.WeightsUnavailableError("Could not load VGG-19 weights (offline).")

    monkeypatch.setattr(style, "vgg19_network", unavailable)
    network = style.load_feature_network("vgg19")
    assert isinstance(network, style.RandomFeatureNetwork)
    assert "Falling back" in capsys.readouterr().out


def test_discriminator_network_reads_every_block_of_a_grayscale_discriminator_on_rgb_images():
    _, discriminator = build_gan(32, 1, base_width=8)
    network = style.discriminator_network(discriminator)
    content, styles = network(torch.rand(1, 3, 64, 64) * 2 - 1)
    assert content.shape == (1, 16, 16, 16)
    assert [f.shape[-1] for f in styles] == [32, 16, 8]


def test_gatys_with_adam_from_the_photo_cuts_its_own_style_loss_tenfold_and_keeps_the_edges():
    content, painting = viz.sample_image("grace_hopper", 64), viz.sample_image("waves", 64)
    result = style.stylize(content, painting, style.RandomFeatureNetwork(), steps=30, optimizer="adam",
                           start="content", progress=False)
    assert result.style_loss[-1] <= result.style_loss[0] / 10
    kept = style.evaluation.edge_similarity(result.image, content)
    assert kept > 0.5 and kept > style.evaluation.edge_similarity(result.image, painting)


def test_the_palette_recipe_moves_the_style_in_networks_it_never_used_and_keeps_the_content_floor():
    content, painting = viz.sample_image("china", 48), viz.sample_image("strokes", 48)
    result = style.evaluation.run_recipe("lbfgs_palette", content, painting, steps=15)
    scores = style.evaluation.judge(result.image, content, painting)
    assert all(scores[name] < 0.5 for name in style.evaluation.judge_networks()), scores
    assert scores["edge similarity"] > 0.4 > style.evaluation.edge_similarity(result.image, painting)


def test_match_colours_gives_the_reference_palette():
    rng = torch.Generator().manual_seed(0)
    image = 0.2 * torch.randn(1, 3, 16, 16, generator=rng)
    mixing = torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.0, 0.5]])
    pixels = mixing @ (0.1 * torch.randn(3, 256, generator=rng)) + torch.tensor([[0.3], [-0.2], [0.1]])
    reference = pixels.reshape(1, 3, 16, 16)
    matched = style.match_colours(image, reference)
    assert torch.allclose(matched.mean(dim=(2, 3)), reference.mean(dim=(2, 3)), atol=1e-4)
    assert torch.allclose(torch.cov(matched[0].flatten(1)), torch.cov(reference[0].flatten(1)), atol=1e-4)


def test_the_palette_layer_is_the_weighted_image_ahead_of_the_filter_scales():
    images = viz.sample_image("flower", 32)
    _, plain = style.RandomFeatureNetwork(width=8)(images)
    _, with_palette = style.RandomFeatureNetwork(width=8, colour_weight=0.5)(images)
    assert len(with_palette) == len(plain) + 1
    assert torch.allclose(with_palette[0], 0.5 * images)


def test_stylize_rejects_an_unknown_optimizer_or_start():
    image = viz.sample_image("waves", 16)
    with pytest.raises(ValueError, match="optimizer must be"):
        style.stylize(image, image, style.RandomFeatureNetwork(width=4), steps=1, optimizer="sgd")
    with pytest.raises(ValueError, match="start one of"):
        style.stylize(image, image, style.RandomFeatureNetwork(width=4), steps=1, start="photo")


def test_edge_similarity_is_one_for_the_photo_and_low_for_another_image():
    content = viz.sample_image("grace_hopper", 64)
    assert style.evaluation.edge_similarity(content, content) == pytest.approx(1.0)
    assert style.evaluation.edge_similarity(viz.sample_image("waves", 64), content) < 0.3


def test_style_distance_is_zero_for_the_style_itself_in_every_judge():
    painting = viz.sample_image("strokes", 32)
    for network in style.evaluation.judge_networks().values():
        assert style.evaluation.style_distance(painting, painting, network) == 0.0
        assert style.evaluation.style_distance(viz.sample_image("china", 32), painting, network) > 0.0


def test_feed_forward_training_lowers_the_style_loss():
    network = style.RandomFeatureNetwork(width=32)
    transform = style.feedforward.TransformNetwork(width=4, residual_blocks=1)
    contents = [viz.sample_image("china", 48), viz.sample_image("grace_hopper", 48)]
    history = style.feedforward.train_feedforward(transform, viz.sample_image("waves", 32), contents, network,
                                      steps=30, batch_size=2, crop_size=32, lr=1e-2, progress=False)
    assert sum(history.style_loss[-5:]) < 0.5 * sum(history.style_loss[:5])
    image, seconds = style.feedforward.apply_style(transform, contents[0])
    assert image.shape == (1, 3, 48, 48) and seconds < 5.0
