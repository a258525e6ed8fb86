"""Tests for dcgan_course.translation: data, U-Net, PatchGAN, losses, training and metrics."""

import pytest
import torch

from dcgan_course import translation
from dcgan_course.data import DatasetDownloadError, paired
from dcgan_course.train import gan_loss


@pytest.fixture(scope="module")
def pairs():
    return paired.load_pairs("edges2digits", "train", limit=64)


def test_edges2digits_pairs_are_binary_outlines_of_labelled_digits(pairs):
    assert pairs.inputs.shape == pairs.targets.shape == (64, 1, 32, 32)
    assert set(pairs.inputs.unique().tolist()) == {-1.0, 1.0}
    assert 0.05 < (pairs.inputs > 0).float().mean() < 0.6
    assert pairs.labels is not None and len(pairs.labels) == 64


def test_load_pairs_rejects_unknown_task_and_bad_size():
    with pytest.raises(ValueError, match="edges2digits"):
        paired.load_pairs("maps")
    with pytest.raises(ValueError, match="power of two"):
        paired.load_pairs(image_size=30)


def test_facades_offline_without_files_gives_a_clear_error(tmp_path):
    with pytest.raises(DatasetDownloadError, match="offline"):
        paired.load_pairs("facades", image_size=64, root=tmp_path, download=False)


def test_batches_cycle_forever_with_full_batches(pairs):
    batches = pairs.batches(24)
    shapes = [next(batches)[0].shape[0] for _ in range(5)]
    assert shapes == [24] * 5


@pytest.mark.parametrize("image_size", [32, 64])
def test_unet_maps_an_image_to_an_image_of_the_same_size(image_size):
    generator = translation.UNetGenerator(1, 3, image_size, base_width=4).eval()
    output = generator(torch.randn(2, 1, image_size, image_size))
    assert output.shape == (2, 3, image_size, image_size)
    assert output.abs().max() <= 1.0


def test_skip_block_concatenates_input_channels_with_the_upsampled_path():
    block = translation.UNetBlock(4, 8).eval()
    x = torch.randn(2, 4, 8, 8)
    output = block(x)
    assert output.shape == (2, 8, 8, 8)
    assert torch.equal(output[:, :4], x)


def test_patch_discriminator_sees_input_and_output_and_returns_a_logit_map():
    discriminator = translation.PatchDiscriminator(1, 3, base_width=4, downsamplings=2)
    logits = discriminator(torch.randn(2, 1, 32, 32), torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 1, 6, 6)
    assert translation.patch_size(3) == 70 and translation.patch_size(1) == 16


def test_generator_loss_is_real_label_bce_plus_weighted_l1():
    logits, fake, target = torch.randn(2, 1, 4, 4), torch.zeros(2, 1, 8, 8), torch.full((2, 1, 8, 8), 0.5)
    loss = translation.pix2pix_generator_loss(logits, fake, target, l1_weight=100.0)
    assert loss.item() == pytest.approx(gan_loss(logits, True).item() + 50.0, rel=1e-5)


def test_l1_only_training_lowers_the_l1_error(pairs):
    generator, _ = translation.build_pix2pix(base_width=8)
    history = translation.train_pix2pix(generator, None, pairs, steps=30, batch_size=16, lr=2e-3,
                                        device="cpu", progress=False)
    assert history.loss_d == []
    assert sum(history.l1[-5:]) < 0.6 * sum(history.l1[:5])


def test_pix2pix_training_records_both_players(pairs):
    generator, discriminator = translation.build_pix2pix(base_width=4, downsamplings=1)
    history = translation.train_pix2pix(generator, discriminator, pairs, steps=3, batch_size=16,
                                        device="cpu", progress=False)
    assert len(history.loss_d) == len(history.loss_g) == history.steps == 3


def test_psnr_and_l1_on_the_unit_scale():
    target = torch.zeros(2, 1, 4, 4)
    assert translation.psnr(target + 0.2, target) == pytest.approx(20.0, abs=1e-3)  # 0.1 on [0, 1]
    assert translation.l1_error(target + 0.2, target) == pytest.approx(0.1)


def test_quality_scorer_recognises_real_digits_and_scores_them_closer_than_noise():
    train = paired.load_pairs("edges2digits", "train", limit=300)
    test = paired.load_pairs("edges2digits", "test", limit=200)
    scorer = translation.quality_scorer(train)
    assert translation.class_accuracy(scorer, test.targets, test.labels) > 0.8
    assert scorer.score_images(test.targets) < scorer.score_images(torch.rand_like(test.targets) * 2 - 1)


def test_facades_files_split_into_label_map_inputs_and_photo_targets(tmp_path):
    from PIL import Image

    folder = tmp_path / "facades" / "test"
    folder.mkdir(parents=True)
    side_by_side = torch.zeros(3, 16, 32, dtype=torch.uint8)
    side_by_side[:, :, 16:] = 255  # photo (left) black, label map (right) white
    Image.fromarray(side_by_side.permute(1, 2, 0).numpy()).save(folder / "1.jpg")
    pairs = paired.load_pairs("facades", "test", image_size=8, root=tmp_path, download=False)
    assert pairs.inputs.shape == pairs.targets.shape == (1, 3, 8, 8)
    assert pairs.inputs.mean() > 0.9 and pairs.targets.mean() < -0.9


class Blank(torch.nn.Module):
    """A stand-in generator whose outputs are all zeros (no detail at all)."""

    def forward(self, inputs):
        return torch.zeros_like(inputs)


class DetailCritic(torch.nn.Module):
    """A stand-in D: calls a pair real when its output image varies (std above 0.05), and notes its mode."""

    def __init__(self):
        super().__init__()
        self.modes = []

    def forward(self, inputs, images):
        self.modes.append(self.training)
        return 20 * (images.std(dim=(1, 2, 3)) - 0.05)


def test_discriminator_verdicts_score_real_pairs_and_generated_pairs_apart(pairs):
    critic = DetailCritic().train()
    real, fake = translation.discriminator_verdicts(critic, Blank(), pairs)
    assert real > 0.9 and fake == pytest.approx(torch.sigmoid(torch.tensor(-1.0)).item())
    assert critic.modes == [False, False] and critic.training  # judged in eval mode, left as it came
