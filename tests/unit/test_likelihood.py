import numpy as np
import pytest

from hssm_nre.architecture import tree_map
from tests.helpers import F32_PARITY, F64_EXACT, assert_close


@pytest.fixture(scope="module")
def fns(tiny_entry):
    from hssm_nre.likelihood import make_batched_log_ratio_fn, make_log_ratio_fn

    return (
        make_batched_log_ratio_fn(tiny_entry.spec, tiny_entry.weights),
        make_log_ratio_fn(tiny_entry.spec, tiny_entry.weights),
    )


def _box_points(spec, n, rng):
    lo, hi = np.asarray(spec.lower), np.asarray(spec.upper)
    theta = rng.uniform(lo, hi, size=(n, spec.n_params))
    rt = rng.uniform(0.01, 6.0, size=n)
    ch = rng.choice(spec.choices, size=n).astype(float)
    return theta, rt, ch


@pytest.mark.parametrize("jit", [False, True])
def test_jax_function_matches_the_keras_training_layer(tiny_entry, fns, rng, jit):
    import jax
    import keras

    from hssm_nre.network import _make_layer_class

    spec, settings = tiny_entry.spec, tiny_entry.settings
    layer = _make_layer_class()(spec, settings)
    layer.build((None, spec.n_params + 2))
    from hssm_nre.architecture import flatten

    for k, v in flatten(tiny_entry.weights).items():
        layer._vars[k].assign(v)
    theta, rt, ch = _box_points(spec, 500, rng)
    x = np.concatenate([theta, rt[:, None], ch[:, None]], 1).astype(np.float32)
    ref = keras.ops.convert_to_numpy(layer(x))[:, 0]
    f = jax.jit(fns[0]) if jit else fns[0]
    assert_close(f(theta, rt, ch), ref, **F32_PARITY)


def test_float64_in_and_out_and_hssm_signature(fns, rng):
    import jax.numpy as jnp

    batched, per_trial = fns
    theta, rt, ch = _box_points(__import__("hssm_nre").model_spec("ddm"), 1, rng)
    data = jnp.asarray([rt[0], ch[0]])
    params = [jnp.asarray([p]) for p in theta[0]]  # HSSM passes (1,) arrays
    out = per_trial(data, *params)
    assert out.shape == () and out.dtype == jnp.float64
    # the HSSM callable computes in float32 inside (see likelihood.py), the reference in float64
    assert_close(out, batched(theta[0], rt[0], ch[0]), rtol=1e-5, atol=1e-4)


def test_values_and_gradients_finite_across_the_box_including_rt_below_t(tiny_entry, fns, rng):
    import jax

    batched, _ = fns
    spec = tiny_entry.spec
    theta, rt, ch = _box_points(spec, 2_000, rng)
    rt[:500] = theta[:500, 3] - rng.uniform(0, 0.5, 500)  # rt at or below t
    rt[500:600] = theta[500:600, 3]  # exactly at t
    rt = np.maximum(rt, 1e-3)
    vals = batched(theta, rt, ch)
    g = jax.jit(jax.vmap(jax.grad(lambda th, r, c: batched(th, r, c))))(theta, rt, ch)
    assert np.all(np.isfinite(vals)) and np.all(np.isfinite(g))
    # zero-likelihood region: known exactly, far below any in-support value, sloped in t
    below = rt <= theta[:, 3]
    assert np.all(np.asarray(vals)[below] <= -100.0)
    assert np.all(np.asarray(g)[below, 3] < 0)


def test_float32_compute_matches_float64(tiny_entry, rng):
    import jax
    import jax.numpy as jnp

    from hssm_nre.likelihood import make_log_ratio_fn

    f32 = make_log_ratio_fn(tiny_entry.spec, tiny_entry.weights)
    f64 = make_log_ratio_fn(tiny_entry.spec, tiny_entry.weights, compute_dtype="float64")
    theta, rt, ch = _box_points(tiny_entry.spec, 200, rng)
    theta[:, 3] = rng.uniform(0, 1, 200) * rt
    data = jnp.stack([jnp.asarray(rt), jnp.asarray(ch)], 1)
    # jitted: one compiled program each instead of hundreds of operations dispatched one by one
    v = jax.jit(jax.vmap(lambda d, t: f32(d, *t)))(data, theta)
    w = jax.jit(jax.vmap(lambda d, t: f64(d, *t)))(data, theta)
    assert v.dtype == jnp.float64
    assert_close(v, w, rtol=1e-5, atol=1e-4)
    g32 = jax.jit(jax.vmap(jax.grad(lambda t, d: f32(d, *t))))(jnp.asarray(theta), data)
    g64 = jax.jit(jax.vmap(jax.grad(lambda t, d: f64(d, *t))))(jnp.asarray(theta), data)
    assert_close(g32, g64, rtol=1e-3, atol=1e-3)


