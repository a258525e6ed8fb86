"""An offline sample-quality score: the Fréchet classifier distance (FCD).

FID compares Gaussian fits of real and generated images in the features of an Inception network
trained on ImageNet (a download). FCD, as in TF-GAN, does the same in the penultimate features
of a small classifier trained on the *same* dataset, so it needs no download. Lower is better.
FCD values are only comparable with the same dataset, classifier seed and sample size — never
with published Inception-FID numbers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import ImageData
from .models import Generator, generate

SAMPLE_SIZE = 1000
CLASSIFIER_EPOCHS = 8
CLASSIFIER_TRAIN_LIMIT = 10_000  # enough for a stable feature space; keeps MNIST-sized data quick
FEATURE_DIM = 128


class FeatureClassifier(nn.Module):
    """A small CNN classifier whose penultimate layer is the feature space for the score."""

    def __init__(self, channels: int, image_size: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * (image_size // 4) ** 2, FEATURE_DIM), nn.ReLU(),
        )
        self.classify = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.classify(self.features(images))


def train_classifier(data: ImageData, epochs: int = CLASSIFIER_EPOCHS, seed: int = 0) -> FeatureClassifier:
    """Fit the feature classifier on labelled real images (CPU, a few seconds for digits)."""
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    data = data.to("cpu")
    if len(data) > CLASSIFIER_TRAIN_LIMIT:
        data = data.subset(torch.randperm(len(data), generator=rng)[:CLASSIFIER_TRAIN_LIMIT])
    model = FeatureClassifier(data.channels, data.image_size, data.num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        for images, labels in data.batches(64, shuffle=True, rng=rng, drop_last=False):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def embed(model: FeatureClassifier, images: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """Penultimate-layer features of ``images`` as a float64 array (N, FEATURE_DIM)."""
    chunks = [model.features(chunk.float().cpu()) for chunk in images.split(batch_size)]
    return torch.cat(chunks).double().numpy()


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussian fits of two sets."""
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    cov_a, cov_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    # Tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues) of the symmetric S_a^(1/2) S_b S_a^(1/2)
    values, vectors = np.linalg.eigh(cov_a)
    sqrt_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    cross = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a).clip(min=0)
    distance = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(cross).sum()
    return float(max(distance, 0.0))


class SampleQualityScorer:
    """Scores a generator by the FCD between its samples and real images of one dataset."""

    def __init__(self, real: ImageData, sample_size: int = SAMPLE_SIZE, seed: int = 0) -> None:
        self.sample_size = min(sample_size, len(real))
        self.seed = seed
        self.classifier = train_classifier(real, seed=seed)
        keep = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))
        self.real_features = embed(self.classifier, real.images[keep[: self.sample_size]])

    def samples(self, generator: Generator) -> torch.Tensor:
        """A fixed-seed batch of ``sample_size`` generated images, on the CPU."""
        noise = torch.randn(self.sample_size, generator.latent_dim,
                            generator=torch.Generator().manual_seed(self.seed + 1))
        return generate(generator, noise)

    def score(self, generator: Generator) -> float:
        """FCD of the generator's samples against the real images (lower is better)."""
        return self.score_images(self.samples(generator))

    def score_images(self, images: torch.Tensor) -> float:
        """FCD of a batch of images against the real images."""
        return frechet_distance(embed(self.classifier, images), self.real_features)

    @torch.no_grad()
    def class_histogram(self, images: torch.Tensor) -> np.ndarray:
        """How many images the classifier assigns to each class: a collapsed G piles into a few."""
        predictions = self.classifier(images.float().cpu()).argmax(dim=1)
        return np.bincount(predictions.numpy(), minlength=self.classifier.classify.out_features)
