"""hssm_nre.validate: its statistics, its resumable runs, its record and verdict."""

import dataclasses
import hashlib
import json
import shutil

import numpy as np
import pytest

from hssm_nre.validation.calibration import coverage, coverage_misses, ecdf_difference, ranks, simultaneous_band


def test_the_simultaneous_band_holds_its_level_and_catches_a_shift():
    rng = np.random.default_rng(3)
    n, L = 150, 50
    band = simultaneous_band(n, L, alpha=0.01, n_sim=1000)
    false_alarms = 0
    for _ in range(200):
        _, d = ecdf_difference(rng.integers(0, L + 1, n), L)
        false_alarms += bool(np.any(np.abs(d) > band))
    assert false_alarms / 200 < 0.04  # 1 % nominal; 200 repeats
    _, d = ecdf_difference(np.clip(rng.integers(0, L + 1, n) + 8, 0, L), L)  # an overestimated parameter
    assert np.any(np.abs(d) > band)


def test_ranks_and_coverage_of_a_correct_and_of_an_overconfident_posterior():
    rng = np.random.default_rng(0)
    truths = rng.normal(size=(300, 1))
    good = [t + rng.normal(size=(200, 1)) for t in truths[:, 0] - rng.normal(size=300)]  # draws from N(x, 1), x ~ N(truth, 1)
    narrow = [d * 0.3 + 0.7 * d.mean() for d in good]
    assert ranks(good[0], truths[0], 50).shape == (1,)
    cov_good = coverage(good, truths)
    assert abs(cov_good[0.9][0] - 0.9) < 0.06 and not coverage_misses(cov_good, 300, ["x"])
    assert coverage_misses(coverage(narrow, truths), 300, ["x"])


def test_the_cost_probe_fits_on_the_cluster_when_given_one(monkeypatch):
    import importlib

    v = importlib.import_module("hssm_nre.validation.validate")
    sent = []
    monkeypatch.setattr(v, "run_tasks", lambda fn, tasks, **kw: sent.append((tasks, kw["address"])))
    todo = [{"study": "fidelity", "n_trials": 1000, "indices": [0, 1]},
            {"study": "sbc", "n_trials": 200, "indices": [0, 1, 2]}]
    left = v._probe(todo, lambda t: pytest.fail("fitted in the driver"), record=None, address="head:6379")
    assert sent == [([{"study": "sbc", "n_trials": 200, "indices": [0, 1]}], "head:6379")]
    assert left == [todo[0], {"study": "sbc", "n_trials": 200, "indices": [2]}]


def test_the_cost_probe_fits_where_the_run_will(monkeypatch):
    """A run on local worker processes is timed in one of them (single-threaded like the run's),
    not in this process, where JAX and numpy use every core; a run here is timed here."""
    import importlib

    v = importlib.import_module("hssm_nre.validation.validate")
    sent = []
    monkeypatch.setattr(v, "run_tasks", lambda fn, tasks, **kw: sent.append((kw["address"], kw["workers"])))
    todo = [{"study": "sbc", "n_trials": 200, "indices": [0, 1, 2]}]
    v._probe(todo, None, record=None, address=None)
    v._probe(todo, None, record=None, address=None, in_process=True)
    assert sent == [(None, 1), (None, 0)]


def test_the_reference_cost_is_timed_at_each_comparison_size(monkeypatch):
    """A reference whose cost grows with the trials (HDDM's full_ddm, the races) is timed on
    datasets of the size the comparison fits (timed at 200 trials, a race run's 5,000-trial
    comparisons were counted at a twenty-fifth of their cost), one thread like a worker's."""
    import importlib
    import time
    from types import SimpleNamespace

    from threadpoolctl import threadpool_info

    from hssm_nre.config import model_spec
    from hssm_nre.validation import ValidationSettings

    v = importlib.import_module("hssm_nre.validation.validate")
    threads = []

    class PerTrial:
        def total_logp(self, draws, data):
            if len(data) not in threads:  # once per size: threadpool_info takes milliseconds
                threads.append(len(data))
                threads.append(max((p["num_threads"] for p in threadpool_info()), default=1))
            time.sleep(5e-5 * len(data))
            return np.zeros(len(draws))

    monkeypatch.setattr(v, "reference_for", lambda spec: PerTrial())
    lik = SimpleNamespace(spec=model_spec("ddm"))
    s = ValidationSettings()
    small, big = v._reference_seconds(lik, s, 100), v._reference_seconds(lik, s, 2_000)
    assert 12 < big / small < 25  # 20x the trials
    assert threads[1::2] == [1, 1]  # BLAS and OpenMP held to one thread, as in a worker

    sizes = []
    monkeypatch.setattr(v, "_reference_seconds", lambda lik, s, n: sizes.append(n) or 1e-3 * n)
    todo = [{"study": "fidelity", "n_trials": n, "indices": [0]} for n in (100, 1000, 5000)]
    timed = {("sbc", s.sbc_trials): 1.0}
    net = SimpleNamespace(spec=lik.spec, logp_sum=lambda th, rt, c: (th ** 2).sum() + 0 * rt.sum())
    est = v._estimate_seconds(net, s, 1, todo, timed)
    assert sorted(sizes) == [100, 1000, 5000]
    assert est > s.fidelity_draws * 1e-3 * 6_100  # every size's own reference cost is counted


