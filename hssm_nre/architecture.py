"""The network's forward pass, written once for training (keras.ops) and inference (jax.numpy).

The single-trial logit is the NRE-C classifier output, whose optimum is
log r(theta, x) = log p(x | theta) - log p(x). It is built as

    logit(theta, x) = F(theta, x) + G(x)                  where rt > t (u = rt - t > 0)
                    = min(edge, FLOOR) + SLOPE * u        where rt <= t (zero likelihood)

  (edge: the network's value at the support edge, u -> 0+)

* ``G(x)`` depends on the data only. At the optimum it absorbs -log p(x), so
  ``F`` is free to approximate log p(x | theta) itself.
* The region rt <= t has zero likelihood, known exactly: it is handled outside
  the network, and the network only ever sees u = rt - t > 0 (one input fewer,
  no cliff to approximate). Below the support we return a finite value, capped
  at the network's value at the support edge, with a slope in u, so NUTS has a
  gradient pushing ``t`` back below the data and no reason to stay above it.
* Smooth activations (SiLU) everywhere: NUTS needs well-behaved gradients.

Feature sets (``ModelSpec.features``):

``scaling`` (the DDM; ddm_sdv, angle and weibull, see below): the first-passage density obeys
p(u | v, a, z) = a^-2 p1(u / a^2 | v a, z), and mirroring the process maps
(v, z, choice) -> (-v, 1 - z, -choice). So F is a function of the
dimensionless time s = u / a^2, v' = choice * v * a and z' (z for the upper
boundary, 1 - z for the lower) plus the exact Jacobian -2 log a. A linear
"asymptote" head over [log d, log s, d^2 / s, v' d, v'^2 s] (d = 1 - z', the
scaled distance to the absorbing boundary) is initialised at the exact
single-boundary (Wald) density d / sqrt(2 pi s^3) exp(-(d - v' s)^2 / 2s) in
ssm-simulators' convention (boundaries at +-a); the MLP learns the correction
from the other boundary, which is smooth and bounded. Two relatives keep all of this:
ddm_sdv, whose per-trial drift ~ Normal(v, sv) scales like v (w = sv a) and whose
single-boundary density mixed over that drift is closed-form (the head gains
log(1 + w^2 s) and its exponent terms are divided by 1 + w^2 s); and angle, whose
boundaries +-(a - u tan(theta)) make crossing the one named a constant-boundary crossing
with drift v' + a tan(theta) (the head is unchanged, v' moves). Both give the MLP their
extra dimensionless parameter as one more input. weibull keeps the law too: its boundaries
+-a exp(-(u / beta)^alpha) are +-exp(-(s / beta')^alpha) in the scaled units, beta' = beta / a^2,
so the MLP gets alpha and beta'; its head is the bound features' Durbin density (below) in the
scaled units, and it trains, being only leading-order.

race (race-like models: one accumulator per choice, see :func:`hssm_nre.config.race_layout`):
accumulator i starts at a z_i and is absorbed at a with drift v_i and unit noise, so the
choice names the accumulator that finished first. F = MLP([the chosen accumulator's v (and z),
a, shared z, extra parameters, the other accumulators' v (and z) and Wald log-survivals
as sorted lists, log u, c / u, log(D^2 / u), their summed log-survival]) + a linear head over
[log D, log u, D^2 / u, v D, v^2 u, sum of the others' log S] (D = a (1 - z) for the chosen
one) initialised at the race of independent Wiener accumulators: the chosen one's Wald
density times the others' survivals. No one-hot choice: relabelling the accumulators
relabels F exactly (not the normaliser, a function of theta). ssm-simulators reflects accumulators at 0 (and the LCA
couples them), which the MLP learns as a correction.

bound (collapsing boundaries, ``ModelSpec.features == "bound"``: weibull_cdf and angle): the generic
features plus a linear head over [log M, log u, D^2 / u, v' D, v'^2 u] initialised at Durbin's
first-order first-passage density of the boundary the choice names,
(D(u) / u - b'(u)) / sqrt(2 pi u) exp(-(D(u) - v' u)^2 / 2u), with b(u) the boundary's height at
time u, D(u) its distance from the start point (mirrored for the lower one, v' = +-v) and
M = D(u) - u b'(u), softly floored at 0. Exact for a single linear boundary (the Wald density with
drift v' + tan theta; the MLP learns the other boundary's correction), the leading term near u = 0
for a curved one; the MLP also sees log(M^2 / u), b(u) / a and the scaled standardised distance.

generic (every other model): F = MLP([theta scaled to [-1, 1], log u, c / u,
one-hot choice]) + a linear head over the same features; u = rt - t when the
model has a non-decision time ``t`` and rt otherwise.

Normaliser (optional, fitted after training by :mod:`hssm_nre.normalisation`): a small
MLP ``N(theta)`` over theta scaled to [-1, 1], stored beside the network's weights
under the key ``"normaliser"`` and subtracted from the logit. It approximates log Z(theta),
Z(theta) = integral of p_hat(x | theta) dx, so that the likelihood integrates to one for
every theta. A theta-dependent mass error is a bias in every posterior (the score's
expectation under the data is grad log Z, to first order), which more data makes worse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .config import ModelSpec, collapsing_boundary, race_layout, shifted_edge

__all__ = [
    "FLOOR",
    "layer_shapes",
    "init_weights",
    "logit_fn",
    "log_normaliser",
    "evidence_head",
    "network_weights",
    "normaliser_weights",
    "normaliser_shapes",
    "scaled_theta",
    "NORMALISER_KEY",
    "mlp",
    "flatten",
    "unflatten",
    "tree_map",
    "JNP_OPS",
    "KERAS_OPS",
]

#: log-ratio returned where rt <= t (zero likelihood), before the slope term.
FLOOR = -100.0
#: Slope in u = rt - t below the support (u < 0 makes the value lower).
SLOPE = 100.0
U_MIN = 1e-4  # smallest u (seconds) fed to the generic features
S_MIN = 1e-4  # smallest dimensionless time fed to the DDM features
Z_EPS = 1e-3


class _Ops:
    """The handful of array functions the forward pass needs, per backend."""

    def __init__(
        self, xp: Any, silu: Any, matmul: Any, cast: Any, factory: Any = None, log_ndtr: Any = None
    ):
        self.xp = xp
        self.silu = silu
        self.matmul = matmul
        self.cast = cast
        self.log_ndtr = log_ndtr
        self._factory = factory

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "xp":
            raise AttributeError(name)
        return getattr(self.xp, name)

    def __reduce__(self):
        # Pickled likelihoods (HSSM save/load, PyMC's numba linker) rebuild the
        # namespace from its factory instead of pickling modules.
        return (self._factory, ())


def _jnp_cast(x, dtype):
    import jax.numpy as jnp

    return jnp.asarray(x, dtype)


def _jnp_ops() -> _Ops:
    import jax
    import jax.numpy as jnp

    return _Ops(jnp, jax.nn.silu, jnp.matmul, _jnp_cast, _jnp_ops, jax.scipy.special.log_ndtr)


def _keras_ops() -> _Ops:
    import jax
    import keras

    # keras.ops has no log_ndtr; Keras runs on the JAX backend here (network.ensure_keras_backend),
    # so its tensors are JAX arrays and JAX's stable log Phi applies to them directly.
    return _Ops(
        keras.ops, keras.ops.silu, keras.ops.matmul, keras.ops.cast, _keras_ops, jax.scipy.special.log_ndtr
    )


class _Lazy:
    def __init__(self, factory):
        self._factory = factory
        self._ops = None

    def __call__(self) -> _Ops:
        if self._ops is None:
            self._ops = self._factory()
        return self._ops


JNP_OPS = _Lazy(_jnp_ops)
KERAS_OPS = _Lazy(_keras_ops)


# ----------------------------------------------------------------------------- features
def _to_unit_box(x, lo, hi):
    """``x`` mapped from [lo, hi] to [-1, 1]: the networks' parameter inputs."""
    return 2.0 * (x - lo) / (hi - lo) - 1.0


