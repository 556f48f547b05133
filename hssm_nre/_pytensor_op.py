"""A PyTensor Op over the JAX likelihood: value and gradient from one evaluation.

``make_logp_op(...)(data, *params)`` returns every trial's log-likelihood (n,) and, as a second
output, its derivative in each parameter (n_params, n), both computed by one jitted JAX call
(one forward and one backward pass of the network). The Op's gradient is built from that
second output, so a PyMC model compiled for NUTS (value and gradient together) evaluates the
network once per step, where an Op whose gradient is a separate VJP Op evaluates it twice.

For JAX-based samplers (numpyro, blackjax, nutpie's JAX backend) the Op is translated to the
same JAX function (``jax_funcify``), so they trace straight through it and differentiate it
with JAX. Parameters may be scalars, length-1 vectors or one value per trial.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["make_logp_op"]


def make_logp_op(make_fn: Callable, n_params: int, name: str = "nre_logp"):
    """The Op for a likelihood with ``n_params`` parameters: ``make_fn(ndims)`` returns the
    pure JAX ``f(data, *params) -> (logp, partials)`` for parameters of ranks ``ndims``
    (:func:`hssm_nre.likelihood.make_value_and_partials_fn`)."""
    return _op_class()(make_fn, n_params, name)


_CLASS = None


def _op_class():
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    import pytensor.tensor as pt
    from pytensor.gradient import DisconnectedType, grad_not_implemented
    from pytensor.graph import Apply, Op
    from pytensor.link.jax.dispatch import jax_funcify

    class _NRELogpOp(Op):
        """``(data (n, 2), *params) -> (logp (n,), partials (n_params, n))``.

        ``make_fn(ndims)`` builds the pure JAX function for parameters of those ranks
        (:func:`hssm_nre.likelihood.make_value_and_partials_fn`); one is jitted per rank
        pattern."""

        default_output = 0

        def __init__(self, make_fn, n_params, name):
            self.make_fn = make_fn
            self.n_params = int(n_params)
            self.name = name
            self._jitted: dict[tuple[int, ...], Callable] = {}

        def __str__(self):
            return self.name

        def __getstate__(self):  # compiled functions are rebuilt after unpickling
            return {k: v for k, v in self.__dict__.items() if k != "_jitted"} | {"_jitted": {}}

        def fn(self, ndims: tuple[int, ...]) -> Callable:
            if ndims not in self._jitted:
                import jax

                self._jitted[ndims] = jax.jit(self.make_fn(ndims))
            return self._jitted[ndims]

        def make_node(self, data, *params):
            if len(params) != self.n_params:
                raise TypeError(f"{self.name} takes {self.n_params} parameters, got {len(params)}.")
            data = pt.as_tensor_variable(data, dtype="float64")
            params = [pt.as_tensor_variable(p).astype("float64") for p in params]
            if data.ndim != 2:
                raise TypeError(f"{self.name}: data must be a matrix (n trials, [rt, response]), got ndim {data.ndim}.")
            for i, p in enumerate(params):
                if p.ndim > 1:
                    raise TypeError(
                        f"{self.name}: parameter {i} has ndim {p.ndim}; give a scalar or one value per trial."
                    )
            n = data.type.shape[0]
            outputs = [pt.tensor(dtype="float64", shape=(n,)), pt.tensor(dtype="float64", shape=(self.n_params, n))]
            return Apply(self, [data, *params], outputs)

        def perform(self, node, inputs, outputs):
            ndims = tuple(p.ndim for p in node.inputs[1:])
            value, partials = self.fn(ndims)(*inputs)
            outputs[0][0] = np.asarray(value, np.float64)
            outputs[1][0] = np.asarray(partials, np.float64)

        def pullback(self, inputs, outputs, output_grads):
            g_value, g_partials = output_grads
            if not isinstance(g_partials.type, DisconnectedType):
                raise NotImplementedError(f"{self.name}: second derivatives are not implemented.")
            partials = outputs[1]
            grads = [grad_not_implemented(self, 0, inputs[0], "the data are observed")]
            for j, p in enumerate(inputs[1:]):
                gj = g_value * partials[j]
                if p.ndim == 0:
                    gj = gj.sum()
                elif p.type.shape[0] == 1:
                    gj = gj.sum(keepdims=True)
                grads.append(gj)
            return grads

        if not hasattr(Op, "pullback"):  # pytensor before 2.3x named it L_op
            L_op = pullback

        def connection_pattern(self, node):
            return [[True, True] for _ in node.inputs]

    @jax_funcify.register(_NRELogpOp)
    def _jax_funcify(op, node=None, **kwargs):
        ndims = tuple(p.ndim for p in node.inputs[1:])
        # jitted: inside a caller's jit it is inlined; called eagerly (numpyro evaluates the
        # potential and its gradient op by op at initialisation) it is one compiled program
        # instead of one compilation per operation of the network (12 s of a 20-s small fit)
        return op.fn(ndims)

    _CLASS = _NRELogpOp
    return _CLASS
