"""Safe, atomic checkpoints: tensors in safetensors, everything else in a JSON manifest.

A checkpoint ``ckpt-000042`` is two files in ``checkpoints/``:

* ``ckpt-000042.safetensors`` — every tensor and array (networks, optimiser moments, RNG state,
  normaliser statistics). safetensors holds raw bytes and a JSON header: loading runs no code.
* ``ckpt-000042.json`` — the manifest: format version, config, counters, the non-tensor state
  (with references into the tensor file) and the SHA-256 of the tensor file.

Each file is written to a temporary name, fsync'ed and renamed; the manifest goes last, so a
checkpoint exists only once both are complete: a crash or ``kill -9`` mid-save leaves the previous
checkpoint as the latest loadable one. Nothing here ever unpickles.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from trpo.errors import CheckpointError

FORMAT = "trpo-checkpoint"
FORMAT_VERSION = 1
_NAME = re.compile(r"^ckpt-(\d{6,})\.json$")


# --- state trees <-> (JSON, tensors) ---------------------------------------------------------------
def split_tensors(obj: Any, tensors: dict[str, torch.Tensor], path: str = "t") -> Any:
    """Replace every tensor / ndarray in a nested structure by a reference into ``tensors``."""
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().cpu().contiguous()
        return {"__tensor__": path}
    if isinstance(obj, np.ndarray):
        tensors[path] = torch.from_numpy(np.ascontiguousarray(obj))
        return {"__ndarray__": path}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: split_tensors(v, tensors, f"{path}.{k}") for k, v in obj.items()}
        return {"__items__": [[k, split_tensors(v, tensors, f"{path}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [split_tensors(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [split_tensors(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    raise TypeError(f"cannot checkpoint a {type(obj).__name__}")


def join_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return tensors[obj["__ndarray__"]].numpy()
        if "__tuple__" in obj:
            return tuple(join_tensors(v, tensors) for v in obj["__tuple__"])
        if "__items__" in obj:
            return {k: join_tensors(v, tensors) for k, v in obj["__items__"]}
        return {k: join_tensors(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


def unshared(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``tensors`` with every tensor whose memory an earlier one uses copied (safetensors refuses
    shared memory): a module in two networks (``shared_trunk``) is saved under each name, and
    loading fills both with the same values."""
    seen: set[int] = set()
    out = {}
    for k, t in tensors.items():
        ptr = t.untyped_storage().data_ptr()
        out[k] = t.clone() if ptr in seen and t.numel() else t
        seen.add(ptr)
    return out


# --- atomic files ---------------------------------------------------------------------------------
def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def save_checkpoint(ckpt_dir: Path, iteration: int, state: dict, meta: dict, keep: int | None = 3) -> Path:
    """Save ``state`` (a nested dict with tensors) as checkpoint number ``iteration``; keep the
    ``keep`` most recent ones (None: all). Returns the manifest path."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    tree = split_tensors(state, tensors)
    blob = st_save(unshared(tensors))
    stem = f"ckpt-{iteration:06d}"
    atomic_write(ckpt_dir / f"{stem}.safetensors", blob)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "iteration": iteration,
                "tensors_file": f"{stem}.safetensors", "sha256": hashlib.sha256(blob).hexdigest(),
                **meta, "state": tree}
    path = ckpt_dir / f"{stem}.json"
    atomic_write(path, json.dumps(manifest).encode())
    for old in list_checkpoints(ckpt_dir)[:-keep] if keep else []:
        old.unlink(missing_ok=True)
        old.with_suffix(".safetensors").unlink(missing_ok=True)
    return path


def list_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Manifests in ``ckpt_dir``, oldest first."""
    if not Path(ckpt_dir).is_dir():
        return []
    found = [p for p in Path(ckpt_dir).iterdir() if _NAME.match(p.name)]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))  # type: ignore[union-attr]  # matched above


def load_checkpoint(path: str | Path, fallback: bool = True) -> tuple[dict, dict]:
    """Load and verify a checkpoint; ``path`` is a manifest, a run directory or a checkpoints/
    directory (then the newest valid checkpoint: a damaged newer one is skipped with one line on
    stderr naming it, unless ``fallback`` is False). Returns (state, manifest); the manifest's
    ``path`` is the manifest file loaded. Raises CheckpointError."""
    import sys

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint found: {path} does not exist")
    if not path.is_dir():
        return _load_one(path)
    ckpts = list_checkpoints(path / "checkpoints") or list_checkpoints(path)
    if not ckpts:
        raise CheckpointError(f"no checkpoint found in {path}")
    first_error = None
    for cand in reversed(ckpts):
        try:
            state, manifest = _load_one(cand)
        except CheckpointError as e:
            if not fallback:
                raise
            first_error = first_error or e
            print(f"note: skipping damaged checkpoint {cand.name} ({e})", file=sys.stderr)
            continue
        if first_error is not None:
            print(f"note: using {cand} (iteration {manifest.get('iteration')}), the newest valid checkpoint",
                  file=sys.stderr)
        return state, manifest
    raise CheckpointError(f"every checkpoint in {path} is damaged; the newest: {first_error}")


def _load_one(path: Path) -> tuple[dict, dict]:
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"checkpoint manifest {path} is corrupt (not JSON); "
                              "trpo checkpoints are never pickles and pickles are never loaded") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a trpo checkpoint manifest")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {manifest['format_version']}, "
                              f"newer than this trpo supports ({FORMAT_VERSION})")
    tfile = path.parent / Path(str(manifest.get("tensors_file", ""))).name
    try:
        blob = tfile.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint tensors file missing: {tfile}") from None
    if hashlib.sha256(blob).hexdigest() != manifest.get("sha256"):
        raise CheckpointError(f"checkpoint {tfile} is corrupt, truncated or tampered with (checksum mismatch)")
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {tfile} is not a valid safetensors file: {e}") from None
    try:
        state = join_tensors(manifest["state"], tensors)
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} is inconsistent: missing entry {e}") from None
    manifest["path"] = str(path)
    return state, manifest


def describe(manifest: dict) -> str:
    """'PATH (iteration N, S env steps)' of a loaded checkpoint, for the lines eval and resume print."""
    steps = (manifest.get("counters") or {}).get("env_steps")
    return (f"{manifest.get('path', '?')} (iteration {manifest.get('iteration')}"
            + (f", {steps:,} env steps)" if isinstance(steps, int) else ")"))
