"""Slow: the shipped network against analytic WFPT, and the simulator against WFPT.

Run with `./dev slow` (or `pytest -m slow`). Thresholds are the issue targets, not tuned
to pass: 1.0 analytic posterior SD at 1,000 trials for the shipped network.
"""

import numpy as np
import pytest

import hssm_nre  # noqa: F401

pytestmark = pytest.mark.slow


def test_shipped_network_matches_wfpt_posterior_at_1000_trials():
    from hssm_nre.compare import compare_with_wfpt
    from hssm_nre.simulate import simulate_dataset

    truth = {"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}
    df = simulate_dataset("ddm", 1000, theta=truth, seed=0)
    cmp = compare_with_wfpt(df, draws=1000, tune=1000, chains=2, seed=1, progressbar=False)
    for r in cmp.rows:
        assert r["abs_diff_over_sd"] < 1.0, r
        assert 0.8 < r["sd_ratio"] < 1.25, r


def test_boundary_corrected_simulation_recovers_wfpt_mle():
    """Corrected dt = 0.001 simulations look like the continuous DDM to WFPT."""
    from hssm_nre.simulate import simulate_dataset
    from hssm_nre.reference import wfpt_logp

    df = simulate_dataset("ddm", 100_000, theta={"v": 0.5, "a": 1.2, "z": 0.3, "t": 0.3}, seed=4)
    grid = np.linspace(1.17, 1.23, 31)
    ll = [wfpt_logp(df.rt, df.response, 0.5, a, 0.3, 0.3).sum() for a in grid]
    a_hat = grid[int(np.argmax(ll))]
    # uncorrected simulation gives ~1.22 (boundary effectively 0.018 further out)
    assert abs(a_hat - 1.2) <= 0.006


def test_shipped_network_per_trial_error_vs_wfpt():
    from hssm_nre.cache import find_network
    from hssm_nre.likelihood import make_batched_log_ratio_fn
    from hssm_nre.reference import per_trial_error

    e = find_network("ddm")
    r = per_trial_error(e.spec, make_batched_log_ratio_fn(e.spec, e.weights), n_x=150, n_theta=100, seed=3)
    assert r["median"] < 0.03 and r["p90"] < 0.15, (r["median"], r["p90"])
