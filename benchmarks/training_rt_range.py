"""Record the rt range of a network's training data in its metadata (``rt_range``).

    .venv/bin/python benchmarks/training_rt_range.py                 # every shipped network
    .venv/bin/python benchmarks/training_rt_range.py ddm angle       # some
    .venv/bin/python benchmarks/training_rt_range.py --weights DIR   # any network folder

``hssm-nre train`` records it for every network it trains (``training.rt_range``). Networks
trained before that get it here: their training data are simulated again from the settings in
their metadata (the same seed, budget and padding give the same trials, ``simulate.py``), and
the smallest and largest rt are written into ``metadata.json``. The weights and their checksum
are untouched. About 100k ddm trials a second on two cores (15M for the shipped DDM network).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from hssm_nre.cache import load_entry, shipped_dir, shipped_models
from hssm_nre.config import padded_box
from hssm_nre.simulate import simulate_training_data
from hssm_nre.training import rt_range


def record(folder: Path) -> dict:
    entry = load_entry(folder, check_spec=False)
    s = entry.settings
    t0 = time.perf_counter()
    data = simulate_training_data(
        padded_box(entry.spec, s.extra.get("pad", 0.0)), s.n_simulations, seed=s.seed, progress=True
    )
    out = rt_range(data["rt"])
    meta_file = folder / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta["rt_range"] = out
    meta_file.write_text(json.dumps(meta, indent=2, sort_keys=True))
    print(f"{entry.spec.name}: rt {out['min']:.4g} to {out['max']:.4g} s from {s.n_simulations:,} simulations "
          f"({time.perf_counter() - t0:.0f} s)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", help="shipped networks (default: all)")
    ap.add_argument("--weights", help="a network folder instead")
    args = ap.parse_args()
    folders = [Path(args.weights)] if args.weights else [shipped_dir() / m for m in (args.models or shipped_models())]
    for f in folders:
        record(f)


if __name__ == "__main__":
    main()