def test_comparison_datasets_are_spread_over_the_workers_and_the_estimate_schedules_them(monkeypatch):
    """Each comparison dataset is a task of its own (ten 100-trial datasets in one task held one
    worker for 24 minutes against PyDDM after the other 210 fits had finished, past the estimate),
    and the estimate is when the last task ends on the workers, not the total over the workers."""
    import importlib
    from types import SimpleNamespace

    from hssm_nre.config import model_spec
    from hssm_nre.validation import ValidationSettings

    v = importlib.import_module("hssm_nre.validation.validate")
    s = ValidationSettings(sbc_datasets=30, chunk=10, fidelity_trials=(100, 1000), fidelity_datasets=(10, 3))
    lik = SimpleNamespace(spec=model_spec("weibull"), kind="nre", sha256="0" * 64)
    tasks = v._tasks(lik, s, "w")
    fid = [t for t in tasks if t["study"] == "fidelity"]
    assert [len(t["indices"]) for t in fid] == [1] * 13
    assert sorted(i for t in fid if t["n_trials"] == 100 for i in t["indices"]) == list(range(10_000, 10_010))
    assert [len(t["indices"]) for t in tasks if t["study"] == "sbc"] == [10, 10, 10]

    # the probe times two datasets of the smallest size even when each is a task of its own
    # (with one, the compiling fit alone was timed and the estimate fell back to a rule of thumb)
    seen = []
    monkeypatch.setattr(v, "run_tasks", lambda fn, ts, **kw: seen.extend(ts))
    only_fid = [t for t in tasks if t["study"] == "fidelity"]
    left = v._probe(only_fid, None, None, None)
    assert [(t["n_trials"], t["indices"]) for t in seen] == [(100, [10_000, 10_001])]
    assert sorted(i for t in left if t["n_trials"] == 100 for i in t["indices"]) == list(range(10_002, 10_010))
    assert sum(t["n_trials"] == 1000 for t in left) == 3

    assert v._makespan([1, 1, 1, 1, 10], 2) == 12  # the long task handed out last: 12, not 14 / 2
    assert v._makespan([10, 1, 1, 1, 1], 2) == 10
    assert v._makespan([3, 3], 0) == 6  # in process: one worker


def test_the_record_names_the_command_that_reproduces_it(tmp_path):
    """A network validated with --weights, or with settings other than the defaults, says so in
    its record's command (it used to say `hssm-nre validate ddm` for any of them)."""
    from hssm_nre.cache import shipped_dir
    from hssm_nre.validation import ValidationSettings
    from hssm_nre.validation.validate import reproduce_command

    s = ValidationSettings()
    assert reproduce_command("ddm", shipped_dir() / "ddm", s) == "hssm-nre validate ddm"
    other = ValidationSettings(sbc_datasets=0, fidelity_trials=(1000,), fidelity_datasets=(20,))
    cmd = reproduce_command("ddm", tmp_path / "net", other)
    assert cmd == (f"hssm-nre validate ddm --weights {tmp_path / 'net'} --sbc-datasets 0 "
                   "--fidelity-trials 1000 --fidelity-datasets 20")
    from hssm_nre.cli import build_parser

    args = build_parser().parse_args(cmd.split()[1:])  # every option it writes is one the CLI takes
    assert (args.weights, args.sbc_datasets) == (str(tmp_path / "net"), 0)
    cmd = reproduce_command("ddm", shipped_dir() / "ddm", s, kind="ratio")  # a kind the run chose
    assert cmd == "hssm-nre validate ddm --kind ratio" and build_parser().parse_args(cmd.split()[1:]).kind == "ratio"


