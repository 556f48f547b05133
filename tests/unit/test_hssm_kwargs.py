"""The public, patch-free HSSM path: hssm.HSSM(data, **hssm_nre.hssm_kwargs(...))."""

import numpy as np
import pytest

import hssm
import hssm_nre
from hssm_nre.errors import InvalidDataError, ParameterOutOfBoundsError


def _logp_at_initial_point(m):
    pm_model = m.pymc_model
    return float(pm_model.compile_logp()(pm_model.initial_point()))


@pytest.mark.parametrize(
    "include",
    [None, [{"name": "v", "formula": "v ~ 1 + x"}]],
    ids=["flat", "regression"],
)
def test_hssm_kwargs_builds_the_nre_model_without_any_patch(ddm_data, tiny_path, unpatched_hssm, include):
    kw = hssm_nre.hssm_kwargs("ddm", data=ddm_data, weights=tiny_path, include=include, p_outlier=0)
    assert kw["loglik_kind"] == "approx_differentiable" and kw["choices"] is None
    assert kw["model_config"]["list_params"] == ["v", "a", "z", "t"]
    m = hssm.HSSM(data=ddm_data, **kw)
    assert m.loglik is kw["loglik"]  # HSSM took the Op as it is
    box = hssm_nre.model_spec("ddm").bounds
    for p in ("a", "z", "t"):
        assert m.params[p].bounds == box[p] and m.params[p].prior.name == "Uniform"
    if include:  # the regression: no -66.1 mask (unbounded), HSSM's box-derived intercept prior
        assert m.params["v"].bounds == (-np.inf, np.inf)
        prior = m.params["v"].prior["Intercept"]
        assert str(prior) == "Normal(mu: 0.0, sigma: 0.25)" and prior.bounds == box["v"]
    assert np.isfinite(_logp_at_initial_point(m))


def test_predictive_draws_simulate_the_model_the_network_learned(ddm_data, tiny_path):
    """HSSM's posterior predictive goes through hssm_nre's simulator: the boundary-corrected
    (continuous-time) walk the network learned, not ssm-simulators' raw one."""
    import dataclasses

    from ssms.hssm_support import rng_fn

    from hssm_nre.simulate import simulate_replicas

    rv = hssm_nre.hssm_kwargs("ddm", data=ddm_data, weights=tiny_path)["model_config"]["rv"]
    assert (rv.model_name, rv.choices, rv.obs_dim) == ("ddm", [-1, 1], 2)
    th = np.array([[0.5, 1.0, 0.5, 0.3], [2.0, 0.6, 0.4, 0.3], [-1.0, 1.5, 0.6, 0.1]])
    out = rv(theta=th, random_state=4, n_replicas=5)
    assert out.shape == (5, 3, 2) and set(np.unique(out[..., 1])) <= {-1.0, 1.0}
    np.testing.assert_array_equal(out, rv(theta=th, random_state=4, n_replicas=5))
    assert rv(theta=th, random_state=4, n_replicas=1).shape == (3, 2)
    # through ssm-simulators' rng_fn, as HSSM calls it (one vector, 2,000 draws)
    draws = rng_fn([np.array(v) for v in (0.0, 0.6, 0.5, 0.2)], 2000, np.random.default_rng(1), rv, 2)
    assert draws.shape == (2000, 2)
    # the corrected walk ends sooner than the raw one from the same seeds (the boundary is nearer)
    spec = hssm_nre.model_spec("angle")
    x = np.tile([0.0, 0.6, 0.5, 0.2, 0.3], (4000, 1))
    corrected = simulate_replicas(spec, x, 1, seed=3)[0]
    raw = simulate_replicas(dataclasses.replace(spec, boundary_correction=False), x, 1, seed=3)[0]
    assert corrected[:, 0].mean() < raw[:, 0].mean() - 0.005


def test_loglik_kind_nre_is_the_same_model(ddm_data, tiny_path):
    include = [{"name": "v", "formula": "v ~ 1 + x"}]
    public = hssm.HSSM(data=ddm_data, **hssm_nre.hssm_kwargs("ddm", weights=tiny_path, include=include, p_outlier=0))
    layered = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path, include=include, p_outlier=0)
    pt = public.pymc_model.initial_point()
    assert np.isclose(public.pymc_model.compile_logp()(pt), layered.pymc_model.compile_logp()(pt))
    assert {k: str(v.prior) for k, v in public.params.items()} == {k: str(v.prior) for k, v in layered.params.items()}


def test_hssm_kwargs_checks_before_any_work(ddm_data, tiny_path, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("validation must happen before finding a network")

    monkeypatch.setattr(hssm_nre.hssm, "resolve_network", boom)
    with pytest.raises(InvalidDataError, match="Recode"):
        hssm_nre.hssm_kwargs("ddm", data=ddm_data.assign(response=np.where(ddm_data.response > 0, 1, 0)))
    with pytest.raises(ParameterOutOfBoundsError, match="z=0.95"):
        hssm_nre.hssm_kwargs("ddm", z=0.95)
    with pytest.raises(ValueError, match="do not pass one"):
        hssm_nre.hssm_kwargs("ddm", loglik=lambda *a: 0)


def test_the_exact_likelihood_is_chosen_from_the_parameter_specs(ddm_data, tiny_path):
    from hssm_nre.hssm import build

    assert build("ddm", weights=tiny_path, likelihood="exact").kind == "exact"
    with pytest.raises(ValueError, match=r"\['v'\] vary by trial"):
        build("ddm", weights=tiny_path, likelihood="exact", include=[{"name": "v", "formula": "v ~ 1 + x"}])
    with pytest.raises(ValueError, match=r"\['a'\] vary by trial"):
        build("ddm", weights=tiny_path, likelihood="exact", a=np.full(len(ddm_data), 1.2))