def test_gradient_matches_finite_differences(fns, rng):
    import jax

    batched, _ = fns
    th = np.array([0.7, 1.3, 0.45, 0.25])
    f = lambda t: batched(t, 0.9, 1.0)  # noqa: E731
    g = np.asarray(jax.grad(f)(th))
    eps = 1e-6
    fd = np.array([(f(th + eps * e) - f(th - eps * e)) / (2 * eps) for e in np.eye(4)])
    assert_close(g, fd, rtol=1e-5, atol=1e-6)


def test_ddm_mirror_symmetry_is_exact(fns, rng):
    batched, _ = fns
    theta, rt, ch = _box_points(__import__("hssm_nre").model_spec("ddm"), 300, rng)
    theta[:, 3] = rng.uniform(0, 1, 300) * rt  # inside the support (the floor has no G term)
    mirrored = theta.copy()
    mirrored[:, 0] *= -1
    mirrored[:, 2] = 1 - mirrored[:, 2]
    # the evidence head G(x) depends on the choice, so compare differences over theta
    d1 = np.asarray(batched(theta, rt, ch)) - np.asarray(batched(theta * 0 + [0, 1, 0.5, 0], rt, ch))
    d2 = np.asarray(batched(mirrored, rt, -ch)) - np.asarray(batched(theta * 0 + [0, 1, 0.5, 0], rt, -ch))
    assert_close(d1, d2, **F64_EXACT)


def test_jit_compiles_once_per_shape(fns, rng):
    import jax

    batched, _ = fns
    traces = []

    def counted(th, r, c):
        traces.append(1)
        return batched(th, r, c)

    f = jax.jit(counted)
    theta, rt, ch = _box_points(__import__("hssm_nre").model_spec("ddm"), 64, rng)
    f(theta, rt, ch)
    f(theta + 0.01, rt, ch)
    assert len(traces) == 1


def test_soft_box_is_continuous_at_the_boundary_and_falls_outside(tiny_entry, x64):
    """Outside the training box: the boundary value minus a quadratic wall (no cliff)."""
    import jax

    from hssm_nre.likelihood import SOFT_WALL, make_log_ratio_fn

    spec = tiny_entry.spec
    f = make_log_ratio_fn(spec, tiny_entry.weights, compute_dtype="float64")
    data = np.array([0.9, 1.0])
    hi_v = spec.upper[0]
    at = float(f(data, hi_v, 1.2, 0.5, 0.3))
    just = float(f(data, hi_v + 1e-6, 1.2, 0.5, 0.3))
    out = float(f(data, hi_v + 0.06, 1.2, 0.5, 0.3))
    width = spec.upper[0] - spec.lower[0]
    assert abs(just - at) < 1e-6
    assert out == pytest.approx(at - SOFT_WALL * (0.06 / width) ** 2, rel=1e-9)
    g = jax.grad(lambda v: f(data, v, 1.2, 0.5, 0.3))(hi_v + 0.06)
    assert float(g) == pytest.approx(-2 * SOFT_WALL * 0.06 / width**2, rel=1e-6)  # pushes back in