def support_edge(spec: ModelSpec, theta):
    """Lowest possible rt for parameters ``theta`` (..., n_params): t, or t - scale * st."""
    edge = theta[..., spec.params.index("t")]
    if spec.edge_shift is not None:
        param, scale = spec.edge_shift
        edge = shifted_edge(edge, theta[..., spec.params.index(param)], scale)
    return edge


def _scaled_weibull(spec: ModelSpec) -> bool:
    """Whether ``spec`` is a weibull-boundary model with the DDM (scaling) features."""
    return spec.features == "scaling" and collapsing_boundary(spec.name) == "weibull_cdf"


def head_is_exact(spec: ModelSpec) -> bool:
    """Whether the linear head starts at the exact single-boundary density (the DDM and its
    scaling relatives), so training leaves it fixed; a leading-order head (Durbin's) trains."""
    return spec.features == "scaling" and not _scaled_weibull(spec)


def n_features(spec: ModelSpec) -> tuple[int, int, int]:
    """Widths of (MLP input, linear-head input, evidence input)."""
    n_c = len(spec.choices)
    if spec.features == "scaling":
        if _scaled_weibull(spec):
            return 5 + 2 + 3, N_BOUND_HEAD, 1 + n_c
        if "sv" in spec.params:
            return 6, 6, 1 + n_c
        return (6 if "theta" in spec.params else 5), 5, 1 + n_c
    if spec.features == "race":
        n, zs, extras = race_layout(spec.params, spec.choices)
        # chosen (v, z if per accumulator), a, shared z, extras; others (v, z if per
        # accumulator, log survival); log u, c / u, log(D^2 / u), the others' summed log survival
        per_acc = 1 + (len(zs) > 1)
        n_mlp = per_acc + 1 + (len(zs) == 1) + len(extras) + (n - 1) * (per_acc + 1) + 4
        return n_mlp, N_RACE_HEAD, 1 + n_c
    n_theta = spec.n_params - (1 if spec.shift else 0)
    n = n_theta + 2 + n_c
    if spec.features == "edge":
        return n + 1, 3, 1 + n_c
    if spec.features == "bound":
        return n + 3, N_BOUND_HEAD, 1 + n_c
    return n, n, 1 + n_c


