import numpy as np
import pytest

import hssm
import hssm_nre  # noqa: F401
from hssm_nre import register
from hssm_nre.errors import (
    InvalidDataError,
    NetworkNotFoundError,
    ParameterOutOfBoundsError,
    UnknownModelError,
)


@pytest.fixture
def no_network(monkeypatch):
    """Fail loudly if validation lets a bad request reach network resolution."""

    def boom(*a, **k):
        raise AssertionError("validation must happen before finding/training a network")

    monkeypatch.setattr(hssm_nre.hssm, "resolve_network", boom)


@pytest.mark.parametrize(
    "mutate, kwargs, err, match",
    [
        (None, {"model": "dmm"}, UnknownModelError, "Did you mean"),
        (lambda d: d.assign(rt=np.where(d.index == 3, -0.2, d.rt)), {}, InvalidDataError, "rt <= 0 or NaN"),
        (lambda d: d.assign(rt=np.where(d.index == 3, np.nan, d.rt)), {}, InvalidDataError, "rt <= 0 or NaN"),
        (lambda d: d.assign(response=np.where(d.response < 0, 0, 1)), {}, InvalidDataError, "Recode"),
        (None, {"z": 0.95}, ParameterOutOfBoundsError, r"z=0.95 .*\[0.1, 0.9\]"),
        (None, {"include": [{"name": "a", "prior": 3.0}]}, ParameterOutOfBoundsError, "a=3.0"),
        (None, {"model_config": {"bounds": {"v": (-5.0, 5.0)}}}, ParameterOutOfBoundsError, "only narrow"),
        (lambda d: d.drop(columns="response"), {}, InvalidDataError, "lacks column"),
    ],
)
def test_bad_input_fails_before_any_expensive_work(ddm_data, no_network, mutate, kwargs, err, match):
    df = ddm_data.copy() if mutate is None else mutate(ddm_data.copy())
    kw = {"model": "ddm"} | kwargs
    with pytest.raises(err, match=match):
        hssm.HSSM(data=df, loglik_kind="nre", **kw)


def test_untrained_model_error_says_how_to_train(ddm_data):
    df = ddm_data[["rt", "response"]].copy()
    df["response"] = np.where(df.response > 0, 1, -1)  # ornstein uses choices -1/1 too
    with pytest.raises(NetworkNotFoundError, match="hssm-nre train ornstein_angle"):
        hssm.HSSM(data=df, model="ornstein_angle", loglik_kind="nre")


def test_other_kinds_are_untouched(ddm_data):
    m = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="analytical")
    assert not hasattr(m, "nre") and m.loglik_kind == "analytical"


def test_model_uses_training_box_and_uniform_priors(ddm_data, tiny_path):
    m = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path)
    assert m.nre.source == "path" and m.nre.likelihood == "normalised"
    assert m.list_params[:4] == ["v", "a", "z", "t"]
    for p, (lo, hi) in hssm_nre.model_spec("ddm").bounds.items():
        assert m.params[p].bounds == (lo, hi)
        assert m.params[p].prior.name == "Uniform"
    assert m._init_args["loglik_kind"] == "nre"  # save/load replays the NRE path


def test_log_likelihood_is_finite_at_the_initial_point(ddm_data, tiny_path):
    m = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path, p_outlier=0)
    logp = m.pymc_model.compile_logp()(m.pymc_model.initial_point())
    assert np.isfinite(logp)


def test_ratio_with_lapse_warns(ddm_data, tiny_path):
    with pytest.warns(UserWarning, match="reweighted"):
        hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path, nre_likelihood="ratio")


def test_pickle_round_trip_rebuilds_through_nre(ddm_data, tiny_path):
    import cloudpickle

    m = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path, p_outlier=0)
    m2 = cloudpickle.loads(cloudpickle.dumps(m))
    assert m2.nre.path == m.nre.path
    pt = m.pymc_model.initial_point()
    assert np.isclose(m.pymc_model.compile_logp()(pt), m2.pymc_model.compile_logp()(pt))


