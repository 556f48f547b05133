"""Checks of the data a network is asked to score: columns, types, choices, and response
times beyond anything the network was trained on. Raised before any expensive work."""

from __future__ import annotations

import numpy as np

from .config import SIM_MAX_T, ModelSpec
from .errors import InvalidDataError

__all__ = ["validate_data", "rt_limit"]


def validate_data(
    spec: ModelSpec,
    data,
    response: tuple[str, ...] = ("rt", "response"),
    *,
    rt_max: float | None = SIM_MAX_T,
    trained_on: str = "",
) -> None:
    """Raise :class:`InvalidDataError` for data an NRE cannot fit (before any work).

    Checks that the columns exist and are numeric, that rt is finite and positive, that the
    responses are the model's choices, and (unless ``rt_max`` is None) that no rt exceeds
    ``rt_max``, the longest response time the network was trained on (:func:`rt_limit`);
    ``trained_on`` describes the training range for the message.
    """
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise InvalidDataError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    missing = [c for c in response if c not in data.columns]
    if missing:
        raise InvalidDataError(
            f"data lacks column(s) {missing}; an NRE for {spec.name!r} needs columns "
            f"{list(response)}."
        )
    for col in response[:2]:
        dtype = data[col].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise InvalidDataError(
                f"column {col!r} has dtype {dtype} (e.g. {data[col].iloc[:3].tolist()}); it must be "
                f"numeric. Convert it with `data[{col!r}] = pd.to_numeric(data[{col!r}])`."
            )
    rt = data[response[0]].to_numpy(float)
    bad = ~np.isfinite(rt) | (rt <= 0)
    if bad.any():
        rows = data.index[bad][:5].tolist()
        raise InvalidDataError(
            f"{int(bad.sum())} row(s) have rt <= 0 or NaN (first rows {rows}, values "
            f"{rt[bad][:5].tolist()}). Remove them (omissions are not modelled by the NRE)."
        )
    resp = data[response[1]].to_numpy()
    allowed = np.asarray(spec.choices)
    wrong = ~np.isin(resp, allowed)
    if wrong.any():
        raise InvalidDataError(
            f"response values {sorted(set(np.asarray(resp)[wrong].tolist()))[:10]} are not "
            f"choices of {spec.name!r}, which are {list(spec.choices)}. Recode the column "
            f"(e.g. 0 -> -1 for two-choice models)."
        )
    if rt_max is not None:
        slow = rt > rt_max
        if slow.any():
            rows = data.index[slow][:10].tolist()
            raise InvalidDataError(
                f"{int(slow.sum())} row(s) have rt above {rt_max:g} s (rows {rows}, rt "
                f"{np.sort(rt[slow])[::-1][:5].tolist()} s), beyond what the {spec.name!r} network was "
                f"trained on: {trained_on or rt_limit({})[1]}. It never learned how such slow trials are "
                "scored. Remove them (they are usually lapses), or pass nre_allow_unseen_rt=True to "
                "score them anyway."
            )


def rt_limit(metadata: dict) -> tuple[float, str]:
    """The longest rt a network may be given, and a description of what it was trained on.

    ssm-simulators stops every simulated decision at ``max_t`` (20 s), so no network has seen a
    slower trial. Networks trained since 0.2 (and the shipped ones) record the rt range of their
    training data (``rt_range``); its largest rt is the limit when it is lower (weibull's
    collapsing bounds end every trial by about 10 s). A network trained on few simulations has
    a short range: ``nre_allow_unseen_rt=True`` scores slower trials anyway."""
    seen = metadata.get("rt_range")
    max_t = float(seen.get("max_t", SIM_MAX_T)) if seen else SIM_MAX_T
    text = f"ssm-simulators stops every simulated decision at max_t = {max_t:g} s"
    if not seen:
        return max_t, text
    limit = min(max_t, float(seen["max"]))
    return limit, text + (
        f"; its training data had rt from {seen['min']:.3g} to {seen['max']:.3g} s "
        "(non-decision time included)"
    )
