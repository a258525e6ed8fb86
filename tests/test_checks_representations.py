"""The notebook 05-07 checks pass the references, name each planted mistake and score predictions honestly."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from check_helpers import fails_naming, passes_with_verified_line
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from dcgan_course import features, models, probe
from dcgan_course.checks import feature_pyramid, probing
from dcgan_course.checks import k_plus_one as k_plus_one_checks


def not_implemented(*args, **kwargs):
    raise NotImplementedError


def frozen(model, images, layer_names):
    """The named activations in eval mode, read with the package's hooks."""
    with (torch.no_grad(), models.evaluation_mode(model),
          features.capture_activations(model, layer_names) as s):
        model(images)
    return [s[name] for name in layer_names]


def pyramid_features(model, images, layer_names, grids=(1, 2, 4)):
    """The solution's way: each layer pooled inside its hook, hooks removed in a finally block."""
    pooled, handles = {}, []
    try:
        for name in layer_names:
            handles.append(model.get_submodule(name).register_forward_hook(
                lambda m, i, o, n=name: pooled.update({n: feature_pyramid.pyramid([o], grids)})))
        with torch.no_grad(), models.evaluation_mode(model):
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    return torch.cat([pooled[name] for name in layer_names], dim=1)


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


@pytest.mark.parametrize("check", [feature_pyramid.check_pyramid_features, probing.check_probe,
                                   k_plus_one_checks.check_k_plus_one_loss])
def test_a_stub_fails_with_not_implemented_yet(check):
    with pytest.raises(AssertionError, match="not implemented yet"):
        check(not_implemented)


def test_reference_solutions_pass_with_one_tick_line_each(capsys):
    feature_pyramid.check_pyramid_features(pyramid_features)
    probing.check_probe(nearest_centroid)
    k_plus_one_checks.check_k_plus_one_loss(k_plus_one_loss)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("✅") for line in lines)


def test_the_packages_ridge_probe_is_not_the_nearest_class_mean_the_exercise_asks_for():
    """The lecture's ridge probe once passed check_probe; the exercise asks for a nearest-class-mean probe."""
    fails_naming(probing.check_probe, probe.probe_accuracy, "Euclidean distance to the class mean")


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
    return feature_pyramid.pyramid([seen[n] for n in layer_names], grids)


def train_mode(model, images, layer_names, grids=(1, 2, 4)):
    with torch.no_grad(), features.capture_activations(model, layer_names) as seen:
        model(images)
    return feature_pyramid.pyramid([seen[n] for n in layer_names], grids)


def stays_in_eval_mode(model, images, layer_names, grids=(1, 2, 4)):
    model.eval()
    return pyramid_features(model, images, layer_names, grids)


def with_gradients(model, images, layer_names, grids=(1, 2, 4)):
    return pyramid_features(model, images, layer_names, grids).requires_grad_(True)


def only_paper_grid(model, images, layer_names, grids=(1, 2, 4)):
    return pyramid_features(model, images, layer_names, (4,))


def average_pooled(model, images, layer_names, grids=(1, 2, 4)):
    return feature_pyramid.pyramid(frozen(model, images, layer_names), grids, pool=F.adaptive_avg_pool2d)


def grid_by_grid(model, images, layer_names, grids=(1, 2, 4)):
    return feature_pyramid.pyramid(frozen(model, images, layer_names), grids, layer_major=False)


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
        feature_pyramid.check_pyramid_features(candidate)


def always_train_after(model, images, layer_names, grids=(1, 2, 4)):
    """Switches back to training mode unconditionally, whatever mode the model came in."""
    model.eval()
    try:
        return pyramid_features(model, images, layer_names, grids)
    finally:
        model.train()


def removes_hooks_without_finally(model, images, layer_names, grids=(1, 2, 4)):
    pooled = {}
    handles = hooked_pooling(model, layer_names, grids, pooled)
    with torch.no_grad(), models.evaluation_mode(model):
        model(images)
    for handle in handles:
        handle.remove()
    return torch.cat([pooled[name] for name in layer_names], dim=1)


