"""Per-model weight cache, shipped networks, and which network a model uses.

Layout (never inside the installed package)::

    $HSSM_NRE_CACHE_DIR (default: $XDG_CACHE_HOME/hssm_nre or ~/.cache/hssm_nre)
      <model>/<key>/weights.npz      # float32 arrays, loaded with allow_pickle=False
      <model>/<key>/metadata.json    # spec, settings, versions, sha256 of weights, timings
      <model>/.<key>.lock            # file lock held while an entry is published or swapped
      <model>/pinned.json            # optional: the entry `hssm-nre cache pin` chose

``key`` hashes everything that changes the network: the model spec (parameter order,
training box, choices, features), the training settings, the weight format and the
versions of ssm-simulators, bayesflow, keras and hssm_nre.

Safe under crashes and concurrency, as pip's and huggingface_hub's caches are: an entry is
written under a unique temporary name (``.tmp-<host>-<pid>-...``) in the model's folder and
published by one rename while its key's file lock is held. A complete entry is never removed
before a complete replacement is in place: a second writer of the same key keeps the first
writer's entry; a damaged entry is renamed aside only once its replacement is written. Readers
that find an entry half-swapped read it again under the lock. Temporary folders left by a
crashed writer are removed at the next write. Every failure is a typed error with its fix.

Which network a model uses (:func:`find_network`): a pinned cache entry, else the newest
cache entry whose validation passed, else the shipped network, else the newest usable cache
entry. A cache entry that cannot be used is reported in a :class:`CacheEntryWarning` that names
it, the reason, the fix and the network used instead; it is never skipped in silence.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from .architecture import flatten, layer_shapes, network_weights, normaliser_shapes, normaliser_weights, unflatten
from .config import ModelSpec, TrainSettings, model_spec
from .errors import (
    CacheCorruptedError,
    CacheEntryWarning,
    CacheMismatchError,
    CacheWriteError,
    NetworkNotFoundError,
    NREError,
)
from .errors import warn as _warn

__all__ = [
    "NetworkEntry",
    "CacheRecord",
    "cache_dir",
    "cache_key",
    "save_entry",
    "load_entry",
    "list_entries",
    "scan",
    "find_network",
    "find_by_checksum",
    "pin",
    "unpin",
    "pinned_key",
    "remove_entry",
    "ensure_writable",
    "replace_weights",
    "upgrade_entry",
    "update_metadata",
    "shipped_dir",
    "shipped_models",
    "package_versions",
]

#: A child of HSSM's logger, which prints INFO lines (as HSSM's own "Model initialized").
_log = logging.getLogger("hssm.nre")

#: 2: the weights are a nested pytree stored under their paths ("w/f/hidden/0/W") and the spec
#: has one ``features`` field; 1: flat weight names ("f0_W") and four feature booleans
#: (:func:`upgrade_entry` converts those).
FORMAT_VERSION = 2
ENV_VAR = "HSSM_NRE_CACHE_DIR"
_VERSIONED = ("ssm-simulators", "bayesflow", "keras", "hssm-nre")
#: Seconds a writer waits for another process to finish publishing the same key.
LOCK_TIMEOUT = 120.0
#: A temporary folder older than this is a crashed writer's (a write takes milliseconds).
STALE_SECONDS = 600.0
_TMP = ".tmp-"
PIN_FILE = "pinned.json"


def cache_dir() -> Path:
    """The cache root.

    ``$HSSM_NRE_CACHE_DIR`` when set, else the per-user cache folder
    (``$XDG_CACHE_HOME/hssm_nre``, or ``~/.cache/hssm_nre``). The folder is not created here.

    Returns
    -------
    pathlib.Path
        The cache root.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hssm_nre"


def shipped_dir() -> Path:
    """The folder of the networks shipped inside the package."""
    return Path(__file__).parent / "pretrained"


def shipped_models() -> list[str]:
    """Names of the models with a shipped network."""
    d = shipped_dir()
    return sorted(p.name for p in d.iterdir() if (p / "metadata.json").is_file()) if d.is_dir() else []


def package_versions() -> dict[str, str]:
    """Versions of the packages that change a trained network (part of the cache key)."""
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def cache_key(spec: ModelSpec, settings: TrainSettings, versions: dict[str, str]) -> str:
    """The entry's folder name: a hash of the spec, settings, weight format and versions."""
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


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256(path: Path) -> str:
    return _sha256_bytes(Path(path).read_bytes())


