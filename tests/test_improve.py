import torch
import torch.nn.functional as F

from dcgan_course import improve
from dcgan_course.data import ImageData
from dcgan_course.models import Discriminator, Generator, init_weights
from dcgan_course.train import gan_loss


def toy_data(count: int = 64, classes: int = 4) -> ImageData:
    """Images whose class is the quadrant that is lit, plus noise: learnable in a few steps."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(count) % classes
    images = torch.full((count, 1, 32, 32), -1.0)
    for index, label in enumerate(labels.tolist()):
        row, col = divmod(label, 2)
        images[index, :, 16 * row : 16 * row + 16, 16 * col : 16 * col + 16] = 1.0
    images += 0.3 * torch.randn(images.shape, generator=generator)
    return ImageData(images.clamp(-1, 1), labels, [str(c) for c in range(classes)], "quadrants")


def test_classifier_discriminator_has_both_heads_on_shared_features():
    discriminator = improve.ClassifierDiscriminator(num_classes=7, base_width=8)
    real_fake, classes = discriminator.real_fake_and_class_logits(torch.randn(3, 1, 32, 32))
    assert real_fake.shape == (3,) and classes.shape == (3, 7)
    assert discriminator(torch.randn(3, 1, 32, 32)).shape == (3,)
    assert len(discriminator.features(torch.randn(2, 1, 32, 32))) == 3


def test_auxiliary_classifier_loss_adds_the_weighted_cross_entropy():
    real, fake, classes = torch.randn(5), torch.randn(5), torch.randn(5, 3)
    labels = torch.tensor([0, 1, 2, 0, 1])
    expected = gan_loss(real, True) + gan_loss(fake, False) + 0.3 * F.cross_entropy(classes, labels)
    torch.testing.assert_close(improve.auxiliary_classifier_loss(real, fake, classes, labels, 0.3), expected)


def test_auxiliary_gan_training_teaches_the_class_head():
    torch.manual_seed(0)
    data = toy_data()
    generator = Generator(latent_dim=16, image_size=32, channels=1, base_width=8)
    discriminator = improve.ClassifierDiscriminator(num_classes=4, base_width=8)
    generator.apply(init_weights)
    discriminator.apply(init_weights)
    losses = improve.train_auxiliary_gan(generator, discriminator, data, data.subset(slice(0, 16)), epochs=3,
                                         batch_size=16, progress=False)
    assert len(losses) == 3 * 4 and all(torch.isfinite(torch.tensor(losses)))
    discriminator.eval()
    with torch.no_grad():
        _, classes = discriminator.real_fake_and_class_logits(data.images)
    assert (classes.argmax(1) == data.labels).float().mean() > 0.6  # chance: 0.25


def test_fine_tune_learns_the_labels_and_leaves_the_discriminator_untouched():
    torch.manual_seed(0)
    data = toy_data()
    discriminator = Discriminator(image_size=32, channels=1, base_width=8)
    before = {k: v.clone() for k, v in discriminator.state_dict().items()}
    model = improve.fine_tune(discriminator, data, epochs=15, lr=3e-3)
    assert improve.accuracy(model, data) > 0.8
    assert all(torch.equal(before[k], v) for k, v in discriminator.state_dict().items())


def test_frozen_fine_tune_trains_only_the_head():
    torch.manual_seed(0)
    data = toy_data()
    discriminator = Discriminator(image_size=32, channels=1, base_width=8)
    model = improve.fine_tune(discriminator, data, epochs=2, freeze=True)
    for name, value in model.blocks.state_dict().items():
        assert torch.equal(value, discriminator.state_dict()[f"blocks.{name}"]), name
    assert not any(p.requires_grad for p in model.blocks.parameters())


def test_random_translate_shifts_each_image_within_the_limit_and_passes_gradients():
    torch.manual_seed(0)
    images = torch.full((16, 1, 32, 32), -1.0)
    images[:, :, 14:18, 14:18] = 1.0  # a bright square in the middle
    images.requires_grad_(True)
    shifted = improve.random_translate(images, max_shift=3)
    assert shifted.shape == images.shape
    centres = [torch.nonzero(image[0] > 0).float().mean(0) for image in shifted.detach()]
    offsets = torch.stack(centres) - 15.5
    assert offsets.abs().max() <= 3 and len({tuple(o.tolist()) for o in offsets}) > 3
    shifted.sum().backward()
    assert images.grad.abs().sum() > 0


def test_augmented_discriminator_translates_only_while_training_and_loads_plain_weights():
    torch.manual_seed(0)
    augmented = improve.AugmentedDiscriminator(base_width=8)
    plain = Discriminator(image_size=32, channels=1, base_width=8)
    plain.load_state_dict(augmented.state_dict())
    images = torch.randn(4, 1, 32, 32)
    augmented.eval()
    plain.eval()
    torch.testing.assert_close(augmented(images), plain(images))
    augmented.train()
    plain.train()
    assert not torch.allclose(augmented(images), plain(images))


def test_k_plus_one_loss_reads_real_or_fake_from_the_class_logits():
    labels = torch.tensor([0, 1])
    confident = torch.tensor([[9.0, 0.0, 0.0], [0.0, 9.0, 0.0]])
    low = torch.full((2, 3), -9.0)
    good = improve.k_plus_one_loss(confident, labels, real_logits=confident, fake_logits=low)
    swapped = improve.k_plus_one_loss(confident, labels, real_logits=low, fake_logits=confident)
    assert good < 0.01 < 5 < swapped


def test_feature_matching_loss_is_zero_for_identical_batches_and_reaches_only_the_generator_side():
    discriminator = Discriminator(image_size=32, channels=1, base_width=8)
    real = torch.randn(4, 1, 32, 32)
    assert improve.feature_matching_loss(discriminator, real, real.clone()).item() < 1e-10
    fake = torch.randn(4, 1, 32, 32, requires_grad=True)
    improve.feature_matching_loss(discriminator, real, fake).backward()
    assert fake.grad.abs().sum() > 0


def test_k_plus_one_training_teaches_the_class_logits():
    torch.manual_seed(0)
    data = toy_data()
    generator = Generator(latent_dim=16, image_size=32, channels=1, base_width=8)
    discriminator = improve.ClassifierDiscriminator(num_classes=4, base_width=8)
    losses = improve.train_auxiliary_gan(generator, discriminator, data, data.subset(slice(0, 16)), epochs=3,
                                         batch_size=16, k_plus_one=True, progress=False)
    assert len(losses) == 12 and all(torch.isfinite(torch.tensor(losses)))
    discriminator.eval()
    with torch.no_grad():
        _, classes = discriminator.real_fake_and_class_logits(data.images)
    assert (classes.argmax(1) == data.labels).float().mean() > 0.6


def test_every_recipe_builds_a_discriminator_whose_weights_a_plain_one_can_probe():
    import pytest
    import torch

    from dcgan_course import improve, models
    from dcgan_course.saved_discriminators import plain_discriminator

    images = torch.randn(6, 1, 32, 32)
    for recipe in improve.RECIPES:
        _, discriminator = improve.recipe_gan(recipe, 32, 1, 8)
        plain = plain_discriminator(discriminator)
        assert type(plain) is models.Discriminator
        with torch.no_grad():
            assert torch.allclose(plain.eval()(images), discriminator.eval()(images), atol=1e-5), recipe
    assert isinstance(improve.recipe_gan("translate")[1], improve.AugmentedDiscriminator)
    with pytest.raises(ValueError, match="Unknown recipe 'mixup'. Choose one of: plain, translate"):
        improve.recipe_gan("mixup")


def test_rotate_quarter_turns_rotates_each_image_by_its_own_count():
    images = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4)
    rotated = improve.rotate_quarter_turns(images, torch.tensor([0, 3]))
    assert torch.equal(rotated[0], images[0])
    assert torch.equal(rotated[1], torch.rot90(images[1], 3, dims=(1, 2)))


def test_the_rotation_head_learns_rotations_through_train_gan_without_labels():
    from dcgan_course.train import train_gan

    torch.manual_seed(0)
    images = torch.full((64, 1, 32, 32), -1.0)
    images[:, :, :8, :] = 1.0  # a bright band at the top: its side after rotation tells the rotation
    noisy = images + 0.3 * torch.randn(images.shape)
    data = ImageData(noisy, torch.zeros(64, dtype=torch.long), ["x"], "band")
    generator = Generator(latent_dim=16, image_size=32, channels=1, base_width=8)
    discriminator = Discriminator(image_size=32, channels=1, base_width=8)
    generator.apply(init_weights)
    discriminator.apply(init_weights)
    rotation = improve.RotationLoss(discriminator, weight=1.0)
    head_before = rotation.head.weight.detach().clone()
    train_gan(generator, discriminator, data, 6, batch_size=16, progress=False,
              extra_discriminator_loss=rotation)
    assert not torch.equal(head_before, rotation.head.weight)  # D's optimiser trains the head
    turns = torch.arange(len(data)) % 4
    with torch.no_grad():
        discriminator.eval()
        logits = rotation.logits(discriminator, improve.rotate_quarter_turns(data.images, turns))
    assert (logits.argmax(1) == turns).float().mean() > 0.5  # chance: 0.25
