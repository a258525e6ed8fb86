import numpy as np
import pytest

from dcgan_course import stats


def test_the_interval_uses_the_sample_std_and_students_t():
    estimate = stats.mean_ci([0.70, 0.72, 0.74])
    # sample std 0.02 (ddof=1), t(0.975, 2 dof) = 4.303: half-width 4.303 * 0.02 / sqrt(3)
    assert estimate.mean == pytest.approx(0.72) and estimate.half_width == pytest.approx(0.04969, abs=1e-4)
    assert estimate.format() == "72.0 ± 5.0" and estimate.count == 3


def test_a_paired_difference_cancels_the_luck_both_methods_share():
    control = np.array([0.60, 0.70, 0.80])
    paired = stats.paired_difference(control + 0.02 + np.array([0.0, 0.001, -0.001]), control)
    separate = stats.mean_ci(control)
    assert paired.mean == pytest.approx(0.02) and paired.low > 0
    assert paired.half_width < separate.half_width / 20
    assert paired.format(signed=True) == "+2.0 ± 0.2"


def test_one_value_has_no_interval_and_mismatched_repeats_are_refused():
    assert stats.mean_ci([0.5]).half_width == float("inf")
    with pytest.raises(ValueError, match="matching repeats"):
        stats.paired_difference([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="at least one"):
        stats.mean_ci([])


def test_an_estimate_survives_its_json_record():
    estimate = stats.mean_ci([0.61, 0.65, 0.66, 0.70])
    assert stats.Estimate.from_dict(estimate.as_dict()).format() == estimate.format()


def test_a_single_value_is_formatted_without_an_interval():
    estimate = stats.mean_ci([0.489])
    assert estimate.format() == "48.9 (n = 1: no interval)"
    assert stats.Estimate.from_dict({"mean": 0.489, "ci95": None, "n": 1}).format() == estimate.format()
