import numpy as np
import pytest
import torch
from sklearn.linear_model import RidgeClassifier

from dcgan_course import data, evaluation, models, probe


def test_the_validation_split_is_carved_from_training_disjoint_and_balanced():
    train = data.load_dataset("digits")
    pool, validation = evaluation.carve_splits(train, pool_size=600, validation_per_class=20)
    assert len(pool) == 600 and torch.bincount(validation.labels).tolist() == [20] * 10
    pool_rows = {tuple(row.tolist()) for row in pool.images.flatten(1)[:, ::29]}
    assert not any(tuple(row.tolist()) in pool_rows for row in validation.images.flatten(1)[:, ::29])


def test_the_kernel_ridge_predicts_what_sklearns_ridge_classifier_predicts():
    rng = np.random.default_rng(0)
    x, labels, z = rng.normal(size=(40, 300)), np.arange(40) % 4, rng.normal(size=(25, 300))
    ours = evaluation.ridge_predictions(x, labels, z, "centre", [3.0, 300.0], 4)
    for row, alpha in zip(ours, [3.0, 300.0], strict=True):
        assert np.array_equal(row, RidgeClassifier(alpha=alpha).fit(x, labels).predict(z))


def test_the_search_never_sees_test_labels_and_every_representation_gets_it():
    train, test = data.load_dataset("digits", limit=500), data.load_dataset("digits", "test", limit=200)
    pool, validation = evaluation.carve_splits(train, 300, 10)
    splits = (pool, validation, test)
    discriminator = models.Discriminator(32, 1, 8)
    draws = [probe.labelled_subset(pool.labels, 5, seed) for seed in range(2)]
    labels = [split.labels.numpy() for split in splits]
    for network in (None, discriminator):
        sets = evaluation.representation(network, splits)
        scrambled = evaluation.search(sets, labels[0], labels[1], draws, 10)
        test_shuffled = evaluation.search(sets, labels[0], labels[1], draws, 10)
        assert scrambled == test_shuffled  # the choice depends on pool and validation only
        assert scrambled.layers in evaluation.layer_choices(network)
        accuracies = evaluation.test_accuracies(sets, scrambled, labels[0], labels[2], draws, 10)
        assert len(accuracies) == 2 and min(accuracies) > 0.4  # chance: 0.1


def test_the_results_table_renders_intervals_and_paired_gaps():
    per_seed = {"raw_pixels": [0.66, 0.67, 0.68], "random_init_discriminator": [0.72, 0.73, 0.74],
                "dcgan_discriminator (plain, 4 epochs)": [0.75, 0.77, 0.77]}
    entry = {"seeds": 3, "results": evaluation.summarise(per_seed, "random_init_discriminator")}
    table = evaluation.results_table(entry).splitlines()
    assert table[2].startswith("| raw_pixels | 67.0 ± 2.5 | -6.0 ± 0.0 |")
    assert table[4] == "| dcgan_discriminator (plain, 4 epochs) | 76.3 ± 2.9 | +3.3 ± 1.4 |"
    assert "gap" not in entry["results"]["random_init_discriminator"]
    assert entry["results"]["raw_pixels"]["accuracy"]["mean"] == pytest.approx(0.67)


@pytest.mark.parametrize(("n", "d"), [(40, 300), (300, 20)])  # kernel form, feature-space form
def test_fit_ridge_matches_sklearn_and_its_leave_one_out_error_is_exact(n, d):
    rng = np.random.default_rng(0)
    x, labels, z = rng.normal(size=(n, d)), np.arange(n) % 4, rng.normal(size=(25, d))
    solution = evaluation.fit_ridge(x, labels, [3.0, 300.0], 4)
    targets = 2.0 * np.eye(4)[labels] - 1.0
    for a, alpha in enumerate([3.0, 300.0]):
        reference = RidgeClassifier(alpha=alpha).fit(x, labels)
        np.testing.assert_allclose(solution.scores(z)[a], reference.decision_function(z), atol=1e-4)
        left_out = [evaluation.fit_ridge(x[np.arange(n) != i], labels[np.arange(n) != i], [alpha], 4)
                    .scores(x[i:i + 1])[0, 0] for i in range(n)]  # refit without example i
        assert solution.loo_error[a] == pytest.approx(np.mean((np.stack(left_out) - targets) ** 2), rel=1e-4)


def test_the_package_probe_picks_the_penalty_sklearns_leave_one_out_picks():
    from sklearn.linear_model import RidgeClassifierCV

    rng = np.random.default_rng(1)
    for n, d in ((60, 300), (400, 30)):
        x, weights = rng.normal(size=(n, d)), rng.normal(size=(d, 5))
        labels = (x @ weights + 3 * rng.normal(size=(n, 5))).argmax(1)
        ours = probe.RidgeProbe(probe.RIDGE_ALPHAS).fit(x, labels)
        reference = RidgeClassifierCV(alphas=probe.RIDGE_ALPHAS).fit(x, labels)
        assert ours.alpha_ == reference.alpha_
        z = rng.normal(size=(200, d))
        assert np.array_equal(ours.predict(z), reference.predict(z))