def test_hssm_regression_has_no_bound_cliff(ddm_data, tiny_path):
    """HSSM's -66.1 mask for out-of-bounds regression values is replaced by the soft wall."""
    import hssm
    import xarray as xr

    m = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", nre_weights=tiny_path,
                  include=[{"name": "v", "formula": "v ~ 1 + x"}], p_outlier=0)
    assert m.params["v"].bounds == (-np.inf, np.inf) and m.params["a"].bounds == (0.3, 2.5)  # no mask; no patch
    assert "_make_model_distribution" not in m.__dict__
    prior = m.params["v"].prior["Intercept"]  # the prior HSSM derives from the box, as before
    assert str(prior) == "Normal(mu: 0.0, sigma: 0.25)" and prior.bounds == (-3.0, 3.0) and prior.is_truncated
    coords = {"chain": [0], "draw": [0, 1]}
    post = xr.Dataset({"v_Intercept": (("chain", "draw"), [[2.9, 3.0]]), "v_x": (("chain", "draw"), [[0.0, 0.0]]),
                       "a": (("chain", "draw"), [[1.2, 1.2]]), "z": (("chain", "draw"), [[0.5, 0.5]]),
                       "t": (("chain", "draw"), [[0.3, 0.3]])}, coords=coords)
    dt = xr.DataTree.from_dict({"posterior": post})
    post_out = post.copy(deep=True)
    post_out["v_Intercept"][:] = [[3.01, 3.05]]
    ll_in = m.log_likelihood(dt, inplace=False)["log_likelihood"].to_dataset()["rt,response"].values
    ll_out = m.log_likelihood(xr.DataTree.from_dict({"posterior": post_out}), inplace=False)
    ll_out = ll_out["log_likelihood"].to_dataset()["rt,response"].values
    assert np.all(ll_out > -60)  # not HSSM's -66.1 floor
    assert np.all(np.abs(ll_out[0, 0] - ll_in[0, 1]) < 3.0)  # 0.01 outside ~ the boundary value


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_moving_t_past_a_data_point_never_raises_its_loglik(which, tiny_entry, x64):
    """No local optimum with t above the fastest trial: the value below the support is
    capped by the network's value at the support edge, then falls with t."""
    from hssm_nre.cache import find_network
    from hssm_nre.likelihood import make_batched_log_ratio_fn

    e = tiny_entry if which == "tiny" else find_network("ddm")
    f = make_batched_log_ratio_fn(e.spec, e.weights)
    rt = 0.35
    ts = rt + np.array([-5e-5, 1e-6, 1e-3, 1e-2, 0.1])  # just inside the support, then past it
    for v, a, z in [(0.5, 1.2, 0.5), (-2.0, 0.4, 0.2), (2.5, 2.4, 0.8)]:
        for c in (-1.0, 1.0):
            th = np.array([[v, a, z, t] for t in ts])
            vals = np.asarray(f(th, np.full(len(ts), rt), np.full(len(ts), c)))
            assert np.all(np.diff(vals) <= 1e-6), (v, a, z, c, vals)


def test_support_starts_at_t_minus_st_for_spread_non_decision_times():
    import numpy as np

    from hssm_nre.architecture import JNP_OPS, features
    from hssm_nre.config import model_spec

    spec = model_spec("full_ddm")  # v, a, z, t, sz, sv, st
    theta = np.array([[0.5, 1.0, 0.5, 0.5, 0.1, 0.5, 0.2]] * 3)
    rt = np.array([0.25, 0.35, 0.6])  # below t - st, between t - st and t, above t
    *_, u = features(spec, theta, rt, np.ones(3), JNP_OPS())
    np.testing.assert_allclose(np.asarray(u), [-0.05, 0.05, 0.3], atol=1e-12)


def test_edge_features_start_at_the_wald_leading_terms():
    """Edge features: at initialisation the logit is -D^2/2u - 1.5 log u + log D."""
    import dataclasses

    import numpy as np

    from hssm_nre.architecture import JNP_OPS, init_weights, logit_fn
    from hssm_nre.config import model_spec

    spec = model_spec("ddm_sdv").with_features("edge")
    w = init_weights(spec, (16, 16), (8,), seed=0)
    theta = np.array([[0.5, 1.0, 0.3, 0.3, 0.5]] * 2)  # v, a, z, t, sv
    rt, choice = np.array([0.35, 0.5]), np.array([1.0, -1.0])
    u = rt - 0.3
    dist = np.array([2 * 1.0 * (1 - 0.3), 2 * 1.0 * 0.3])  # to the upper / lower boundary
    expected = -dist**2 / (2 * u) - 1.5 * np.log(u) + np.log(dist)
    np.testing.assert_allclose(np.asarray(logit_fn(spec, w, theta, rt, choice, JNP_OPS())), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="the edge features need"):
        dataclasses.replace(model_spec("race_3"), features="edge")


