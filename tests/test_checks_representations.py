import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from dcgan_course import features, improve, probe
from dcgan_course.checks import representations as checks
from dcgan_course.train import gan_loss


def not_implemented(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize(
    "check",
    [
        checks.check_extract_features,
        checks.check_probe,
        checks.check_auxiliary_classifier_loss,
    ],
)
def test_a_stub_fails_with_not_implemented_yet(check):
    with pytest.raises(AssertionError, match="not implemented yet"):
        check(not_implemented)


def test_reference_solutions_pass(capsys):
    checks.check_extract_features(features.extract_features)
    checks.check_probe(probe.probe_accuracy)
    checks.check_auxiliary_classifier_loss(improve.auxiliary_classifier_loss)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("✅") for line in lines)


# ---------------------------------------------------------------- 05: hooks


def test_check_extract_features_names_hooks_left_behind():
    def leaky(model, images, layer_names, grid=4):
        seen = {}
        for name in layer_names:
            model.get_submodule(name).register_forward_hook(
                lambda m, i, o, name=name: seen.__setitem__(name, o)
            )
        with torch.no_grad(), features.evaluation_mode(model):
            model(images)
        return torch.cat([features.pool_to_grid(seen[n], grid) for n in layer_names], 1)

    with pytest.raises(AssertionError, match="handle.remove"):
        checks.check_extract_features(leaky)


def test_check_extract_features_names_training_mode():
    def batch_statistics(model, images, layer_names, grid=4):
        with torch.no_grad(), features.capture_activations(model, layer_names) as seen:
            model(images)
        return torch.cat([features.pool_to_grid(seen[n], grid) for n in layer_names], 1)

    with pytest.raises(AssertionError, match="model.eval"):
        checks.check_extract_features(batch_statistics)


def test_check_extract_features_names_average_pooling():
    def average(model, images, layer_names, grid=4):
        with (
            torch.no_grad(),
            features.evaluation_mode(model),
            features.capture_activations(model, layer_names) as s,
        ):
            model(images)
        return torch.cat([F.adaptive_avg_pool2d(s[n], grid).flatten(1) for n in layer_names], 1)

    with pytest.raises(AssertionError, match="max-pools"):
        checks.check_extract_features(average)


def test_check_extract_features_names_missing_no_grad():
    def with_grad(model, images, layer_names, grid=4):
        return features.extract_features(model, images, layer_names, grid).requires_grad_(True)

    with pytest.raises(AssertionError, match="no_grad"):
        checks.check_extract_features(with_grad)


# ---------------------------------------------------------------- 06: the probe


def test_check_probe_names_missing_standardisation():
    def raw(train_x, train_y, test_x, test_y):
        return float(LogisticRegression(max_iter=500).fit(train_x, train_y).score(test_x, test_y))

    with pytest.raises(AssertionError, match="standardised"):
        checks.check_probe(raw)


def test_check_probe_names_a_scaler_fitted_on_test_data():
    def peeking(train_x, train_y, test_x, test_y):
        model = LogisticRegression(max_iter=500).fit(StandardScaler().fit_transform(train_x), train_y)
        return float(model.score(StandardScaler().fit_transform(test_x), test_y))

    with pytest.raises(AssertionError, match="fitted on the test"):
        checks.check_probe(peeking)


def test_check_probe_names_a_percentage():
    with pytest.raises(AssertionError, match="fraction"):
        checks.check_probe(lambda *data: 100 * probe.probe_accuracy(*data))


def test_check_probe_accepts_a_correct_logistic_regression():
    def logistic(train_x, train_y, test_x, test_y):
        scaler = StandardScaler().fit(train_x)
        model = LogisticRegression(max_iter=500).fit(scaler.transform(train_x), train_y)
        return float(model.score(scaler.transform(test_x), test_y))

    checks.check_probe(logistic)


# ---------------------------------------------------------------- 07: auxiliary classifier loss


@pytest.mark.parametrize(
    "bug, message",
    [
        (lambda r, f, c, y, w: gan_loss(r, False) + gan_loss(f, True) + w * F.cross_entropy(c, y), "swapped"),
        (lambda r, f, c, y, w: gan_loss(r, True) + gan_loss(f, False), "class term is missing"),
        (
            lambda r, f, c, y, w: gan_loss(r, True) + gan_loss(f, False) + F.cross_entropy(c, y),
            "weight is ignored",
        ),
        (
            lambda r, f, c, y, w: (
                gan_loss(r.sigmoid(), True) + gan_loss(f.sigmoid(), False) + w * F.cross_entropy(c, y)
            ),
            "sigmoid",
        ),
        (
            lambda r, f, c, y, w: (
                gan_loss(r, True) + gan_loss(f, False) + w * F.cross_entropy(c.softmax(1), y)
            ),
            "softmax",
        ),
    ],
)
def test_check_auxiliary_classifier_loss_names_each_planted_bug(bug, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_auxiliary_classifier_loss(bug)


def test_check_auxiliary_classifier_loss_names_heads_mixed_up():
    def mixed_up(real, fake, classes, labels, weight):
        adversarial = gan_loss(classes.logsumexp(1), True) + gan_loss(fake, False)
        return adversarial + weight * F.cross_entropy(torch.stack([real, -real], 1), labels.clamp(max=1))

    with pytest.raises(AssertionError, match="mixed up"):
        checks.check_auxiliary_classifier_loss(mixed_up)


def test_scale_trap_defeats_a_probe_without_standardisation():
    train_x, train_y, test_x, test_y = checks.scale_trap(single_class_test=False)
    raw = LogisticRegression(max_iter=500).fit(train_x, train_y).score(test_x, test_y)
    assert raw < 0.5 < probe.probe_accuracy(train_x, train_y, test_x, test_y)
    assert np.unique(checks.scale_trap(single_class_test=True)[3]).tolist() == [0]