def features(spec: ModelSpec, theta, rt, choice, ops: _Ops):
    """Return (mlp_in, lin_in, ev_in, jacobian, u) for batched inputs.

    theta: (..., n_params); rt, choice: (...,). All float.
    """
    xp = ops
    dtype = theta.dtype
    lower = ops.cast(np.asarray(spec.lower), dtype)
    upper = ops.cast(np.asarray(spec.upper), dtype)
    ev_in = _evidence_input(spec, rt, choice, ops)
    onehot = ev_in[..., 1:]

    u = rt - support_edge(spec, theta) if spec.shift else rt

    if spec.features == "scaling":
        i_v, i_a, i_z = (spec.params.index(p) for p in ("v", "a", "z"))
        v, a, z = theta[..., i_v], theta[..., i_a], theta[..., i_z]
        c = 2.0 * onehot[..., -1] - 1.0  # +1 for the upper boundary (choice 1), -1 otherwise
        vp = c * v * a
        extra = []  # the MLP's input for a relative's extra dimensionless parameter
        if "theta" in spec.params:
            # angle: boundaries +-(a - u tan(theta)). Crossing the one the choice names is
            # crossing a constant boundary for the process plus u tan(theta): the drift towards
            # it grows by tan(theta), a tan(theta) in scaled units. The Wald head below is then
            # the exact single-boundary density again, and the law still scales.
            w_theta = xp.tan(theta[..., spec.params.index("theta")]) * a
            vp = vp + w_theta
            extra = [w_theta / 5.0]
        zp = xp.clip(xp.where(c > 0, z, 1.0 - z), Z_EPS, 1.0 - Z_EPS)
        s = xp.maximum(u, S_MIN) / (a * a)
        log_s = xp.log(s)
        d = 1.0 - zp  # scaled distance to the absorbing boundary (units of a, halved)
        mlp = [vp / 5.0, 2.0 * zp - 1.0, log_s / 3.0, s / 20.0, xp.sqrt(s) / 3.0] + extra
        if _scaled_weibull(spec):
            # weibull: boundaries +-a exp(-(u / beta)^alpha). In the scaled units (boundaries at
            # +-1, time s = u / a^2, drift v a) they are +-exp(-(s / beta')^alpha), beta' = beta / a^2:
            # one parameter fewer, the same law. Durbin's first-order density of the boundary the
            # choice names (exact as s -> 0) is the head, trained: it is not exact later on.
            alpha = theta[..., spec.params.index("alpha")]
            beta_s = theta[..., spec.params.index("beta")] / (a * a)
            power = xp.exp(alpha * xp.log(s / beta_s))  # (s / beta')^alpha = (u / beta)^alpha
            b = xp.exp(-power)
            dist = b - 1.0 + 2.0 * d  # from the start point -1 + 2 z' (mirrored) to +b(s)
            lin_in, bound_extra = _durbin_features(dist, b * alpha * power, b, vp, s, 1.0, ops)
            shape = [alpha / 2.5 - 1.0, xp.log(beta_s) / 3.0]
            mlp_in = xp.concatenate([xp.stack(mlp + shape, -1), bound_extra], axis=-1)
            return mlp_in, lin_in, ev_in, -2.0 * xp.log(a), u
        if "sv" in spec.params:
            # drift ~ Normal(v, sv) per trial scales like v: w = sv * a. The single-boundary
            # density mixed over that drift stays closed-form (see init_weights); with
            # k = 1 / (1 + w^2 s) its exponent's terms are the DDM's times k.
            w = theta[..., spec.params.index("sv")] * a
            w2s = w * w * s
            k = 1.0 / (1.0 + w2s)
            mlp_in = xp.stack(mlp + [w / 5.0], -1)
            lin_in = xp.stack(
                [xp.log(d), log_s, k * d * d / s, k * vp * d, k * vp * vp * s, xp.log1p(w2s)], -1
            )
        else:
            mlp_in = xp.stack(mlp, -1)
            lin_in = xp.stack([xp.log(d), log_s, d * d / s, vp * d, vp * vp * s], -1)
        jac = -2.0 * xp.log(a)
        return mlp_in, lin_in, ev_in, jac, u

    if spec.features == "race":
        return _race_features(spec, theta, u, onehot, ev_in, ops)

    keep = [i for i, p in enumerate(spec.params) if not (spec.shift and p == "t")]
    th = xp.stack([theta[..., i] for i in keep], axis=-1)
    th = _to_unit_box(th, lower[np.asarray(keep)], upper[np.asarray(keep)])
    uc = xp.maximum(u, U_MIN)
    x_in = xp.stack([xp.log(uc) / 3.0, 0.01 / uc], axis=-1)
    mlp_in = xp.concatenate([th, x_in, onehot], axis=-1)
    if spec.features == "edge":
        # distance from the start point (-a + 2 a z) to the boundary the choice names (+-a)
        a, z = theta[..., spec.params.index("a")], theta[..., spec.params.index("z")]
        upper = onehot[..., -1]
        dist = 2.0 * a * (upper * (1.0 - z) + (1.0 - upper) * z)
        d2u = dist * dist / uc
        lin_in = xp.stack([d2u, xp.log(uc), xp.log(dist)], axis=-1)
        mlp_in = xp.concatenate([mlp_in, (xp.log(d2u) / 5.0)[..., None]], axis=-1)
        return mlp_in, lin_in, ev_in, ops.cast(0.0, dtype) * u, u
    if spec.features == "bound":
        lin_in, extra = _bound_features(spec, theta, uc, onehot, ops)
        return xp.concatenate([mlp_in, extra], axis=-1), lin_in, ev_in, ops.cast(0.0, dtype) * u, u
    return mlp_in, mlp_in, ev_in, ops.cast(0.0, dtype) * u, u


