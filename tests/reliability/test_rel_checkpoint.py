"""Checkpoints: atomic, checksummed, never unpickled; corrupt / tampered / pickle files refused."""
import hashlib
import json
import os
import pickle

import pytest
import torch

from trpo import checkpoint as ck
from trpo.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from trpo.errors import CheckpointError


def _state():
    return {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "n": 3, "t": (1, 2.5)}


def _save(d, it):
    return save_checkpoint(d, it, _state(), {"config": {}, "counters": {"iteration": it}})


class _Payload:
    """Unpickling this runs os.system-like code: it writes a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_roundtrip_and_manifest(tmp_path):
    m = _save(tmp_path, 1)
    state, manifest = load_checkpoint(m)
    assert torch.equal(state["w"], _state()["w"]) and state["t"] == (1, 2.5)
    blob = (tmp_path / manifest["tensors_file"]).read_bytes()
    assert manifest["sha256"] == hashlib.sha256(blob).hexdigest()
    assert manifest["format_version"] == ck.FORMAT_VERSION and manifest["counters"] == {"iteration": 1}


def test_pickle_payload_never_runs(tmp_path):
    marker = tmp_path / "PWNED"
    d = tmp_path / "ckpts"
    d.mkdir()
    # 1. a torch.save'd pickle renamed to .safetensors, with a manifest pointing at it (right checksum)
    evil = d / "ckpt-000001.safetensors"
    torch.save({"x": _Payload(str(marker))}, evil)
    sha = hashlib.sha256(evil.read_bytes()).hexdigest()
    (d / "ckpt-000001.json").write_text(json.dumps({"format": ck.FORMAT, "format_version": 1,
                                                    "tensors_file": evil.name, "sha256": sha, "state": {}}))
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_checkpoint(d / "ckpt-000001.json")
    # 2. a raw pickle given as the manifest itself
    raw = d / "ckpt-000002.json"
    raw.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(CheckpointError, match="never pickles"):
        load_checkpoint(raw)
    # 3. the directory form picks the newest manifest: the pickle one, refused too
    with pytest.raises(CheckpointError):
        load_checkpoint(d)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "missing", "manifest_garbage", "wrong_format",
                                    "future_version", "missing_entry"])
def test_corrupt_checkpoints_are_refused(tmp_path, damage):
    m = _save(tmp_path, 1)
    t = m.with_suffix(".safetensors")
    blob = bytearray(t.read_bytes())
    man = json.loads(m.read_text())
    if damage == "flip":
        blob[len(blob) // 2] ^= 0xFF
        t.write_bytes(bytes(blob))
    elif damage == "truncate":
        t.write_bytes(bytes(blob[: len(blob) // 2]))
    elif damage == "empty":
        t.write_bytes(b"")
    elif damage == "missing":
        t.unlink()
    elif damage == "manifest_garbage":
        m.write_bytes(b"\x80\x04garbage{")
    elif damage == "wrong_format":
        m.write_text(json.dumps({**man, "format": "other"}))
    elif damage == "future_version":
        m.write_text(json.dumps({**man, "format_version": 99}))
    elif damage == "missing_entry":
        man["state"]["w"] = {"__tensor__": "t.nope"}
        m.write_text(json.dumps(man))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(m)
    assert "\n" not in str(e.value)


def test_crash_between_tensor_file_and_manifest_keeps_previous(tmp_path, monkeypatch):
    """kill -9 mid-save, simulated: the process dies after the tensor file, before the manifest."""
    _save(tmp_path, 1)
    real = ck.atomic_write

    def dying(path, data):
        if path.suffix == ".json":
            raise SystemExit("killed")  # nothing after this point runs
        real(path, data)

    monkeypatch.setattr(ck, "atomic_write", dying)
    with pytest.raises(SystemExit):
        _save(tmp_path, 2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt-000001.json"]
    state, manifest = load_checkpoint(tmp_path)
    assert manifest["iteration"] == 1 and torch.equal(state["w"], _state()["w"])


def test_crash_inside_atomic_write_keeps_old_file(tmp_path, monkeypatch):
    """A crash after the temp file is written but before the rename leaves the old file whole."""
    _save(tmp_path, 1)
    m = tmp_path / "ckpt-000001.json"
    before = m.read_bytes()
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        _save(tmp_path, 1)  # overwrite the same checkpoint: dies before the rename
    monkeypatch.undo()
    assert m.read_bytes() == before
    load_checkpoint(m)


def test_keep_only_recent(tmp_path):
    for i in range(1, 6):
        save_checkpoint(tmp_path, i, _state(), {"config": {}, "counters": {}}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt-000004.json", "ckpt-000005.json"]
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == ["ckpt-000004.safetensors", "ckpt-000005.safetensors"]