def test_bound_features_start_at_durbins_density_exact_for_the_linear_collapse():
    """Collapsing-bound features: at initialisation the logit is Durbin's first-order density
    (D(u) - u b'(u)) u^-1.5 exp(-(D(u) - v' u)^2 / 2u) (less log sqrt(2 pi)) for the named
    boundary; for angle that is the Wald density of distance a - y0 and drift v' + tan(theta)."""
    import numpy as np

    from hssm_nre.architecture import JNP_OPS, init_weights, logit_fn
    from hssm_nre.config import model_spec

    rt, choice = np.array([0.5, 0.9, 1.4]), np.array([1.0, -1.0, -1.0])
    spec = model_spec("weibull").with_features("bound")  # v, a, z, t, alpha, beta
    theta = np.array([[0.5, 1.0, 0.3, 0.3, 2.0, 1.5], [-0.8, 1.2, 0.6, 0.2, 0.7, 2.0], [1.0, 2.0, 0.5, 0.4, 3.0, 4.0]])
    v, a, z, t, alpha, beta = theta.T
    u = rt - t
    b = a * np.exp(-((u / beta) ** alpha))
    db = -b * alpha / u * (u / beta) ** alpha
    dist = b - choice * a * (2 * z - 1)
    expected = np.log(dist - u * db) - 1.5 * np.log(u) - (dist - choice * v * u) ** 2 / (2 * u)
    w = init_weights(spec, (16, 16), (8,), seed=0)
    np.testing.assert_allclose(np.asarray(logit_fn(spec, w, theta, rt, choice, JNP_OPS())), expected, rtol=1e-5)

    spec = model_spec("angle").with_features("bound")  # v, a, z, t, theta
    theta = np.array([[0.5, 1.0, 0.3, 0.3, 0.4], [-0.8, 1.2, 0.6, 0.2, 0.1], [1.0, 2.0, 0.5, 0.4, 1.0]])
    v, a, z, t, ang = theta.T
    u = rt - t
    dist0 = a - choice * a * (2 * z - 1)
    drift = choice * v + np.tan(ang)
    wald = np.log(dist0) - 1.5 * np.log(u) - (dist0 - drift * u) ** 2 / (2 * u)
    w = init_weights(spec, (16, 16), (8,), seed=0)
    np.testing.assert_allclose(np.asarray(logit_fn(spec, w, theta, rt, choice, JNP_OPS())), wald, rtol=1e-5)


def test_race_features_start_at_the_independent_race_and_ignore_labels():
    """Race features: at initialisation the logit is the chosen accumulator's Wald log-density
    plus the others' Wald log-survivals (less log sqrt(2 pi)); with any weights, relabelling the
    accumulators (drifts, start points and the choice together) leaves the network's F unchanged."""
    import numpy as np
    from scipy.stats import norm

    from hssm_nre.architecture import JNP_OPS, init_weights, logit_fn
    from hssm_nre.config import model_spec

    import jax

    spec = model_spec("race_3").with_features("race")  # v0 v1 v2 a z0 z1 z2 t
    # jitted: one compiled program per shape instead of one compilation per operation
    logit = jax.jit(lambda w_, th_, rt_, ch_: logit_fn(spec, w_, th_, rt_, ch_, JNP_OPS()))
    w = init_weights(spec, (16, 16), (8,), seed=0)
    theta = np.array([[2.0, 1.0, 0.5, 2.0, 0.3, 0.6, 0.1, 0.2]] * 3)
    rt, choice = np.array([0.45, 0.8, 1.9]), np.array([0.0, 2.0, 1.0])
    u, v, dist = rt - 0.2, theta[0, :3], 2.0 * (1 - theta[0, 4:7])

    def log_pdf(i, u):
        return np.log(dist[i]) - 0.5 * np.log(2 * np.pi * u**3) - (dist[i] - v[i] * u) ** 2 / (2 * u)

    def log_surv(i, u):
        s = norm.cdf((dist[i] - v[i] * u) / np.sqrt(u)) - np.exp(2 * v[i] * dist[i]) * norm.cdf(
            -(dist[i] + v[i] * u) / np.sqrt(u)
        )
        return np.log(s)

    expected = [
        log_pdf(int(c), uu) + sum(log_surv(j, uu) for j in range(3) if j != int(c)) + 0.5 * np.log(2 * np.pi)
        for c, uu in zip(choice, u)
    ]
    got = np.asarray(logit(w, theta.astype(np.float32), rt.astype(np.float32), choice))
    np.testing.assert_allclose(got, expected, rtol=1e-4)

    rng = np.random.default_rng(1)
    w = {k: (tree_map(lambda v: rng.normal(0, 0.3, v.shape).astype(np.float32), v) if k != "g" else v) for k, v in w.items()}
    th = rng.uniform(spec.lower, spec.upper, size=(50, spec.n_params))
    rt = th[:, -1] + rng.uniform(0.01, 3.0, 50)
    ch = rng.integers(0, 3, 50).astype(float)
    perm = np.array([2, 0, 1])  # accumulator i becomes accumulator perm[i]
    th_p = th.copy()
    th_p[:, perm] = th[:, :3]
    th_p[:, 4 + perm] = th[:, 4:7]
    before = np.asarray(logit(w, th, rt, ch))
    after = np.asarray(logit(w, th_p, rt, perm[ch.astype(int)].astype(float)))
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)
    assert np.std(before) > 0.1  # the weights do something

    # continuous where two other accumulators' drifts cross, though their start points differ
    th = np.array([[1.0 - 1e-5, 1.0, 0.4, 2.0, 0.2, 0.7, 0.5, 0.2], [1.0 + 1e-5, 1.0, 0.4, 2.0, 0.2, 0.7, 0.5, 0.2]])
    across = np.asarray(logit(w, th, np.array([0.9, 0.9]), np.array([2.0, 2.0])))
    assert abs(across[1] - across[0]) < 1e-3, across


