"""Side-by-side comparisons must differ only by the likelihood."""

import hssm_nre  # noqa: F401


def test_regression_terms_get_the_same_priors_under_both_likelihoods(ddm_data):
    """HSSM's defaults differ by loglik kind (v's intercept: Normal(2, 3) analytic vs
    Normal(0, 0.25) approx_differentiable); the comparison must remove that."""
    import hssm

    from hssm_nre.compare import shared_regression_priors

    inc = [{"name": "v", "formula": "v ~ 1 + x + (1|participant_id)"}, {"name": "a", "prior": 1.2}]
    as_is = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", include=inc, p_outlier=0)
    ref = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="analytical", include=inc, p_outlier=0)
    assert str(as_is.params["v"].prior["Intercept"]) != str(ref.params["v"].prior["Intercept"])

    shared = shared_regression_priors(ddm_data, inc, p_outlier=0)
    assert shared[1] == inc[1] and "prior" not in inc[0]  # input untouched, non-formula items kept
    nre = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", include=shared, p_outlier=0)
    for term in ("Intercept", "x", "1|participant_id"):
        assert str(nre.params["v"].prior[term]) == str(ref.params["v"].prior[term]), term


def test_full_ddm_reference_reads_ssm_simulators_parameters():
    """HDDM's numerical full_ddm in ssm-simulators' convention: without variability it is
    WFPT, and on simulated data the likelihood peaks at the simulating a, sz and st (HDDM's
    own convention, st taken as given, would put st at half its value). sz is weakly
    identified: 3,000 trials separate a doubled sz; on 30,000 the peak is within 25 %
    of the simulating value (mean log-likelihood 0.0006 / 0.0004 nats lower at 0.75 / 1.25 sz)."""
    import numpy as np
    import pytest

    from hssm_nre.simulate import simulate_dataset
    from hssm_nre.reference import full_ddm_logp, reference_logp, wfpt_logp

    rt, ch = np.array([0.6, 0.9, 1.4]), np.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(
        full_ddm_logp(rt, ch, 0.5, 1.2, 0.5, 0.3, 1e-6, 1e-6, 1e-6), wfpt_logp(rt, ch, 0.5, 1.2, 0.5, 0.3), atol=1e-4
    )
    theta = {"v": 0.3, "a": 0.5, "z": 0.5, "t": 0.3, "sz": 0.15, "sv": 0.5, "st": 0.1}
    df = simulate_dataset("full_ddm", 3000, theta=theta, seed=4)

    def mean_ll(**change):
        th = {**theta, **change}
        return reference_logp("full_ddm", df.rt.to_numpy(), df.response.to_numpy(), *th.values()).mean()

    best = mean_ll()
    assert np.isfinite(best)
    for change in ({"st": 0.05}, {"st": 0.2}, {"sz": 0.3}, {"a": 0.4}, {"a": 0.6}):
        assert mean_ll(**change) < best, change
    # sz large enough that the start interval reaches a boundary: undefined, -inf
    assert np.isneginf(full_ddm_logp(0.6, 1.0, 0.3, 0.5, 0.5, 0.3, 0.6, 0.5, 0.1))
    with pytest.raises(ValueError, match="no reference likelihood"):
        reference_logp("angle", rt, ch, 0.5, 1.2, 0.5, 0.3, 0.1)


def test_analytic_references_cover_ddm_and_ddm_sdv_and_refuse_others():
    import numpy as np
    import pytest

    from hssm_nre.compare import compare_with_analytic
    from hssm_nre.reference import analytic_logp, wfpt_logp

    rt, ch = np.array([0.6, 0.9, 1.4]), np.array([1.0, -1.0, 1.0])
    ddm = wfpt_logp(rt, ch, 0.5, 1.2, 0.5, 0.3)
    # sv -> 0 recovers the DDM; drift variability flattens the density's dependence on v
    np.testing.assert_allclose(analytic_logp("ddm_sdv", rt, ch, 0.5, 1.2, 0.5, 0.3, 1e-6), ddm, atol=1e-5)
    assert not np.allclose(analytic_logp("ddm_sdv", rt, ch, 0.5, 1.2, 0.5, 0.3, 1.0), ddm, atol=1e-2)
    with pytest.raises(ValueError, match="no analytic likelihood"):
        analytic_logp("angle", rt, ch, 0.5, 1.2, 0.5, 0.3, 0.1)
    with pytest.raises(ValueError, match="analytic models: ddm, ddm_sdv"):
        compare_with_analytic(None, model="levy")  # refused before any data handling


def test_predicted_shift_can_hold_parameters_at_the_truth(tiny_entry):
    """The MCMC-free shift predictor on the tiny DDM network: every parameter, then z held at
    the truth (left out of the Fisher information); a wrong name is refused."""
    import numpy as np
    import pytest

    from hssm_nre.likelihood import make_batched_log_ratio_fn
    from hssm_nre.reference import predicted_posterior_shift

    f = make_batched_log_ratio_fn(tiny_entry.spec, tiny_entry.weights)
    theta = (0.5, 1.2, 0.5, 0.3)
    full = predicted_posterior_shift(tiny_entry.spec, f, theta, n_trials=(1000,), n_x=2000)
    held = predicted_posterior_shift(tiny_entry.spec, f, theta, n_trials=(1000,), n_x=2000, fixed=("z",))
    assert set(full["shift_sd"][1000]) == {"v", "a", "z", "t"} and set(held["shift_sd"][1000]) == {"v", "a", "t"}
    assert all(np.isfinite(v) for v in held["shift_sd"][1000].values())
    # fixing a parameter removes its uncertainty from the others': their posterior SDs shrink
    for p in ("v", "a", "t"):
        assert held["posterior_sd_over_prior_sd"][1000][p] <= full["posterior_sd_over_prior_sd"][1000][p] + 1e-12
    with pytest.raises(ValueError, match="does not have"):
        predicted_posterior_shift(tiny_entry.spec, f, theta, n_trials=(1000,), n_x=200, fixed=("sv",))