#: Width of the collapsing-bound head: [log M, log u, D^2 / u, v' D, v'^2 u].
N_BOUND_HEAD = 5
#: Its starting value: Durbin's first-order density, log M - 1.5 log u - (D - v' u)^2 / 2u
#: (less log sqrt(2 pi)), with M = D(u) - u b'(u).
BOUND_HEAD_INIT = (1.0, -1.5, -0.5, 1.0, -0.5)
#: Softness (in units of the boundary) of the floor that keeps M positive where the boundary
#: has collapsed past the start point.
M_SOFT = 0.02


def _bound_features(spec: ModelSpec, theta, u, onehot, ops: _Ops):
    """The collapsing-bound features (``ModelSpec.features == "bound"``) for u > 0: the linear head's
    input and the MLP's extra inputs.

    Boundaries at +-b(u), start y0 = -a + 2 a z (ssm-simulators' ``ddm_flexbound``). Crossing the
    boundary the choice names is, after mirroring the lower one, a crossing of b(u) from distance
    D(u) = b(u) -+ y0 with drift v' = +-v. Durbin's first-order approximation of its density,
    (D(u) / u - b'(u)) phi(D(u) - v' u; u), is exact for one linear boundary (angle: the Wald
    density) and the leading term near u = 0 for smooth ones; the other boundary is the MLP's.
    """
    xp = ops
    p = spec.params
    v, a, z = theta[..., p.index("v")], theta[..., p.index("a")], theta[..., p.index("z")]
    boundary = collapsing_boundary(spec.name)
    if boundary == "weibull_cdf":
        alpha, beta = theta[..., p.index("alpha")], theta[..., p.index("beta")]
        power = xp.exp(alpha * xp.log(u / beta))  # (u / beta)^alpha
        b = a * xp.exp(-power)
        minus_u_db = b * alpha * power  # -u b'(u)
    elif boundary == "angle":
        slope = xp.tan(theta[..., p.index("theta")])
        b = a - u * slope
        minus_u_db = u * slope
    else:  # ModelSpec refuses the bound features for any other boundary
        raise ValueError(f"{spec.name!r}: no collapsing-boundary features for boundary {boundary!r}.")
    upper = onehot[..., -1]
    c = 2.0 * upper - 1.0
    y0 = a * (2.0 * z - 1.0)
    dist = b - c * y0  # signed: negative once the boundary has collapsed past the start point
    return _durbin_features(dist, minus_u_db, b / a, c * v, u, a, ops)