def test_race_head_matches_ssm_simulators_race_when_no_accumulator_starts_near_zero():
    """The race head's convention is ssm-simulators': accumulator i starts at a z, is absorbed at
    a, drift v_i, unit noise. Away from the reflecting floor at 0 the initial network's density
    (exp of the logit less log sqrt(2 pi), which G = 0 leaves alone) is the simulator's."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import ssms

    from hssm_nre.architecture import JNP_OPS, init_weights, logit_fn
    from hssm_nre.config import model_spec

    spec = model_spec("race_no_bias_3").with_features("race")
    w = tree_map(jnp.asarray, init_weights(spec, (8,), (8,), seed=0))
    theta = [2.0, 1.0, 0.5, 2.0, 0.3, 0.2]
    out = ssms.Simulator("race_no_bias_3").simulate(
        {p: np.array([x]) for p, x in zip(spec.params, theta)},
        n_samples=50_000, delta_t=0.001, max_t=20, return_option="minimal", random_state=3,
    )
    rt, ch = np.asarray(out["rts"]).ravel(), np.asarray(out["choices"]).ravel()
    u = np.linspace(1e-4, 15.0, 150_001)
    logit_of = jax.jit(lambda th_, rt_, ch_: logit_fn(spec, w, th_, rt_, ch_, JNP_OPS()))  # one program
    for c in range(3):
        logit = logit_of(jnp.asarray(np.tile(theta, (len(u), 1)), jnp.float32),
                         jnp.asarray(u + 0.2, jnp.float32), jnp.full(len(u), float(c)))
        dens = np.exp(np.asarray(logit, float) - 0.5 * np.log(2 * np.pi))
        p = np.trapezoid(dens, u)
        assert abs(p - np.mean(ch == c)) < 0.01, (c, p, np.mean(ch == c))
        assert abs(np.trapezoid(dens * u, u) / p - np.mean(rt[ch == c] - 0.2)) < 0.03


@pytest.mark.slow  # every race-like model ssm-simulators lists; CI runs it
def test_race_features_are_finite_with_finite_gradients_for_every_race_like_model():
    """Every model race_layout accepts (races and LCAs, 2-4 choices, with and without start
    points, angle boundaries) gets finite logits and gradients over its whole box, including
    the box's corners and rts just past t and far into the tail."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from hssm_nre.architecture import JNP_OPS, init_weights, logit_fn
    from hssm_nre.config import available_models, model_spec

    from hssm_nre.config import race_layout

    rng = np.random.default_rng(0)
    names, layouts, sizes = [], set(), set()
    for name in available_models():
        try:
            spec = model_spec(name).with_features("race")
        except Exception:
            continue
        names.append(name)
        n, zs, extras = race_layout(spec.params, spec.choices)
        layout = (min(len(zs), 2), extras)  # start points: none, shared, one per accumulator
        if layout in layouts and n in sizes:  # every layout and every number of choices once
            continue
        layouts.add(layout)
        sizes.add(n)
        w = tree_map(jnp.asarray, init_weights(spec, (16,), (8,), seed=0))
        lo, hi = np.asarray(spec.lower), np.asarray(spec.upper)
        theta = np.concatenate([rng.uniform(lo, hi, (40, spec.n_params)), rng.choice([0.0, 1.0], (24, spec.n_params))])
        theta[40:] = lo + theta[40:] * (hi - lo)  # corners
        t = theta[:, spec.params.index("t")]
        rt = t + np.concatenate([rng.uniform(1e-3, 5.0, 40), np.tile([1e-4, 19.0], 12)])
        ch = rng.integers(0, len(spec.choices), len(rt)).astype(float)

        def total(th, spec=spec, w=w, rt=rt, ch=ch):
            return jnp.sum(logit_fn(spec, w, th, jnp.asarray(rt, jnp.float32), jnp.asarray(ch, jnp.float32), JNP_OPS()))

        val, grad = jax.value_and_grad(total)(jnp.asarray(theta, jnp.float32))
        assert np.isfinite(float(val)), name
        assert np.all(np.isfinite(np.asarray(grad))), name
    assert {"race_no_bias_3", "race_4", "lca_3", "race_no_z_angle_2"} <= set(names)