def test_a_network_that_failed_validation_warns(ddm_data, tiny_path, tmp_path):
    import json
    import shutil

    dst = tmp_path / "net"
    shutil.copytree(tiny_path, dst)
    meta = json.loads((dst / "metadata.json").read_text())
    meta["validation"] = {"status": "failed", "summary": "95 % intervals covered 50 %.", "record": "validation.md"}
    (dst / "metadata.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="failed its validation: 95 % intervals covered 50 %") as caught:
        hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=dst)
    # the warning points at the report validate wrote, not at the folder's README
    assert any(str(dst / "validation.md") in str(w.message) for w in caught)


def test_initial_values_are_moved_inside_the_box():
    """HSSM's default t = 0.025 lies below ddm_st's box [0.25, 2.25]: NaN chains without this."""
    from types import SimpleNamespace

    from hssm_nre.register import _keep_initvals_inside

    m = SimpleNamespace(_initvals={"t": np.array(0.025), "v": np.array(0.0), "a": np.array(1.5)})
    _keep_initvals_inside(m, {"t": (0.25, 2.25), "v": (0.0, 2.5), "a": (0.3, 2.5)})
    assert 0.25 < float(m._initvals["t"]) < 0.3 and 0.0 < float(m._initvals["v"]) < 0.1
    assert float(m._initvals["a"]) == 1.5 and m._initvals["t"].dtype == np.float64


def test_the_network_s_own_feature_set_drives_the_likelihood(ddm_data, tmp_path):
    """A ddm_sdv network trained with another feature set than today's default
    is used with its own features: same logp as its forward pass, not the default's."""
    import dataclasses

    from hssm_nre.architecture import JNP_OPS, init_weights, logit_fn
    from hssm_nre.cache import save_entry
    from hssm_nre.config import TrainSettings, model_spec

    today = model_spec("ddm_sdv")
    other = today.with_features("edge")
    w = init_weights(other, (8,), (4,), seed=0)
    path = save_entry(other, TrainSettings(n_simulations=4096, steps=1, widths=(8,), evidence_widths=(4,)), w,
                      root=tmp_path)
    data = ddm_data.assign(rt=ddm_data.rt + 1.2)  # every trial above the initial t (HSSM floors the rest)
    m = hssm.HSSM(data=data, model="ddm_sdv", loglik_kind="nre", nre_weights=path, p_outlier=0,
                  nre_likelihood="ratio")
    assert m.nre.spec == other
    pm_model = m.pymc_model
    ip = pm_model.initial_point()
    values = dict(zip([v.name for v in pm_model.unobserved_value_vars],
                      pm_model.compile_fn(pm_model.unobserved_value_vars)(ip)))
    theta = np.array([float(values[p]) for p in other.params])
    rt, ch = data.rt.to_numpy(), data.response.to_numpy(float)
    expected = float(np.sum(logit_fn(other, w, np.broadcast_to(theta, (len(rt), 5)), rt, ch, JNP_OPS())))
    loglik = pm_model.compile_fn(pm_model.observedlogp)(ip)
    np.testing.assert_allclose(float(loglik), expected, rtol=1e-4)
    w_default = init_weights(today, (8,), (4,), seed=0)  # shapes differ: the default could not have run
    assert w_default["head"]["W"].shape != w["head"]["W"].shape


