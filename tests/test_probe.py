import json

import numpy as np
import pytest
import torch

from dcgan_course import probe


def blobs(per_class: int, classes: int = 4, dim: int = 30, seed: int = 0, separation: float = 5.0):
    """Gaussian clusters: class c is centred on separation * e_c, plus unit noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), per_class)
    centres = np.eye(classes, dim) * separation
    return centres[labels] + rng.normal(size=(len(labels), dim)), labels


def test_labelled_subset_draws_exactly_k_per_class_reproducibly():
    labels = torch.tensor([0] * 10 + [1] * 7 + [2] * 12)
    index = probe.labelled_subset(labels, 5, seed=1)
    assert np.bincount(labels[index].numpy()).tolist() == [5, 5, 5]
    assert np.array_equal(index, probe.labelled_subset(labels, 5, seed=1))
    assert not np.array_equal(index, probe.labelled_subset(labels, 5, seed=2))
    assert len(probe.labelled_subset(labels, None, seed=0)) == 29


def test_labelled_subset_takes_all_of_a_class_smaller_than_the_budget():
    labels = torch.tensor([0] * 10 + [1] * 7)
    assert np.bincount(labels[probe.labelled_subset(labels, 8, seed=0)].numpy()).tolist() == [8, 7]
    with pytest.raises(ValueError, match="at least 1"):
        probe.labelled_subset(labels, 0, seed=0)


@pytest.mark.parametrize("classifier", probe.CLASSIFIERS)
def test_every_probe_classifier_beats_chance_by_a_wide_margin(classifier):
    train_x, train_y = blobs(20, seed=0)
    test_x, test_y = blobs(50, seed=1)
    assert probe.probe_accuracy(train_x, train_y, test_x, test_y, classifier) > 0.8  # chance: 0.25


def test_probe_accuracy_is_invariant_to_feature_scale_thanks_to_standardisation():
    train_x, train_y = blobs(10, seed=0)
    test_x, test_y = blobs(50, seed=1)
    scales = np.logspace(-3, 3, train_x.shape[1])
    plain = probe.probe_accuracy(train_x, train_y, test_x, test_y)
    rescaled = probe.probe_accuracy(train_x * scales, train_y, test_x * scales, test_y)
    assert rescaled == pytest.approx(plain)


def test_unknown_classifier_is_a_value_error():
    with pytest.raises(ValueError, match="ridge"):
        probe.make_probe("forest")


def test_compare_representations_ranks_informative_features_above_noise():
    train_x, train_y = blobs(30, seed=0)
    test_x, test_y = blobs(30, seed=1)
    rng = np.random.default_rng(2)
    noise = rng.normal(size=train_x.shape), rng.normal(size=test_x.shape)
    results = probe.compare_representations(
        {"signal": (torch.tensor(train_x), torch.tensor(test_x)), "noise": noise},
        torch.tensor(train_y), torch.tensor(test_y), labels_per_class=[5, None], draws=3, progress=False)
    by_key = {(r.method, r.labels_per_class): r for r in results}
    assert len(by_key[("signal", 5)].accuracies) == 3 and len(by_key[("signal", None)].accuracies) == 1
    assert by_key[("signal", 5)].mean > by_key[("noise", 5)].mean + 0.3
    assert by_key[("noise", None)].mean < 0.5


def test_compare_representations_rejects_bad_budgets():
    x, y = blobs(5)
    with pytest.raises(ValueError, match="positive"):
        probe.compare_representations({"x": (x, x)}, y, y, labels_per_class=[0])
    with pytest.raises(ValueError, match="draws"):
        probe.compare_representations({"x": (x, x)}, y, y, draws=0)


def test_results_table_and_json_report_mean_and_spread():
    results = [probe.ProbeResult("raw_pixels", 10, 1024, [0.8, 0.9]),
               probe.ProbeResult("raw_pixels", None, 1024, [0.95])]
    table = probe.results_table(results)
    # two draws: sample std 0.0707 (ddof=1), 95 % CI half-width t(0.975, 1) x 0.0707 / sqrt(2) = 0.635
    assert "| raw_pixels | 1024 | 85.0 ± 63.5 | 95.0 |" in table
    assert "10/class" in table and "all labels" in table
    record = json.loads(json.dumps(probe.results_json("digits", results)))
    assert record["dataset"] == "digits" and record["paired_gap"] == []
    assert record["results"][0] == {"method": "raw_pixels", "labels_per_class": 10, "accuracy_mean": 0.85,
                                    "accuracy_std": 0.0707, "accuracy_ci95": 0.6353, "feature_dim": 1024,
                                    "draws": 2}


def test_the_paired_gap_compares_the_same_draws():
    results = [probe.ProbeResult("random_init_discriminator", 10, 8, [0.70, 0.80, 0.75]),
               probe.ProbeResult("dcgan_discriminator", 10, 8, [0.72, 0.82, 0.77])]
    gap = probe.paired_gaps(results)[10]
    assert gap.mean == pytest.approx(0.02) and gap.half_width == pytest.approx(0.0, abs=1e-9)
    assert "+2.0 ± 0.0 points (95% CI over the same 3 draws)" in probe.results_report("digits", results)