def restores_mode_without_finally(model, images, layer_names, grids=(1, 2, 4)):
    pooled, handles, was_training = {}, [], model.training
    try:
        handles = hooked_pooling(model, layer_names, grids, pooled)
        model.eval()
        with torch.no_grad():
            model(images)
        model.train(was_training)
    finally:
        for handle in handles:
            handle.remove()
    return torch.cat([pooled[name] for name in layer_names], dim=1)


def registers_before_the_try(model, images, layer_names, grids=(1, 2, 4)):
    """A typo in the second name raises after the first hook is registered, outside the try."""
    pooled = {}
    handles = hooked_pooling(model, layer_names, grids, pooled)
    try:
        with torch.no_grad(), models.evaluation_mode(model):
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    return torch.cat([pooled[name] for name in layer_names], dim=1)


def hooked_pooling(model, layer_names, grids, pooled):
    return [model.get_submodule(name).register_forward_hook(
        lambda m, i, o, n=name: pooled.update({n: feature_pyramid.pyramid([o], grids)}))
        for name in layer_names]


def in_forward_order(model, images, layer_names, grids=(1, 2, 4)):
    """Appends each pyramid as its hook fires: the forward pass's order, not layer_names'."""
    fired, handles = [], []
    try:
        for name in layer_names:
            handles.append(model.get_submodule(name).register_forward_hook(
                lambda m, i, o: fired.append(feature_pyramid.pyramid([o], grids))))
        with torch.no_grad(), models.evaluation_mode(model):
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    return torch.cat(fired, dim=1)


def fixed_grids(model, images, layer_names, grids=(1, 2, 4)):
    return pyramid_features(model, images, layer_names, (1, 2, 4))


def squeezed(model, images, layer_names, grids=(1, 2, 4)):
    return pyramid_features(model, images, layer_names, grids).squeeze()


def pooled_after_the_forward(model, images, layer_names, grids=(1, 2, 4)):
    """Stores the full activations (the package's capture) and pools them after the forward pass."""
    with models.evaluation_mode(model):
        return feature_pyramid.pyramid(frozen(model, images, layer_names), grids)


def detached_not_no_grad(model, images, layer_names, grids=(1, 2, 4)):
    pooled, handles = {}, []
    try:
        for name in layer_names:
            handles.append(model.get_submodule(name).register_forward_hook(
                lambda m, i, o, n=name: pooled.update({n: feature_pyramid.pyramid([o.detach()], grids)})))
        with models.evaluation_mode(model):
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    return torch.cat([pooled[name] for name in layer_names], dim=1)


def swallows_errors(model, images, layer_names, grids=(1, 2, 4)):
    try:
        return pyramid_features(model, images, layer_names, grids)
    except Exception:
        return torch.zeros(len(images), 1)


@pytest.mark.parametrize("candidate, phrases", [
    (always_train_after, ["left the model in training mode although it came in eval mode"]),
    (removes_hooks_without_finally, ["After a forward pass that raised an error", "forward hook"]),
    (restores_mode_without_finally, ["After a forward pass that raised an error",
                                     "left the model in eval mode although it came in training mode"]),
    (registers_before_the_try, ["second layer name does not exist", "forward hook"]),
    (in_forward_order, ["order the hooks fired", "order of layer_names"]),
    (fixed_grids, ["grids=(1, 3)", "pool to the grids passed in"]),
    (squeezed, ["keep the batch dimension"]),
    (pooled_after_the_forward, ["stored the full activation and you pooled it later"]),
    (detached_not_no_grad, ["gradient tracking on", "torch.no_grad()"]),
    (swallows_errors, ["returned normally", "let the error reach the caller"]),
    (train_mode, ["running_mean changed", "training mode"]),
])
def test_pyramid_check_names_each_property_it_probes(candidate, phrases):
    fails_naming(feature_pyramid.check_pyramid_features, candidate, *phrases)


