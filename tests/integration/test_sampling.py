"""Sampling smoke tests on the tiny committed network (plumbing, not fidelity)."""

import warnings

import numpy as np
import pytest

import hssm
import hssm_nre  # noqa: F401

SMALL = dict(draws=20, tune=20, chains=1, progressbar=False, random_seed=1)


def _posterior_vars(idata):
    post = idata["posterior"]
    return set(post.data_vars) if hasattr(post, "data_vars") else set(post.to_dataset().data_vars)


@pytest.mark.parametrize(
    "include, expected, sampler, public",
    [
        (None, {"v", "a", "z", "t"}, None, False),
        pytest.param([{"name": "v", "formula": "v ~ 1 + x"}], {"v_Intercept", "v_x"}, "blackjax", True,
                     marks=pytest.mark.slow),  # CI runs the slow ones
        pytest.param([{"name": "v", "formula": "v ~ 1 + (1|participant_id)"}], {"v_Intercept", "v_1|participant_id_sigma"},
                     "nutpie", True, marks=pytest.mark.slow),
    ],
    ids=["flat-nre-numpyro-default", "regression-hssm_kwargs-blackjax", "hierarchical-hssm_kwargs-nutpie"],
)
def test_hssm_samples_with_each_nuts_sampler(ddm_data, tiny_path, include, expected, sampler, public, request):
    """numpyro by default; blackjax and nutpie when asked (PyMC's own NUTS: the next test); through
    loglik_kind="nre" and through the public hssm_kwargs path on an unpatched HSSM."""
    if public:
        request.getfixturevalue("unpatched_hssm")
        m = hssm.HSSM(data=ddm_data, **hssm_nre.hssm_kwargs("ddm", weights=tiny_path, include=include))
    else:
        m = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path, include=include)
    idata = m.sample(**({} if sampler is None else {"sampler": sampler}), **SMALL)
    assert idata["posterior"].attrs["inference_library"] == (sampler or "numpyro")
    assert expected <= _posterior_vars(idata)
    ll = idata["log_likelihood"]
    vals = np.asarray(next(iter((ll.data_vars if hasattr(ll, "data_vars") else ll.to_dataset().data_vars).values())).values)
    assert vals.shape[-1] == len(ddm_data) and np.all(np.isfinite(vals))


def test_pymc_nuts_samples_and_predicts(ddm_data, tiny_path, unpatched_hssm):
    m = hssm.HSSM(data=ddm_data, **hssm_nre.hssm_kwargs("ddm", weights=tiny_path))
    idata = m.sample(sampler="pymc", cores=1, **SMALL)
    assert idata["posterior"].attrs["inference_library"] == "pymc"
    assert {"v", "a", "z", "t"} <= _posterior_vars(idata)
    m.sample_posterior_predictive(draws=3)
    assert "posterior_predictive" in m.traces.children if hasattr(m.traces, "children") else m.traces.posterior_predictive


def test_cli_train_then_hssm_uses_the_cache_without_retraining(monkeypatch, capsys):
    """`hssm-nre train angle` (tiny budget, its normaliser too) -> hssm.HSSM(model="angle")
    loads it. (The normaliser once went into the top of the weights' pytree and the new entry
    would not load.)"""
    from hssm_nre import cli, training
    from hssm_nre.normalisation import NormaliserSettings, fit_normaliser
    from hssm_nre.simulate import simulate_dataset

    def small_normaliser(spec, weights, evidence, settings=None, progress=True):  # the default fit, made small
        return fit_normaliser(spec, weights, evidence, NormaliserSettings(n_theta=32, n_grid=60, steps=5), progress=False)

    monkeypatch.setattr(training, "fit_normaliser", small_normaliser)
    rc = cli.main(["train", "angle", "--n-simulations", "5000", "--steps", "40",
                   "--batch-size", "256", "--widths", "16,16", "--pin"])
    assert rc == 0 and "Cached at" in capsys.readouterr().out
    from hssm_nre.cache import find_network

    entry = find_network("angle")
    assert set(entry.weights) == {"f", "head", "g", "normaliser"}
    assert entry.metadata["simulation"]["time"] == "continuous"  # angle learns the continuous-time model

    def no_training(*a, **k):
        raise AssertionError("must not retrain")

    monkeypatch.setattr(training, "train", no_training)
    df = simulate_dataset("angle", 100, seed=2)
    m = hssm.HSSM(data=df, model="angle", loglik_kind="nre", p_outlier=0)
    assert m.nre.source == "cache" and m.list_params[:5] == ["v", "a", "z", "t", "theta"]
    assert np.isfinite(m.pymc_model.compile_logp()(m.pymc_model.initial_point()))


