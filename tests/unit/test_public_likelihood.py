"""The likelihood outside HSSM: ``hssm_nre.loglik`` (pure JAX) and the fused PyTensor Op."""

import numpy as np
import pytest

import hssm_nre
from hssm_nre.errors import UnknownModelError, WrongModelError
from tests.helpers import F64_EXACT, assert_close


@pytest.fixture(scope="module")
def lik(tiny_path):
    return hssm_nre.loglik("ddm", weights=tiny_path)


def _trials(n, rng):
    theta = rng.uniform([-2, 0.6, 0.3, 0.1], [2, 2.0, 0.7, 0.4], size=(n, 4))
    return theta, theta[:, 3] + rng.uniform(0.05, 3.0, n), rng.choice([-1.0, 1.0], n)


def test_loglik_shapes_dtypes_and_the_hssm_per_trial_function(lik, tiny_entry, rng):
    import jax

    from hssm_nre.evidence import make_evidence_fn
    from hssm_nre.likelihood import make_log_ratio_fn

    assert lik.params == ("v", "a", "z", "t") and lik.bounds["z"] == (0.1, 0.9) and lik.choices == (-1, 1)
    assert lik.kind == "normalised" and lik.sha256 == tiny_entry.sha256
    theta, rt, ch = _trials(50, rng)
    out = lik.logp(theta, rt, ch)
    assert out.shape == (50,) and out.dtype == np.float64
    assert lik(theta[0], rt, ch).shape == (50,)  # one theta broadcast over trials
    assert np.asarray(lik.logp(theta.reshape(5, 10, 4), rt.reshape(5, 10), ch.reshape(5, 10))).shape == (5, 10)
    hssm_fn = make_log_ratio_fn(tiny_entry.spec, tiny_entry.weights, evidence=make_evidence_fn(tiny_entry.spec, tiny_entry.evidence))
    per_trial = jax.vmap(lambda d, th: hssm_fn(d, *th))(np.stack([rt, ch], 1), theta)
    assert_close(out, per_trial, **F64_EXACT)
    ratio = hssm_nre.loglik("ddm", weights=tiny_entry.path, kind="ratio")
    assert not np.allclose(ratio.logp(theta, rt, ch), out)  # the evidence term is in "normalised" only


def test_loglik_gradients_are_exact_and_the_box_is_a_soft_wall(lik, tiny_entry, rng):
    import jax
    import jax.numpy as jnp

    from hssm_nre.evidence import make_evidence_fn
    from hssm_nre.likelihood import make_logp_fn

    theta, rt, ch = _trials(40, rng)
    th0 = jnp.asarray(theta[0])
    spec = tiny_entry.spec
    f64 = make_logp_fn(spec, tiny_entry.weights, evidence=make_evidence_fn(spec, tiny_entry.evidence),
                       compute_dtype="float64")
    total64 = jax.jit(lambda th: jnp.sum(f64(th, rt, ch)))
    g64 = jax.grad(total64)(th0)
    eps = 1e-6
    fd = [(total64(th0.at[j].add(eps)) - total64(th0.at[j].add(-eps))) / (2 * eps) for j in range(4)]
    assert_close(g64, fd, rtol=1e-5, atol=1e-5)  # the float64 build: exact gradients
    total = jax.jit(lambda th: lik.logp_sum(th, rt, ch))
    assert_close(jax.grad(total)(th0), g64, rtol=1e-3, atol=1e-3)  # the float32 network inside
    outside = th0.at[2].set(0.95)  # z beyond the box's 0.9
    assert float(total(outside)) < float(total(th0.at[2].set(0.9)))
    assert float(jax.grad(total)(outside)[2]) < 0  # pushed back into the box


def test_exact_kind_integrates_log_z_once_per_parameter_vector(tiny_path, rng):
    import jax

    from hssm_nre.quadrature import make_log_z_fn

    exact = hssm_nre.loglik("ddm", weights=tiny_path, kind="exact")
    raw = hssm_nre.loglik("ddm", weights=tiny_path, kind="normalised")
    e = hssm_nre.cache.load_entry(tiny_path)
    theta, rt, ch = _trials(30, rng)
    log_z = float(jax.jit(make_log_z_fn(e.spec, e.weights, e.evidence))(theta[0]))
    raw_values = np.asarray(jax.jit(raw.logp)(theta[0], rt, ch))
    total = float(jax.jit(exact.logp_sum)(theta[0], rt, ch))
    assert_close(total, raw_values.sum() - 30 * log_z, rtol=1e-6, atol=1e-6)
    per_row = np.asarray(jax.jit(exact.logp)(theta[:3], rt[:3], ch[:3]))  # log Z for each row
    assert_close(per_row[0], raw_values[0] - log_z, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="every parameter must be a scalar"):
        exact.value_and_partials_fn((1, 0, 0, 0))


def test_loglik_errors_are_typed(tiny_path):
    with pytest.raises(UnknownModelError, match="Did you mean"):
        hssm_nre.loglik("dmm")
    with pytest.raises(WrongModelError, match="'ddm', not 'angle'"):
        hssm_nre.loglik("angle", weights=tiny_path)
    with pytest.raises(ValueError, match="kind must be one of"):
        hssm_nre.loglik("ddm", weights=tiny_path, kind="exactly")


def test_the_fused_op_gives_value_and_gradient_from_one_evaluation(lik, rng):
    """PyMC compiles logp and dlogp together: the network runs once for both."""
    import pytensor
    import pytensor.tensor as pt

    from hssm_nre._pytensor_op import make_logp_op

    calls = []

    def make_fn(ndims):
        f = lik.value_and_partials_fn(ndims)

        def counted(*args):
            calls.append(1)
            return f(*args)

        return counted

    op = make_logp_op(make_fn, 4)
    theta, rt, ch = _trials(25, rng)
    data = np.stack([rt, ch], 1)
    v = pt.dvector("v")  # one drift per trial (a regression), the rest scalars
    a, z, t = pt.dscalars("a", "z", "t")
    total = op(data, v, a, z, t).sum()
    fn = pytensor.function([v, a, z, t], [total, *pytensor.grad(total, [v, a, z, t])], mode="FAST_RUN")
    args = (theta[:, 0], *theta[0, 1:])
    value, gv, ga, gz, gt = fn(*args)
    assert len(calls) == 1  # one JAX call for the value and every gradient
    import jax
    import jax.numpy as jnp

    @jax.jit  # one compiled program, not one compilation per operation
    def total_jax(v_, rest):
        th = jnp.column_stack([v_, jnp.broadcast_to(rest, (25, 3))])
        return lik.logp(th, rt, ch).sum()

    assert_close(value, total_jax(theta[:, 0], theta[0, 1:]), rtol=1e-10, atol=1e-8)
    g = jax.jit(jax.grad(total_jax, argnums=(0, 1)))(theta[:, 0], theta[0, 1:])
    assert_close(gv, g[0], rtol=1e-6, atol=1e-6)  # float32 network: XLA may fuse differently
    assert_close([ga, gz, gt], g[1], rtol=1e-6, atol=1e-6)