def _durbin_features(dist, minus_u_db, b_rel, vp, u, unit, ops: _Ops):
    """Durbin's head input [log M, log u, D^2 / u, v' D, v'^2 u] and the MLP's extra inputs
    [log(M^2 / u) / 5, b / a, the scaled standardised distance] for the boundary the choice names:
    D its signed distance from the start point, -u b'(u), b / a, the drift towards it, all in units
    where the boundary starts at ``unit`` (a; 1 in the DDM's scaled units)."""
    xp = ops
    m = dist + minus_u_db
    m = M_SOFT * unit * xp.logaddexp(0.0, m / (M_SOFT * unit))  # softly floored at 0
    lin_in = xp.stack([xp.log(m), xp.log(u), dist * dist / u, vp * dist, vp * vp * u], axis=-1)
    extra = xp.stack(
        [(2.0 * xp.log(m) - xp.log(u)) / 5.0, b_rel, xp.tanh((dist - vp * u) / (3.0 * xp.sqrt(u)))], axis=-1
    )
    return lin_in, extra


#: Width of the race features' linear head: [log D, log u, D^2 / u, v D, v^2 u, sum log S].
N_RACE_HEAD = 6
#: Its starting value: the chosen accumulator's Wald log-density
#: log D - 1.5 log u - D^2 / 2u + v D - v^2 u / 2 (less log sqrt(2 pi), a constant)
#: plus the other accumulators' Wald log-survivals.
RACE_HEAD_INIT = (1.0, -1.5, -0.5, 1.0, -0.5, 1.0)
#: Smallest distance to the boundary fed to the race features. Every race box keeps a (1 - z) at 0.1 or
#: more; below about 0.05 the float32 survival loses accuracy to cancellation when v u is large.
D_MIN = 0.05


def wald_log_survival(dist, v, u, ops: _Ops):
    """log P(T > u) for the first passage of a unit-variance Wiener process with drift ``v``
    to a boundary ``dist`` away (no other boundary):
    S(u) = Phi((D - v u) / sqrt u) - exp(2 v D) Phi(-(D + v u) / sqrt u). Stable in log space."""
    su = ops.sqrt(u)
    l_a = ops.log_ndtr((dist - v * u) / su)
    l_b = 2.0 * v * dist + ops.log_ndtr(-(dist + v * u) / su)
    # S > 0 exactly; the clip keeps float rounding from taking log1p to -inf
    return l_a + ops.log1p(-ops.minimum(ops.exp(l_b - l_a), 1.0 - 1e-6))