def pyramid_with_exit_stack(model, images, layer_names, grids=(1, 2, 4)):
    """Written differently: an ExitStack of handles, inference mode, flags restored, amax at 1x1."""
    import contextlib

    def pool(output, grid):
        return output.amax(dim=(2, 3)) if grid == 1 else F.adaptive_max_pool2d(output, grid).flatten(1)

    pooled = {}
    flags = {module: module.training for module in model.modules()}
    with contextlib.ExitStack() as stack:
        for name in layer_names:
            handle = model.get_submodule(name).register_forward_hook(
                lambda m, i, o, n=name: pooled.__setitem__(n, [pool(o, g) for g in grids]))
            stack.callback(handle.remove)
        stack.callback(lambda: [module.train(flag) for module, flag in flags.items()])
        model.eval()
        with torch.inference_mode():
            model(images)
    return torch.cat([part for name in layer_names for part in pooled[name]], dim=1).clone()


def pyramid_with_pool_modules(model, images, layer_names, grids=(1, 2, 4)):
    """Written differently: nn.AdaptiveMaxPool2d modules, float64 pooling, a manual try/finally."""
    pools = [torch.nn.AdaptiveMaxPool2d(grid) for grid in grids]
    rows = [None] * len(layer_names)
    was_training, handles = model.training, []

    def keep(index):
        def hook(module, inputs, output):
            rows[index] = torch.cat([pool(output.double()).reshape(len(output), -1) for pool in pools], 1)
        return hook

    try:
        model.train(False)
        for index, name in enumerate(layer_names):
            handles.append(dict(model.named_modules())[name].register_forward_hook(keep(index)))
        with torch.no_grad():
            model(images)
    finally:
        while handles:
            handles.pop().remove()
        model.train(was_training)
    return torch.cat(rows, dim=1).float()


@pytest.mark.parametrize("candidate", [pyramid_features, pyramid_with_exit_stack, pyramid_with_pool_modules])
def test_pyramid_check_passes_correct_implementations_with_the_verified_line(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(feature_pyramid.check_pyramid_features, candidate, capsys, monkeypatch)
    assert "hooks removed" in line and "pooled inside the hooks" in line


@pytest.mark.parametrize("prediction, gap, verdict", [
    ("different", 0.3, "the run agrees"),
    ("identical", 0.3, 'it shows "different"'),
    ("identical", 0.0, "the run agrees"),
    ("identical", float("nan"), "cannot judge: feature_gap is nan"),
    ("identical", -0.2, "cannot judge: feature_gap is -0.2, outside"),
    ("identical", "0.3", "cannot judge: feature_gap should be a number"),
])
def test_batch_prediction_commits_a_guess_and_reports_the_run(prediction, gap, verdict, capsys):
    feature_pyramid.check_batch_prediction(prediction, "because", gap)
    out = capsys.readouterr().out
    assert verdict in out and "✅" not in out


def test_batch_prediction_fails_when_blank():
    with pytest.raises(AssertionError, match="still None: not committed"):
        feature_pyramid.check_batch_prediction(None, "", 0.3)


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
    (raw_centroid, "not standardised"),
    (zero_std_nan, "constant feature"),
    (scaler_on_test, "test set leaks into the probe"),
    (logistic_peeking, "standardising with the test set"),
    (scaler_on_both, "with train and test together"),
    (lambda *data: 100 * nearest_centroid(*data), "fraction"),
])
def test_probe_check_names_the_planted_mistake(candidate, message):
    with pytest.raises(AssertionError, match=message):
        probing.check_probe(candidate)


def centroid_with(distance=None, centre=np.mean):
    """A train-standardised class-centre probe with a replaceable distance (lower = nearer) or centre."""
    def probe_(train_x, train_y, test_x, test_y):
        train_z, test_z = standardised_with(train_x, test_x, train_x)
        classes = np.unique(train_y)
        centres = np.stack([centre(train_z[train_y == c], axis=0) for c in classes])
        gaps = distance(test_z[:, None, :], centres[None]) if distance else \
            np.linalg.norm(test_z[:, None, :] - centres[None], axis=-1)
        return float((classes[gaps.argmin(1)] == test_y).mean())
    return probe_


