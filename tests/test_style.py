"""Tests for dcgan_course.style: images, Gram and losses, feature networks, both transfer methods."""

import pytest
import torch

from dcgan_course import style, style_feedforward, viz
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


def test_gatys_cuts_the_style_loss_tenfold_and_keeps_the_content_recognisable():
    content, painting = viz.sample_image("grace_hopper", 64), viz.sample_image("waves", 64)
    result = style.stylize(content, painting, style.RandomFeatureNetwork(), steps=30, progress=False)
    assert result.style_loss[-1] <= result.style_loss[0] / 10
    kept = style.structure_similarity(result.image, content)
    assert kept > 0.5 and kept > style.structure_similarity(result.image, painting)


def test_feed_forward_training_lowers_the_style_loss():
    network = style.RandomFeatureNetwork(width=32)
    transform = style_feedforward.TransformNetwork(width=4, residual_blocks=1)
    contents = [viz.sample_image("china", 48), viz.sample_image("grace_hopper", 48)]
    history = style_feedforward.train_feedforward(transform, viz.sample_image("waves", 32), contents, network,
                                      steps=30, batch_size=2, crop_size=32, lr=1e-2, progress=False)
    assert sum(history.style_loss[-5:]) < 0.5 * sum(history.style_loss[:5])
    image, seconds = style_feedforward.apply_style(transform, contents[0])
    assert image.shape == (1, 3, 48, 48) and seconds < 5.0
