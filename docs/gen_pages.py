"""Pages generated at build time (mkdocs-gen-files): the model gallery from the shipped networks'
records, the benchmark results from benchmarks/results/, the command line from its parser, and
the notebooks' jupytext sources. Nothing here is committed under docs/: it is rebuilt every time,
so the site shows what the repository holds."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import mkdocs_gen_files

os.environ.setdefault("KERAS_BACKEND", "jax")

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "hssm_nre" / "pretrained"
RESULTS = ROOT / "benchmarks" / "results"
VALIDATION = RESULTS / "validation"

# the reference each model's networks are compared with (hssm_nre.validation.references())
try:
    from hssm_nre.validation.references import references as _references

    REFERENCES = _references()
except Exception:  # noqa: BLE001  (a docs build without the package's extras still builds)
    REFERENCES = {}

_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def _unlink_outside(text: str, here: str, exists) -> str:
    """Keep links whose target is in the site; others (source files, folders) become code spans."""

    def repl(m: re.Match) -> str:
        bang, label, target = m.groups()
        if re.match(r"[a-z]+://|#|mailto:", target):
            return m.group(0)
        path = os.path.normpath(os.path.join(os.path.dirname(here), target.split("#")[0]))
        if exists(path):
            return m.group(0)
        return f"{label} (`{target}`)" if label and not bang else f"`{target}`"

    return _LINK.sub(repl, text)


_RESULT_SPAN = re.compile(r"`benchmarks/results/([\w./-]+\.md)`")


def _link_results(text: str, here: str) -> str:
    """Code spans naming a committed report (`benchmarks/results/x.md`) become links to its page."""

    def repl(m: re.Match) -> str:
        target = f"results/{m.group(1)}"
        if target not in result_pages:
            return m.group(0)
        return f"[`{m.group(1)}`]({os.path.relpath(target, os.path.dirname(here))})"

    return _RESULT_SPAN.sub(repl, text)


def _demote_title(text: str) -> str:
    return re.sub(r"(?m)^# .*\n", "", text, count=1)


# ------------------------------------------------------------------ benchmark results
result_pages: set[str] = set()
for src in sorted(RESULTS.rglob("*")):
    if src.is_file() and src.suffix in (".md", ".png"):
        rel = src.relative_to(RESULTS).as_posix()
        if src.suffix == ".md":
            result_pages.add(f"results/{rel}")
        with mkdocs_gen_files.open(f"results/{rel}", "wb") as f:
            f.write(src.read_bytes())


def _in_site(path: str) -> bool:
    if not path.startswith("results/"):
        return False
    return path in result_pages or (RESULTS / Path(path).relative_to("results")).is_file()


for page in sorted(result_pages):
    src = RESULTS / Path(page).relative_to("results")
    text = src.read_text()
    if not text.lstrip().startswith("# "):
        text = f"# {src.stem.replace('_', ' ')}\n\n" + text
    with mkdocs_gen_files.open(page, "w") as f:
        f.write(_link_results(_unlink_outside(text, page, _in_site), page))


def _summary(page: str) -> str:
    text = (RESULTS / Path(page).relative_to("results")).read_text()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "|", "!", "<", "```")):
            line = re.sub(r"\s+", " ", line)
            return line if len(line) <= 160 else line[:157] + "..."
    return ""


with mkdocs_gen_files.open("results/index.md", "w") as f:
    f.write(
        "# Benchmark results\n\nEvery report in `benchmarks/results/`, as committed: each names the command that "
        "reproduces it (ratios come from one run on one machine). Validation records of the shipped networks are "
        "in the [model gallery](../gallery/index.md).\n\n"
    )
    intro = (ROOT / "docs" / "_results_intro.md").read_text()
    f.write(_link_results(_unlink_outside(intro, "results/index.md", _in_site), "results/index.md"))
    f.write("\n## Every report\n\n| report | what it says first |\n|---|---|\n")
    for page in sorted(result_pages):
        rel = Path(page).relative_to("results").as_posix()
        f.write(f"| [{rel[:-3]}]({rel}) | {_summary(page).replace('|', '/')} |\n")

# ------------------------------------------------------------------ the model gallery
models = sorted(p.name for p in PRETRAINED.iterdir() if (p / "metadata.json").is_file())
rows = []
for name in models:
    meta = json.loads((PRETRAINED / name / "metadata.json").read_text())
    val = meta.get("validation") or {}
    status = val.get("status", "not validated")
    spec, s = meta["spec"], meta["settings"]
    box = ", ".join(f"{p} [{lo:g}, {hi:g}]" for p, lo, hi in zip(spec["params"], spec["lower"], spec["upper"]))
    ref = REFERENCES.get(name, "none")
    # this network's hssm-nre validate records (not, e.g., a deliberately degraded network's)
    records = [p for p in (VALIDATION / f"{name}.md", VALIDATION / f"{name}_reference.md") if p.is_file()]
    record = (PRETRAINED / name / "README.md").read_text() if (PRETRAINED / name / "README.md").is_file() else ""
    page = f"gallery/{name}.md"
    with mkdocs_gen_files.open(page, "w") as f:
        f.write(f"# {name}\n\n")
        f.write("| this network | |\n|---|---|\n")
        f.write(f"| status | **{status}** |\n")
        f.write(f"| parameters and training box | {box} |\n")
        f.write(f"| choices | {', '.join(str(c) for c in spec['choices'])} |\n")
        f.write(f"| features | {spec.get('features', 'generic')} |\n")
        sim = meta.get("simulation") or {"time": "continuous" if spec.get("boundary_correction") else "discrete"}
        f.write(f"| time | {sim['time']}" + (f" ({sim['boundary']}; Euler step {sim['euler_step']})" if "boundary" in sim else "") + " |\n")
        f.write(f"| network | MLP {' x '.join(str(w) for w in s['widths'])}, evidence head "
                f"{' x '.join(str(w) for w in s['evidence_widths'])}, normaliser: "
                f"{'yes' if 'normaliser' in meta else 'no'} |\n")
        f.write(f"| reference likelihood | {ref} |\n")
        f.write(f"| reproduce | `{meta.get('reproduce', 'hssm-nre train ' + name)}` |\n\n")
        for rec in records:
            rel = f"../results/validation/{rec.name}"
            f.write(f"`hssm-nre validate` record: [{rec.stem}]({rel}).\n\n")
        # its plots: the validate run's SBC, the fidelity benchmark's
        plots = [f"validation/{name}_sbc.png",
                 "posterior_flat_1000.png" if name == "ddm" else f"fidelity_{name}_posterior_flat_1000.png",
                 f"fidelity_{name}_error_map.png"]
        body = _demote_title(record)
        f.write(_link_results(_unlink_outside(body, page, lambda p: p in result_pages), page))
        # the record hssm-nre validate wrote beside the shipped network (its plot copied along)
        shipped = PRETRAINED / name / "validation.md"
        if shipped.is_file():
            text = shipped.read_text()
            png = PRETRAINED / name / "validation_sbc.png"
            if png.is_file():
                with mkdocs_gen_files.open(f"gallery/{name}_validation_sbc.png", "wb") as g:
                    g.write(png.read_bytes())
                text = text.replace("(validation_sbc.png)", f"({name}_validation_sbc.png)")
            text = re.sub(r"(?m)^(#+) ", r"#\1 ", _demote_title(text))
            here = {f"gallery/{name}_validation_sbc.png"}
            f.write("\n\n## Validation record (`hssm-nre validate`, shipped beside the network)\n\n"
                    + _link_results(_unlink_outside(text, page, lambda p: p in result_pages or p in here), page))
        plots = [p for p in plots if (RESULTS / p).is_file()]
        if plots:
            f.write("\n\n## Plots\n\n" + "".join(f"![{p}](../results/{p})\n\n" for p in plots))
    rows.append((name, status, ref, s, meta))

with mkdocs_gen_files.open("gallery/index.md", "w") as f:
    f.write(
        "# Model gallery\n\nThe networks shipped inside the package: `hssm.HSSM(model=NAME, loglik_kind=\"nre\")` uses "
        "them with no training. Each page has the network's training command, its validation record and, where the "
        "model has one, its comparison with a reference likelihood. `hssm-nre list` shows every other model "
        "(trainable with `hssm-nre train NAME`).\n\n"
        "| model | status | reference likelihood | trained with |\n|---|---|---|---|\n"
    )
    for name, status, ref, s, meta in rows:
        f.write(f"| [{name}]({name}.md) | {status} | {ref} | {s['n_simulations']:,} simulations, "
                f"{meta.get('steps_run', s['steps']):,} steps of batch {s['batch_size']:,} |\n")

# ------------------------------------------------------------------ the command line
try:
    from hssm_nre.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    with mkdocs_gen_files.open("cli.md", "w") as f:
        f.write("# Command line\n\n`hssm-nre` is installed with the package. Every command prints its "
                "cost before anything long, shows progress, and stops cleanly on Ctrl-C (exit 130, "
                "nothing half-written left in the cache).\n\n")
        f.write("```text\n" + parser.format_help() + "```\n\n")
        for name, p in sub.choices.items():
            f.write(f"## `hssm-nre {name}`\n\n```text\n{p.format_help()}```\n\n")
except Exception as e:  # noqa: BLE001
    raise RuntimeError(f"could not document the command line: {e}") from e

# ------------------------------------------------------------------ notebooks (jupytext sources)
for nb in sorted((ROOT / "notebooks").glob("*.py")):
    with mkdocs_gen_files.open(f"notebooks/{nb.name}", "w") as f:
        f.write(nb.read_text())