def _race_features(spec: ModelSpec, theta, u, onehot, ev_in, ops: _Ops):
    """The race features (``ModelSpec.features == "race"``): chosen accumulator, the others sorted by
    drift, and the independent-race head. Returns what :func:`features` returns."""
    xp = ops
    n, zs, extras = race_layout(spec.params, spec.choices)
    idx = {p: i for i, p in enumerate(spec.params)}
    box = spec.bounds

    def scaled(x, p):
        return _to_unit_box(x, *box[p])

    v = xp.stack([theta[..., idx[f"v{i}"]] for i in range(n)], axis=-1)  # (..., n)
    a = theta[..., idx["a"]]
    if len(zs) > 1:
        z = xp.stack([theta[..., idx[p]] for p in zs], axis=-1)
    elif zs:
        z = theta[..., idx[zs[0]]][..., None] + 0.0 * v
    else:
        z = 0.0 * v
    dist = xp.maximum(a[..., None] * (1.0 - z), D_MIN)  # start a z to the boundary a
    uc = xp.maximum(u, U_MIN)
    log_surv = wald_log_survival(dist, v, uc[..., None], ops)  # (..., n)
    # (d_c floored too: a choice outside 0..n-1 has an all-zero one-hot)
    v_c, d_c = xp.sum(onehot * v, axis=-1), xp.maximum(xp.sum(onehot * dist, axis=-1), D_MIN)
    others_log_surv = xp.sum((1.0 - onehot) * log_surv, axis=-1)
    lin_in = xp.stack(
        [xp.log(d_c), xp.log(uc), d_c * d_c / uc, v_c * d_c, v_c * v_c * uc, others_log_surv], axis=-1
    )
    # The others as sorted lists (the chosen one pushed past the end, then dropped): functions of
    # the unordered set of other accumulators that stay continuous when two of them swap places.
    # Drifts and start points ascending, log-survivals descending; with one start point for all,
    # a faster drift means a lower survival, so the three lists run in the same accumulator order.
    big = ops.cast(1e6, v.dtype)

    def others_sorted(q, descending=False):
        sign = -1.0 if descending else 1.0
        return sign * xp.sort(sign * q + big * onehot, axis=-1)[..., : n - 1]

    cols = [scaled(v_c, "v0")[..., None]]
    if len(zs) > 1:
        cols.append(scaled(xp.sum(onehot * z, axis=-1), "z0")[..., None])
    cols.append(scaled(a, "a")[..., None])
    if len(zs) == 1:
        cols.append(scaled(theta[..., idx[zs[0]]], zs[0])[..., None])
    cols += [scaled(theta[..., idx[p]], p)[..., None] for p in extras]
    cols.append(scaled(others_sorted(v), "v0"))
    if len(zs) > 1:
        cols.append(scaled(others_sorted(z), "z0"))
    cols.append(others_sorted(log_surv, descending=True) / 10.0)
    d2u = d_c * d_c / uc
    cols.append(xp.stack([xp.log(uc) / 3.0, 0.01 / uc, xp.log(d2u) / 5.0, others_log_surv / 10.0], axis=-1))
    mlp_in = xp.concatenate(cols, axis=-1)
    return mlp_in, lin_in, ev_in, ops.cast(0.0, theta.dtype) * u, u


# ------------------------------------------------------------------------------ weights
# The weights are a nested pytree (dicts and lists of float32 arrays):
#
#     {"f":    MLP,            # F's multilayer perceptron
#      "head": {"W": (n, 1)},  # F's linear head (the exact asymptote or leading term)
#      "g":    MLP,            # G(x), the data-only term
#      "normaliser": MLP}      # optional: log Z_hat(theta), see log_normaliser
#
#     MLP = {"hidden": [{"W": (n_in, width), "b": (width,)}, ...], "out": {"W": (width, 1), "b": (1,)}}
#
# Stored (hssm_nre.cache) as one array per leaf under its path, "f/hidden/0/W".