def test_validate_runs_resumes_and_records_its_verdict(tiny_path, tmp_path, capsys):
    from hssm_nre import cli
    from hssm_nre.cache import load_entry
    from hssm_nre.validation import ValidationSettings, validate

    net = tmp_path / "net"
    shutil.copytree(tiny_path, net)
    s = ValidationSettings(sbc_datasets=4, sbc_trials=40, draws=40, tune=40, n_ranks=20,
                           fidelity_trials=(40,), fidelity_datasets=(1,), fidelity_draws=40, fidelity_tune=40,
                           per_trial_x=10, normalisation_theta=6, chunk=2)
    report = validate(None, weights=net, settings=s, workers=0, progress=True)
    # the cost is estimated from two calibration fits timed first, which the run keeps
    err = capsys.readouterr().err
    assert "Timing two fits" in err and "3 fits to run (2 already" in err
    assert report.status in ("passed", "failed") and report.record == net / "validation.md"
    text = report.record.read_text()
    assert f"**Status: {report.status}**" in text and "SBC" in text and "reweighted to the reference" in text
    assert (net / "validation_sbc.png").stat().st_size > 1000
    meta = load_entry(net).metadata["validation"]  # the checksum still holds: only metadata changed
    assert meta["status"] == report.status and meta["record"] == "validation.md"
    assert set(meta["figures"]["sbc"]["coverage"]["0.9"]) == {"v", "a", "z", "t"}
    checkpoint = next(net.glob("validation_*.jsonl"))
    lines = checkpoint.read_text().splitlines()
    assert len(lines) == 5 and all(json.loads(x)["sha256"] == report.sha256 for x in lines)
    rows = [json.loads(x) for x in lines]
    assert all(r["seconds"] > 0 for r in rows) and [r["compiled"] for r in rows[:2]] == [True, False]
    # a rerun resumes: nothing left to fit, the same figures
    again = validate(None, weights=net, settings=s, workers=0, progress=True)
    assert "0 fits to run (5 already" in capsys.readouterr().err
    assert again.figures["sbc"]["coverage"] == report.figures["sbc"]["coverage"]
    assert cli.main(["info", "ddm"]) == 0  # info shows a network's validation (here: the shipped one's)
    assert "validation: passed" in capsys.readouterr().out
    # every fit records its sampler settings and effective draws; the report gives their spread
    assert all((r["seed"], r["draws"], r["tune"]) == (0, 40, 40) for r in rows)
    assert all(0 < r["ess"] for r in rows if "skipped" not in r)
    assert "Effective draws per fit" in text and report.figures["sbc"]["ess_q05"] > 0

    # longer calibration chains: the comparison fit is reused, the calibration refitted, and the
    # figures come from this run's fits only, not every row the checkpoint holds
    longer = dataclasses.replace(s, draws=30, sbc_datasets=3)
    third = validate(None, weights=net, settings=longer, workers=0, progress=True, write_metadata=False)
    # ... and its cost is timed on fits of its own settings, not the shorter ones recorded
    err = capsys.readouterr().err
    assert "Timing two fits" in err and "1 fits to run (3 already" in err
    assert third.figures["sbc"]["datasets"] + third.figures["sbc"]["skipped"] == 3
    assert len(checkpoint.read_text().splitlines()) == 8

    # an earlier version's checkpoint (named by a hash of the settings, rows without sampler
    # settings) is read with the settings the network's recorded validation names
    recorded, kind = (load_entry(net).metadata["validation"][k] for k in ("settings", "kind"))
    key = hashlib.sha256(json.dumps(recorded, sort_keys=True).encode()).hexdigest()[:12]
    old = [{k: v for k, v in r.items() if k not in ("seed", "draws", "tune", "ess")} for r in rows]
    (net / f"validation_{key}_{kind}.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in old))
    checkpoint.unlink()
    fourth = validate(None, weights=net, settings=s, workers=0, progress=True, write_metadata=False)
    assert "0 fits to run (5 already" in capsys.readouterr().err
    assert fourth.figures["sbc"]["coverage"] == report.figures["sbc"]["coverage"]


def test_an_unvalidated_network_warns_in_hssm(ddm_data, tiny_path):
    import hssm

    from hssm_nre.errors import UnvalidatedNetworkWarning

    with pytest.warns(UnvalidatedNetworkWarning, match="never been validated.*hssm-nre validate ddm --weights"):
        hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path, p_outlier=0)


