import numpy as np
import pytest
import torch

from dcgan_course.data import load_dataset
from dcgan_course.metrics import SampleQualityScorer, frechet_distance
from dcgan_course.models import build_gan
from dcgan_course.train import train_gan


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 8))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_closed_form_for_shifted_scaled_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    b = 2.0 * rng.normal(size=(20000, 3)) + 1.0
    # |mu|^2 = 3, trace term per dim: 1 + 4 - 2*2 = 1  => 3 + 3 = 6
    assert frechet_distance(a, b) == pytest.approx(6.0, rel=0.05)


@pytest.fixture(scope="module")
def scorer():
    return SampleQualityScorer(load_dataset(), sample_size=500)


def test_real_images_score_far_better_than_noise(scorer):
    real = scorer.score_images(load_dataset(split="test").images[:500])
    noise = scorer.score_images(torch.rand(500, 1, 32, 32) * 2 - 1)
    assert real * 20 < noise


def test_a_short_training_run_lowers_the_score(scorer):
    torch.manual_seed(0)
    generator, discriminator = build_gan(32, 1)
    untrained = scorer.score(generator)
    train_gan(generator, discriminator, load_dataset(), epochs=6, progress=False)
    assert scorer.score(generator) < 0.6 * untrained


def test_class_histogram_counts_every_sample(scorer):
    histogram = scorer.class_histogram(load_dataset(split="test").images[:100])
    assert histogram.sum() == 100 and len(histogram) == 10 and histogram.max() < 30
