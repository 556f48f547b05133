"""Per-model weight cache, shipped networks, and loading with compatibility checks.

Layout (never inside the installed package)::

    $HSSM_NRE_CACHE_DIR (default: $XDG_CACHE_HOME/hssm_nre or ~/.cache/hssm_nre)
      <model>/<key>/weights.npz      # float32 arrays, loaded with allow_pickle=False
      <model>/<key>/metadata.json    # spec, settings, versions, sha256 of weights, timings

``key`` hashes everything that changes the network: the model spec (parameter
order, training box, choices, features), the training settings, the weight
format and the versions of ssm-simulators, bayesflow, keras and hssm_nre.
Entries are written to a temporary folder and renamed into place, so a crash or
Ctrl-C mid-write leaves no entry. Shipped networks live in
``hssm_nre/pretrained/<model>/`` with the same two files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from .architecture import NORMALISER_PREFIX, layer_shapes, network_weights, normaliser_shapes, normaliser_weights
from .config import ModelSpec, TrainSettings, model_spec
from .errors import CacheCorruptedError, CacheMismatchError, NetworkNotFoundError

__all__ = [
    "NetworkEntry",
    "cache_dir",
    "cache_key",
    "save_entry",
    "load_entry",
    "list_entries",
    "find_network",
    "replace_weights",
    "shipped_dir",
    "package_versions",
]

FORMAT_VERSION = 1
ENV_VAR = "HSSM_NRE_CACHE_DIR"
_VERSIONED = ("ssm-simulators", "bayesflow", "keras", "hssm-nre")


def cache_dir() -> Path:
    """The cache root: ``$HSSM_NRE_CACHE_DIR`` or the per-user cache folder."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hssm_nre"


def shipped_dir() -> Path:
    return Path(__file__).parent / "pretrained"


def package_versions() -> dict[str, str]:
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def cache_key(spec: ModelSpec, settings: TrainSettings, versions: dict[str, str]) -> str:
    blob = json.dumps(
        {
            "format": FORMAT_VERSION,
            "spec": spec.to_dict(),
            "settings": settings.to_dict(),
            "versions": versions,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class NetworkEntry:
    """A loaded network: its spec, settings, weights and metadata."""

    spec: ModelSpec
    settings: TrainSettings
    weights: dict[str, np.ndarray]
    evidence: dict[str, np.ndarray] | None
    metadata: dict[str, Any]
    path: Path

    @property
    def source(self) -> str:
        return self.metadata.get("source", "cache")


def save_entry(
    spec: ModelSpec,
    settings: TrainSettings,
    weights: dict[str, np.ndarray],
    *,
    evidence: dict[str, np.ndarray] | None = None,
    extra_metadata: dict[str, Any] | None = None,
    root: Path | None = None,
) -> Path:
    """Write weights and metadata atomically; return the entry folder."""
    versions = package_versions()
    key = cache_key(spec, settings, versions)
    root = cache_dir() if root is None else Path(root)
    model_root = root / spec.name
    model_root.mkdir(parents=True, exist_ok=True)
    final = model_root / key
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=model_root))
    try:
        _write_arrays(tmp / "weights.npz", weights, evidence)
        meta = {
            "format": FORMAT_VERSION,
            "model": spec.name,
            "key": key,
            "spec": spec.to_dict(),
            "settings": settings.to_dict(),
            "versions": versions,
            "weights_sha256": _sha256(tmp / "weights.npz"),
        } | (extra_metadata or {})
        (tmp / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _write_arrays(file: Path, weights: dict[str, np.ndarray], evidence: dict[str, np.ndarray] | None) -> None:
    """weights.npz: float32 arrays, the network's under ``w/``, the evidence term's under ``e/``."""
    arrays = {f"w/{k}": np.asarray(v, np.float32) for k, v in weights.items()}
    if evidence is not None:
        arrays |= {f"e/{k}": np.asarray(v, np.float32) for k, v in evidence.items()}
    np.savez(file, **arrays)


def load_entry(path: str | os.PathLike, *, check_spec: bool = True) -> NetworkEntry:
    """Load an entry folder (or its ``metadata.json``), verifying it thoroughly.

    Raises :class:`CacheCorruptedError` when files are missing or unreadable or
    the weights' checksum or shapes disagree with the metadata, and
    :class:`CacheMismatchError` when the entry was trained for a model spec that
    differs from today's ssm-simulators config.
    """
    path = Path(path)
    if path.name == "metadata.json":
        path = path.parent
    fix = f"Delete {path} and retrain with `hssm-nre train <model>`."
    meta_file, weights_file = path / "metadata.json", path / "weights.npz"
    if not meta_file.is_file() or not weights_file.is_file():
        raise CacheCorruptedError(f"Network folder {path} lacks metadata.json or weights.npz. {fix}")
    try:
        meta = json.loads(meta_file.read_text())
        spec = ModelSpec.from_dict(meta["spec"])
        settings = TrainSettings.from_dict(meta["settings"])
    except (ValueError, KeyError, TypeError) as e:
        raise CacheCorruptedError(f"Unreadable metadata in {meta_file}: {e}. {fix}") from e
    if meta.get("format") != FORMAT_VERSION:
        raise CacheMismatchError(
            f"Network {path} has weight format {meta.get('format')}, this hssm_nre "
            f"reads format {FORMAT_VERSION}. {fix}"
        )
    if _sha256(weights_file) != meta.get("weights_sha256"):
        raise CacheCorruptedError(f"Checksum mismatch for {weights_file}: the file is corrupted. {fix}")
    try:
        with np.load(weights_file, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except Exception as e:  # zipfile/ValueError: a damaged archive
        raise CacheCorruptedError(f"Cannot read {weights_file}: {e}. {fix}") from e
    weights = {k[2:]: v for k, v in arrays.items() if k.startswith("w/")}
    evidence = {k[2:]: v for k, v in arrays.items() if k.startswith("e/")} or None
    expected = layer_shapes(spec, settings.widths, settings.evidence_widths)
    got = {k: tuple(v.shape) for k, v in network_weights(weights).items()}
    if got != expected or not _normaliser_consistent(normaliser_weights(weights), spec.n_params):
        raise CacheCorruptedError(f"Weights in {weights_file} do not match the architecture in its metadata. {fix}")
    if check_spec:
        try:
            current = model_spec(spec.name)
        except Exception:
            current = None
        differences = current.model_differences(spec) if current is not None else []
        if differences:
            diff = "; ".join(
                f"{k}: network {getattr(spec, k)!r}, today {getattr(current, k)!r}" for k in differences
            )
            why = (
                " Its training data were simulated with those parameters varying within one "
                "simulator call, which ssm-simulators mishandles (hssm_nre.config.PER_CALL_PARAMS)."
                if "per_call_params" in differences
                else ""
            )
            raise CacheMismatchError(
                f"Network {path} was trained for {spec.name!r} under a different model spec than "
                f"today's ssm-simulators config and hssm_nre give ({diff}).{why} {fix}"
            )
    return NetworkEntry(spec, settings, weights, evidence, meta, path)


def _normaliser_consistent(nw: dict[str, np.ndarray], n_params: int) -> bool:
    """An optional normaliser must be a complete MLP chain from the parameters to one output."""
    if not nw:
        return True
    widths: list[int] = []
    while f"{NORMALISER_PREFIX}{len(widths)}_W" in nw:
        widths.append(nw[f"{NORMALISER_PREFIX}{len(widths)}_W"].shape[-1])
    return {k: tuple(v.shape) for k, v in nw.items()} == normaliser_shapes(n_params, widths)


def replace_weights(
    path: str | os.PathLike, weights: dict[str, np.ndarray], metadata_update: dict[str, Any]
) -> NetworkEntry:
    """Replace an entry's weights (keeping its evidence) and update its metadata, atomically.

    The new files are written to a temporary folder beside the entry, then swapped in by two
    renames; a crash leaves either the old entry or the new one at ``path`` (and at worst a
    ``.tmp-`` folder, which :func:`list_entries` ignores). Used to add a normaliser to a
    trained network without retraining it. Returns the new entry (loaded, as a check, before
    the swap).
    """
    path = Path(path)
    entry = load_entry(path, check_spec=False)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=path.parent))
    old = None
    try:
        _write_arrays(tmp / "weights.npz", weights, entry.evidence)
        meta = entry.metadata | metadata_update
        meta["weights_sha256"] = _sha256(tmp / "weights.npz")
        (tmp / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        for extra in path.iterdir():  # anything else in the folder (a README) travels along
            if extra.name not in ("weights.npz", "metadata.json"):
                (shutil.copytree if extra.is_dir() else shutil.copy2)(extra, tmp / extra.name)
        new = load_entry(tmp, check_spec=False)  # what is swapped in must load
        old = Path(tempfile.mkdtemp(prefix=".tmp-old-", dir=path.parent))
        os.rmdir(old)
        os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not path.exists():
            os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)
    new.path = path
    return new


