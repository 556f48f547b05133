"""The normaliser: log Z(theta) by quadrature, its fitted surrogate, and how entries carry it."""

import json

import numpy as np
import pytest

import hssm_nre  # noqa: F401  (x64, the HSSM hook)
from hssm_nre import cache
from hssm_nre.architecture import JNP_OPS, flatten, log_normaliser, logit_fn, network_weights, normaliser_weights, tree_map
from hssm_nre.errors import CacheCorruptedError
from hssm_nre.normalisation import (
    NormaliserSettings,
    fit_normaliser,
    log_normaliser_targets,
    make_log_density_fn,
    normalisation_integrals,
    normalise_entry,
)

SMALL = NormaliserSettings(n_theta=384, n_grid=300, steps=600, widths=(32, 32))
THETA = np.array([[0.5, 1.2, 0.5, 0.3], [-1.5, 0.7, 0.35, 0.6], [1.8, 2.0, 0.7, 0.1]])


@pytest.fixture(scope="module")
def fitted(tiny_path):
    from hssm_nre.cache import load_entry

    e = load_entry(tiny_path)
    nw, report = fit_normaliser(e.spec, e.weights, e.evidence, SMALL, progress=False)
    return e, nw, report


def test_quadrature_gradient_matches_finite_differences_of_the_integral(tiny_entry):
    """grad log Z is exact: central differences of the independent numpy integrator agree."""
    e = tiny_entry
    lz, g, fisher = log_normaliser_targets(e.spec, e.weights, e.evidence, THETA, n_grid=1500, own_density=False)
    f = make_log_density_fn(e.spec, e.weights, e.evidence)
    np.testing.assert_allclose(lz, np.log(normalisation_integrals(e.spec, f, THETA)["integral"]), atol=2e-4)
    h = 1e-3
    for j in range(4):
        d = np.zeros(4)
        d[j] = h
        up = np.log(normalisation_integrals(e.spec, f, THETA + d)["integral"])
        dn = np.log(normalisation_integrals(e.spec, f, THETA - d)["integral"])
        np.testing.assert_allclose(g[:, j], (up - dn) / (2 * h), atol=3e-3, rtol=0.05)
    assert np.all(fisher > 0)


def test_own_density_of_a_ddm_network_does_not_depend_on_t(tiny_entry):
    """With DDM features F sees rt only through rt - t: its mass cannot move with t."""
    e = tiny_entry
    _, g, _ = log_normaliser_targets(e.spec, e.weights, e.evidence, THETA, n_grid=400, own_density=True)
    assert np.max(np.abs(g[:, 3])) < 1e-4
    _, g_lik, _ = log_normaliser_targets(e.spec, e.weights, e.evidence, THETA, n_grid=400, own_density=False)
    assert np.max(np.abs(g_lik[:, 3])) > 1e-3  # the check has power: with the evidence term it does


def test_fitted_normaliser_follows_log_z_on_held_out_parameters(fitted):
    e, nw, r = fitted
    assert normaliser_weights(e.weights) is None and set(nw) == {"hidden", "out"}
    assert [layer["W"].shape[1] for layer in nw["hidden"]] == list(SMALL.widths)
    assert r["held_out_rms_grad_after"] < 0.5 * r["held_out_rms_grad_before"], r
    assert r["held_out_rms_log_z_after"] < 0.5 * r["held_out_rms_log_z_before"], r
    assert r["density"].startswith("own")


def test_logit_subtracts_the_normaliser_exactly(fitted):
    import jax.numpy as jnp

    e, nw, _ = fitted
    ops = JNP_OPS()
    th = jnp.asarray(np.repeat(THETA, 2, axis=0))
    rt, ch = jnp.asarray([0.6, 1.1, 0.9, 1.5, 0.4, 2.0]), jnp.asarray([1.0, -1.0, 1.0, -1.0, 1.0, 1.0])
    w_raw = tree_map(jnp.asarray, e.weights)
    w_norm = w_raw | {"normaliser": tree_map(jnp.asarray, nw)}
    diff = logit_fn(e.spec, w_raw, th, rt, ch, ops) - logit_fn(e.spec, w_norm, th, rt, ch, ops)
    np.testing.assert_allclose(np.asarray(diff), np.asarray(log_normaliser(e.spec, w_norm, th, ops)), atol=1e-10)
    assert log_normaliser(e.spec, w_raw, th, ops) == 0.0
    assert network_weights(w_norm).keys() == w_raw.keys()