def test_training_stops_at_the_time_limit_and_keeps_its_weights(capsys):
    """--time-limit cuts training short; the entry says how many steps it holds."""
    from hssm_nre import cli
    from hssm_nre.cache import find_network, list_entries, load_entry, shipped_dir

    rc = cli.main(["train", "ddm", "--n-simulations", "20000", "--steps", "100000",
                   "--batch-size", "256", "--widths", "16,16", "--time-limit", "0.05", "--no-normaliser"])
    assert rc == 0
    (path,) = list_entries()["ddm"]
    e = load_entry(path)
    m = e.metadata
    assert m["stopped_early"]
    assert 0 < m["steps_run"] < m["planned_steps"]
    assert e.settings.extra == {"stop_after_steps": m["steps_run"]}
    assert f"--stop-after-steps {m['steps_run']} --no-normaliser" in m["reproduce"]
    out, err = capsys.readouterr()
    assert "Stopped at the 0.05-minute limit" in err
    # a quick try of the command does not displace the validated shipped network, and says so
    assert find_network("ddm").path == shipped_dir() / "ddm"
    assert f"keeps using the shipped network (validation: passed)" in out and f"hssm-nre cache pin ddm {path.name}" in out


@pytest.mark.slow
def test_model_hssm_does_not_ship_gets_its_config_from_ssm_simulators(tmp_path):
    """race_3 is unknown to HSSM: params, choices, bounds and simulator come from ssms; a network
    is trained on first use (nre_train=True), sampled and used for predictions. The fast suite
    checks the same configuration with an untrained network (test_race_3_config_without_training)."""
    from hssm_nre.simulate import simulate_dataset
    from hssm_nre.config import TrainSettings

    settings = TrainSettings(n_simulations=20_000, steps=30, batch_size=256, widths=(16,), evidence_widths=(8,))
    settings = settings.to_dict() | {"normaliser": {"n_theta": 64, "n_grid": 64, "steps": 20}}  # small, but fitted
    df = simulate_dataset("race_3", 90, seed=1)
    with warnings.catch_warnings():  # 20k simulations see few slow trials: score any slower anyway
        warnings.simplefilter("ignore", hssm_nre.errors.UnseenDataWarning)
        m = hssm.HSSM(data=df, model="race_3", loglik_kind="nre", nre_train=True, nre_settings=settings,
                      p_outlier=0, nre_allow_unseen_rt=True)
    assert m.nre.source == "trained" and m.nre.metadata["normaliser"]["settings"]["n_theta"] == 64
    assert tuple(m.choices) == (0, 1, 2)
    assert m.params["v0"].bounds == hssm_nre.model_spec("race_3").bounds["v0"]
    m.sample(**SMALL)
    m.sample_posterior_predictive(draws=2)


@pytest.mark.slow
def test_exact_likelihood_samples_with_numpyro_and_gives_pointwise_log_likelihood(ddm_data, tiny_path):
    """And the pointwise log-likelihood HSSM stores is the exact one: at a draw, it sums to the
    model's observed log-likelihood there (log Z included)."""
    m = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path, nre_likelihood="exact")
    idata = m.sample(**SMALL)
    assert {"v", "a", "z", "t"} <= _posterior_vars(idata)
    ll = idata["log_likelihood"]
    vals = np.asarray(next(iter((ll.data_vars if hasattr(ll, "data_vars") else ll.to_dataset().data_vars).values())).values)
    assert vals.shape[-1] == len(ddm_data) and np.all(np.isfinite(vals))
    pm_model = m.pymc_model
    post = idata["posterior"]
    point = {}
    for var in pm_model.value_vars:
        rv = pm_model.values_to_rvs[var]
        draw = np.asarray(post[rv.name].values)[0, 0]
        tr = pm_model.rvs_to_transforms.get(rv)
        point[var.name] = np.asarray(tr.forward(draw, *rv.owner.inputs).eval() if tr is not None else draw)
    observed = float(pm_model.compile_fn(pm_model.observedlogp)(point))
    np.testing.assert_allclose(vals[0, 0].sum(), observed, rtol=1e-6)


