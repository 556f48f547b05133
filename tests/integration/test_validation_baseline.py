"""Slow: a validation with a LAN beside the network, on the same datasets, resumed per baseline."""

import json
import shutil

import pytest

pytestmark = pytest.mark.slow


def test_a_lan_is_fitted_beside_the_network_on_the_same_datasets(tiny_path, tmp_path, capsys):
    from hssm_nre.validation import ValidationSettings, validate
    from tests.helpers import toy_lan

    net = tmp_path / "net"
    shutil.copytree(tiny_path, net)
    toy_lan(tmp_path / "flat.onnx", 6)  # ignores v, a, z: its posterior for them is the prior
    s = ValidationSettings(sbc_datasets=4, sbc_trials=40, draws=40, tune=40, n_ranks=20, fidelity_datasets=(0, 0, 0),
                           per_trial_x=10, normalisation_theta=6, chunk=2)
    report = validate(None, weights=net, settings=s, workers=0, progress=False, baseline=tmp_path / "flat.onnx")
    base, sbc = report.figures["baseline"], report.figures["sbc"]
    assert base["datasets"] == sbc["datasets"] == 4 and base["file"] == "flat.onnx"
    # the network learns v from 40 trials; the flat LAN cannot
    assert sbc["contraction"]["v"] > 0.5 and base["contraction"]["v"] < 0.3
    rows = [json.loads(x) for x in next(net.glob("validation_*.jsonl")).read_text().splitlines()]
    truths = {(r["study"], r["index"]): r["truth"] for r in rows}
    assert all(truths[("baseline", i)] == truths[("sbc", i)] for i in range(4))  # the same datasets
    text = report.record.read_text()
    assert "## Beside it: the LAN flat.onnx on the same datasets" in text and "| v | " in text
    # another baseline: only its own fits run; the network's are reused
    toy_lan(tmp_path / "tilted.onnx", 6, slope=0.01)
    validate(None, weights=net, settings=s, workers=0, progress=True, baseline=tmp_path / "tilted.onnx")
    assert "4 fits to run (4 already" in capsys.readouterr().err  # the first LAN's fits are not this run's
