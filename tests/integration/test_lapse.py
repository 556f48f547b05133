"""HSSM's lapse mixture on an NRE model: the same pointwise log-likelihood as analytic WFPT.

Uses the shipped DDM network (committed, no training) and HSSM's default lapse
(p_outlier = 0.05, Uniform(0, 20) rt density). No MCMC: the log-likelihood of
the HSSM model is evaluated at fixed posterior draws near the truth.
"""

import numpy as np
import pytest

import hssm
import hssm_nre  # noqa: F401

TRUTH = {"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}


@pytest.fixture(scope="module")
def contaminated():
    from hssm_nre.compare import contaminate
    from hssm_nre.simulate import simulate_dataset

    df = contaminate(simulate_dataset("ddm", 300, theta=TRUTH, seed=1), 0.05, seed=2)
    mask = df.pop("contaminant").to_numpy()
    return df, mask


def _posterior(n_draws=4, extra=None):
    import xarray as xr

    rng = np.random.default_rng(0)
    vals = TRUTH | (extra or {})
    coords = {"chain": [0], "draw": np.arange(n_draws)}
    return xr.DataTree.from_dict(
        {"posterior": xr.Dataset({p: (("chain", "draw"), v + 0.01 * rng.normal(size=(1, n_draws))) for p, v in vals.items()}, coords=coords)}
    )


def _loglik(data, kind, dt, **kw):
    m = hssm.HSSM(data=data, model="ddm", loglik_kind=kind, **kw)
    out = m.log_likelihood(dt, inplace=False)
    ll = out["log_likelihood"]
    ll = ll.to_dataset() if hasattr(ll, "to_dataset") else ll
    return np.asarray(ll["rt,response"].values)


def test_default_lapse_gives_wfpt_pointwise_loglik(contaminated):
    data, mask = contaminated
    dt = _posterior()
    ref = _loglik(data, "analytical", dt)
    nre = _loglik(data, "nre", dt)
    assert np.abs(nre - ref).max() < 0.1
    assert np.abs(nre - ref)[..., mask].max() < 0.05  # contaminants: the lapse term dominates both
    assert abs((nre - ref).sum(axis=-1)).max() < 0.05 * len(data)  # elpd-scale agreement


def test_estimated_p_outlier_enters_both_models_alike(contaminated):
    data, _ = contaminated
    dt = _posterior(extra={"p_outlier": 0.1})
    prior = {"name": "Beta", "alpha": 2.0, "beta": 20.0}
    ref = _loglik(data, "analytical", dt, p_outlier=prior)
    nre = _loglik(data, "nre", dt, p_outlier=prior)
    assert np.abs(nre - ref).max() < 0.1


def test_raw_ratio_breaks_the_lapse_and_warns(contaminated):
    """What the evidence term fixes: the ratio mixed with a lapse is off by nats per trial."""
    data, mask = contaminated
    dt = _posterior()
    ref = _loglik(data, "analytical", dt)
    with pytest.warns(UserWarning, match="p_outlier loses its meaning"):
        ratio = _loglik(data, "nre", dt, nre_likelihood="ratio")
    assert np.median(np.abs(ratio - ref)[..., mask]) > 1.0


@pytest.mark.slow
def test_contaminated_fit_with_estimated_lapse_matches_wfpt_posterior_and_loo():
    """The issue's target: 5 % contaminants, p_outlier estimated; posteriors within 0.25 SD
    (p_outlier included) and LOO within its SE."""
    from hssm_nre.compare import compare_with_wfpt, contaminate, loo_table
    from hssm_nre.simulate import simulate_dataset

    data = contaminate(simulate_dataset("ddm", 1000, theta=TRUTH, seed=21), 0.05, seed=22).drop(columns="contaminant")
    cmp = compare_with_wfpt(data, p_outlier={"name": "Beta", "alpha": 2.0, "beta": 20.0},
                            draws=1000, tune=1000, chains=2, seed=3, progressbar=False)
    names = {r["param"] for r in cmp.rows}
    assert "p_outlier" in names
    for r in cmp.rows:
        assert r["abs_diff_over_sd"] <= 0.25, r
        assert 0.9 <= r["sd_ratio"] <= 1.1, r
    wfpt, nre = loo_table({"wfpt": cmp.idata_wfpt, "nre": cmp.idata_nre})
    assert abs(nre["elpd_diff"]) <= wfpt["se"], (nre, wfpt)
