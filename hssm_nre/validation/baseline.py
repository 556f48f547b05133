"""A baseline beside the network: a LAN fitted to the same calibration datasets.

``hssm_nre.validate(..., baseline="lan.onnx")`` fits every calibration dataset a second time
with a likelihood approximation network (LAN, the ONNX file ``hssm.HSSM(..., loglik=FILE,
loglik_kind="approx_differentiable")`` takes) under the same prior, sampler and seeds, and
reports its calibration and recovery beside the network's: what a user would get from the
alternative on the very same data. The LAN is evaluated by HSSM's own translation of it
(:func:`hssm_nre.register.lan_logp`). It does not enter the verdict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Baseline", "load_baseline"]


@dataclass(frozen=True)
class Baseline:
    """A LAN as the validation's fits use a likelihood (``spec``, ``sha256``, ``kind``,
    ``logp_sum``). ``logp(theta, rt, response, t_index)`` is HSSM's per-trial translation of
    the file; ``t_index`` is the position of ``t`` among the parameters (None: no ``t``)."""

    path: str
    spec: object
    sha256: str
    logp: Callable = field(repr=False, compare=False)
    t_index: int | None
    kind: str = "lan"

    def logp_sum(self, theta, rt, response):
        import jax.numpy as jnp

        return jnp.sum(self.logp(theta, rt, response, self.t_index))


def load_baseline(path, spec) -> Baseline:
    """Load and check a LAN for ``spec``'s model before any fit.

    Raises
    ------
    BaselineError
        The file is missing, not an ONNX network, or its input is not the model's parameters
        plus rt and response; or it gives no finite value at the box's centre.
    """
    import onnx

    from ..errors import BaselineError
    from ..register import lan_logp

    p = Path(path)
    if not p.is_file():
        raise BaselineError(f"baseline {str(path)!r}: no such file. Give the path of a LAN's .onnx file.")
    try:
        graph = onnx.load(str(p)).graph
    except Exception as e:  # onnx raises DecodeError and others for a file that is not ONNX
        raise BaselineError(f"baseline {str(path)!r} is not an ONNX network ({type(e).__name__}: {e}).") from e
    want = len(spec.params) + 2
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] if graph.input else []
    if not dims or dims[-1] != want:
        raise BaselineError(
            f"baseline {p.name} takes input rows of width {dims[-1] if dims else '?'}; a LAN for "
            f"{spec.name!r} takes {want}: its parameters ({', '.join(spec.params)}), rt and response."
        )
    t_index = spec.params.index("t") if "t" in spec.params else None
    b = Baseline(str(p.resolve()), spec, hashlib.sha256(p.read_bytes()).hexdigest(),
                 lan_logp(p, len(spec.params)), t_index)
    centre = np.asarray([(lo + hi) / 2 for lo, hi in zip(spec.lower, spec.upper)])
    rt = np.asarray([centre[t_index] + 0.5 if t_index is not None else 0.5] * len(spec.choices))
    value = np.asarray(b.logp(centre, rt, np.asarray(spec.choices, float), t_index))
    if not np.all(np.isfinite(value)):
        raise BaselineError(f"baseline {p.name} gives {value.tolist()} at the box's centre: not a log-likelihood.")
    return b