def mlp_shapes(n_in: int, widths) -> dict[str, Any]:
    """Shapes of an MLP's weights: ``n_in`` inputs, hidden ``widths``, one output."""
    hidden, prev = [], n_in
    for w in widths:
        hidden.append({"W": (prev, w), "b": (w,)})
        prev = w
    return {"hidden": hidden, "out": {"W": (prev, 1), "b": (1,)}}


def layer_shapes(spec: ModelSpec, widths, evidence_widths) -> dict[str, Any]:
    """The network's weight shapes, as the weights' pytree with shape tuples for leaves."""
    n_mlp, n_lin, n_ev = n_features(spec)
    return {"f": mlp_shapes(n_mlp, widths), "head": {"W": (n_lin, 1)}, "g": mlp_shapes(n_ev, evidence_widths)}


def head_init(spec: ModelSpec, n_lin: int) -> np.ndarray:
    """The linear head's initial (exact or leading-order) coefficients, shape (n_lin, 1)."""
    w = np.zeros((n_lin, 1), np.float32)
    if _scaled_weibull(spec):
        w[:, 0] = BOUND_HEAD_INIT  # Durbin's density in the scaled units
    elif spec.features == "scaling":
        # Wald density at the absorbing boundary, boundaries at +-1, start at
        # -1 + 2 z': distance D = 2 d; log f = log D - 1.5 log s - D^2/2s
        # + v' D - v'^2 s / 2 - log sqrt(2 pi).
        w[:5, 0] = [1.0, -1.5, -2.0, 2.0, -0.5]
        if n_lin == 6:
            # ddm_sdv: the Wald density mixed over v' ~ Normal(v', w^2),
            # D / sqrt(2 pi s^3 (1 + w^2 s)) exp(-(D - v' s)^2 / 2 s (1 + w^2 s)):
            # the exponent's terms times k = 1 / (1 + w^2 s), and -0.5 log(1 + w^2 s).
            w[5, 0] = -0.5
    elif spec.features == "edge":
        # the Wald density's leading terms: -D^2 / 2u - 1.5 log u + log D
        w[:, 0] = [-0.5, -1.5, 1.0]
    elif spec.features == "race":
        w[:, 0] = RACE_HEAD_INIT
    elif spec.features == "bound":
        w[:, 0] = BOUND_HEAD_INIT
    return w