def cosine_gap(test, centres):
    return -(test * centres).sum(-1) / (np.linalg.norm(test, axis=-1) * np.linalg.norm(centres, axis=-1))


def nearest_example(train_x, train_y, test_x, test_y):
    train_z, test_z = standardised_with(train_x, test_x, train_x)
    nearest = np.linalg.norm(test_z[:, None] - train_z[None], axis=-1).argmin(1)
    return float((train_y[nearest] == test_y).mean())


def train_and_test_centroids(train_x, train_y, test_x, test_y):
    """Standardises with the training set, then averages the test examples into the centroids."""
    train_z, test_z = standardised_with(train_x, test_x, train_x)
    every_x, every_y = np.vstack([train_z, test_z]), np.concatenate([train_y, test_y])
    classes = np.unique(every_y)
    centroids = np.stack([every_x[every_y == c].mean(0) for c in classes])
    nearest = np.linalg.norm(test_z[:, None] - centroids[None], axis=-1).argmin(1)
    return float((classes[nearest] == test_y).mean())


def top_two(train_x, train_y, test_x, test_y):
    """Counts a hit when the label is among the two nearest centroids (top-2 accuracy)."""
    train_z, test_z = standardised_with(train_x, test_x, train_x)
    classes = np.unique(train_y)
    centroids = np.stack([train_z[train_y == c].mean(0) for c in classes])
    two = np.linalg.norm(test_z[:, None] - centroids[None], axis=-1).argsort(1)[:, :2]
    return float((classes[two] == test_y[:, None]).any(1).mean())


def standardises_train_only(train_x, train_y, test_x, test_y):
    train_z, _ = standardised_with(train_x, test_x, train_x)
    return raw_centroid(train_z, train_y, test_x, test_y)


@pytest.mark.parametrize("candidate, phrases", [
    (centroid_with(lambda t, c: np.abs(t - c).sum(-1)), ["L1 (Manhattan) distance", "Euclidean distance"]),
    (centroid_with(cosine_gap), ["cosine similarity"]),
    (centroid_with(lambda t, c: -(t * c).sum(-1)), ["dot product"]),
    (centroid_with(centre=np.median), ["median centroids", "class's *mean*"]),
    (nearest_example, ["single nearest training example"]),
    (train_and_test_centroids, ["centroids that include test examples"]),
    (top_two, ["test labels", "top-k"]),
    (standardises_train_only, ["only the training features are standardised"]),
    (raw_centroid, ["the features are not standardised at all"]),
    (zero_std_nan, ["constant feature", "standard deviation 0"]),
])
def test_probe_check_names_each_mistake_it_probes(candidate, phrases):
    fails_naming(probing.check_probe, candidate, *phrases)


def probe_with_loops_and_sklearn_scaler(train_x, train_y, test_x, test_y):
    """Written differently: scikit-learn's scaler (fitted on train), centroids and predictions in loops."""
    scaler = StandardScaler().fit(train_x)
    train_z, test_z = scaler.transform(train_x), scaler.transform(test_x)
    centroids = {label: train_z[train_y == label].mean(axis=0) for label in sorted(set(train_y.tolist()))}
    hits = 0
    for point, label in zip(test_z, test_y, strict=True):
        nearest = min(centroids, key=lambda c: float(np.sqrt(((point - centroids[c]) ** 2).sum())))
        hits += int(nearest == label)
    return hits / len(test_y)


