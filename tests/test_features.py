import pytest
import torch
from torch import nn

from dcgan_course import features
from dcgan_course.models import Discriminator, Generator, init_weights


@pytest.fixture(scope="module")
def small_discriminator():
    torch.manual_seed(0)
    discriminator = Discriminator(image_size=32, channels=1, base_width=8)
    discriminator.apply(init_weights)
    return discriminator


def test_capture_activations_records_named_layers_and_removes_its_hooks(small_discriminator):
    images = torch.randn(4, 1, 32, 32)
    with features.capture_activations(small_discriminator, ["blocks.0", "blocks.2"]) as seen:
        small_discriminator(images)
    assert [tuple(seen[n].shape) for n in ("blocks.0", "blocks.2")] == [(4, 8, 16, 16), (4, 32, 4, 4)]
    assert all(not m._forward_hooks for m in small_discriminator.modules())


def test_hooks_are_removed_even_when_the_forward_pass_fails(small_discriminator):
    with pytest.raises(RuntimeError):
        with features.capture_activations(small_discriminator, ["blocks.1"]):
            small_discriminator(torch.randn(2, 3, 32, 32))  # wrong channel count
    assert all(not m._forward_hooks for m in small_discriminator.modules())


def test_unknown_layer_names_list_the_valid_ones(small_discriminator):
    with pytest.raises(ValueError, match="blocks.0"):
        features.get_layers(small_discriminator, ["block.0"])


def test_pool_to_grid_takes_the_maximum_of_each_cell():
    activation = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert features.pool_to_grid(activation, 2).tolist() == [[5.0, 7.0, 13.0, 15.0]]
    assert features.pool_to_grid(activation, None).shape == (1, 16)


def test_discriminator_features_follow_the_papers_4x4_protocol(small_discriminator):
    images = torch.randn(10, 1, 32, 32)
    out = features.discriminator_features(small_discriminator, images, batch_size=3)
    assert out.shape == (10, 16 * (8 + 16 + 32))
    assert torch.allclose(out[:3], features.discriminator_features(small_discriminator, images[:3]))


def test_extraction_is_frozen_and_restores_training_mode(small_discriminator):
    small_discriminator.train()
    images = torch.randn(6, 1, 32, 32, requires_grad=True)
    out = features.discriminator_features(small_discriminator, images, layers=[1])
    assert not out.requires_grad and out.shape == (6, 16 * 16)
    assert small_discriminator.training
    # eval mode: an image's features do not depend on the rest of its batch
    single = features.discriminator_features(small_discriminator, images[:1], layers=[1])
    torch.testing.assert_close(out[:1], single)


def test_pixel_features_flatten_images():
    assert features.pixel_features(torch.zeros(5, 3, 4, 4)).shape == (5, 48)


def test_encoder_learns_to_invert_a_frozen_generator():
    torch.manual_seed(0)
    generator = Generator(latent_dim=8, image_size=32, channels=1, base_width=8)  # PyTorch's default init
    encoder, losses = features.train_encoder(generator, steps=60, base_width=8, batch_size=32, lr=2e-3,
                                             progress=False)
    assert sum(losses[-10:]) / 10 < 0.6 * sum(losses[:10]) / 10
    z = torch.randn(16, 8)
    with torch.no_grad():
        generator.eval()
        codes = features.encode(encoder, generator(z))
    correlation = torch.corrcoef(torch.stack([codes.flatten(), z.flatten()]))[0, 1]
    assert correlation > 0.5


def test_refine_latents_lowers_the_reconstruction_error():
    torch.manual_seed(0)
    generator = Generator(latent_dim=8, image_size=32, channels=1, base_width=8)  # PyTorch's default init
    generator.eval()
    with torch.no_grad():
        targets = generator(torch.randn(4, 8))
    start = torch.randn(4, 8)
    refined = features.refine_latents(generator, targets, start, steps=30)

    def error(z: torch.Tensor) -> float:
        with torch.no_grad():
            return nn.functional.mse_loss(generator(z), targets).item()

    assert error(refined) < 0.7 * error(start)


def test_generator_features_join_the_code_and_pooled_hidden_layers():
    generator = Generator(latent_dim=8, image_size=32, channels=1, base_width=8)
    out = features.generator_features(generator, torch.randn(5, 8))
    assert out.shape == (5, 8 + 16 * (32 + 16 + 8))


def test_autoencoder_learns_to_reconstruct():
    from dcgan_course.data import load_dataset

    data = load_dataset("digits", limit=32)
    encoder, decoder = features.train_autoencoder(data, epochs=15, latent_dim=16, base_width=8, batch_size=8,
                                                  lr=2e-3, progress=False)
    with torch.no_grad():
        decoder.eval()
        reconstruction = decoder(features.encode(encoder, data.images))
    error = nn.functional.mse_loss(reconstruction, data.images).item()
    mean_image = data.images.mean(0, keepdim=True).expand_as(data.images)
    baseline = nn.functional.mse_loss(mean_image, data.images).item()
    assert error < 0.8 * baseline