def test_normalised_mass_is_flat_over_the_box(fitted):
    """The fitted density's mass, log Z(theta) - N(theta), hardly varies with theta; and the
    likelihood HSSM gets (logit + evidence - N) integrates to one on average."""
    import jax.numpy as jnp

    from hssm_nre.simulate import sample_parameters

    e, nw, r = fitted
    theta = sample_parameters(e.spec, 40, np.random.default_rng(3))
    log_z, _, _ = log_normaliser_targets(e.spec, e.weights, e.evidence, theta, n_grid=300)
    n_theta = np.asarray(log_normaliser(e.spec, {"normaliser": tree_map(jnp.asarray, nw)}, jnp.asarray(theta), JNP_OPS()))
    left = log_z + r["level_shift"] - n_theta
    assert np.std(left) < 0.2 * np.std(log_z), (np.std(left), np.std(log_z))
    hssm_mass = normalisation_integrals(e.spec, make_log_density_fn(e.spec, e.weights | {"normaliser": nw}, e.evidence), theta)
    assert abs(np.mean(np.log(hssm_mass["integral"]))) < 0.05 * np.std(log_z) + 0.01


def test_entry_with_normaliser_round_trips_and_a_broken_one_is_caught(fitted, isolated_cache):
    e, nw, _ = fitted
    path = cache.save_entry(e.spec, e.settings, e.weights | {"normaliser": nw}, evidence=e.evidence, root=isolated_cache)
    back = cache.load_entry(path)
    for k, v in flatten(nw).items():
        np.testing.assert_array_equal(flatten(back.weights["normaliser"])[k], v)
    broken = tree_map(lambda v: v, nw)
    broken["hidden"][0]["W"] = nw["hidden"][0]["W"][:, :-1]  # one unit short: no chain to the next layer
    bad = e.weights | {"normaliser": broken}
    with pytest.raises(CacheCorruptedError, match="architecture"):  # never published
        cache.save_entry(e.spec, e.settings, bad, evidence=e.evidence, root=isolated_cache / "other")
    assert not any((isolated_cache / "other" / "ddm").glob("[!.]*"))
    # and one written some other way is caught when loaded
    cache._write_arrays(path / "weights.npz", bad, e.evidence)
    meta = json.loads((path / "metadata.json").read_text())
    meta["weights_sha256"] = cache._sha256(path / "weights.npz")
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(CacheCorruptedError, match="architecture"):
        cache.load_entry(path)


def test_normalise_entry_writes_in_place_and_a_failure_leaves_the_entry_as_it_was(tiny_entry, tmp_path, monkeypatch):
    import shutil

    from hssm_nre import normalisation

    folder = tmp_path / "net"
    shutil.copytree(tiny_entry.path, folder)
    before = (folder / "weights.npz").read_bytes()

    def broken(spec, weights, evidence, settings=None, progress=True):
        nw, r = fit_normaliser(spec, weights, evidence, NormaliserSettings(n_theta=16, n_grid=50, steps=2), progress=False)
        nw["hidden"][0]["W"] = nw["hidden"][0]["W"][..., :1]
        return nw, r  # inconsistent shapes

    monkeypatch.setattr(normalisation, "fit_normaliser", broken)
    with pytest.raises(CacheCorruptedError):
        normalise_entry(folder, progress=False)
    assert (folder / "weights.npz").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net"]  # no temporary folder left
    monkeypatch.undo()

    out = normalise_entry(folder, NormaliserSettings(n_theta=16, n_grid=50, steps=5), progress=False)
    assert normaliser_weights(out.weights) and out.metadata["normaliser"]["settings"]["n_theta"] == 16
    assert json.loads((folder / "metadata.json").read_text())["weights_sha256"] == out.metadata["weights_sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net"]


def test_normalising_keeps_the_reproduce_command_true(tiny_entry, tmp_path, monkeypatch):
    """`hssm-nre train` fits the normaliser with the default settings: a network trained with
    --no-normaliser and normalised at those settings is what the command without the flag
    builds, so the flag goes; at other settings it stays (they are in metadata["normaliser"])."""
    import shutil

    from hssm_nre import normalisation

    folder = tmp_path / "net"
    shutil.copytree(tiny_entry.path, folder)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["reproduce"] = "hssm-nre train ddm --steps 40 --no-normaliser"
    (folder / "metadata.json").write_text(json.dumps(meta))
    small = NormaliserSettings(n_theta=16, n_grid=50, steps=2)

    out = normalise_entry(folder, small, progress=False)
    assert out.metadata["reproduce"] == "hssm-nre train ddm --steps 40 --no-normaliser"

    seen = []

    def quick(spec, weights, evidence, settings=None, progress=True):  # the default fit, made small
        seen.append(settings)
        return fit_normaliser(spec, weights, evidence, small, progress=False)

    monkeypatch.setattr(normalisation, "fit_normaliser", quick)
    out = normalise_entry(folder, progress=False)
    assert seen == [NormaliserSettings()]
    assert out.metadata["reproduce"] == "hssm-nre train ddm --steps 40"
    assert json.loads((folder / "metadata.json").read_text())["reproduce"] == "hssm-nre train ddm --steps 40"


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="density"):
        NormaliserSettings(density="other")
    with pytest.raises(ValueError, match="n_theta"):
        NormaliserSettings(n_theta=1)

