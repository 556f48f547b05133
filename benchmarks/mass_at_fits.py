"""Where do a network's bad fits go? Its likelihood's mass, and the normaliser's error, there.

    .venv/bin/python benchmarks/mass_at_fits.py lca_3 --checkpoint hssm_nre/pretrained/lca_3/validation_exact.jsonl --by a

For the ``--worst`` calibration fits of a validation run (``hssm-nre validate``'s checkpoint, which
keeps each fit's truth and posterior mean; largest posterior mean minus truth in ``--by``), prints
log Z(theta) of the raw network (the log of its likelihood's integral over x, by quadrature,
:func:`hssm_nre.normalisation.normalisation_integrals`), the normaliser's estimate of it and their
difference (the error left in the normalised likelihood), at the true parameters and at the posterior
mean; and the same difference over ``--n-uniform`` parameter vectors drawn uniformly from the box, for
scale. A posterior pulled to where that error is large, by more than 1 / n_trials, is pulled by the
error: over n trials a log-mass error e is worth n * e nats. Writes
``benchmarks/results/mass_at_fits_<tag>.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hssm_nre.architecture import JNP_OPS, log_normaliser, network_weights
from hssm_nre.cache import find_network, load_entry
from hssm_nre.normalisation import make_log_density_fn, normalisation_integrals
from hssm_nre.simulate import sample_parameters

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--weights", default=None, help="network folder (default: the one HSSM would use)")
    ap.add_argument("--checkpoint", required=True,
                    help="the validation_*.jsonl that `hssm-nre validate` wrote for this network")
    ap.add_argument("--by", required=True, help="parameter whose largest overestimates pick the fits")
    ap.add_argument("--worst", type=int, default=6)
    ap.add_argument("--n-uniform", type=int, default=400)
    ap.add_argument("--tag", default=None, help="results file suffix (default: the model's name)")
    args = ap.parse_args()
    entry = load_entry(args.weights) if args.weights else find_network(args.model)
    spec = entry.spec
    if args.by not in spec.params:
        ap.error(f"--by {args.by!r} is not one of {spec.params}")
    rows = [json.loads(line) for line in Path(args.checkpoint).read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("study") == "sbc" and entry.has_checksum(r.get("sha256", ""))]
    if not rows:
        ap.error(f"{args.checkpoint} has no calibration fits of the network at {entry.path} (another network's "
                 f"checkpoint?); run `hssm-nre validate {spec.name}` first")
    n_trials = rows[0]["n_trials"]
    raw = make_log_density_fn(spec, network_weights(entry.weights), entry.evidence)
    truth, mean = np.asarray([r["truth"] for r in rows]), np.asarray([r["mean"] for r in rows])
    j = spec.params.index(args.by)
    idx = np.argsort(-(mean[:, j] - truth[:, j]))[: args.worst]
    th = np.concatenate([truth[idx], np.clip(mean[idx], spec.lower, spec.upper)])
    log_z = np.log(normalisation_integrals(spec, raw, th)["integral"])
    def normaliser(theta):  # 0 for a network without one
        return np.broadcast_to(np.asarray(log_normaliser(spec, entry.weights, theta.astype(np.float32), JNP_OPS()),
                                          np.float64), theta.shape[:1])

    log_n = normaliser(th)
    u = sample_parameters(spec, args.n_uniform, np.random.default_rng(0))
    lz_u = np.log(normalisation_integrals(spec, raw, u)["integral"])
    res_u = lz_u - normaliser(u)
    k = len(idx)
    lines = [
        f"# Mass at the fits: {spec.name}, {Path(args.checkpoint).name}",
        "",
        f"Network `{entry.metadata.get('reproduce', entry.path)}`; the {k} fits with the largest overestimate of "
        f"{args.by}. log Z: log of the raw network's likelihood integrated over x; normaliser: its estimate; "
        "error = log Z - normaliser (what the normalised likelihood keeps). "
        f"Reproduce: `.venv/bin/python benchmarks/mass_at_fits.py {spec.name} --checkpoint {args.checkpoint} --by {args.by}"
        + (" --weights DIR" if args.weights else "") + "`.",
        "",
        f"Over {args.n_uniform} parameter vectors uniform over the box: log Z {lz_u.min():.3f} to {lz_u.max():.3f}, "
        f"error RMS {np.sqrt((res_u ** 2).mean()):.4f}, largest |error| {np.abs(res_u).max():.3f}.",
        "",
        f"| dataset | {args.by} true | {args.by} posterior mean | log Z at truth | error at truth | log Z at mean | "
        f"normaliser at mean | error at mean | worth over {n_trials} trials (nats) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r, i in enumerate(idx):
        e_t, e_m = log_z[r] - log_n[r], log_z[r + k] - log_n[r + k]
        lines.append(f"| {i + 1} | {truth[i, j]:.2f} | {mean[i, j]:.2f} | {log_z[r]:.3f} | {e_t:+.3f} | "
                     f"{log_z[r + k]:.3f} | {log_n[r + k]:.3f} | {e_m:+.3f} | {n_trials * (e_m - e_t):+.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    tag = args.tag or spec.name
    out = RESULTS / f"mass_at_fits_{tag}.md"
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
