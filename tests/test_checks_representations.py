"""The notebook 05-07 checks pass the references, name each planted mistake and score predictions honestly."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from dcgan_course import features, models, probe
from dcgan_course.checks import representations as checks


def not_implemented(*args, **kwargs):
    raise NotImplementedError


def frozen(model, images, layer_names):
    """The named activations in eval mode, read with the package's hooks."""
    with (torch.no_grad(), models.evaluation_mode(model),
          features.capture_activations(model, layer_names) as s):
        model(images)
    return [s[name] for name in layer_names]


def pyramid_features(model, images, layer_names, grids=(1, 2, 4)):
    return checks.pyramid(frozen(model, images, layer_names), grids)


def nearest_centroid(train_x, train_y, test_x, test_y):
    scaler = StandardScaler().fit(train_x)
    train_x, test_x = scaler.transform(train_x), scaler.transform(test_x)
    classes = np.unique(train_y)
    centroids = np.stack([train_x[train_y == c].mean(0) for c in classes])
    distances = ((test_x[:, None, :] - centroids[None]) ** 2).sum(-1)
    return float((classes[distances.argmin(1)] == test_y).mean())


def k_plus_one_loss(labelled_logits, labels, real_logits, fake_logits):
    """The K+1 loss written out, as a learner would (``improve.k_plus_one_loss`` is off-limits)."""
    real_term = F.softplus(-real_logits.logsumexp(dim=1)).mean()
    fake_term = F.softplus(fake_logits.logsumexp(dim=1)).mean()
    return F.cross_entropy(labelled_logits, labels) + real_term + fake_term


@pytest.mark.parametrize("check", [checks.check_pyramid_features, checks.check_probe,
                                   checks.check_k_plus_one_loss])
def test_a_stub_fails_with_not_implemented_yet(check):
    with pytest.raises(AssertionError, match="not implemented yet"):
        check(not_implemented)


def test_reference_solutions_pass_with_one_tick_line_each(capsys):
    checks.check_pyramid_features(pyramid_features)
    checks.check_probe(nearest_centroid)
    checks.check_probe(probe.probe_accuracy)
    checks.check_k_plus_one_loss(k_plus_one_loss)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(line.startswith("✅") for line in lines)


# ---------------------------------------------------------------- 05: pyramid features through hooks

def hooked(model, layer_names, store):
    """Register hooks that store each layer's output; return the handles."""
    return [model.get_submodule(name).register_forward_hook(lambda m, i, o, n=name: store.update({n: o}))
            for name in layer_names]


def leaves_hooks(model, images, layer_names, grids=(1, 2, 4)):
    seen = {}
    hooked(model, layer_names, seen)
    with torch.no_grad(), models.evaluation_mode(model):
        model(images)
    return checks.pyramid([seen[n] for n in layer_names], grids)


def train_mode(model, images, layer_names, grids=(1, 2, 4)):
    with torch.no_grad(), features.capture_activations(model, layer_names) as seen:
        model(images)
    return checks.pyramid([seen[n] for n in layer_names], grids)


def stays_in_eval_mode(model, images, layer_names, grids=(1, 2, 4)):
    model.eval()
    return pyramid_features(model, images, layer_names, grids)


def with_gradients(model, images, layer_names, grids=(1, 2, 4)):
    return pyramid_features(model, images, layer_names, grids).requires_grad_(True)


def only_paper_grid(model, images, layer_names, grids=(1, 2, 4)):
    return pyramid_features(model, images, layer_names, (4,))


def average_pooled(model, images, layer_names, grids=(1, 2, 4)):
    return checks.pyramid(frozen(model, images, layer_names), grids, pool=F.adaptive_avg_pool2d)


def grid_by_grid(model, images, layer_names, grids=(1, 2, 4)):
    return checks.pyramid(frozen(model, images, layer_names), grids, layer_major=False)


