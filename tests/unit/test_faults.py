"""Faults around the fitting path (issue 18): damaged, concurrent and read-only caches, which
network is used and why, and data or priors outside what a network was trained on. Each test
reproduces one failure the issue lists; interrupts are in tests/integration/test_interrupts.py."""

import json
import multiprocessing as mp
import os
import shutil
import socket
import time

import numpy as np
import pytest

import hssm
import hssm_nre  # noqa: F401
from hssm_nre import cache, cli
from hssm_nre.architecture import tree_map
from hssm_nre.errors import (
    CacheEntryWarning,
    CacheWriteError,
    InvalidDataError,
    NetworkNotFoundError,
    PriorOutsideBoxWarning,
    WrongModelError,
)


def _save(entry, root=None, **kw):
    return cache.save_entry(entry.spec, entry.settings, entry.weights, evidence=entry.evidence, root=root, **kw)


def _hssm(data, **kw):
    return hssm.HSSM(data=data, model="ddm", loglik_kind="nre", p_outlier=0, **kw)


SHIPPED_DDM = cache.shipped_dir() / "ddm"


# ----------------------------------------------------------------------------- no silent fallback
@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: (p / "weights.npz").write_bytes(b"garbage"), "Checksum mismatch"),
        (lambda p: (p / "metadata.json").write_text((p / "metadata.json").read_text()[:100]), "Unreadable metadata"),
        (
            lambda p: (p / "metadata.json").write_text(
                json.dumps(json.loads((p / "metadata.json").read_text()) | {"versions": {"keras": "0.0.1"}})
            ),
            "other package versions",
        ),
    ],
    ids=["garbage-weights", "truncated-metadata", "other-versions"],
)
def test_a_damaged_entry_warns_naming_it_the_reason_the_fix_and_the_network_used(
    tiny_entry, isolated_cache, ddm_data, damage, reason
):
    path = _save(tiny_entry)
    cache.pin(path)  # the user chose it: only damage may displace it, and not silently
    damage(path)
    with pytest.warns(CacheEntryWarning) as rec:
        m = _hssm(ddm_data)
    msg = str(rec[0].message)
    assert str(path) in msg and reason in msg
    assert "hssm-nre cache remove" in msg and f"used instead: the shipped network {SHIPPED_DDM}" in msg
    assert m.nre.source == "shipped" and m.nre.path == SHIPPED_DDM


def test_info_list_and_cache_show_unusable_entries(tiny_entry, isolated_cache, capsys):
    good = _save(tiny_entry)
    bad = isolated_cache / "ddm" / "0000000000000000"
    shutil.copytree(good, bad)
    (bad / "weights.npz").write_bytes(b"garbage")
    assert cli.main(["info", "ddm"]) == 0
    out = capsys.readouterr().out
    assert "cache entries (2)" in out and f"{bad.name}  unusable" in out and "Checksum mismatch" in out
    assert f"{good.name}  not validated" in out
    assert cli.main(["list", "--json"]) == 0
    by = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    assert by["ddm"]["status"].startswith("shipped+cached (1 unusable cache entry")
    assert cli.main(["cache"]) == 0
    out = capsys.readouterr().out
    assert "2 cache entries" in out and "checksums verified" in out and "1 unusable" in out and " kB" in out
    assert cli.main(["cache", "verify"]) == 1
    capsys.readouterr()
    assert cli.main(["cache", "remove", "--unusable"]) == 0
    assert f"Removed {bad}" in capsys.readouterr().out
    assert not bad.exists() and good.exists()
    assert cli.main(["cache", "verify"]) == 0
    assert cli.main(["cache", "ddm"]) == 0 and "1 cache entry" in capsys.readouterr().out
    assert cli.main(["cache", "remove", good.name]) == 0 and not good.exists()
    _save(tiny_entry)
    assert cli.main(["cache", "remove", "--model", "ddm"]) == 0
    assert cache.list_entries() == {}