def test_hssm_floors_trials_at_the_support_edge_not_at_t_for_shifted_models(tmp_path):
    """full_ddm's non-decision time is spread over U(t - st, t + st): trials between t - st
    and t are valid. HSSM floors rt <= t to -66.1; for such models the floor must sit at
    t - st (a floor at t put a cliff at t = min(rt) where full_ddm chains stuck)."""
    from hssm_nre.architecture import init_weights
    from hssm_nre.cache import save_entry
    from hssm_nre.simulate import simulate_dataset
    from hssm_nre.config import TrainSettings, model_spec

    spec = model_spec("full_ddm")
    assert spec.edge_shift == ("st", 1.0)
    w = init_weights(spec, (8,), (4,), seed=0)
    w["head"]["W"][:] = 0.0  # the logit is 0 above the support edge: observed logp = floors only
    path = save_entry(spec, TrainSettings(n_simulations=4096, steps=1, widths=(8,), evidence_widths=(4,)), w,
                      root=tmp_path)
    df = simulate_dataset("full_ddm", 100, seed=3,
                          theta={"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.6, "sz": 0.1, "sv": 0.5, "st": 0.2})
    m = hssm.HSSM(data=df, model="full_ddm", loglik_kind="nre", nre_weights=path, p_outlier=0,
                  nre_likelihood="ratio")
    pm_model = m.pymc_model
    ip = pm_model.initial_point()
    t_key = next(k for k in ip if k.startswith("t_"))
    values = pm_model.compile_fn(pm_model.unobserved_value_vars)
    names = [v.name for v in pm_model.unobserved_value_vars]
    observed = pm_model.compile_fn(pm_model.observedlogp)
    seen_between = False
    for x in np.linspace(-1.5, -0.5, 5):
        ip[t_key] = np.asarray(x)
        v = dict(zip(names, values(ip)))
        below_edge = int((df.rt <= v["t"] - v["st"]).sum())
        seen_between |= int((df.rt <= v["t"]).sum()) > below_edge
        np.testing.assert_allclose(float(observed(ip)), -66.1 * below_edge, rtol=1e-6)
    assert seen_between  # some t put trials between t - st and t, where HSSM alone floors them
    # every other likelihood (analytic, blackbox, LAN) keeps HSSM's own floor at t
    import pytensor.tensor as pt
    from hssm.distribution_utils import dist

    data = pt.as_tensor(np.array([[0.2, 1.0], [0.5, 1.0]]))
    plain = pt.as_tensor(np.zeros(2)) + 0.0  # an Op no NRE model tagged
    floored = dist.ensure_positive_ndt(data, plain, ["v", "a", "z", "t", "st"], [0.0, 1.0, 0.5, 0.3, 0.2])
    np.testing.assert_allclose(floored.eval(), [-66.1, 0.0], rtol=1e-6)


def test_no_rt_floor_for_a_normal_non_decision_time(tmp_path):
    """ddm_normal_st: ndt ~ Normal(t, st) has no lower edge, so HSSM's rt <= t floor is dropped."""
    from hssm_nre.architecture import init_weights
    from hssm_nre.cache import save_entry
    from hssm_nre.simulate import simulate_dataset
    from hssm_nre.config import TrainSettings, model_spec

    spec = model_spec("ddm_normal_st")
    assert not spec.shift and "t" in spec.params
    w = init_weights(spec, (8,), (4,), seed=0)  # zero output layers: the logit is 0 everywhere
    path = save_entry(spec, TrainSettings(n_simulations=4096, steps=1, widths=(8,), evidence_widths=(4,)), w,
                      root=tmp_path)
    theta = {p: 0.5 * (lo + hi) for p, (lo, hi) in spec.bounds.items()}
    df = simulate_dataset("ddm_normal_st", 100, theta=theta, seed=3)
    m = hssm.HSSM(data=df, model="ddm_normal_st", loglik_kind="nre", nre_weights=path, p_outlier=0,
                  nre_likelihood="ratio")
    pm_model = m.pymc_model
    ip = pm_model.initial_point()
    ip[next(k for k in ip if k.startswith("t_"))] = np.asarray(3.0)  # t near the top of its box
    t = dict(zip([v.name for v in pm_model.unobserved_value_vars], pm_model.compile_fn(pm_model.unobserved_value_vars)(ip)))["t"]
    assert (df.rt <= t).sum() > 0  # HSSM alone would floor these trials
    assert float(pm_model.compile_fn(pm_model.observedlogp)(ip)) == 0.0
