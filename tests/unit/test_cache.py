import json
import os
import shutil

import numpy as np
import pytest

from hssm_nre import cache
from hssm_nre.errors import CacheCorruptedError, CacheEntryWarning, CacheMismatchError, NetworkNotFoundError


def _save(entry, root, **kw):
    return cache.save_entry(entry.spec, entry.settings, entry.weights, evidence=entry.evidence, root=root, **kw)


def test_env_var_overrides_cache_dir(isolated_cache):
    assert cache.cache_dir() == isolated_cache


def test_round_trip(tiny_entry, isolated_cache):
    path = _save(tiny_entry, isolated_cache, extra_metadata={"note": "x"})
    assert path.parent == isolated_cache / "ddm"
    e = cache.load_entry(path)
    assert e.spec == tiny_entry.spec and e.settings == tiny_entry.settings
    from hssm_nre.architecture import flatten

    got = flatten(e.weights)
    assert got.keys() == flatten(tiny_entry.weights).keys()
    for k, v in flatten(tiny_entry.weights).items():
        np.testing.assert_array_equal(got[k], v)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["versions"]["bayesflow"] and meta["note"] == "x"


def test_key_changes_with_settings_and_versions(tiny_entry):
    v = cache.package_versions()
    k1 = cache.cache_key(tiny_entry.spec, tiny_entry.settings, v)
    s2 = type(tiny_entry.settings)(**(tiny_entry.settings.to_dict() | {"seed": 99, "widths": (16, 16), "evidence_widths": (8,)}))
    assert cache.cache_key(tiny_entry.spec, s2, v) != k1
    assert cache.cache_key(tiny_entry.spec, tiny_entry.settings, v | {"keras": "0.0"}) != k1


