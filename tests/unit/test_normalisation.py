"""The normalised likelihood integrates to one; the absolute level matches WFPT; LOO helper."""

import numpy as np
import pytest

import hssm_nre  # noqa: F401
from hssm_nre.config import model_spec
from hssm_nre.normalisation import absolute_error_vs_wfpt, make_log_density_fn, normalisation_integrals

THETAS = np.array([[0.5, 1.2, 0.5, 0.3], [-2.0, 0.5, 0.3, 0.1], [1.0, 2.2, 0.7, 1.0], [0.0, 0.8, 0.5, 0.0]])


def test_integrator_gives_one_for_the_analytic_wfpt_density():
    """The quadrature itself: WFPT integrates to 1 (timeouts past 20 s are negligible here)."""
    from hssm_nre.reference import wfpt_logp

    spec = model_spec("ddm")

    def wfpt(theta, rt, choice):
        th = np.broadcast_to(theta, rt.shape + (4,))
        return wfpt_logp(rt, choice, *(th[..., i] for i in range(4)))

    out = normalisation_integrals(spec, wfpt, THETAS)
    np.testing.assert_allclose(out["integral"], 1.0, atol=2e-3)
    # choice split: P(upper) = (1 - exp(-2 v a z')) / (1 - exp(-2 v a 2)) in ssm's +-a convention
    v, a, z = THETAS[0, :3]
    p_up = (1 - np.exp(-2 * v * (2 * a) * z)) / (1 - np.exp(-2 * v * (2 * a)))
    assert out["per_choice"][0, 1] == pytest.approx(p_up, abs=2e-3)


def test_integrator_rejects_wrong_theta_width():
    with pytest.raises(ValueError, match="4 columns"):
        normalisation_integrals(model_spec("ddm"), lambda *a: 0.0, np.zeros((2, 3)))


@pytest.fixture(scope="module")
def shipped_density():
    from hssm_nre.cache import find_network

    e = find_network("ddm")
    return e.spec, make_log_density_fn(e.spec, e.weights, e.evidence)


def test_shipped_ddm_likelihood_integrates_to_one_over_the_box(shipped_density):
    from hssm_nre.simulate import sample_parameters

    spec, f = shipped_density
    theta = np.vstack([THETAS, sample_parameters(spec, 60, np.random.default_rng(2))])
    integ = normalisation_integrals(spec, f, theta)["integral"]
    assert np.all(np.abs(integ - 1) <= 0.05), integ[np.abs(integ - 1) > 0.05]


def test_shipped_ddm_absolute_loglik_matches_wfpt(shipped_density):
    spec, f = shipped_density
    r = absolute_error_vs_wfpt(spec, f, n_theta=40, n_trials=25, seed=5)
    assert r["median_abs"] < 0.03 and r["p90_abs"] < 0.10, (r["median_abs"], r["p90_abs"])
    assert abs(r["mean"]) < 0.01


def test_raw_ratio_is_not_normalised(shipped_density):
    """The check has power: without the evidence term the integral is far from one."""
    from hssm_nre.cache import find_network
    from hssm_nre.likelihood import make_batched_log_ratio_fn

    e = find_network("ddm")
    ratio = make_batched_log_ratio_fn(e.spec, e.weights)
    integ = normalisation_integrals(e.spec, lambda th, rt, c: np.asarray(ratio(th, rt, c)), THETAS)["integral"]
    assert np.all(np.abs(integ - 1) > 0.2), integ


def test_contaminate_replaces_the_requested_fraction():
    from hssm_nre.compare import contaminate
    from hssm_nre.simulate import simulate_dataset

    df = simulate_dataset("ddm", 400, seed=1)
    out = contaminate(df, 0.05, rt_range=(0.0, 5.0), seed=3)
    assert out["contaminant"].sum() == 20
    assert (out["rt"] > 0).all() and set(out["response"]) <= {-1, 1}
    assert (out.loc[~out["contaminant"], "rt"] == df.loc[~out["contaminant"], "rt"]).all()
    assert len(df.columns) == 2  # input untouched
    with pytest.raises(ValueError, match="fraction"):
        contaminate(df, 1.5)


def _datatree(ll):
    import xarray as xr

    c, d, n = ll.shape
    coords = {"chain": np.arange(c), "draw": np.arange(d)}
    post = xr.Dataset({"v": (("chain", "draw"), np.random.default_rng(0).normal(size=(c, d)))}, coords=coords)
    lik = xr.Dataset({"rt,response": (("chain", "draw", "__obs__"), ll)}, coords=coords | {"__obs__": np.arange(n)})
    return xr.DataTree.from_dict({"posterior": post, "log_likelihood": lik})


def test_loo_pointwise_handles_lapse_only_observations():
    """Observations the lapse alone explains (flat log-lik tails) break ArviZ's PSIS; not ours."""
    import arviz as az

    from hssm_nre.compare import loo_pointwise, loo_table

    rng = np.random.default_rng(1)
    ll = rng.normal(-1.0, 0.3, size=(2, 200, 30))
    ll[..., 0] = -5.99  # always the lapse
    ll[..., 1] = np.where(rng.uniform(size=(2, 200)) < 0.5, -5.99, -3.0 + 0.1 * rng.normal(size=(2, 200)))
    with pytest.raises(ValueError, match="tail values"):
        az.loo(_datatree(ll))
    r = loo_pointwise(_datatree(ll))
    assert r["elpd_i"][0] == pytest.approx(-5.99) and r["p_i"][0] == pytest.approx(0.0, abs=1e-12)
    flat = ll.reshape(400, -1)
    expect1 = -np.log(np.mean(np.exp(-flat[:, 1])))
    assert r["elpd_i"][1] == pytest.approx(expect1)
    # the rest is ArviZ's PSIS, unchanged
    ref = az.loo(_datatree(ll[..., 2:]), pointwise=True)
    np.testing.assert_allclose(r["elpd_i"][2:], np.asarray(ref.elpd_i).ravel(), rtol=1e-10)
    rows = loo_table({"a": _datatree(ll), "b": _datatree(ll + 0.01)})
    assert rows[1]["elpd_diff"] == pytest.approx(0.3) and rows[1]["diff_se"] == pytest.approx(0.0, abs=1e-9)
    # few draws (a quick fit: 50): ArviZ's tail is n / 5 = 10 draws; equal there, not beyond
    short = rng.normal(-1.0, 0.3, size=(1, 50, 4))
    short[0, :, 0] = -5.99 + np.r_[np.zeros(12), np.linspace(1e-4, 1e-2, 38)]
    with pytest.raises(ValueError, match="tail values"):
        az.loo(_datatree(short))
    r = loo_pointwise(_datatree(short))
    assert np.all(np.isfinite(r["elpd_i"])) and r["n_plain_is"] == 1