def probe_in_torch(train_x, train_y, test_x, test_y):
    """Written differently: torch, the unbiased standard deviation (ddof=1) clamped, torch.cdist, float64."""
    train_x, test_x = (torch.as_tensor(x, dtype=torch.float64) for x in (train_x, test_x))
    train_y, test_y = torch.as_tensor(train_y), torch.as_tensor(test_y)
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-12)
    train_z, test_z = (train_x - mean) / std, (test_x - mean) / std
    classes = train_y.unique()
    centroids = torch.stack([train_z[train_y == c].mean(0) for c in classes])
    predicted = classes[torch.cdist(test_z, centroids).argmin(1)]
    return (predicted == test_y).double().mean().item()


@pytest.mark.parametrize("candidate", [nearest_centroid, probe_with_loops_and_sklearn_scaler, probe_in_torch])
def test_probe_check_passes_correct_implementations_with_the_verified_line(candidate, capsys, monkeypatch):
    line = passes_with_verified_line(probing.check_probe, candidate, capsys, monkeypatch)
    assert "Euclidean distance" in line and "class means" in line


def test_scale_trap_defeats_a_probe_without_standardisation():
    train_x, train_y, test_x, test_y = probing.scale_trap(single_class_test=False)
    data = (train_x, train_y, test_x, test_y)
    assert raw_centroid(*data) < 0.5 < nearest_centroid(*data)
    assert np.unique(probing.scale_trap(single_class_test=True)[3]).tolist() == [0]


@pytest.mark.parametrize("prediction, lead, verdict", [
    ("grows", {10: [0.01, 0.02, 0.0], 1: [0.05, 0.07, 0.04]}, "the run agrees"),
    ("grows", {10: [0.05, 0.07, 0.04], 1: [0.01, 0.02, 0.0]}, 'it shows "shrinks"'),
    ("grows", {10: [0.05, -0.03, 0.0], 1: [0.1, -0.1, 0.04]}, "no verdict at this scale"),
])
def test_label_budget_prediction_judges_only_when_the_paired_interval_excludes_zero(prediction, lead, verdict,
                                                                                    capsys):
    probing.check_label_budget_prediction(prediction, "fewer labels, more geometry", lead)
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
    probing.check_label_budget_prediction("grows", "", lead)
    out = capsys.readouterr().out
    assert "cannot judge: " in out and problem in out and "the run" not in out


def test_label_budget_prediction_fails_when_blank():
    with pytest.raises(AssertionError, match="still None"):
        probing.check_label_budget_prediction(None, "", {10: [0.0, 0.1], 1: [0.1, 0.2]})


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
    """The K+1 loss as a (K+1)-way softmax with a fixed zero logit for 'fake': the same loss, another form.

    -log D(x) = -log(1 - p_fake) is written as log-sum-exp over K+1 logits minus over K, so that it stays
    finite when p_fake rounds to 1 (real logits of -120); the fake term is a (K+1)-way cross-entropy.
    """
    def with_fake(logits):
        return torch.cat([logits, torch.zeros(len(logits), 1)], 1)

    real_term = (with_fake(real).logsumexp(1) - real.logsumexp(1)).mean()
    fake_ce = F.cross_entropy(with_fake(fake), torch.full((len(fake),), fake.shape[1]))
    return F.cross_entropy(labelled, labels) + real_term + fake_ce


def k_plus_one_terms(c, y, r, f, classes=None, real=None, fake=None):
    """The K+1 loss from three replaceable terms (each a function of its own logits)."""
    classes = classes or (lambda c, y: F.cross_entropy(c, y))
    real = real or (lambda r: F.softplus(-r.logsumexp(1)).mean())
    fake = fake or (lambda f: F.softplus(f.logsumexp(1)).mean())
    return classes(c, y) + real(r) + fake(f)


def naive_fake_only(c, y, r, f):
    """A stable real term, but the generated images' term formed from Z itself: log(1 + Z) overflows."""
    return k_plus_one_terms(c, y, r, f, fake=lambda f: torch.log(1 + f.exp().sum(1)).mean())