def test_race_3_config_without_training(tmp_path):
    """race_3 (a model HSSM does not ship): params, choices and bounds from ssm-simulators, the
    likelihood finite at the start, predictions from the ssm-simulators simulator."""
    from hssm_nre.architecture import init_weights
    from hssm_nre.cache import save_entry
    from hssm_nre.config import TrainSettings, model_spec
    from hssm_nre.simulate import simulate_dataset

    spec = model_spec("race_3")
    s = TrainSettings(n_simulations=4096, steps=1, widths=(8,), evidence_widths=(4,))
    path = save_entry(spec, s, init_weights(spec, (8,), (4,), seed=0), evidence=_flat_evidence(spec), root=tmp_path)
    df = simulate_dataset("race_3", 60, seed=1)
    m = hssm.HSSM(data=df, model="race_3", loglik_kind="nre", nre_weights=path, p_outlier=0)
    assert tuple(m.choices) == (0, 1, 2) and m.list_params == list(spec.params)
    assert m.params["v0"].bounds == spec.bounds["v0"]
    assert np.isfinite(m.pymc_model.compile_logp()(m.pymc_model.initial_point()))


def _flat_evidence(spec):
    from hssm_nre.evidence import fit_evidence

    rng = np.random.default_rng(0)
    return fit_evidence(spec, rng.uniform(0.2, 3.0, 2000), rng.choice(spec.choices, 2000))


def test_exact_pointwise_log_likelihood_sums_to_the_observed_one(ddm_data, tiny_path):
    """HSSM's stored pointwise log-likelihood under nre_likelihood="exact" is the exact one: at a
    draw it sums to the model's observed log-likelihood (log Z included). The sampled version
    is behind `slow`."""
    import xarray as xr

    m = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path, nre_likelihood="exact",
                  p_outlier=0)
    assert m.nre.likelihood == "exact"
    draw = {"v": 0.4, "a": 1.1, "z": 0.55, "t": 0.2}
    post = xr.Dataset({k: (("chain", "draw"), [[v]]) for k, v in draw.items()}, coords={"chain": [0], "draw": [0]})
    ll = m.log_likelihood(xr.DataTree.from_dict({"posterior": post}), inplace=False)
    vals = np.asarray(ll["log_likelihood"].to_dataset()["rt,response"].values)
    pm_model = m.pymc_model
    point = {}
    for var in pm_model.value_vars:
        rv = pm_model.values_to_rvs[var]
        tr = pm_model.rvs_to_transforms.get(rv)
        point[var.name] = np.asarray(tr.forward(draw[rv.name], *rv.owner.inputs).eval() if tr is not None else draw[rv.name])
    observed = float(pm_model.compile_fn(pm_model.observedlogp)(point))
    assert vals.shape[-1] == len(ddm_data)
    np.testing.assert_allclose(vals[0, 0].sum(), observed, rtol=1e-6)


@pytest.mark.slow  # trains two models; CI runs it
def test_cli_trains_several_models_as_tasks_and_refuses_bad_names_before_any_training(capsys, tmp_path):
    """`hssm-nre train --models a,b` runs one training task per model (here in this process); an
    unknown name in the list fails before the first simulation."""
    from hssm_nre import cli
    from hssm_nre.cache import list_entries

    tiny = ["--n-simulations", "20000", "--steps", "10", "--batch-size", "256", "--widths", "8",
            "--evidence-widths", "8", "--no-normaliser", "--cache-dir", str(tmp_path)]
    assert cli.main(["train", "--models", "ddm,nope_model", *tiny]) == 2
    assert "Unknown model 'nope_model'" in capsys.readouterr().err
    assert list_entries(tmp_path) == {}  # nothing trained for the good name either
    assert cli.main(["train", "ddm", "--models", "ddm", *tiny]) == 2
    assert "either MODEL or --models" in capsys.readouterr().err
    assert cli.main(["train", "ddm", "--workers", "2", *tiny]) == 2
    assert cli.main(["train", "--models", "ddm,race_no_bias_3", "--workers", "0", *tiny]) == 0
    out = capsys.readouterr().out
    assert out.count("Cached at") == 2 and "'race_no_bias_3'" in out
    assert set(list_entries(tmp_path)) == {"ddm", "race_no_bias_3"}