def test_corrupted_weights_are_detected(tiny_entry, isolated_cache):
    path = _save(tiny_entry, isolated_cache)
    raw = bytearray((path / "weights.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (path / "weights.npz").write_bytes(bytes(raw))
    with pytest.raises(CacheCorruptedError, match="Delete .* retrain"):
        cache.load_entry(path)


def test_missing_files_are_detected(tiny_entry, isolated_cache):
    path = _save(tiny_entry, isolated_cache)
    (path / "weights.npz").unlink()
    with pytest.raises(CacheCorruptedError, match="lacks"):
        cache.load_entry(path)


def test_spec_mismatch_is_reported(tiny_entry, isolated_cache):
    path = _save(tiny_entry, isolated_cache)
    meta = json.loads((path / "metadata.json").read_text())
    meta["spec"]["upper"][0] = 5.0  # a box today's ssm-simulators does not have
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(CacheMismatchError, match="today's ssm-simulators config.*upper: network"):
        cache.load_entry(path)


def test_interrupted_write_leaves_no_entry(tiny_entry, isolated_cache, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache.np, "savez", boom)
    with pytest.raises(KeyboardInterrupt):
        _save(tiny_entry, isolated_cache)
    assert list((isolated_cache / "ddm").iterdir()) == []
    assert cache.list_entries() == {}


def test_weights_that_do_not_match_their_architecture_are_never_published(tiny_entry, isolated_cache):
    """e.g. a normaliser merged into the top of the pytree instead of under its key: refused
    before the rename, with no folder or temporary left behind."""
    from hssm_nre.architecture import NORMALISER_KEY, normaliser_shapes, tree_map

    nw = tree_map(lambda shape: np.zeros(shape, np.float32), normaliser_shapes(4, (8,)))
    with pytest.raises(CacheCorruptedError, match="do not match the architecture"):
        cache.save_entry(tiny_entry.spec, tiny_entry.settings, dict(tiny_entry.weights) | nw,
                         evidence=tiny_entry.evidence, root=isolated_cache)
    assert [p for p in (isolated_cache / "ddm").iterdir() if not p.name.endswith(".lock")] == []
    good = dict(tiny_entry.weights) | {NORMALISER_KEY: nw}
    path = cache.save_entry(tiny_entry.spec, tiny_entry.settings, good, evidence=tiny_entry.evidence, root=isolated_cache)
    assert cache.load_entry(path).weights[NORMALISER_KEY]["out"]["W"].shape == (8, 1)


def test_find_network_uses_a_pinned_entry_then_the_shipped_network(tiny_entry, isolated_cache):
    path = _save(tiny_entry, isolated_cache)
    assert cache.find_network("ddm").path == cache.shipped_dir() / "ddm"  # unvalidated: not used
    cache.pin(path)
    assert cache.find_network("ddm").path == path
    meta = json.loads((path / "metadata.json").read_text())
    meta["versions"]["keras"] = "0.0.1"  # trained under other versions: skipped, with a warning
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.warns(CacheEntryWarning, match="other package versions: keras 0.0.1"):
        e = cache.find_network("ddm")
    assert e.source == "shipped" and e.path == cache.shipped_dir() / "ddm"
    # an earlier hssm-nre release of the same weight format: usable (FORMAT_VERSION guards meaning)
    meta["versions"] = cache.package_versions() | {"hssm-nre": "0.0.9"}
    (path / "metadata.json").write_text(json.dumps(meta))
    assert cache.find_network("ddm").path == path


def test_a_shipped_network_of_another_model_spec_gives_way_to_a_trained_one(tiny_entry, isolated_cache,
                                                                           tmp_path, monkeypatch):
    """When the shipped network no longer matches today's config (ssm-simulators moved, or the
    package mid-change), find_network raises only while nothing else exists; once the user has
    trained a network it is used, and the warning says why the shipped one is not."""
    import shutil

    shipped = tmp_path / "pretrained"
    shutil.copytree(cache.shipped_dir() / "ddm", shipped / "ddm")
    meta = json.loads((shipped / "ddm" / "metadata.json").read_text())
    meta["spec"]["upper"][0] = 5.0
    (shipped / "ddm" / "metadata.json").write_text(json.dumps(meta))
    monkeypatch.setattr(cache, "shipped_dir", lambda: shipped)
    with pytest.raises(CacheMismatchError, match="different model spec") as err:
        cache.find_network("ddm")
    # the fix is one that works: reinstalling would bring back the same folder
    assert "`hssm-nre train ddm` (it is used in the shipped network's place)" in str(err.value)
    assert "ssm-simulators it was shipped with (0." in str(err.value) and "Reinstall" not in str(err.value)
    path = _save(tiny_entry, isolated_cache)
    with pytest.warns(CacheEntryWarning, match=r"shipped network .*ddm cannot be used: .*different model spec"):
        e = cache.find_network("ddm")
    assert e.path == path and "cannot be used: Network" in e.reason
    assert e.passed_over.startswith("the shipped network") and e.passed_over in e.reason
    assert cache.find_by_checksum("ddm", e.sha256).path == path  # a saved model's network still reloads
    with pytest.raises(CacheMismatchError, match="different model spec"):
        cache.find_by_checksum("ddm", "0" * 64)


def test_missing_network_error_says_how_to_train():
    with pytest.raises(NetworkNotFoundError, match="hssm-nre train ornstein_angle"):
        cache.find_network("ornstein_angle")


SHIPPED = sorted(d.name for d in cache.shipped_dir().iterdir() if d.is_dir())


def test_the_issue_5_zoo_is_shipped():
    zoo = {"ddm", "ddm_sdv", "full_ddm", "angle", "weibull", "levy", "ornstein", "race_no_bias_3", "lca_3"}
    assert zoo <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_networks_are_small_documented_and_load(name):
    p = cache.shipped_dir() / name
    assert (p / "weights.npz").stat().st_size < 400_000
    e = cache.load_entry(p)  # checksum verified
    assert e.spec.name == name
    assert e.metadata["reproduce"].startswith(f"hssm-nre train {name}")
    assert e.evidence is not None
    readme = (p / "README.md").read_text()
    assert e.metadata["reproduce"] in readme  # the validation record names how to rebuild it
    assert e.metadata["validation"]["status"] in {"passed", "failed"}
    record = (p / e.metadata["validation"]["record"]).read_text()  # README.md or validate's validation.md
    assert f"**Status: {e.metadata['validation']['status']}**" in record
    # a network's default likelihood is one HSSM accepts, and its record says so
    from hssm_nre.register import LIKELIHOOD_KINDS

    default = e.metadata.get("default_likelihood")
    assert default is None or (default in LIKELIHOOD_KINDS and f'nre_likelihood="{default}"' in readme)
    # the reproduce command rebuilds this network: same settings, same feature set
    from hssm_nre import cli
    from hssm_nre.config import model_spec

    args = cli.build_parser().parse_args(e.metadata["reproduce"].split()[1:])
    assert cli._settings_from(args) == e.settings
    assert (args.features or model_spec(name).features) == e.spec.features
    # a normaliser is in the weights exactly when the metadata and the reproduce command say so
    from hssm_nre.architecture import normaliser_weights

    assert bool(normaliser_weights(e.weights)) == ("normaliser" in e.metadata) == (not args.no_normaliser)


def test_copied_entry_folder_loads_anywhere(tiny_entry, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(tiny_entry.path, dst)
    assert cache.load_entry(dst / "metadata.json").spec.name == "ddm"


def test_a_network_serves_its_model_whatever_its_feature_set(isolated_cache):
    """The feature set belongs to the network: an entry trained with another feature set
    than today's default loads, is found, and keeps its own features; a different box
    still does not load."""
    import dataclasses

    from hssm_nre.architecture import init_weights
    from hssm_nre.config import TrainSettings, model_spec

    today = model_spec("ddm_sdv")
    other = today.with_features("edge")
    assert other != today and other.same_model(today) and today.same_model(other)
    assert today.with_features("generic").same_model(other)
    assert not dataclasses.replace(today, upper=(5.0, *today.upper[1:])).same_model(today)
    settings = TrainSettings(n_simulations=4096, steps=1, widths=(8,), evidence_widths=(4,))
    path = cache.save_entry(other, settings, init_weights(other, (8,), (4,), seed=0), root=isolated_cache)
    cache.pin(path)
    e = cache.find_network("ddm_sdv")
    assert e.path == path and e.spec == other
    meta = json.loads((path / "metadata.json").read_text())
    meta["spec"]["upper"][0] = 5.0
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(CacheMismatchError, match="today's ssm-simulators config"):
        cache.load_entry(path)


def test_network_trained_on_faulty_per_call_data_is_refused(isolated_cache):
    """levy networks trained before training data were grouped by alpha (their spec has no
    per_call_params) learned a wrong model: find_network skips them with the reason, and
    load_entry names it."""
    import dataclasses

    from hssm_nre.architecture import init_weights
    from hssm_nre.config import TrainSettings, model_spec

    today = model_spec("levy")
    assert today.per_call_params == ("alpha",) and model_spec("ddm").per_call_params == ()
    old = dataclasses.replace(today, per_call_params=())
    assert not old.same_model(today)
    settings = TrainSettings(n_simulations=4096, steps=1, widths=(8,), evidence_widths=(4,))
    path = cache.save_entry(old, settings, init_weights(old, (8,), (4,), seed=0), root=isolated_cache)
    with pytest.raises(CacheMismatchError, match="per_call_params.*mishandles"):
        cache.load_entry(path)
    good = cache.save_entry(today, settings, init_weights(today, (8,), (4,), seed=1), root=isolated_cache)
    assert cache.load_entry(good).spec.per_call_params == ("alpha",)


def _as_format_1(entry, folder):
    """Write ``entry`` as hssm-nre 0.1 did: flat weight names, four feature booleans."""
    import hashlib

    from hssm_nre.architecture import flatten

    names = {}
    for path, value in flatten(entry.weights).items():
        net, kind, *rest = path.split("/")
        if net == "head":
            names["lin_W"] = value
            continue
        layer = "_out" if kind == "out" else rest.pop(0)
        names[f"{ {'normaliser': 'n'}.get(net, net)}{layer}_{rest[0]}"] = value
    folder.mkdir()
    arrays = {f"w/{k}": v for k, v in names.items()} | {f"e/{k}": v for k, v in entry.evidence.items()}
    np.savez(folder / "weights.npz", **arrays)
    spec = {k: v for k, v in entry.spec.to_dict().items() if k != "features"} | {
        "ddm_scaling": True, "edge_features": False, "race_features": False, "bound_features": False}
    meta = {k: v for k, v in entry.metadata.items() if k not in ("source", "upgraded_from")} | {
        "format": 1, "spec": spec,
        "weights_sha256": hashlib.sha256((folder / "weights.npz").read_bytes()).hexdigest()}
    (folder / "metadata.json").write_text(json.dumps(meta))
    return meta["weights_sha256"]


def test_a_format_1_entry_is_refused_with_the_upgrade_command_which_keeps_the_network(tiny_entry, isolated_cache, capsys):
    """0.1's flat weight names are refused naming `hssm-nre cache upgrade`; the upgrade renames the
    weights (the same numbers, so the same log-ratios) and a model that recorded the old checksum
    still finds its network."""
    from hssm_nre import cli
    from hssm_nre.architecture import JNP_OPS, logit_fn

    old = isolated_cache / "ddm" / "0123456789abcdef"
    (isolated_cache / "ddm").mkdir(parents=True)
    old_sha = _as_format_1(tiny_entry, old)
    with pytest.raises(CacheMismatchError, match=r"weight format 1, this hssm_nre reads format 2\. Convert it with `hssm-nre cache upgrade"):
        cache.load_entry(old)
    assert cli.main(["cache", "upgrade"]) == 0
    assert "Upgraded" in capsys.readouterr().out
    e = cache.load_entry(old)
    assert e.spec == tiny_entry.spec and e.metadata["upgraded_from"]["weights_sha256"] == old_sha
    theta, rt, ch = np.array([[0.5, 1.2, 0.5, 0.3]] * 3), np.array([0.5, 0.9, 2.0]), np.array([1.0, -1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(logit_fn(e.spec, e.weights, theta, rt, ch, JNP_OPS())),
                                  np.asarray(logit_fn(e.spec, tiny_entry.weights, theta, rt, ch, JNP_OPS())))
    assert cache.find_by_checksum("ddm", old_sha, root=isolated_cache).path == old
    assert cli.main(["cache", "upgrade"]) == 0 and "Nothing to upgrade" in capsys.readouterr().out


def test_entries_metadata_updates_and_pins_are_readable_as_new_files_are(tiny_entry, tiny_path, tmp_path, isolated_cache):
    """They are written to a temporary file or folder (owner-only) and renamed into place: a
    cache entry, a shipped network's metadata.json or a pin must not become unreadable to others."""
    import shutil
    import stat

    from hssm_nre.cache import update_metadata

    net = tmp_path / "net"
    shutil.copytree(tiny_path, net)
    old = os.umask(0o022)
    try:
        update_metadata(net, {"note": "x"})
        assert stat.S_IMODE((net / "metadata.json").stat().st_mode) == 0o644
        entry = _save(tiny_entry, isolated_cache)
        assert stat.S_IMODE(entry.stat().st_mode) == 0o755
        cache.pin(entry)
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in (isolated_cache / "ddm").glob("*.json"))
    finally:
        os.umask(old)
    assert json.loads((net / "metadata.json").read_text())["note"] == "x"