# ----------------------------------------------------------------------------- which network, and why
def test_a_new_unvalidated_entry_does_not_displace_the_validated_shipped_network(tiny_entry, ddm_data, capsys):
    path = _save(tiny_entry)
    e = cache.find_network("ddm")
    assert e.path == SHIPPED_DDM and e.validation_status == "passed"
    assert path.name in e.reason and "hssm-nre cache pin ddm" in e.reason
    m = _hssm(ddm_data)
    assert m.nre.path == SHIPPED_DDM and m.nre.sha256 == e.sha256 and m.nre.reason == e.reason
    assert cli.main(["cache", "pin", "ddm", path.name]) == 0
    capsys.readouterr()
    e = cache.find_network("ddm")
    assert e.path == path and e.reason.startswith("pinned") and e.passed_over == ""
    assert cli.main(["cache", "unpin", "ddm"]) == 0
    assert cache.find_network("ddm").path == SHIPPED_DDM
    # an entry that passed validation is used without a pin
    meta = json.loads((path / "metadata.json").read_text())
    meta["validation"] = {"status": "passed", "summary": "test"}
    (path / "metadata.json").write_text(json.dumps(meta))
    assert cache.find_network("ddm").path == path


def test_where_no_network_ships_the_newest_usable_entry_is_used(tiny_entry, isolated_cache):
    import dataclasses

    from hssm_nre.architecture import init_weights
    from hssm_nre.config import TrainSettings, model_spec

    spec = model_spec("ornstein_angle")
    s = TrainSettings(n_simulations=4096, steps=1, widths=(8,), evidence_widths=(4,))
    old = cache.save_entry(spec, s, init_weights(spec, (8,), (4,), seed=0))
    os.utime(old, (time.time() - 100, time.time() - 100))
    new = cache.save_entry(spec, dataclasses.replace(s, seed=1), init_weights(spec, (8,), (4,), seed=1))
    e = cache.find_network("ornstein_angle")
    assert e.path == new and "no shipped network" in e.reason


def test_a_pickled_model_loads_the_same_network_or_fails_clearly(tiny_entry, ddm_data):
    import cloudpickle

    m = _hssm(ddm_data)
    assert m.nre.path == SHIPPED_DDM
    path = _save(tiny_entry)
    cache.pin(path)  # the default network changes after the model was built ...
    m2 = cloudpickle.loads(cloudpickle.dumps(m))
    assert m2.nre.sha256 == m.nre.sha256 and m2.nre.path == SHIPPED_DDM  # ... the reload keeps its own
    m3 = _hssm(ddm_data)
    assert m3.nre.path == path
    blob = cloudpickle.dumps(m3)
    cache.remove_entry(path)
    with pytest.raises(NetworkNotFoundError, match=f"sha256 {m3.nre.sha256[:12]}.*no longer"):
        cloudpickle.loads(blob)


# ----------------------------------------------------------------------------- concurrency and crashes
def _writer(root: str, entry_path: str, n: int, queue) -> None:
    os.environ[cache.ENV_VAR] = root
    failures = []
    e = cache.load_entry(entry_path)
    for i in range(n):
        try:
            p = cache.save_entry(e.spec, e.settings, e.weights, evidence=e.evidence)
            if i % 4 == 0:  # swap the weights in place (as `hssm-nre normalise` does) ...
                cache.replace_weights(p, e.weights, {"swap": i})
            back = cache.load_entry(p)  # ... readers still see a whole entry
            assert back.spec == e.spec
        except BaseException as err:  # noqa: BLE001 - every failure counts
            failures.append(f"{type(err).__name__}: {err}")
    queue.put(failures)


@pytest.mark.filterwarnings("ignore:.*fork:RuntimeWarning", "ignore:.*fork:DeprecationWarning")
def test_two_processes_writing_and_reading_one_key_never_fail(tiny_entry, isolated_cache):
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(isolated_cache), str(tiny_entry.path), 40, q)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert results == [[], []]
    entries = cache.list_entries()["ddm"]
    assert len(entries) == 1 and cache.load_entry(entries[0]).spec == tiny_entry.spec
    assert not [p for p in (isolated_cache / "ddm").iterdir() if p.name.startswith(".tmp-")]