@dataclass
class NetworkEntry:
    """A loaded network: its spec, settings, weights and metadata.

    Made by :func:`load_entry` (which verifies it) and returned by :func:`find_network` and
    :func:`hssm_nre.train`.

    Attributes
    ----------
    spec
        The model the network was trained for, with its feature set.
    settings
        How it was trained.
    weights
        The network's weights, a pytree of float32 arrays (:mod:`hssm_nre.architecture`).
    evidence
        The evidence term's arrays, or None when the network has none.
    metadata
        The contents of its ``metadata.json`` (plus ``"source"`` once found).
    path
        Its folder.
    reason
        Why :func:`find_network` chose it (empty for a folder loaded directly).
    passed_over
        Why :func:`find_network` passed over the model's shipped network for it, when it did
        (e.g. the shipped network no longer matches the model's spec); empty otherwise.
    """

    spec: ModelSpec
    settings: TrainSettings
    weights: dict[str, Any]  # the pytree of float32 arrays (hssm_nre.architecture)
    evidence: dict[str, np.ndarray] | None
    metadata: dict[str, Any]
    path: Path
    reason: str = ""
    passed_over: str = ""

    @property
    def source(self) -> str:
        """Where it came from: ``"shipped"``, ``"cache"``, ``"path"`` or ``"trained"``."""
        return self.metadata.get("source", "cache")

    @property
    def sha256(self) -> str:
        """The checksum of its weights file: which network this is, wherever it lies."""
        return str(self.metadata.get("weights_sha256", ""))

    def has_checksum(self, sha256: str) -> bool:
        """Whether this is the network of weights checksum ``sha256``.

        Parameters
        ----------
        sha256
            A weights checksum, e.g. one a model recorded when it was built.

        Returns
        -------
        bool
            True when ``sha256`` is its checksum now, or was before :func:`upgrade_entry` renamed
            its weights.
        """
        old = (self.metadata.get("upgraded_from") or {}).get("weights_sha256")
        return sha256 in (self.sha256, old)

    @property
    def validation_status(self) -> str | None:
        """``"passed"``, ``"failed"``, or None when the network was never validated."""
        return (self.metadata.get("validation") or {}).get("status")

    @property
    def validation_record(self) -> Path | None:
        """The validation's report (``validation.md`` as ``hssm-nre validate`` writes it; older
        records kept theirs in ``README.md``), or None when the network was never validated."""
        validation = self.metadata.get("validation")
        if not validation:
            return None
        return self.path / validation.get("record", "README.md")


# ----------------------------------------------------------------------------- writing
def _host() -> str:
    return socket.gethostname().replace("-", "_") or "host"


def _tmp_prefix() -> str:
    return f"{_TMP}{_host()}-{os.getpid()}-"


def _write_fix(root: Path) -> str:
    return (
        f"Point {ENV_VAR} (or `--cache-dir`) at a writable folder, or make {root} writable."
    )


def ensure_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and check that a file can be written in it.

    Raises :class:`CacheWriteError` naming the folder and the fix; called before any
    simulation, so a read-only cache is found out in a second, not after the training.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=_tmp_prefix(), dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise CacheWriteError(
            f"Cannot write to the cache folder {folder}: {e.strerror or e}. {_write_fix(folder)}"
        ) from e
    return folder