def list_entries(root: Path | None = None) -> dict[str, list[Path]]:
    """Cached entry folders per model name (temporary folders excluded), newest first."""
    root = cache_dir() if root is None else Path(root)
    out: dict[str, list[Path]] = {}
    if not root.is_dir():
        return out
    for model_root in sorted(p for p in root.iterdir() if p.is_dir()):
        entries = [
            p for p in model_root.iterdir() if p.is_dir() and not p.name.startswith(".tmp-")
        ]
        if entries:
            out[model_root.name] = sorted(entries, key=lambda p: p.stat().st_mtime, reverse=True)
    return out


def shipped_models() -> list[str]:
    d = shipped_dir()
    return sorted(p.name for p in d.iterdir() if (p / "metadata.json").is_file()) if d.is_dir() else []


def find_network(name: str, *, root: Path | None = None) -> NetworkEntry:
    """The network ``hssm.HSSM(model=name, loglik_kind="nre")`` uses.

    Order: the newest cache entry for ``name`` whose versions match the installed
    packages, else the shipped network. A cache entry trained under other package
    versions is skipped with its reason kept for the error message.
    """
    entries = list_entries(root).get(name, [])
    versions = package_versions()
    problems = []
    for p in entries:
        try:
            entry = load_entry(p)
        except (CacheCorruptedError, CacheMismatchError) as e:
            problems.append(str(e))
            continue
        if entry.metadata.get("versions") != versions:
            problems.append(
                f"{p} was trained under {entry.metadata.get('versions')}, installed {versions}; "
                f"retrain with `hssm-nre train {name}`."
            )
            continue
        entry.metadata["source"] = "cache"
        return entry
    shipped = shipped_dir() / name
    if (shipped / "metadata.json").is_file():
        entry = load_entry(shipped)
        entry.metadata["source"] = "shipped"
        return entry
    cached = ", ".join(sorted(list_entries(root))) or "none"
    detail = (" Unusable entries: " + " | ".join(problems)) if problems else ""
    raise NetworkNotFoundError(
        f"No shipped or cached NRE for model {name!r} (shipped: "
        f"{', '.join(shipped_models()) or 'none'}; cached: {cached}).{detail} "
        f"Train one with `hssm-nre train {name}`, or pass `nre_train=True` to hssm.HSSM "
        "to train on first use, or `nre_weights=<folder>`."
    )