def log_of_sigmoid(c, y, r, f):
    """-log(sigmoid(log Z)): no overflow at +100, but sigmoid rounds to 0 for very negative log Z."""
    return k_plus_one_terms(c, y, r, f, real=lambda r: -torch.log(torch.sigmoid(r.logsumexp(1))).mean())


def where_branches(c, y, r, f):
    """Stable values through torch.where, but the unused branch overflows and its nan reaches the gradient."""
    def softplus_by_hand(x):
        return torch.where(x > 0, x + torch.log1p(torch.exp(-x)), torch.log1p(torch.exp(x)))
    return k_plus_one_terms(c, y, r, f, real=lambda r: softplus_by_hand(-r.logsumexp(1)).mean(),
                            fake=lambda f: softplus_by_hand(f.logsumexp(1)).mean())


def clamped(c, y, r, f):
    """Clamping the logits keeps exp finite but changes the loss of confident logits."""
    return k_plus_one_terms(c, y, r.clamp(-50, 50), f.clamp(-50, 50), real=lambda r: -torch.log(
        r.exp().sum(1) / (r.exp().sum(1) + 1)).mean(), fake=lambda f: torch.log1p(f.exp().sum(1)).mean())


def log_softmax_by_hand(c, y, r, f):
    """The class term as -log(softmax) at the label: softmax overflows for a logit of 100."""
    return k_plus_one_terms(c, y, r, f, classes=lambda c, y: -torch.log(
        c.exp() / c.exp().sum(1, keepdim=True))[torch.arange(len(y)), y].mean())


def averaged_together(c, y, r, f):
    """The real and generated terms concatenated and averaged over both batches at once."""
    both = torch.cat([F.softplus(-r.logsumexp(1)), F.softplus(f.logsumexp(1))])
    return F.cross_entropy(c, y) + both.mean()


@pytest.mark.parametrize("candidate, phrases", [
    (lambda c, y, r, f: k_plus_one(c, y, f, r) - F.cross_entropy(c, y) + F.cross_entropy(c, y),
     ["The real term", "swapped"]),
    (lambda c, y, r, f: k_plus_one(c, y, r, f, supervised=torch.tensor(0.0)), ["The class term", "missing"]),
    (lambda c, y, r, f: F.cross_entropy(c, y), ["The real term", "missing"]),
    (lambda c, y, r, f: k_plus_one(c, y, r, f, real_fake=F.softplus(-r.mean(1)).mean()
                                   + F.softplus(f.mean(1)).mean()), ["*mean*", "log-sum-exp"]),
    (lambda c, y, r, f: k_plus_one(c, y, r, f, real_fake=F.softplus(-r.amax(1)).mean()
                                   + F.softplus(f.amax(1)).mean()), ["*largest*"]),
    (lambda c, y, r, f: k_plus_one(c, y, r, f, supervised=F.cross_entropy(c.softmax(1), y)),
     ["The class term", "softmax"]),
    (naive, ["real logits around +100", "overflows or takes the log of 0"]),
    (naive_fake_only, ["generated logits around +100", "the fake term"]),
    (log_of_sigmoid, ["real logits around -120", "the real term"]),
    (where_branches, ["gradient", "torch.where"]),
    (clamped, ["real logits around -120", "a clamp"]),
    (log_softmax_by_hand, ["labelled logits whose true class sits at +100", "the class term"]),
    (lambda c, y, r, f: k_plus_one_terms(c, y, r, f, real=lambda r: F.softplus(-r.logsumexp(0)).mean()),
     ["The real term", "over the batch (dim 0)"]),
    (lambda c, y, r, f: k_plus_one_terms(c, y, r, f, fake=lambda f: F.softplus(f.logsumexp(1)).sum()),
     ["The fake term", "summed over the batch"]),
    (averaged_together, ["averaged over the real and generated images together"]),
    (lambda c, y, r, f: F.cross_entropy(c, y) + 0.5 * (F.softplus(-r.logsumexp(1)).mean()
                                                       + F.softplus(f.logsumexp(1)).mean()),
     ["The real term", "halved"]),
    (lambda c, y, r, f: k_plus_one_terms(c, y, r, f, fake=lambda f: -F.softplus(f.logsumexp(1)).mean()),
     ["The fake term", "wrong sign"]),
    (lambda c, y, r, f: k_plus_one_terms(c, y, r, f, classes=lambda c, y: F.nll_loss(c, y)),
     ["The class term", "nll_loss"]),
    (lambda c, y, r, f: k_plus_one_terms(c, y, r, f, classes=lambda c, y: F.cross_entropy(
        torch.cat([c, torch.zeros(len(c), 1)], 1), y)), ["The class term", "implicit fake class"]),
    (lambda c, y, r, f: k_plus_one_terms(c, y, r, f.detach()), ["No gradient reaches the generated logits"]),
    (lambda c, y, r, f: torch.tensor(k_plus_one(c, y, r, f).item()), ["carries no gradient"]),
    (lambda c, y, r, f: k_plus_one(c, y, r, f) + 0.5, ["something constant is added"]),
    (lambda c, y, r, f: k_plus_one(c, y, r, f).expand(3), ["one number"]),
    (lambda c, y, r, f: 1.1 * k_plus_one(c, y, r, f), ["The class term", "when only those logits change"]),
])
def test_k_plus_one_check_names_the_planted_mistake(candidate, phrases):
    fails_naming(k_plus_one_checks.check_k_plus_one_loss, candidate, *phrases)