def test_a_crash_while_publishing_keeps_the_complete_entry(tiny_entry, isolated_cache, monkeypatch):
    path = _save(tiny_entry)
    before = (path / "weights.npz").read_bytes()
    real_rename = os.rename
    calls = []

    def rename(src, dst):  # the new entry's rename into place fails (disk full)
        calls.append((src, dst))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(cache.os, "rename", rename)
    other = tree_map(lambda v: v + 1.0, tiny_entry.weights)  # another network under the same key
    with pytest.raises(CacheWriteError, match="No space left.*HSSM_NRE_CACHE_DIR"):
        cache.save_entry(tiny_entry.spec, tiny_entry.settings, other, evidence=tiny_entry.evidence)
    assert len(calls) == 3  # set aside, failed rename in, put back
    assert (path / "weights.npz").read_bytes() == before and cache.load_entry(path).spec == tiny_entry.spec
    assert not [p for p in (isolated_cache / "ddm").iterdir() if p.name.startswith(".tmp-")]


def test_a_second_writer_keeps_identical_weights_and_replaces_different_ones(tiny_entry, isolated_cache):
    path = _save(tiny_entry, extra_metadata={"writer": 1})
    assert _save(tiny_entry, extra_metadata={"writer": 2}) == path
    assert cache.load_entry(path).metadata["writer"] == 1  # the same network: the first writer's entry kept
    other = tree_map(lambda v: v + 1.0, tiny_entry.weights)  # e.g. retrained with a normaliser
    cache.save_entry(tiny_entry.spec, tiny_entry.settings, other, evidence=tiny_entry.evidence,
                     extra_metadata={"writer": 3})
    assert cache.load_entry(path).metadata["writer"] == 3  # replaced whole, not silently dropped


