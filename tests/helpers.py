"""One closeness helper with named tolerances."""

import numpy as np

#: JAX inference function vs the Keras training layer, same float32 weights.
F32_PARITY = dict(rtol=1e-4, atol=1e-4)
#: float64 evaluations of the same function (jit vs no jit, symmetry).
F64_EXACT = dict(rtol=1e-10, atol=1e-10)


def assert_close(actual, desired, *, rtol, atol, err_msg=""):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=rtol, atol=atol, err_msg=err_msg)


def loopback_only() -> bool:
    """True in a network namespace where no interface but loopback is up (a new namespace may
    still list down tunnel devices such as tunl0 or sit0): nothing sent can leave the machine."""
    import fcntl
    import socket
    import struct

    up = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            flags = struct.unpack("16sH", fcntl.ioctl(s.fileno(), 0x8913, struct.pack("16sH", name.encode()[:15], 0)))[1]
            if flags & 0x1:  # SIOCGIFFLAGS, IFF_UP
                up.append(name)
    return up == ["lo"]


def toy_lan(path, width: int, slope: float = 0.0, intercept: float = -1.0) -> None:
    """Write a toy LAN as ONNX: log-likelihood = slope * sum(row) + intercept for an input row
    of ``width`` (the parameters, rt, response), HSSM's LAN layout."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full((width, 1), slope, np.float32), "W")
    b = numpy_helper.from_array(np.full((1,), intercept, np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W", "B"], ["y"])], "toy_lan",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])], [w, b],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