def k_plus_one_float64_by_hand(labelled, labels, real, fake):
    """Written differently: float64, log-softmax gathered by hand, logaddexp(0, .) for softplus."""
    labelled, real, fake = labelled.double(), real.double(), fake.double()
    supervised = -labelled.log_softmax(1).gather(1, labels[:, None]).mean()
    zero = torch.zeros((), dtype=torch.float64)
    return (supervised + torch.logaddexp(zero, -real.logsumexp(1)).mean()
            + torch.logaddexp(zero, fake.logsumexp(1)).mean())


def k_plus_one_logsigmoid_modules(labelled, labels, real, fake):
    """Written differently: nn.CrossEntropyLoss and -logsigmoid(±log Z), i.e. -log D and -log(1 - D)."""
    log_d_real = F.logsigmoid(torch.logsumexp(real, dim=-1))
    log_not_d_fake = F.logsigmoid(-torch.logsumexp(fake, dim=-1))
    return torch.nn.CrossEntropyLoss()(labelled, labels) - log_d_real.mean() - log_not_d_fake.mean()


@pytest.mark.parametrize("candidate", [k_plus_one_loss, explicit_fake_class, k_plus_one_float64_by_hand,
                                       k_plus_one_logsigmoid_modules])
def test_k_plus_one_check_passes_correct_implementations_with_the_verified_line(candidate, capsys,
                                                                                monkeypatch):
    line = passes_with_verified_line(k_plus_one_checks.check_k_plus_one_loss, candidate, capsys, monkeypatch)
    assert "-120" in line and "gradients" in line


@pytest.mark.parametrize("prediction, changes, verdict", [
    ("real", (0.0, 0.2), "the run agrees"),
    ("class", (5e-8, 0.2), 'it shows "real"'),
    ("both", (0.1, 0.2), "cannot judge: your measurement"),  # softmax cannot move under a common shift
    ("real", (0.0, 0.0), "cannot judge: your measurement"),
    ("real", (0.0, 2.0), "cannot judge: real_change is 2, outside [0, 1]"),
])
def test_shift_prediction_checks_the_measurement_against_its_own_computation(prediction, changes, verdict,
                                                                             capsys):
    k_plus_one_checks.check_shift_prediction(prediction, "softmax forgets a shift", *changes)
    out = capsys.readouterr().out
    assert verdict in out and "✅" not in out


def test_shift_prediction_fails_when_blank():
    with pytest.raises(AssertionError, match="still None"):
        k_plus_one_checks.check_shift_prediction(None, "", 0.0, 0.2)
