"""hssm_nre.pymc.NRE in plain PyMC models: values, the four NUTS samplers, predictions."""

import numpy as np
import pymc as pm
import pytest

import hssm_nre
from hssm_nre.errors import InvalidDataError
from tests.helpers import assert_close

SMALL = dict(draws=10, tune=10, chains=1, progressbar=False, random_seed=1)


@pytest.fixture(scope="module")
def regression(tiny_path):
    from hssm_nre.simulate import simulate_dataset

    df = simulate_dataset("ddm", 60, theta={"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}, seed=5)
    x = np.random.default_rng(1).normal(size=len(df))
    with pm.Model() as model:
        b0 = pm.Normal("b0", 0.0, 1.0)
        b1 = pm.Normal("b1", 0.0, 1.0)
        a = pm.Uniform("a", 0.8, 1.6)
        z = pm.Uniform("z", 0.35, 0.65)
        t = pm.Uniform("t", 0.05, 0.25)
        hssm_nre.pymc.NRE("obs", "ddm", weights=tiny_path, v=b0 + b1 * x, a=a, z=z, t=t, observed=df)
    return model, df, x


def test_the_distribution_s_logp_is_the_network_s(regression, tiny_path):
    _, df, x = regression
    lik = hssm_nre.loglik("ddm", weights=tiny_path)
    v = 0.4 + 0.2 * x  # a trial-wise parameter beside scalar ones
    with pm.Model() as fixed:
        hssm_nre.pymc.NRE("obs", "ddm", weights=tiny_path, v=v, a=1.1, z=0.45, t=0.2, observed=df)
    theta = np.column_stack([v, np.broadcast_to([1.1, 0.45, 0.2], (len(x), 3))])
    expected = np.sum(lik.logp(theta, df.rt.to_numpy(), df.response.to_numpy(float)))
    assert_close(fixed.compile_logp()({}), expected, rtol=1e-8, atol=1e-6)


@pytest.fixture(scope="module")
def traces(regression):
    """Short runs of NUTS samplers on the same model, each sampled once when a test asks for it."""
    model, _, _ = regression
    out = {}

    def get(sampler):
        if sampler not in out:
            with model:
                out[sampler] = pm.sample(nuts_sampler=sampler, **SMALL)
        return out[sampler]

    return get


# each sampler's compilation costs 5-15 s: blackjax and nutpie run in the slow set (CI runs it:
# .ci/run) with numpyro, PyMC's own NUTS in the fast one (its trace also feeds the predictions)
@pytest.mark.parametrize("sampler", ["pymc", pytest.param("numpyro", marks=pytest.mark.slow),
                                     pytest.param("blackjax", marks=pytest.mark.slow),
                                     pytest.param("nutpie", marks=pytest.mark.slow)])
def test_every_nuts_sampler_runs_it(traces, sampler):
    idata = traces(sampler)
    assert idata["posterior"].attrs["inference_library"] == sampler
    assert np.all(np.isfinite(idata["posterior"]["b1"].values))


def test_posterior_predictive_draws_come_from_the_simulator(regression, traces):
    model, df, _ = regression
    with model:
        pp = pm.sample_posterior_predictive(traces("pymc"), progressbar=False, random_seed=2)
    obs = np.asarray(pp["posterior_predictive"]["obs"].values)
    assert obs.shape == (1, 10, len(df), 2)
    assert set(np.unique(obs[..., 1])) <= {-1.0, 1.0} and np.all(obs[..., 0] > 0)


def test_bad_data_and_parameters_are_refused_before_any_work(tiny_path):
    df = np.column_stack([np.full(5, 0.5), np.array([1, -1, 1, 0, 1])])
    with pm.Model():
        with pytest.raises(InvalidDataError, match="Recode"):
            hssm_nre.pymc.NRE("obs", "ddm", weights=tiny_path, v=0.0, a=1.0, z=0.5, t=0.1, observed=df)
        with pytest.raises(TypeError, match=r"missing \['t'\]; unknown \['tt'\]"):
            hssm_nre.pymc.NRE("obs", "ddm", weights=tiny_path, v=0.0, a=1.0, z=0.5, tt=0.1, observed=df)
        slow = np.column_stack([np.array([0.5, 25.0]), np.array([1.0, -1.0])])
        with pytest.raises(InvalidDataError, match="above 20 s"):
            hssm_nre.pymc.NRE("obs", "ddm", weights=tiny_path, v=0.0, a=1.0, z=0.5, t=0.1, observed=slow)


def test_a_network_validated_with_exact_uses_normalised_for_per_trial_parameters_and_says_so():
    """lca_3's record names the 'exact' likelihood (constant parameters only): a per-trial drift
    switches to 'normalised' with a LikelihoodWarning; asking for 'exact' explicitly is an error."""
    from hssm_nre.errors import LikelihoodWarning

    lik = hssm_nre.loglik("lca_3")
    assert lik.kind == "exact"
    df = np.column_stack([np.full(4, 0.8), np.array([0, 1, 2, 0])])
    theta = dict(zip(lik.params, (np.asarray(lo + hi) / 2 for lo, hi in zip(lik.spec.lower, lik.spec.upper))))
    theta["v0"] = np.full(4, float(theta["v0"]))  # a per-trial drift
    with pm.Model() as m:
        with pytest.warns(LikelihoodWarning, match=r"\['v0'\] vary by trial, so the 'normalised'"):
            hssm_nre.pymc.NRE("obs", "lca_3", observed=df, **theta)
    assert np.isfinite(m.compile_logp()({}))
    with pm.Model():
        with pytest.raises(ValueError, match="kind='exact' needs parameters constant across trials"):
            hssm_nre.pymc.NRE("obs", "lca_3", kind="exact", observed=df, **theta)
