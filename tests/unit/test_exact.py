"""nre_likelihood="exact": log Z(theta) by quadrature at every theta, once per likelihood call."""

import numpy as np
import pytest

import hssm
import hssm_nre
from hssm_nre.architecture import JNP_OPS, logit_fn, network_weights
from hssm_nre.evidence import evidence_logp_numpy
from hssm_nre.normalisation import log_normaliser_targets
from hssm_nre.quadrature import make_log_z_fn

THETA = np.array([[0.5, 1.2, 0.5, 0.3], [-1.5, 0.7, 0.35, 0.6], [1.8, 2.0, 0.7, 0.1], [2.5, 0.4, 0.2, 1.5]])


def test_log_z_matches_a_fine_quadrature_and_its_gradient_is_its_own_derivative(tiny_entry):
    """Value: Simpson's rule on 193 nodes against the 4,000-node trapezoid sums the normaliser
    fits. Gradient: the exact derivative of that value (what NUTS needs), by central differences."""
    import jax

    e = tiny_entry
    f = make_log_z_fn(e.spec, e.weights, e.evidence)
    value, grad = jax.jit(jax.vmap(jax.value_and_grad(f)))(THETA)  # jitted: one program, not op by op
    ref = log_normaliser_targets(e.spec, e.weights, e.evidence, THETA, n_grid=4000, own_density=False)[0]
    np.testing.assert_allclose(np.asarray(value), ref, atol=5e-4)
    assert np.ptp(ref) > 0.01  # the check has power: log Z does vary over these thetas
    h = 1e-3
    fs = jax.jit(jax.vmap(f))
    for j in range(4):
        d = np.zeros(4)
        d[j] = h
        fd = (np.asarray(fs(THETA + d)) - np.asarray(fs(THETA - d))) / (2 * h)
        np.testing.assert_allclose(np.asarray(grad)[:, j], fd, atol=2e-3, rtol=0.02, err_msg=e.spec.params[j])


def test_log_z_needs_the_evidence_term(tiny_entry):
    with pytest.raises(ValueError, match="evidence term"):
        make_log_z_fn(tiny_entry.spec, tiny_entry.weights, None)



def test_exact_model_is_the_raw_likelihood_less_n_log_z_with_exact_gradients(ddm_data, tiny_entry, tiny_path):
    """The HSSM model's observed log-likelihood is sum_i [logit + log p_hat(x_i)] - N log Z(theta)
    (log Z once, though HSSM hands v over per trial), and PyMC's gradient through the Op
    agrees with central differences of its value."""
    import jax

    e = tiny_entry
    data = ddm_data.assign(rt=ddm_data.rt + 1.2)  # every trial above the initial t (HSSM floors the rest)
    m = hssm.HSSM(data=data, model="ddm", loglik_kind="nre", nre_weights=tiny_path, p_outlier=0,
                  nre_likelihood="exact")
    assert m.nre.likelihood == "exact"
    pm_model = m.pymc_model
    ip = pm_model.initial_point()
    values = dict(zip([v.name for v in pm_model.unobserved_value_vars],
                      pm_model.compile_fn(pm_model.unobserved_value_vars)(ip)))
    theta = np.array([float(values[p]) for p in e.spec.params])
    rt, ch = data.rt.to_numpy(), data.response.to_numpy(float)
    raw = network_weights(e.weights)
    per_trial = np.asarray(logit_fn(e.spec, raw, np.broadcast_to(theta, (len(rt), 4)), rt, ch, JNP_OPS()))
    per_trial = per_trial + evidence_logp_numpy(e.spec, e.evidence, rt, ch)
    log_z = float(jax.jit(make_log_z_fn(e.spec, e.weights, e.evidence))(theta))
    assert abs(log_z) > 1e-3  # the subtraction is visible
    loglik = float(pm_model.compile_fn(pm_model.observedlogp)(ip))
    np.testing.assert_allclose(loglik, per_trial.sum() - len(rt) * log_z, rtol=1e-5)

    logp, dlogp = pm_model.compile_logp(), pm_model.compile_dlogp()
    grad = dlogp(ip)
    h = 1e-3  # the network runs in float32: smaller steps measure its rounding
    offsets = np.cumsum([0] + [np.size(ip[v.name]) for v in pm_model.value_vars])
    for i, v in enumerate(pm_model.value_vars):
        up, dn = dict(ip), dict(ip)
        up[v.name] = ip[v.name] + h
        dn[v.name] = ip[v.name] - h
        np.testing.assert_allclose(grad[offsets[i]], (logp(up) - logp(dn)) / (2 * h), rtol=2e-3, atol=2e-3,
                                   err_msg=v.name)