def init_mlp(shapes: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Glorot-uniform hidden layers, zero biases and output layer."""
    return {
        "hidden": [{"W": glorot(layer["W"], rng), "b": np.zeros(layer["b"], np.float32)} for layer in shapes["hidden"]],
        "out": {"W": np.zeros(shapes["out"]["W"], np.float32), "b": np.zeros(shapes["out"]["b"], np.float32)},
    }


def init_weights(spec: ModelSpec, widths, evidence_widths, seed: int) -> dict[str, Any]:
    """Glorot-uniform hidden layers, zero output layers, asymptote head at its exact value."""
    rng = np.random.default_rng(seed)
    shapes = layer_shapes(spec, widths, evidence_widths)
    f = init_mlp(shapes["f"], rng)
    return {"f": f, "head": {"W": head_init(spec, shapes["head"]["W"][0])}, "g": init_mlp(shapes["g"], rng)}


def glorot(shape, rng: np.random.Generator) -> np.ndarray:
    """Glorot-uniform float32 weights for a (fan_in, fan_out) layer."""
    lim = math.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-lim, lim, size=shape).astype(np.float32)


def mlp(x, params: Mapping[str, Any], ops: _Ops):
    """An MLP's scalar output (SiLU hidden layers), shape ``x.shape[:-1]``."""
    for layer in params["hidden"]:
        x = ops.silu(ops.matmul(x, layer["W"]) + layer["b"])
    return ops.matmul(x, params["out"]["W"])[..., 0] + params["out"]["b"][0]


#: Key of the optional normaliser MLP in the weights' pytree.
NORMALISER_KEY = "normaliser"


def normaliser_weights(weights: Mapping[str, Any]) -> dict[str, Any] | None:
    """The normaliser's MLP in ``weights`` (None when the network has none)."""
    return weights.get(NORMALISER_KEY)


def network_weights(weights: Mapping[str, Any]) -> dict[str, Any]:
    """``weights`` without the normaliser: the raw ratio network."""
    return {k: v for k, v in weights.items() if k != NORMALISER_KEY}


def normaliser_shapes(n_params: int, widths) -> dict[str, Any]:
    """Shapes of a normaliser MLP over ``n_params`` scaled parameters."""
    return mlp_shapes(n_params, widths)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A pytree of dicts and lists as ``{"a/0/W": leaf}`` (how :mod:`hssm_nre.cache` stores it)."""
    if isinstance(tree, Mapping):
        items = tree.items()
    elif isinstance(tree, (list, tuple)) and not (tree and isinstance(tree[0], int)):
        items = enumerate(tree)
    else:
        return {prefix: tree}
    out: dict[str, Any] = {}
    for k, v in items:
        out.update(flatten(v, f"{prefix}/{k}" if prefix else str(k)))
    return out


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`flatten`: path components that are all digits make lists."""
    root: dict[str, Any] = {}
    for path, leaf in flat.items():
        node = root
        *parents, last = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = leaf

    def listify(node):
        if not isinstance(node, dict):
            return node
        if node and all(k.isdigit() for k in node):
            keys = sorted(node, key=int)
            if keys != [str(i) for i in range(len(keys))]:
                raise ValueError(f"list indices {keys} are not 0..{len(keys) - 1}")
            return [listify(node[k]) for k in keys]
        return {k: listify(v) for k, v in node.items()}

    return listify(root)


def tree_map(fn, tree: Any) -> Any:
    """``fn`` applied to every leaf of a pytree of dicts and lists (no JAX needed)."""
    if isinstance(tree, Mapping):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [tree_map(fn, v) for v in tree]
    return fn(tree)


def scaled_theta(spec: ModelSpec, theta, ops: _Ops):
    """theta mapped from the training box to [-1, 1]."""
    lower = ops.cast(np.asarray(spec.lower), theta.dtype)
    upper = ops.cast(np.asarray(spec.upper), theta.dtype)
    return (2.0 * theta - (lower + upper)) / (upper - lower)


def log_normaliser(spec: ModelSpec, weights: Mapping[str, Any], theta, ops: _Ops):
    """log Z_hat(theta), shape ``theta.shape[:-1]``; 0 when ``weights`` hold no normaliser."""
    nw = weights.get(NORMALISER_KEY)
    if nw is None:
        return 0.0
    return mlp(scaled_theta(spec, theta, ops), nw, ops)


def _evidence_input(spec: ModelSpec, rt, choice, ops: _Ops):
    """[log rt, one-hot choice]: the input of G, the logit's data-only term."""
    onehot = ops.stack([ops.cast(ops.equal(choice, float(c)), rt.dtype) for c in spec.choices], axis=-1)
    return ops.concatenate([ops.log(ops.maximum(rt, 1e-3))[..., None], onehot], axis=-1)


def evidence_head(spec: ModelSpec, weights: Mapping[str, Any], rt, choice, ops: _Ops):
    """G(x), the logit's data-only term (its optimum is -log p(x)); rt, choice: (...,)."""
    return mlp(_evidence_input(spec, rt, choice, ops), weights["g"], ops)


def logit_fn(spec: ModelSpec, weights: Mapping[str, Any], theta, rt, choice, ops: _Ops):
    """Batched single-trial logit (the estimated log-ratio), shape ``theta.shape[:-1]``.

    With a normaliser in ``weights`` (see :func:`log_normaliser`) it is subtracted."""
    mlp_in, lin_in, ev_in, jac, u = features(spec, theta, rt, choice, ops)
    f = mlp(mlp_in, weights["f"], ops) + ops.matmul(lin_in, weights["head"]["W"])[..., 0]
    g = mlp(ev_in, weights["g"], ops)
    inside = f + jac + g
    # Below the support the value is capped by the network's value at the support edge
    # (``inside`` there is evaluated at u clipped to U_MIN / S_MIN), so moving t past a
    # data point never raises that trial's log-likelihood: no local optimum with t above
    # the fastest trials, where a chain started there could stay.
    edge = ops.minimum(inside, FLOOR)
    return ops.where(u > 0, inside, edge + SLOPE * u) - log_normaliser(spec, weights, theta, ops)