def _inside_support(spec, n, rng):
    """n (theta, rt, choice) over the box of a DDM-like model, with rt above t (params v, a, z, t, ...)."""
    theta = rng.uniform(spec.lower, spec.upper, size=(n, spec.n_params))
    return theta, theta[:, 3] + rng.uniform(0.01, 3.0, size=n), rng.choice([-1.0, 1.0], size=n)


def test_ddm_sdv_scaling_head_is_the_single_boundary_density_mixed_over_drift(x64):
    """ddm_sdv's DDM features: at initialisation the logit is the Wald density mixed over
    drift ~ Normal(v, sv), D / sqrt(2 pi u^3 (1 + sv^2 u)) exp(-(D - v u)^2 / 2u(1 + sv^2 u))
    (D the distance to the boundary reached), up to one constant for every theta and x;
    it reduces to the DDM's head as sv -> 0."""
    import numpy as np

    from hssm_nre.architecture import JNP_OPS, init_weights, logit_fn
    from hssm_nre.config import model_spec

    spec = model_spec("ddm_sdv")
    assert spec.features == "scaling"
    w = init_weights(spec, (16, 16), (8,), seed=0)
    rng = np.random.default_rng(3)
    theta, rt, choice = _inside_support(spec, 50, rng)
    v, a, z, _, sv = theta.T
    u = rt - theta[:, 3]
    dist = np.where(choice > 0, 2 * a * (1 - z), 2 * a * z)  # boundaries at +-a, start -a + 2 a z
    drift = choice * v  # towards the boundary reached
    var = 1 + sv**2 * u
    expected = (np.log(dist) - 0.5 * np.log(2 * np.pi * u**3 * var)
                - (dist - drift * u) ** 2 / (2 * u * var))
    got = np.asarray(logit_fn(spec, w, theta, rt, choice, JNP_OPS()))
    np.testing.assert_allclose(got - expected, np.full(50, (got - expected)[0]), atol=1e-9)
    ddm = model_spec("ddm")
    w["f"]["out"]["W"] = rng.normal(size=w["f"]["out"]["W"].shape)  # the MLP counts too
    f_ddm = {"hidden": [{"W": w["f"]["hidden"][0]["W"][:5], "b": w["f"]["hidden"][0]["b"]}, *w["f"]["hidden"][1:]],
             "out": w["f"]["out"]}
    w_ddm = dict(w, head={"W": w["head"]["W"][:5]}, f=f_ddm)
    theta0 = theta.copy()
    theta0[:, 4] = 0.0
    np.testing.assert_allclose(np.asarray(logit_fn(spec, w, theta0, rt, choice, JNP_OPS())),
                               np.asarray(logit_fn(ddm, w_ddm, theta0[:, :4], rt, choice, JNP_OPS())), atol=1e-9)


