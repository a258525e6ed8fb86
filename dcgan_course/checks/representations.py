"""Checks for the representation exercises (notebooks 05-07): hook-based feature extraction, the
linear probe and the auxiliary-classifier loss (notebook 04's latent-space checks are in ``checks.latent``).

Each check runs the learner's function on small seeded inputs, compares it with the reference in
the package and, when they disagree, names the bug that produces the learner's answer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import features, improve, models
from ..train import gan_loss
from . import call_learner, expect, expect_close, expect_shape, expect_tensor, passed

TOLERANCE = 1e-4


def check_extract_features(extract_features: Callable) -> None:
    """``extract_features(model, images, layer_names, grid)`` with hooks: shape, values, hooks removed."""
    torch.manual_seed(0)
    model = models.Discriminator(image_size=32, channels=1, base_width=8)
    model.apply(models.init_weights)
    model.train()
    images, names = torch.randn(6, 1, 32, 32), ["blocks.0", "blocks.2"]
    out = expect_tensor(
        call_learner(
            "extract_features",
            "extract_features(model, images, ['blocks.0', 'blocks.2'])",
            extract_features,
            model,
            images,
            names,
            4,
        ),
        "The result of extract_features",
    )
    hooks = sum(len(module._forward_hooks) for module in model.modules())
    expect(
        hooks == 0,
        f"The model still has {hooks} forward hook(s) after extraction: keep the handles that "
        "register_forward_hook returns and call handle.remove() (in a finally: block).",
    )
    expect_shape(out, (6, 16 * (8 + 32)), "extract_features on 2 layers of widths 8 and 32, pooled to 4x4")
    expect(not out.requires_grad, "The features still require gradients: extract them under torch.no_grad().")
    expect(model.training, "extract_features left the model in eval mode: restore model.train() afterwards.")
    reference = features.extract_features(model, images, names, 4)
    model.train()
    in_train_mode = torch.cat(
        [features.pool_to_grid(a, 4) for a in _train_mode_activations(model, images, names)], 1
    )
    average = torch.cat(
        [F.adaptive_avg_pool2d(a, 4).flatten(1) for a in _eval_activations(model, images, names)], 1
    )
    expect(
        not torch.allclose(out, in_train_mode, atol=TOLERANCE),
        "These features come from the model in training mode (BatchNorm uses batch statistics, so an "
        "image's features depend on its batch): call model.eval() before extracting.",
    )
    expect(
        not torch.allclose(out, average, atol=TOLERANCE),
        "These features are average-pooled: the paper's protocol max-pools each map to 4x4.",
    )
    expect_close(out, reference, "extract_features", atol=TOLERANCE)
    passed("extract_features: hooks on named layers, 4x4 max-pooled, frozen, hooks removed.")


def _train_mode_activations(model, images, names) -> list[torch.Tensor]:
    """The named activations with BatchNorm in training mode (without touching its running statistics)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad(), features.capture_activations(model, names) as seen:
        model(images)
    model.load_state_dict(state)
    return [seen[name] for name in names]


def _eval_activations(model, images, names) -> list[torch.Tensor]:
    """The named activations in eval mode."""
    with torch.no_grad(), features.evaluation_mode(model), features.capture_activations(model, names) as seen:
        model(images)
    return [seen[name] for name in names]