def test_stale_temporary_folders_are_removed_at_the_next_write(tiny_entry, isolated_cache):
    root = isolated_cache / "ddm"
    root.mkdir(parents=True)
    dead = root / f".tmp-{socket.gethostname().replace('-', '_')}-999999999-abc"
    old = root / ".tmp-oldstyle"
    for d in (dead, old):
        d.mkdir()
        (d / "weights.npz").write_bytes(b"x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    live = root / f".tmp-{socket.gethostname().replace('-', '_')}-{os.getppid()}-xyz"
    live.mkdir()  # a live writer's, just made: kept
    _save(tiny_entry)
    assert not dead.exists() and not old.exists() and live.exists()


def test_a_read_only_cache_is_a_typed_error_before_any_simulation(tmp_path, monkeypatch, capsys):
    from hssm_nre import training
    from hssm_nre.config import TrainSettings

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(cache.ENV_VAR, str(blocker / "cache"))

    def no_simulation(*a, **k):
        raise AssertionError("the cache must be checked before simulating")

    monkeypatch.setattr(training, "simulate_training_data", no_simulation)
    with pytest.raises(CacheWriteError, match="Cannot write to the cache folder .*HSSM_NRE_CACHE_DIR"):
        training.train("ddm", TrainSettings(n_simulations=4096, steps=2, batch_size=256), progress=False)
    assert cli.main(["train", "ddm", "--n-simulations", "4096", "--steps", "2", "--batch-size", "256"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot write to the cache folder") and "Traceback" not in err


# ----------------------------------------------------------------------------- data and priors
def test_trials_slower_than_anything_trained_on_are_refused_with_an_opt_in(ddm_data):
    df = ddm_data.copy()
    df.loc[[7, 42], "rt"] = [25.0, 40.0]
    with pytest.raises(InvalidDataError, match=r"2 row\(s\) have rt above 20 s \(rows \[7, 42\].*max_t = 20 s"):
        _hssm(df)
    with pytest.warns(UserWarning, match="2 trial.*scored anyway"):
        m = _hssm(df, nre_allow_unseen_rt=True)
    assert m.nre.source == "shipped"


def test_a_network_s_recorded_rt_range_sets_a_lower_limit(tiny_path, tmp_path, ddm_data):
    dst = tmp_path / "net"
    shutil.copytree(tiny_path, dst)
    meta = json.loads((dst / "metadata.json").read_text())
    meta["rt_range"] = {"min": 0.01, "max": 12.0, "max_t": 20.0}
    (dst / "metadata.json").write_text(json.dumps(meta))
    df = ddm_data.assign(rt=np.where(ddm_data.index == 3, 13.0, ddm_data.rt))
    with pytest.raises(InvalidDataError, match=r"above 12 s \(rows \[3\].*max_t = 20 s; its training data had rt from 0.01 to 12 s"):
        _hssm(df, nre_weights=dst)


def test_every_shipped_network_records_its_training_rt_range():
    for name in cache.shipped_models():
        rt = cache.load_entry(cache.shipped_dir() / name).metadata["rt_range"]
        assert 0 < rt["min"] < 0.1 and 5 < rt["max"] < 25 and rt["max_t"] == 20.0, name


@pytest.mark.parametrize("col", ["rt", "response"])
def test_non_numeric_columns_are_invalid_data(ddm_data, col):
    df = ddm_data.assign(**{col: ddm_data[col].astype(str)})
    with pytest.raises(InvalidDataError, match=f"column '{col}' has dtype (object|str).*it must be numeric.*pd.to_numeric"):
        _hssm(df)


def test_a_missing_weights_folder_is_not_found_and_names_it(ddm_data, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(NetworkNotFoundError, match=f"nre_weights='{missing}' does not exist") as e:
        _hssm(ddm_data, nre_weights=missing)
    assert "<model>" not in str(e.value)


def test_weights_for_another_model_name_both_models(ddm_data):
    with pytest.raises(WrongModelError, match="network for model 'angle', but the model is 'ddm'"):
        _hssm(ddm_data, nre_weights=cache.shipped_dir() / "angle")


def test_a_prior_wider_than_the_box_warns_naming_the_box(ddm_data):
    with pytest.warns(PriorOutsideBoxWarning, match=r"a ~ Uniform\(lower=0.1, upper=5\).*a in \[0.3, 2.5\]"):
        _hssm(ddm_data, a={"prior": {"name": "Uniform", "lower": 0.1, "upper": 5.0}})
    with pytest.warns(PriorOutsideBoxWarning, match=r"t ~ HalfNormal"):
        _hssm(ddm_data, include=[{"name": "t", "prior": {"name": "HalfNormal", "sigma": 3.0}}])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", PriorOutsideBoxWarning)
        _hssm(ddm_data, a={"prior": {"name": "Uniform", "lower": 0.5, "upper": 2.0}})  # inside: no warning
        _hssm(ddm_data, v={"prior": {"name": "Normal", "mu": 0.0, "sigma": 0.5}})  # mass outside < 0.1 %


def test_gamma_zero_is_refused_not_replaced_by_the_default(capsys):
    assert cli.main(["train", "ddm", "--gamma", "0", "--steps", "1"]) == 2
    assert "gamma must be positive, got 0.0" in capsys.readouterr().err
    args = cli.build_parser().parse_args(["train", "ddm", "--seed", "0", "--gamma", "2"])
    assert cli._settings_from(args).gamma == 2.0


def test_normalise_never_writes_into_the_shipped_network(capsys):
    before = (SHIPPED_DDM / "weights.npz").read_bytes()
    assert cli.main(["normalise", "ddm", "--steps", "2"]) == 2
    assert "not changed in place" in capsys.readouterr().err
    assert (SHIPPED_DDM / "weights.npz").read_bytes() == before


def test_cache_remove_refuses_folders_outside_the_cache(tmp_path, tiny_entry, capsys):
    precious = tmp_path / "project"
    shutil.copytree(tiny_entry.path, precious)  # even a network folder, if it is not a cache entry
    assert cli.main(["cache", "remove", str(precious)]) == 2
    assert "is not an entry of the cache" in capsys.readouterr().err
    assert (precious / "weights.npz").exists()
    with pytest.raises(NetworkNotFoundError, match="not an entry of the cache"):
        cache.remove_entry(tiny_entry.path)