@pytest.mark.parametrize(
    "include, bad",
    [
        ([{"name": "v", "formula": "v ~ 1 + x"}], "'v'"),
        ([{"name": "a", "formula": "a ~ 1 + (1|participant_id)"}], "'a'"),
    ],
    ids=["regression", "hierarchical"],
)
def test_exact_refuses_parameters_that_vary_by_trial(ddm_data, tiny_path, include, bad):
    with pytest.raises(ValueError, match=rf"constant across trials; \[{bad}\]"):
        hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path, include=include,
                  nre_likelihood="exact")


def test_unknown_likelihood_kind_lists_the_choices(ddm_data, tiny_path):
    with pytest.raises(ValueError, match="'normalised', 'exact', 'ratio'"):
        hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path, nre_likelihood="exakt")


@pytest.fixture
def exact_by_default(tiny_path, tmp_path):
    """The tiny network with metadata naming 'exact' as its validated likelihood (as shipped lca_3's does)."""
    import json
    import shutil

    dst = tmp_path / "net"
    shutil.copytree(tiny_path, dst)
    meta = json.loads((dst / "metadata.json").read_text())
    meta["default_likelihood"] = "exact"
    (dst / "metadata.json").write_text(json.dumps(meta))
    return dst


def test_a_network_s_default_likelihood_is_used_for_constant_parameters(ddm_data, exact_by_default):
    m = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=exact_by_default)
    assert m.nre.likelihood == "exact"
    m = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=exact_by_default,
                  nre_likelihood="normalised")
    assert m.nre.likelihood == "normalised"


def test_a_default_exact_falls_back_with_a_warning_when_parameters_vary(ddm_data, exact_by_default):
    with pytest.warns(UserWarning, match=r"validated with nre_likelihood='exact'.*\['v'\] vary by trial"):
        m = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=exact_by_default,
                      include=[{"name": "v", "formula": "v ~ 1 + x"}])
    assert m.nre.likelihood == "normalised"
    assert np.isfinite(m.pymc_model.compile_logp()(m.pymc_model.initial_point()))


def test_exact_ignores_a_fitted_normaliser(ddm_data, tiny_entry, tiny_path, tmp_path):
    """'exact' integrates the raw network: a fitted normaliser in the weights changes nothing
    (else log Z would be subtracted twice), while it does change the 'normalised' likelihood."""
    import shutil

    import jax

    from hssm_nre.architecture import normaliser_shapes, tree_map
    from hssm_nre.cache import replace_weights

    dst = tmp_path / "with_normaliser"
    shutil.copytree(tiny_path, dst)
    r = np.random.default_rng(0)
    nw = tree_map(lambda shape: r.normal(scale=0.3, size=shape).astype(np.float32), normaliser_shapes(4, (8,)))
    replace_weights(dst, dict(tiny_entry.weights) | {"normaliser": nw}, {"normaliser": {"settings": {}}})
    data = ddm_data.assign(rt=ddm_data.rt + 1.2)

    def observed(path, kind):  # the likelihood HSSM gets for nre_weights=path, nre_likelihood=kind
        lik = hssm_nre.loglik("ddm", weights=path, kind=kind)
        return float(jax.jit(lik.logp_sum)(THETA[0], data.rt.to_numpy(), data.response.to_numpy()))

    assert abs(observed(dst, "normalised") - observed(tiny_path, "normalised")) > 1.0  # the normaliser is live
    np.testing.assert_allclose(observed(dst, "exact"), observed(tiny_path, "exact"), rtol=1e-7)