@pytest.mark.parametrize("candidate, message", [
    (leaves_hooks, "forward hook"),
    (train_mode, "training mode"),
    (stays_in_eval_mode, "left the model in eval mode"),
    (with_gradients, "no_grad"),
    (only_paper_grid, "Only the 4x4 grid"),
    (average_pooled, "max-pools"),
    (grid_by_grid, "grid by grid"),
    (lambda *args: pyramid_features(*args) * 1.01, "differ from the reference"),
])
def test_pyramid_check_names_the_planted_mistake(candidate, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_pyramid_features(candidate)


@pytest.mark.parametrize("prediction, gap, verdict", [
    ("different", 0.3, "the run agrees"),
    ("identical", 0.3, 'it shows "different"'),
    ("identical", 0.0, "the run agrees"),
    ("identical", float("nan"), "cannot judge: feature_gap is nan"),
    ("identical", -0.2, "cannot judge: feature_gap is -0.2, outside"),
    ("identical", "0.3", "cannot judge: feature_gap should be a number"),
])
def test_batch_prediction_commits_a_guess_and_reports_the_run(prediction, gap, verdict, capsys):
    checks.check_batch_prediction(prediction, "because", gap)
    out = capsys.readouterr().out
    assert verdict in out and "✅" not in out


def test_batch_prediction_fails_when_blank():
    with pytest.raises(AssertionError, match="still None: not committed"):
        checks.check_batch_prediction(None, "", 0.3)


# ---------------------------------------------------------------- 06: a probe that must not leak

def raw_centroid(train_x, train_y, test_x, test_y):
    classes = np.unique(train_y)
    centroids = np.stack([train_x[train_y == c].mean(0) for c in classes])
    return float((classes[((test_x[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)] == test_y).mean())


def standardised_with(train_x, test_x, fit_on):
    mean, std = fit_on.mean(0), fit_on.std(0)
    std = np.where(std > 0, std, 1.0)
    return (train_x - mean) / std, (test_x - mean) / std


def scaler_on_test(train_x, train_y, test_x, test_y):
    train_s, test_s = standardised_with(train_x, test_x, test_x)
    return raw_centroid(train_s, train_y, test_s, test_y)


def scaler_on_both(train_x, train_y, test_x, test_y):
    train_s, test_s = standardised_with(train_x, test_x, np.vstack([train_x, test_x]))
    return raw_centroid(train_s, train_y, test_s, test_y)


def zero_std_nan(train_x, train_y, test_x, test_y):
    mean, std = train_x.mean(0), train_x.std(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return raw_centroid((train_x - mean) / std, train_y, (test_x - mean) / std, test_y)


def logistic_peeking(train_x, train_y, test_x, test_y):
    model = LogisticRegression(max_iter=500).fit(StandardScaler().fit_transform(train_x), train_y)
    return float(model.score(StandardScaler().fit_transform(test_x), test_y))


@pytest.mark.parametrize("candidate, message", [
    (raw_centroid, "are the features standardised"),
    (zero_std_nan, "constant feature"),
    (scaler_on_test, "(test statistics leak|statistics of the test features)"),
    (logistic_peeking, "statistics of the test features"),
    (scaler_on_both, "test statistics leak"),
    (lambda *data: 100 * nearest_centroid(*data), "fraction"),
])
def test_probe_check_names_the_planted_mistake(candidate, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_probe(candidate)


def test_scale_trap_defeats_a_probe_without_standardisation():
    train_x, train_y, test_x, test_y = checks.scale_trap(single_class_test=False)
    data = (train_x, train_y, test_x, test_y)
    assert raw_centroid(*data) < 0.5 < nearest_centroid(*data)
    assert np.unique(checks.scale_trap(single_class_test=True)[3]).tolist() == [0]


@pytest.mark.parametrize("prediction, lead, verdict", [
    ("grows", {10: [0.01, 0.02, 0.0], 1: [0.05, 0.07, 0.04]}, "the run agrees"),
    ("grows", {10: [0.05, 0.07, 0.04], 1: [0.01, 0.02, 0.0]}, 'it shows "shrinks"'),
    ("grows", {10: [0.05, -0.03, 0.0], 1: [0.1, -0.1, 0.04]}, "no verdict at this scale"),
])
def test_label_budget_prediction_judges_only_when_the_paired_interval_excludes_zero(prediction, lead, verdict,
                                                                                    capsys):
    checks.check_label_budget_prediction(prediction, "fewer labels, more geometry", lead)
    out = capsys.readouterr().out
    assert verdict in out and " pp" in out and "%" not in out.replace("95 %", "") and "✅" not in out


@pytest.mark.parametrize("lead, problem", [
    ({10: [0.01, 0.02], 1: [76.77, 0.05]}, "outside [-1, 1]"),  # a lead in percent, as in issue 17
    ({10: [0.01, float("nan")], 1: [0.05, 0.05]}, "the measurement broke"),
    ({10: 0.01, 1: 0.05}, "one number per repeat"),
    ({10: [0.01, 0.02, 0.03], 1: [0.05, 0.05]}, "pair them repeat by repeat"),
    ({10: [0.01, 0.02]}, "should map 10 and 1"),
])
def test_label_budget_prediction_cannot_judge_a_broken_measurement(lead, problem, capsys):
    checks.check_label_budget_prediction("grows", "", lead)
    out = capsys.readouterr().out
    assert "cannot judge: " in out and problem in out and "the run" not in out


def test_label_budget_prediction_fails_when_blank():
    with pytest.raises(AssertionError, match="still None"):
        checks.check_label_budget_prediction(None, "", {10: [0.0, 0.1], 1: [0.1, 0.2]})


# ---------------------------------------------------------------- 07: the K+1 discriminator loss

def k_plus_one(labelled, labels, real, fake, supervised=None, real_fake=None):
    """The K+1 loss built from replaceable parts, to plant one mistake at a time."""
    supervised = F.cross_entropy(labelled, labels) if supervised is None else supervised
    real_fake = real_fake or (F.softplus(-real.logsumexp(1)).mean() + F.softplus(fake.logsumexp(1)).mean())
    return supervised + real_fake


def naive(labelled, labels, real, fake):
    z_real, z_fake = real.exp().sum(1), fake.exp().sum(1)
    return k_plus_one(labelled, labels, real, fake,
                      real_fake=-(z_real / (z_real + 1)).log().mean() - (1 / (z_fake + 1)).log().mean())


def explicit_fake_class(labelled, labels, real, fake):
    """The K+1 loss as a (K+1)-way softmax with a fixed zero logit for 'fake': the same loss, another form."""
    def with_fake(logits):
        return torch.cat([logits, torch.zeros(len(logits), 1)], 1)

    real_p_fake = with_fake(real).softmax(1)[:, -1]
    fake_ce = F.cross_entropy(with_fake(fake), torch.full((len(fake),), fake.shape[1]))
    return F.cross_entropy(labelled, labels) - torch.log1p(-real_p_fake).mean() + fake_ce


@pytest.mark.parametrize("candidate, message", [
    (lambda c, y, r, f: k_plus_one(c, y, f, r) - F.cross_entropy(c, y) + F.cross_entropy(c, y), "swapped"),
    (lambda c, y, r, f: k_plus_one(c, y, r, f, supervised=torch.tensor(0.0)), "class term on the labelled"),
    (lambda c, y, r, f: F.cross_entropy(c, y), "only the class term"),
    (lambda c, y, r, f: k_plus_one(c, y, r, f, real_fake=F.softplus(-r.mean(1)).mean()
                                   + F.softplus(f.mean(1)).mean()), "\\*mean\\*"),
    (lambda c, y, r, f: k_plus_one(c, y, r, f, real_fake=F.softplus(-r.amax(1)).mean()
                                   + F.softplus(f.amax(1)).mean()), "\\*largest\\*"),
    (lambda c, y, r, f: k_plus_one(c, y, r, f, supervised=F.cross_entropy(c.softmax(1), y)), "softmax"),
    (naive, "overflows"),
    (lambda c, y, r, f: k_plus_one(c, y, r, f).expand(3), "one number"),
    (lambda c, y, r, f: 1.1 * k_plus_one(c, y, r, f), "Expected"),
])
def test_k_plus_one_check_names_the_planted_mistake(candidate, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_k_plus_one_loss(candidate)


def test_k_plus_one_check_accepts_the_explicit_fake_class_form(capsys):
    checks.check_k_plus_one_loss(explicit_fake_class)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize("prediction, changes, verdict", [
    ("real", (0.0, 0.2), "the run agrees"),
    ("class", (5e-8, 0.2), 'it shows "real"'),
    ("both", (0.1, 0.2), "cannot judge: your measurement"),  # softmax cannot move under a common shift
    ("real", (0.0, 0.0), "cannot judge: your measurement"),
    ("real", (0.0, 2.0), "cannot judge: real_change is 2, outside [0, 1]"),
])
def test_shift_prediction_checks_the_measurement_against_its_own_computation(prediction, changes, verdict,
                                                                             capsys):
    checks.check_shift_prediction(prediction, "softmax forgets a shift", *changes)
    out = capsys.readouterr().out
    assert verdict in out and "✅" not in out


def test_shift_prediction_fails_when_blank():
    with pytest.raises(AssertionError, match="still None"):
        checks.check_shift_prediction(None, "", 0.0, 0.2)