def scale_trap(single_class_test: bool, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Data a probe gets right only by standardising, with statistics of the training set.

    Class information sits in 5 features with a tiny scale, noise in 45 features with a huge one.
    With ``single_class_test`` the test set holds only class 0, so a scaler fitted on the test
    features moves class 0 to the origin.
    """
    rng = np.random.default_rng(seed)
    classes, informative = 5, 5
    train_labels = np.repeat(np.arange(classes), 20)
    test_labels = np.zeros(60, dtype=int) if single_class_test else np.repeat(np.arange(classes), 12)

    def sample(labels: np.ndarray) -> np.ndarray:
        signal = 4.0 * np.eye(classes, informative)[labels] + 0.3 * rng.normal(
            size=(len(labels), informative)
        )
        return np.hstack([1e-3 * signal, 1e3 * rng.normal(size=(len(labels), 45))])

    return sample(train_labels), train_labels, sample(test_labels), test_labels


def learner_accuracy(probe_accuracy: Callable, single_class_test: bool) -> float:
    """Run the learner's probe on a scale trap and insist on a fraction back."""
    test = "a single-class test set" if single_class_test else "a balanced test set"
    result = call_learner(
        "probe_accuracy",
        f"probe_accuracy(train_x, train_y, test_x, test_y) on {test}",
        probe_accuracy,
        *scale_trap(single_class_test),
    )
    expect(
        isinstance(result, (float, np.floating)) and 0.0 <= result <= 1.0,
        f"probe_accuracy should return the accuracy as a fraction in [0, 1] (a float), got {result!r}.",
    )
    return float(result)


def check_probe(probe_accuracy: Callable) -> None:
    """``probe_accuracy(train_x, train_y, test_x, test_y)``: standardise on train only; a fraction back."""
    balanced, single_class = learner_accuracy(probe_accuracy, False), learner_accuracy(probe_accuracy, True)
    expect(
        balanced > 0.8,
        f"Accuracy {balanced:.2f} on features whose informative part is tiny and whose noise is huge: "
        "are the features standardised? Fit StandardScaler on the training features, then transform "
        "both training and test features with it.",
    )
    expect(
        single_class > 0.8,
        f"Accuracy {single_class:.2f} on a test set of one class (but {balanced:.2f} on a balanced one): "
        "the scaler is fitted on the test features. Fit it on the training features only.",
    )
    passed("probe_accuracy: features standardised with training-set statistics, both traps passed.")


def check_auxiliary_classifier_loss(auxiliary_classifier_loss: Callable) -> None:
    """D's loss = BCE(real logits, 1) + BCE(fake logits, 0) + weight x CE(class logits, labels)."""
    torch.manual_seed(0)
    real, fake = torch.randn(8), torch.randn(8)
    classes, labels = torch.randn(8, 10), torch.randint(0, 10, (8,))
    loss = expect_tensor(
        call_learner(
            "auxiliary_classifier_loss",
            "auxiliary_classifier_loss(real_logits, fake_logits, class_logits, labels, 0.5)",
            auxiliary_classifier_loss,
            real,
            fake,
            classes,
            labels,
            0.5,
        ),
        "The result of auxiliary_classifier_loss",
    )
    expect_shape(loss, (), "The loss")
    adversarial = gan_loss(real, True) + gan_loss(fake, False)
    class_loss = F.cross_entropy(classes, labels)
    bugs = {
        "the real and fake targets are swapped (real images should get target 1)": gan_loss(real, False)
        + gan_loss(fake, True)
        + 0.5 * class_loss,
        "the class term is missing: add weight x cross-entropy of the class logits": adversarial,
        "the weight is ignored: multiply the cross-entropy by `weight`": adversarial + class_loss,
        "the real/fake logits went through a sigmoid before BCE-with-logits (it applies the sigmoid itself)":
            gan_loss(torch.sigmoid(real), True) + gan_loss(torch.sigmoid(fake), False) + 0.5 * class_loss,
        "the class logits went through a softmax before cross_entropy (it applies log-softmax itself)":
            adversarial + 0.5 * F.cross_entropy(classes.softmax(1), labels),
    }
    for bug, value in bugs.items():
        expect(abs(loss.item() - value.item()) > TOLERANCE, f"The loss matches a known mistake: {bug}.")
    _expect_heads_not_mixed_up(auxiliary_classifier_loss)
    expect_close(
        loss,
        improve.auxiliary_classifier_loss(real, fake, classes, labels, 0.5),
        "auxiliary_classifier_loss",
        atol=TOLERANCE,
    )
    passed("auxiliary_classifier_loss: real/fake BCE on the real/fake logits + weighted class cross-entropy.")


def _expect_heads_not_mixed_up(auxiliary_classifier_loss: Callable) -> None:
    """Each head must get the gradient of its own loss: BCE for real/fake, cross-entropy for classes."""
    torch.manual_seed(1)
    inputs = [
        torch.randn(4, requires_grad=True),
        torch.randn(4, requires_grad=True),
        torch.randn(4, 10, requires_grad=True),
    ]
    labels = torch.randint(0, 10, (4,))
    learner = torch.autograd.grad(auxiliary_classifier_loss(*inputs, labels, 1.0), inputs, allow_unused=True)
    reference = torch.autograd.grad(improve.auxiliary_classifier_loss(*inputs, labels, 1.0), inputs)
    for name, mine, expected in zip(
        ("real_logits", "fake_logits", "class_logits"), learner, reference, strict=True
    ):
        expect(
            mine is not None and torch.allclose(mine, expected, atol=TOLERANCE),
            f"The gradient with respect to {name} is not that of its own loss: the class logits and the "
            "real/fake logits seem mixed up. BCE takes the (N,) real/fake logits, cross-entropy the "
            "(N, classes) class logits.",
        )