@contextmanager
def _key_lock(model_root: Path, key: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """The file lock of one cache key (``filelock``: released by the OS if the holder dies)."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(model_root / f".{key}.lock"), timeout=timeout)
    try:
        lock.acquire()
    except Timeout as e:
        raise CacheWriteError(
            f"Another process has held the lock {model_root / f'.{key}.lock'} for over {timeout:.0f} s "
            "while publishing the same network. Wait for it, or, if no hssm-nre process is running, "
            "delete that lock file."
        ) from e
    except OSError as e:
        raise CacheWriteError(
            f"Cannot create the lock file in {model_root}: {e.strerror or e}. {_write_fix(model_root)}"
        ) from e
    try:
        yield
    finally:
        lock.release()


def _is_stale(p: Path, now: float) -> bool:
    try:
        age = now - p.stat().st_mtime
    except OSError:
        return False
    try:
        host, pid, _ = p.name[len(_TMP):].rsplit("-", 2)
        pid_i = int(pid)
    except ValueError:  # another naming (older hssm_nre): by age only
        return age > STALE_SECONDS
    # signal 0 only asks whether the process exists (POSIX; on Windows os.kill would end it).
    # A writer in another PID namespace under the same host name looks gone: its folder is
    # then removed early, which costs that writer its write, never a published entry.
    if os.name == "posix" and host == _host() and pid_i != os.getpid():
        try:
            os.kill(pid_i, 0)
        except ProcessLookupError:
            return True  # its writer is gone
        except PermissionError:
            pass  # alive, another user's
    return age > STALE_SECONDS


def clean_stale_temps(model_root: Path) -> list[Path]:
    """Remove temporary folders (and pin files) that crashed writers left in ``model_root``;
    return them."""
    now = time.time()
    removed = []
    if not model_root.is_dir():
        return removed
    for p in model_root.iterdir():
        if p.name.startswith(_TMP) and _is_stale(p, now):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _aside(path: Path) -> Path:
    """Rename ``path`` to a fresh temporary name beside it; return the new name."""
    aside = Path(tempfile.mkdtemp(prefix=_tmp_prefix() + "old", dir=path.parent))
    os.rmdir(aside)
    os.rename(path, aside)
    return aside


def _write_arrays(file: Path, weights: dict[str, Any], evidence: dict[str, np.ndarray] | None) -> None:
    """weights.npz: float32 arrays, the network's pytree under ``w/<path>``, the evidence term's
    under ``e/``."""
    arrays = {f"w/{k}": np.asarray(v, np.float32) for k, v in flatten(weights).items()}
    if evidence is not None:
        arrays |= {f"e/{k}": np.asarray(v, np.float32) for k, v in evidence.items()}
    np.savez(file, **arrays)


def save_entry(
    spec: ModelSpec,
    settings: TrainSettings,
    weights: dict[str, np.ndarray],
    *,
    evidence: dict[str, np.ndarray] | None = None,
    extra_metadata: dict[str, Any] | None = None,
    root: Path | None = None,
) -> Path:
    """Write a cache entry and publish it atomically.

    The entry is written to a temporary folder in the model's folder and published by one
    rename under its key's file lock. If a complete entry with the same weights is already there
    (another process trained the same network), it is kept and this one discarded; any other
    entry under the same key (damaged, or another network) is replaced whole.

    Parameters
    ----------
    spec
        The model the network was trained for.
    settings
        How it was trained (with ``spec``, the weight format and the package versions, this
        makes the entry's key, :func:`cache_key`).
    weights
        The network's weights (a pytree of arrays), stored as float32.
    evidence
        The evidence term's arrays, if any.
    extra_metadata
        More entries for ``metadata.json`` (timings, the rt range, the ``reproduce`` command, ...).
    root
        The cache root (default: :func:`cache_dir`).

    Returns
    -------
    pathlib.Path
        The entry's folder, ``root/<model>/<key>``.

    Raises
    ------
    CacheWriteError
        The cache cannot be written, or another process holds the key's lock too long.
    CacheCorruptedError
        The weights do not match the architecture ``spec`` and ``settings`` describe: nothing
        is published.
    """
    versions = package_versions()
    key = cache_key(spec, settings, versions)
    root = cache_dir() if root is None else Path(root)
    model_root = ensure_writable(root / spec.name)
    final = model_root / key
    tmp = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(), dir=model_root))
        _as_created(tmp, folder=True)
        _write_arrays(tmp / "weights.npz", weights, evidence)
        meta = {
            "format": FORMAT_VERSION,
            "model": spec.name,
            "key": key,
            "spec": spec.to_dict(),
            "settings": settings.to_dict(),
            "versions": versions,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "weights_sha256": _sha256(tmp / "weights.npz"),
        } | (extra_metadata or {})
        (tmp / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        _load(tmp, check_spec=False)  # what is published must load (CacheCorruptedError: nothing is)
        with _key_lock(model_root, key):
            clean_stale_temps(model_root)
            if not final.exists():
                os.rename(tmp, final)
                tmp = None
            elif _existing_sha(final) == meta["weights_sha256"]:
                _log.info("%s already holds these weights (another process wrote them); kept it.", final)
            else:
                # damaged, or another network under the same key (e.g. trained without the
                # normaliser before): replaced whole, put back if the new one cannot go in
                old = _aside(final)
                try:
                    os.rename(tmp, final)
                except OSError:
                    os.rename(old, final)
                    raise
                tmp = None
                shutil.rmtree(old, ignore_errors=True)
    except CacheWriteError:
        raise
    except OSError as e:
        raise CacheWriteError(f"Could not write the cache entry {final}: {e}. {_write_fix(model_root)}") from e
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _existing_sha(path: Path) -> str | None:
    """The checksum of a complete, loadable entry at ``path``, or None."""
    try:
        return _load(path, check_spec=False).sha256
    except NREError:
        return None


def replace_weights(
    path: str | os.PathLike, weights: dict[str, Any], metadata_update: dict[str, Any]
) -> NetworkEntry:
    """Replace an entry's weights (keeping its evidence) and update its metadata, atomically.

    The new files are written to a temporary folder beside the entry and checked by loading
    them; the swap (two renames) runs under the entry's lock, so readers never see half of
    it, and a crash leaves the old entry or the new one (and at worst a temporary folder,
    removed at the next write). Other files in the folder (a README) are kept. Used to add a
    normaliser to a trained network without retraining it.

    Parameters
    ----------
    path
        The network folder.
    weights
        The new weights (a pytree of arrays).
    metadata_update
        Entries merged into its metadata.

    Returns
    -------
    NetworkEntry
        The new entry.

    Raises
    ------
    NetworkNotFoundError, CacheCorruptedError, CacheMismatchError
        The folder cannot be loaded (:func:`load_entry`, without the model-spec check).
    CacheWriteError
        The folder cannot be rewritten.
    """
    path = Path(path)
    entry = load_entry(path, check_spec=False)
    return _rewrite(path, weights, entry.evidence, entry.metadata | metadata_update)


def _rewrite(path: Path, weights: dict[str, Any], evidence: dict[str, np.ndarray] | None, meta: dict[str, Any]) -> NetworkEntry:
    """Write ``weights`` and ``meta`` to a folder beside ``path``, check that it loads, and swap it
    in atomically (under the key's lock for cache entries)."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(), dir=path.parent))
        _as_created(tmp, folder=True)
    except OSError as e:
        raise CacheWriteError(f"Cannot write beside {path}: {e.strerror or e}. {_write_fix(path.parent)}") from e
    old = None
    try:
        _write_arrays(tmp / "weights.npz", weights, evidence)
        meta = dict(meta)
        meta.pop("source", None)
        meta["weights_sha256"] = _sha256(tmp / "weights.npz")
        (tmp / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        for extra in path.iterdir():  # anything else in the folder (a README) travels along
            if extra.name not in ("weights.npz", "metadata.json"):
                (shutil.copytree if extra.is_dir() else shutil.copy2)(extra, tmp / extra.name)
        new = _load(tmp, check_spec=False)  # what is swapped in must load
        # a cache entry is swapped under its key's lock (readers may be loading it); a folder of
        # the user's elsewhere has no concurrent readers and gets no lock file beside it
        with _key_lock(path.parent, path.name) if _in_cache(path) else nullcontext():
            old = _aside(path)
            os.rename(tmp, path)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not path.exists():
            os.rename(old, path)
        if isinstance(e, OSError) and not isinstance(e, CacheWriteError):
            raise CacheWriteError(f"Could not rewrite {path}: {e}. {_write_fix(path.parent)}") from e
        raise
    shutil.rmtree(old, ignore_errors=True)
    new.path = path
    return new


def _nest_format_1(flat: dict[str, np.ndarray]) -> dict[str, Any]:
    """Format 1's flat weight names as the format-2 pytree: ``f0_W`` -> ``f/hidden/0/W``,
    ``f_out_b`` -> ``f/out/b``, ``lin_W`` -> ``head/W``, ``g..`` likewise, ``n..`` -> ``normaliser/..``."""
    paths = {}
    for name, value in flat.items():
        m = re.fullmatch(r"(f|g|n)(\d+|_out)_([Wb])", name)
        if name == "lin_W":
            paths["head/W"] = value
        elif m is None:
            raise CacheCorruptedError(f"Unknown format-1 weight name {name!r}.")
        else:
            net = {"f": "f", "g": "g", "n": "normaliser"}[m[1]]
            layer = "out" if m[2] == "_out" else f"hidden/{m[2]}"
            paths[f"{net}/{layer}/{m[3]}"] = value
    return unflatten(paths)


def upgrade_entry(path: str | os.PathLike) -> NetworkEntry:
    """Convert a network folder written in weight format 1 to this version's format.

    The conversion is in place and atomic and keeps the same network (the same numbers under new
    names), so its validation record stays; its old checksum is kept as ``upgraded_from``, so
    models built with it still find it. A folder already in the current format is loaded and
    returned unchanged. The command line's ``hssm-nre cache upgrade PATH``.

    Parameters
    ----------
    path
        The network folder, or its ``metadata.json``.

    Returns
    -------
    NetworkEntry
        The converted entry.

    Raises
    ------
    CacheCorruptedError
        The folder cannot be read, its weights' checksum does not match, or a weight name is not
        format 1's.
    CacheMismatchError
        The folder has a weight format other than 1 or the current one.
    CacheWriteError
        The folder cannot be rewritten.
    """
    path = Path(path)
    if path.name == "metadata.json":
        path = path.parent
    try:
        meta = json.loads((path / "metadata.json").read_text())
        blob = (path / "weights.npz").read_bytes()
    except (OSError, ValueError) as e:
        raise CacheCorruptedError(f"Cannot read the network folder {path}: {e}.") from e
    if meta.get("format") == FORMAT_VERSION:
        return load_entry(path, check_spec=False)
    if meta.get("format") != 1:
        raise CacheMismatchError(f"{path} has weight format {meta.get('format')}; only format 1 can be upgraded.")
    if _sha256_bytes(blob) != meta.get("weights_sha256"):
        raise CacheCorruptedError(f"Checksum mismatch for {path / 'weights.npz'}: the file is corrupted.")
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        arrays = {k: np.asarray(z[k]) for k in z.files}
    weights = _nest_format_1({k[2:]: v for k, v in arrays.items() if k.startswith("w/")})
    evidence = {k[2:]: v for k, v in arrays.items() if k.startswith("e/")} or None
    new_meta = meta | {
        "format": FORMAT_VERSION,
        "spec": ModelSpec.from_dict(meta["spec"]).to_dict(),
        "upgraded_from": {"format": 1, "weights_sha256": meta.get("weights_sha256")},
    }
    return _rewrite(path, weights, evidence, new_meta)


def _umask() -> int:
    """The process's umask, read without changing it (Linux), else by setting and restoring it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _as_created(target: int | Path, *, folder: bool = False) -> None:
    """Give a temporary file or folder (``mkstemp``/``mkdtemp``: owner only) the mode an ordinary
    new one gets (0666, or 0777 for a folder, less the umask) before it is renamed into place, so
    a cache entry, a shipped network's folder or its metadata stays readable by other users."""
    mode = (0o777 if folder else 0o666) & ~_umask()
    if isinstance(target, int):
        os.fchmod(target, mode)
    else:
        os.chmod(target, mode)


def update_metadata(path: str | os.PathLike, update: dict[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into a network folder's ``metadata.json`` (the weights, and so their
    checksum, unchanged): the new file is written beside it and renamed over it, under the
    entry's lock for cache entries. Returns the new metadata."""
    path = Path(path)
    entry = load_entry(path, check_spec=False)
    meta = {k: v for k, v in entry.metadata.items() if k != "source"} | update
    try:
        with _key_lock(path.parent, path.name) if _in_cache(path) else nullcontext():
            fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(), dir=path)
            try:
                _as_created(fd)
                with os.fdopen(fd, "w") as f:
                    f.write(json.dumps(meta, indent=2, sort_keys=True))
                os.replace(tmp, path / "metadata.json")
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    except CacheWriteError:
        raise
    except OSError as e:
        raise CacheWriteError(f"Could not update {path / 'metadata.json'}: {e}. {_write_fix(path)}") from e
    return meta


# ----------------------------------------------------------------------------- reading
def _fix_for(path: Path, model: str | None, spec_moved_since: dict | None = None) -> str:
    """What to do about the network folder ``path`` that cannot be used. ``spec_moved_since``:
    its metadata, when the problem is a model spec that moved since it was trained; for a
    shipped network reinstalling would then bring back the same folder."""
    if path.parent == shipped_dir():
        if spec_moved_since is None:
            return "Reinstall hssm-nre to restore the shipped network."
        made_with = spec_moved_since.get("versions", {}).get("ssm-simulators")
        return (
            f"Train one for today's spec with `hssm-nre train {model}` (it is used in the shipped network's place)"
            + (f", or install the ssm-simulators it was shipped with ({made_with})." if made_with else ".")
        )
    train = f"`hssm-nre train {model}`" if model else "`hssm-nre train MODEL`"
    return f"Delete {path} (`hssm-nre cache remove {path}`) and retrain with {train}."


def _load(path: Path, *, check_spec: bool) -> NetworkEntry:
    meta_file, weights_file = path / "metadata.json", path / "weights.npz"
    if not path.is_dir():
        raise NetworkNotFoundError(f"There is no network folder at {path}.")
    guess = path.parent.name if path.parent.parent == cache_dir() else None
    if not meta_file.is_file() or not weights_file.is_file():
        raise CacheCorruptedError(
            f"Network folder {path} lacks metadata.json or weights.npz. {_fix_for(path, guess)}"
        )
    try:
        meta_text = meta_file.read_text()
        blob = weights_file.read_bytes()
    except OSError as e:
        raise CacheCorruptedError(f"Cannot read {path}: {e}. {_fix_for(path, guess)}") from e
    try:
        meta = json.loads(meta_text)
        if not isinstance(meta, dict):
            raise TypeError("metadata.json does not hold an object")
        model = meta.get("model") or (meta.get("spec") or {}).get("name") or guess
        spec = ModelSpec.from_dict(meta["spec"])
        settings = TrainSettings.from_dict(meta["settings"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CacheCorruptedError(f"Unreadable metadata in {meta_file}: {e}. {_fix_for(path, guess)}") from e
    fix = _fix_for(path, model)
    if meta.get("format") != FORMAT_VERSION:
        upgrade = (
            f"Convert it with `hssm-nre cache upgrade {path}` (the same network under new names), or: "
            if meta.get("format") == 1
            else ""
        )
        raise CacheMismatchError(
            f"Network {path} has weight format {meta.get('format')}, this hssm_nre "
            f"reads format {FORMAT_VERSION}. {upgrade}{fix}"
        )
    if _sha256_bytes(blob) != meta.get("weights_sha256"):
        raise CacheCorruptedError(f"Checksum mismatch for {weights_file}: the file is corrupted. {fix}")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except Exception as e:  # zipfile/ValueError: a damaged archive
        raise CacheCorruptedError(f"Cannot read {weights_file}: {e}. {fix}") from e
    try:
        weights = unflatten({k[2:]: v for k, v in arrays.items() if k.startswith("w/")})
        expected = flatten(layer_shapes(spec, settings.widths, settings.evidence_widths))
        got = {k: tuple(v.shape) for k, v in flatten(network_weights(weights)).items()}
        consistent = got == expected and _normaliser_consistent(normaliser_weights(weights), spec.n_params)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        consistent = False
    evidence = {k[2:]: v for k, v in arrays.items() if k.startswith("e/")} or None
    if not consistent:
        raise CacheCorruptedError(f"Weights in {weights_file} do not match the architecture in its metadata. {fix}")
    if check_spec:
        try:
            current = model_spec(spec.name)
        except NREError:
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
                f"today's ssm-simulators config and hssm_nre give ({diff}).{why} "
                f"{_fix_for(path, spec.name, spec_moved_since=meta)}"
            )
    return NetworkEntry(spec, settings, weights, evidence, meta, path)


def load_entry(path: str | os.PathLike, *, check_spec: bool = True) -> NetworkEntry:
    """Load a network folder, verifying it thoroughly.

    The weights' checksum and shapes are checked against the metadata. An entry of the cache
    found mid-swap is read again under its lock.

    Parameters
    ----------
    path
        The network folder, or its ``metadata.json``.
    check_spec
        Also check that the network's model spec matches today's ssm-simulators config and
        hssm_nre (the feature set aside); models that :func:`hssm_nre.config.model_spec`
        refuses are not checked.

    Returns
    -------
    NetworkEntry
        The network (its ``metadata`` has no ``"source"`` yet).

    Raises
    ------
    NetworkNotFoundError
        There is no such folder.
    CacheCorruptedError
        Files are missing or unreadable, or the weights' checksum or shapes disagree with the
        metadata.
    CacheMismatchError
        The entry has another weight format, or (``check_spec``) was trained for a model spec
        that differs from today's ssm-simulators config.
    """
    path = Path(path)
    if path.name == "metadata.json":
        path = path.parent
    return _load_retrying(path, check_spec=check_spec, retry=_in_cache(path))


def _load_retrying(path: Path, *, check_spec: bool, retry: bool) -> NetworkEntry:
    try:
        return _load(path, check_spec=check_spec)
    except (CacheCorruptedError, NetworkNotFoundError) as first:
        if not retry:
            raise
        try:
            with _key_lock(path.parent, path.name, timeout=10.0):
                pass  # a swap in progress has finished once the lock is free
        except CacheWriteError:
            raise first from None
        return _load(path, check_spec=check_spec)


def _in_cache(path: Path) -> bool:
    """Whether ``path`` is an entry folder of the cache in use (a publisher may be swapping it)."""
    return path.parent.parent == cache_dir() or (path.parent / f".{path.name}.lock").exists()


def _normaliser_consistent(nw: dict[str, Any] | None, n_params: int) -> bool:
    """An optional normaliser must be a complete MLP chain from the parameters to one output."""
    if nw is None:
        return True
    widths = [layer["W"].shape[-1] for layer in nw["hidden"]]
    got = {k: tuple(v.shape) for k, v in flatten(nw).items()}
    return got == flatten(normaliser_shapes(n_params, widths))


# ----------------------------------------------------------------------------- the cache's contents
def list_entries(root: Path | None = None) -> dict[str, list[Path]]:
    """Cached entry folders per model name, newest first.

    Every folder ``root/<model>/<key>`` is listed, usable or not (:func:`scan` checks them);
    temporary folders of writers are left out, and so are models without entries.

    Parameters
    ----------
    root
        The cache root (default: :func:`cache_dir`).

    Returns
    -------
    dict of str to list of pathlib.Path
        The entry folders of each model, newest (by modification time) first.
    """
    root = cache_dir() if root is None else Path(root)
    out: dict[str, list[Path]] = {}
    if not root.is_dir():
        return out
    for model_root in sorted(p for p in root.iterdir() if p.is_dir()):
        entries = []
        for p in model_root.iterdir():
            if p.is_dir() and not p.name.startswith(_TMP):
                try:
                    entries.append((p.stat().st_mtime, p))
                except OSError:  # removed meanwhile
                    continue
        if entries:
            out[model_root.name] = [p for _, p in sorted(entries, key=lambda e: e[0], reverse=True)]
    return out


@dataclass
class CacheRecord:
    """One cache folder and whether it can be used (an item of :func:`scan`).

    Attributes
    ----------
    model
        The model folder it lies in.
    path
        The entry's folder.
    entry
        The loaded network, or None when it could not be loaded.
    problem
        Why it cannot be used (the message and the fix), or None.
    pinned
        Whether it is pinned as its model's network.
    size
        The size of its files, in bytes.
    """

    model: str
    path: Path
    entry: NetworkEntry | None = None
    problem: str | None = None
    pinned: bool = False
    size: int = 0

    @property
    def usable(self) -> bool:
        """Whether the entry loaded and has no problem."""
        return self.entry is not None and self.problem is None

    @property
    def status(self) -> str:
        """``"unusable"``, ``"pinned"``, or its validation status (``"passed"``, ``"failed"`` or
        ``"not validated"``).
        """
        if not self.usable:
            return "unusable"
        return "pinned" if self.pinned else (self.entry.validation_status or "not validated")


def _folder_size(path: Path) -> int:
    try:
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    except OSError:
        return 0


def _version_problem(entry: NetworkEntry, versions: dict[str, str]) -> str | None:
    """Why a cache entry cannot be used with the installed packages, or None. hssm-nre's own
    version is part of the key but not of this check: whatever in hssm_nre changes what a stored
    network means bumps ``FORMAT_VERSION`` (checked when the entry loads), so a network trained
    under an earlier release of the same format stays usable."""
    got = entry.metadata.get("versions")
    if not isinstance(got, dict):
        return f"{entry.path} records no package versions."
    diff = ", ".join(
        f"{k} {got.get(k)} (installed {v})" for k, v in versions.items() if k != "hssm-nre" and got.get(k) != v
    )
    return f"{entry.path} was trained under other package versions: {diff}." if diff else None


def scan(root: Path | None = None, model: str | None = None) -> list[CacheRecord]:
    """Every cache entry, loaded and checked (checksums included).

    An entry has a ``problem`` when it cannot be loaded (:func:`load_entry`), lies in another
    model's folder, records no package versions, or was trained under other versions of
    ssm-simulators, bayesflow or keras than those installed.

    Parameters
    ----------
    root
        The cache root (default: :func:`cache_dir`).
    model
        Only this model's entries (default: all).

    Returns
    -------
    list of CacheRecord
        One per entry, newest first within each model.
    """
    root = cache_dir() if root is None else Path(root)
    versions = package_versions()
    out = []
    for name, paths in list_entries(root).items():
        if model is not None and name != model:
            continue
        pin = pinned_key(name, root=root)
        for p in paths:
            rec = CacheRecord(name, p, pinned=(pin == p.name), size=_folder_size(p))
            try:
                rec.entry = _load_retrying(p, check_spec=True, retry=True)
            except NREError as e:
                rec.problem = str(e)
            else:
                rec.entry.metadata["source"] = "cache"
                if rec.entry.spec.name != name:
                    rec.problem = (
                        f"{p} holds a network for {rec.entry.spec.name!r} in the folder of {name!r}. "
                        f"{_fix_for(p, rec.entry.spec.name)}"
                    )
                else:
                    rec.problem = _version_problem(rec.entry, versions)
                    if rec.problem:
                        rec.problem += f" Retrain with `hssm-nre train {name}`."
            out.append(rec)
    return out


def pinned_key(model: str, *, root: Path | None = None) -> str | None:
    """The key of the entry pinned as ``model``'s network, or None."""
    root = cache_dir() if root is None else Path(root)
    f = root / model / PIN_FILE
    try:
        return str(json.loads(f.read_text())["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pin(path: str | os.PathLike, *, root: Path | None = None) -> NetworkEntry:
    """Make a cache entry its model's network, over a validated shipped one.

    :func:`find_network` then chooses it first. The entry is loaded and checked first.

    Parameters
    ----------
    path
        The entry folder, ``root/<model>/<key>``.
    root
        The cache root (default: :func:`cache_dir`).

    Returns
    -------
    NetworkEntry
        The pinned entry.

    Raises
    ------
    NetworkNotFoundError
        ``path`` is not an entry of the cache at ``root``, or holds a network for another model
        than its folder's.
    CacheCorruptedError, CacheMismatchError
        The entry cannot be used (:func:`load_entry`).
    CacheWriteError
        The pin cannot be written.
    """
    path = Path(path)
    root = cache_dir() if root is None else Path(root)
    _check_cache_entry(path, root)
    entry = load_entry(path)
    model_root = root / entry.spec.name
    if path.resolve().parent != model_root.resolve():
        raise NetworkNotFoundError(
            f"{path} is an entry of {path.parent.name!r}'s folder but holds a network for "
            f"{entry.spec.name!r}; it cannot be pinned."
        )
    ensure_writable(model_root)
    clean_stale_temps(model_root)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(), dir=model_root)
    try:
        _as_created(fd)
        with os.fdopen(fd, "w") as f:
            json.dump({"key": path.name}, f)
        os.replace(tmp, model_root / PIN_FILE)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise CacheWriteError(f"Could not pin {path}: {e}. {_write_fix(model_root)}") from e
        raise
    return entry


def unpin(model: str, *, root: Path | None = None) -> bool:
    """Remove ``model``'s pin.

    Parameters
    ----------
    model
        The model name.
    root
        The cache root (default: :func:`cache_dir`).

    Returns
    -------
    bool
        Whether there was a pin.

    Raises
    ------
    CacheWriteError
        The pin file cannot be removed.
    """
    root = cache_dir() if root is None else Path(root)
    f = root / model / PIN_FILE
    try:
        f.unlink()
    except FileNotFoundError:
        return False
    except OSError as e:
        raise CacheWriteError(f"Could not unpin {model!r} ({f}): {e}. {_write_fix(f.parent)}") from e
    return True


def _check_cache_entry(path: Path, root: Path) -> None:
    """Refuse anything but an entry folder of the cache at ``root``: ``root/<model>/<key>``
    holding a ``metadata.json`` (so no command deletes or pins a folder elsewhere)."""
    try:
        inside = path.resolve().parent.parent == root.resolve()
    except OSError:
        inside = False
    if not (inside and path.is_dir() and not path.name.startswith((".", _TMP)) and (path / "metadata.json").is_file()):
        raise NetworkNotFoundError(
            f"{path} is not an entry of the cache at {root} (a folder {root}/MODEL/KEY with a "
            "metadata.json); `hssm-nre cache` lists the entries."
        )


def remove_entry(path: str | os.PathLike, *, root: Path | None = None) -> None:
    """Delete a cache entry.

    The entry is renamed aside under its lock first, so readers never see half of it, and its
    pin is removed when it was pinned. Only entry folders of the cache at ``root`` are removed.

    Parameters
    ----------
    path
        The entry folder, ``root/<model>/<key>``.
    root
        The cache root (default: :func:`cache_dir`).

    Raises
    ------
    NetworkNotFoundError
        ``path`` is not an entry of the cache at ``root``.
    CacheWriteError
        The entry cannot be removed.
    """
    path = Path(path)
    root = cache_dir() if root is None else Path(root)
    _check_cache_entry(path, root)
    try:
        with _key_lock(path.parent, path.name):
            old = _aside(path)
        shutil.rmtree(old, ignore_errors=True)
        if pinned_key(path.parent.name, root=root) == path.name:
            (path.parent / PIN_FILE).unlink(missing_ok=True)
    except CacheWriteError:
        raise
    except OSError as e:
        raise CacheWriteError(f"Could not remove {path}: {e}. {_write_fix(path.parent)}") from e


# ----------------------------------------------------------------------------- which network
def _shipped(name: str) -> NetworkEntry | None:
    shipped = shipped_dir() / name
    if not (shipped / "metadata.json").is_file():
        return None
    entry = load_entry(shipped)
    entry.metadata["source"] = "shipped"
    return entry


def _shipped_or_problem(name: str) -> tuple[NetworkEntry | None, NREError | None]:
    """The shipped network (or None), or the error that keeps it from loading: damaged, or
    trained under another model spec than today's."""
    try:
        return _shipped(name), None
    except (CacheCorruptedError, CacheMismatchError) as e:
        return None, e


def _describe(entry: NetworkEntry) -> str:
    return f"the {entry.source} network {entry.path} (sha256 {entry.sha256[:12]})"


def find_network(name: str, *, root: Path | None = None, warn: bool = True) -> NetworkEntry:
    """The network ``hssm.HSSM(model=name, loglik_kind="nre")`` uses.

    Order: the entry pinned with ``hssm-nre cache pin``; else the newest cache entry whose
    validation passed; else the shipped network; else the newest usable cache entry. A newer,
    unvalidated cache entry does not displace the shipped network (pin it to use it). A shipped
    network that cannot be loaded (damaged, or trained under another model spec than today's)
    is passed over, with a warning, when a usable cache entry exists.

    Parameters
    ----------
    name
        The model name.
    root
        The cache root (default: :func:`cache_dir`).
    warn
        Issue the :class:`~hssm_nre.errors.CacheEntryWarning` about unusable entries.

    Returns
    -------
    NetworkEntry
        The network, with the reason it was chosen in ``entry.reason`` and its origin in
        ``entry.source``.

    Raises
    ------
    NetworkNotFoundError
        No shipped or usable cached network exists for the model; the message names the unusable
        entries and how to train one.
    CacheCorruptedError, CacheMismatchError
        The shipped network is damaged (reinstall hssm-nre) or was trained under another model
        spec than today's, and no usable cache entry exists (with one, the warning names the
        problem and the entry is used).

    Warns
    -----
    CacheEntryWarning
        Cache entries that cannot be used (damaged, other package versions, other model spec)
        or a pinned entry that is gone, with the reason, the fix and the network used instead.
    """
    records = scan(root, name)
    usable = [r for r in records if r.usable]
    bad = [r for r in records if not r.usable]
    chosen: NetworkEntry | None = None
    pin_key = pinned_key(name, root=root)
    notes = []
    if pin_key is not None:
        rec = next((r for r in records if r.path.name == pin_key), None)
        if rec is not None and rec.usable:
            chosen, chosen_reason = rec.entry, "pinned with `hssm-nre cache pin`"
        elif rec is None:
            notes.append(f"the pinned entry {pin_key} is gone (unpin with `hssm-nre cache unpin {name}`)")
        # a pinned entry that is there but unusable is named with the other unusable ones
    if chosen is None:
        validated = [r for r in usable if r.entry.validation_status == "passed"]
        if validated:
            chosen, chosen_reason = validated[0].entry, "the newest cache entry that passed validation"
    shipped_problem = None
    if chosen is None:
        chosen, problem = _shipped_or_problem(name)
        if problem is not None:
            if not usable:  # nothing else to use: the error itself says what to do
                raise problem
            # e.g. an ssm-simulators config that moved since the network shipped: a network the
            # user trained since is used instead, with the reason in the warning
            shipped_problem = f"the shipped network {shipped_dir() / name} cannot be used: {problem}"
            notes.append(shipped_problem)
        if chosen is not None:
            status = chosen.validation_status or "not validated"
            chosen_reason = f"the shipped network (validation: {status})"
            if usable:
                keys = ", ".join(r.path.name for r in usable)
                chosen_reason += (
                    f"; cache entries not validated, so not used: {keys} "
                    f"(use one with `hssm-nre cache pin {name} KEY` or `nre_weights=`)"
                )
    passed_over = ""
    if chosen is None and usable:
        passed_over = shipped_problem or ""
        chosen, chosen_reason = usable[0].entry, (
            f"the newest cache entry (not validated); {shipped_problem}" if shipped_problem
            else "the newest cache entry (no shipped network; not validated)"
        )
    if bad or notes:
        instead = _describe(chosen) if chosen is not None else "none (no usable network)"
        lines = [f"{r.path}: {r.problem}" for r in bad] + notes
        if warn:
            _warn(
                CacheEntryWarning(
                    f"{len(bad) + len(notes)} cache problem(s) for {name!r}"
                    + (" (the pinned entry among them)" if pin_key and any(r.path.name == pin_key for r in bad) else "")
                    + f", used instead: {instead}. "
                    + " | ".join(lines)
                    + " Remove unusable entries with `hssm-nre cache remove --unusable`."
                )
            )
    if chosen is None:
        shipped = ", ".join(shipped_models()) or "none"
        cached = ", ".join(sorted(list_entries(root))) or "none"
        detail = (" Unusable entries: " + " | ".join(f"{r.path}: {r.problem}" for r in bad)) if bad else ""
        raise NetworkNotFoundError(
            f"No shipped or cached NRE for model {name!r} (shipped: {shipped}; cached: {cached}).{detail} "
            f"Train one with `hssm-nre train {name}`, or pass `nre_train=True` to hssm.HSSM "
            "to train on first use, or `nre_weights=<folder>`."
        )
    chosen.reason = chosen_reason
    chosen.passed_over = passed_over
    return chosen


def find_by_checksum(name: str, sha256: str, *, root: Path | None = None) -> NetworkEntry | None:
    """The shipped network or cache entry of ``name`` whose weights have checksum ``sha256``.

    Also found: a network that had that checksum before :func:`upgrade_entry` converted it (the
    same network).

    Parameters
    ----------
    name
        The model name.
    sha256
        The weights checksum (:attr:`NetworkEntry.sha256`).
    root
        The cache root (default: :func:`cache_dir`).

    Returns
    -------
    NetworkEntry or None
        The network, or None when none has that checksum.

    Raises
    ------
    CacheCorruptedError, CacheMismatchError
        The shipped network cannot be loaded (damaged: reinstall hssm-nre; or trained under
        another model spec than today's) and no cache entry has the checksum.
    """
    shipped, problem = _shipped_or_problem(name)
    if shipped is not None and shipped.has_checksum(sha256):
        return shipped
    for rec in scan(root, name):
        if rec.entry is not None and rec.entry.has_checksum(sha256):
            return rec.entry
    if problem is not None:  # it may have been the one
        raise problem
    return None
