import pytest
import torch
from torch import nn

from dcgan_course.models import Discriminator, Generator, build_gan, init_weights


@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_discriminator_shapes(image_size, channels):
    generator, discriminator = build_gan(image_size, channels, latent_dim=16, base_width=8)
    images = generator(torch.randn(5, 16))
    assert images.shape == (5, channels, image_size, image_size)
    assert images.min() >= -1 and images.max() <= 1
    assert discriminator(images).shape == (5,)


def test_at_64_pixels_the_networks_are_the_papers():
    """Same parameter counts as pytorch/examples' DCGAN netG / netD (nz=100, ngf=ndf=64, nc=3)."""
    generator, discriminator = Generator(), Discriminator()
    assert sum(p.numel() for p in generator.parameters()) == 3_576_704
    assert sum(p.numel() for p in discriminator.parameters()) == 2_765_568


def test_discriminator_features_follow_the_blocks():
    discriminator = Discriminator(image_size=32, channels=1)
    shapes = [tuple(f.shape) for f in discriminator.features(torch.randn(2, 1, 32, 32))]
    assert shapes == [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4)]


def test_dcgan_guidelines_hold():
    generator, discriminator = build_gan(64, 3)
    layers = list(generator.modules()) + list(discriminator.modules())
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in layers)
    assert isinstance(generator.to_image[-1], nn.Tanh)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in discriminator.blocks[0])
    assert any(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in discriminator.modules())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"image_size": 28}, "image_size must be one of"),
    ({"channels": 4}, "channels must be 1"),
])
def test_unsupported_sizes_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Generator(**kwargs)
    with pytest.raises(ValueError, match=message):
        Discriminator(**kwargs)


def test_init_weights_uses_the_papers_statistics():
    torch.manual_seed(0)
    generator = Generator().apply(init_weights)
    conv = generator.upsample[0][0].weight
    batch_norm = generator.upsample[0][1]
    assert abs(conv.mean().item()) < 1e-3 and abs(conv.std().item() - 0.02) < 1e-3
    assert abs(batch_norm.weight.mean().item() - 1.0) < 0.01
    assert abs(batch_norm.weight.std().item() - 0.02) < 0.01
    assert torch.count_nonzero(batch_norm.bias) == 0


def test_regularised_discriminator_variants_run():
    discriminator = Discriminator(32, 1, base_width=8, dropout=0.3, spectral_norm=True).apply(init_weights)
    assert any(isinstance(m, nn.Dropout2d) for m in discriminator.modules())
    assert discriminator(torch.randn(3, 1, 32, 32)).shape == (3,)