def test_angle_scaling_head_is_the_wald_density_with_the_collapse_added_to_the_drift(x64):
    """angle with the DDM features: boundaries +-(a - u tan(theta)), so crossing the one the
    choice names is crossing a constant boundary with drift (choice * v + tan(theta)); at
    initialisation the logit is that Wald density up to one constant for every theta and x."""
    import numpy as np

    from hssm_nre.architecture import JNP_OPS, init_weights, logit_fn
    from hssm_nre.config import model_spec

    spec = model_spec("angle").with_features("scaling")
    w = init_weights(spec, (16, 16), (8,), seed=0)
    rng = np.random.default_rng(4)
    theta, rt, choice = _inside_support(spec, 50, rng)
    v, a, z, _, angle = theta.T
    u = rt - theta[:, 3]
    dist = np.where(choice > 0, 2 * a * (1 - z), 2 * a * z)
    drift = choice * v + np.tan(angle)
    expected = np.log(dist) - 0.5 * np.log(2 * np.pi * u**3) - (dist - drift * u) ** 2 / (2 * u)
    got = np.asarray(logit_fn(spec, w, theta, rt, choice, JNP_OPS()))
    np.testing.assert_allclose(got - expected, np.full(50, (got - expected)[0]), atol=1e-9)


def test_weibull_scaling_features_start_at_the_same_durbin_density_with_one_parameter_fewer(x64):
    """weibull with the DDM features: in the scaled units (boundaries +-1, s = u / a^2, drift v a)
    the boundary is exp(-(s / beta')^alpha) with beta' = beta / a^2. At initialisation the logit is
    Durbin's density, as with the bound features, for every theta and x (the Jacobian -2 log a
    included); and the MLP's input is the same for (v, a, beta, u) and (v c, a / c, beta / c^2, u / c^2)."""
    import numpy as np

    from hssm_nre.architecture import JNP_OPS, features, init_weights, logit_fn
    from hssm_nre.config import model_spec

    spec = model_spec("weibull").with_features("scaling")
    bound = model_spec("weibull").with_features("bound")
    rng = np.random.default_rng(7)
    theta, rt, choice = _inside_support(spec, 300, rng)
    got = np.asarray(logit_fn(spec, init_weights(spec, (16, 16), (8,), seed=0), theta, rt, choice, JNP_OPS()))
    want = np.asarray(logit_fn(bound, init_weights(bound, (16, 16), (8,), seed=0), theta, rt, choice, JNP_OPS()))
    np.testing.assert_allclose(got, want, atol=1e-8)

    c = 1.3
    scaled = theta.copy()
    scaled[:, 0] *= c
    scaled[:, 1] /= c
    scaled[:, 5] /= c**2
    scaled[:, 3] = 0.0
    theta[:, 3] = 0.0
    u = rt - rt.min() + 0.05
    mlp_a = np.asarray(features(spec, theta, u, choice, JNP_OPS())[0])
    mlp_b = np.asarray(features(spec, scaled, u / c**2, choice, JNP_OPS())[0])
    assert mlp_a.shape == (300, 10)
    np.testing.assert_allclose(mlp_a, mlp_b, atol=1e-9)


@pytest.mark.parametrize("name", ["ddm_sdv", "angle", "weibull"])
def test_mirror_symmetry_is_exact_for_the_ddm_relatives(name, x64):
    """(v, z, choice) -> (-v, 1 - z, -choice) leaves ddm_sdv's and angle's likelihood unchanged
    (sv and the collapse are symmetric); the DDM features build that in for any weights."""
    import numpy as np

    from hssm_nre.architecture import JNP_OPS, init_weights, logit_fn
    from hssm_nre.config import model_spec

    spec = model_spec(name).with_features("scaling")
    rng = np.random.default_rng(5)
    w = init_weights(spec, (16, 16), (8,), seed=1)
    w["f"]["out"]["W"] = rng.normal(size=w["f"]["out"]["W"].shape)
    w["g"]["out"]["W"] = rng.normal(size=w["g"]["out"]["W"].shape)
    theta, rt, ch = _inside_support(spec, 200, rng)
    mirrored = theta.copy()
    mirrored[:, 0] *= -1
    mirrored[:, 2] = 1 - mirrored[:, 2]
    base = np.r_[[0.0, 1.0, 0.5, 0.0], spec.lower[4:]]  # its own mirror image
    f = lambda th, c: np.asarray(logit_fn(spec, w, th, rt, c, JNP_OPS()))  # noqa: E731
    # the evidence head G(x) depends on the choice: compare differences over theta
    np.testing.assert_allclose(f(theta, ch) - f(np.broadcast_to(base, theta.shape), ch),
                               f(mirrored, -ch) - f(np.broadcast_to(base, theta.shape), -ch), atol=1e-9)