def test_a_partial_run_compares_with_the_reference_and_leaves_the_metadata_alone(tiny_path, tmp_path):
    from hssm_nre.cache import load_entry
    from hssm_nre.validation import ValidationSettings, validate

    net = tmp_path / "net"
    shutil.copytree(tiny_path, net)
    s = ValidationSettings(sbc_datasets=0, draws=40, tune=40, fidelity_trials=(40,), fidelity_datasets=(2,),
                           fidelity_draws=40, fidelity_tune=40, per_trial_x=10, normalisation_theta=6)
    assert s.partial and not ValidationSettings().partial
    report = validate(None, weights=net, settings=s, workers=0, progress=False)
    assert report.status in ("partial", "failed") and "sbc" not in report.figures
    assert report.figures["fidelity"]["40"]["datasets"] + report.figures["fidelity"]["40"]["skipped"] == 2
    assert "validation" not in load_entry(net).metadata
    with pytest.raises(ValueError, match="negative"):
        ValidationSettings(sbc_datasets=-1)


def test_validate_names_the_missing_extra_before_any_fit(monkeypatch, tmp_path):
    """Without PyDDM (``pip install hssm-nre`` without ``[validation]``) validating angle stops at
    once with the install command, before any simulation or fit."""
    import sys

    from hssm_nre.errors import MissingExtraError
    from hssm_nre.validation import ValidationSettings, validate

    monkeypatch.setitem(sys.modules, "pyddm", None)  # import pyddm now raises ImportError
    with pytest.raises(MissingExtraError, match=r"'angle' reference likelihood .* pip install \"hssm-nre\[validation\]\""):
        validate("angle", settings=ValidationSettings(sbc_datasets=0), out=tmp_path, workers=0, progress=False)
    assert not list(tmp_path.iterdir())


def test_the_fits_whitening_finds_the_mode_and_curvature_and_falls_back_when_it_cannot(x64):
    """The fitter samples in coordinates whitened by the posterior's mode and curvature: on a
    Gaussian they are its mean and the square root of its covariance; where the search ends
    somewhere not finite, the start and the identity (plain NUTS) are used instead."""
    import jax.numpy as jnp

    from hssm_nre.validation.fits import _laplace

    m = jnp.array([1.0, -2.0, 0.5])
    cov = jnp.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 1e-4]])  # correlated, and narrow
    prec = jnp.linalg.inv(cov)
    u, chol = _laplace(lambda x: 0.5 * (x - m) @ prec @ (x - m), jnp.zeros(3))
    np.testing.assert_allclose(u, m, atol=1e-4)
    np.testing.assert_allclose(chol @ chol.T, cov, rtol=1e-3, atol=1e-8)
    u0 = jnp.array([0.3, 0.2, 0.1])
    u, chol = _laplace(lambda x: jnp.sum(x**2) * jnp.nan, u0)
    np.testing.assert_array_equal(u, u0)
    np.testing.assert_array_equal(chol, jnp.eye(3))


def test_a_lan_baseline_is_evaluated_as_hssm_does_and_checked_before_any_fit(tiny_path, tmp_path):
    """The LAN is HSSM's translation of the ONNX file with HSSM's floor at rt <= t; a missing
    file, a file that is not ONNX and a LAN for another model stop validate before any fit."""
    from hssm_nre.config import model_spec
    from hssm_nre.errors import BaselineError
    from hssm_nre.validation import ValidationSettings, validate
    from hssm_nre.validation.baseline import load_baseline
    from tests.helpers import toy_lan

    toy_lan(tmp_path / "lan.onnx", 6, slope=0.5, intercept=-1.0)
    b = load_baseline(tmp_path / "lan.onnx", model_spec("ddm"))
    theta = np.array([0.5, 1.2, 0.5, 0.3])
    rt, resp = np.array([0.8, 1.5, 0.2]), np.array([1.0, -1.0, 1.0])
    want = 0.5 * (theta.sum() + rt + resp) - 1.0
    want[2] = -66.1  # rt <= t: HSSM's floor
    np.testing.assert_allclose(np.asarray(b.logp(theta, rt, resp, 3)), want, rtol=1e-5)
    np.testing.assert_allclose(float(b.logp_sum(theta, rt, resp)), want.sum(), rtol=1e-5)

    toy_lan(tmp_path / "race.onnx", 8)
    (tmp_path / "junk.onnx").write_bytes(b"not a network")
    out = tmp_path / "out"
    for bad, match in [(tmp_path / "none.onnx", "no such file"), (tmp_path / "junk.onnx", "not an ONNX network"),
                       (tmp_path / "race.onnx", r"width 8; a LAN for 'ddm' takes 6")]:
        with pytest.raises(BaselineError, match=match):
            validate(None, weights=tiny_path, settings=ValidationSettings(sbc_datasets=2), out=out, workers=0,
                     progress=False, baseline=bad)
    assert not out.exists() or not list(out.iterdir())
