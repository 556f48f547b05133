"""The plain-PyMC notebook runs end to end (quick mode: few trials and draws)."""

import os
import runpy
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.slow
def test_plain_pymc_notebook_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("HSSM_NRE_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    ns = runpy.run_path(str(NOTEBOOKS / "plain_pymc.py"), run_name="__main__")
    assert {"fits", "ddm_fits"} <= set(ns)
