"""One closeness helper with named tolerances."""

import numpy as np

#: JAX inference function vs the Keras training layer, same float32 weights.
F32_PARITY = dict(rtol=1e-4, atol=1e-4)
#: float64 evaluations of the same function (jit vs no jit, symmetry).
F64_EXACT = dict(rtol=1e-10, atol=1e-10)


def assert_close(actual, desired, *, rtol, atol, err_msg=""):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=rtol, atol=atol, err_msg=err_msg)
