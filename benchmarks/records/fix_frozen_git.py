"""Copy the mujoco-heldout records made in a frozen worktree into this tree, correcting one field.

    python benchmarks/records/fix_frozen_git.py /work/frozen-heldout

The harness of the first mujoco-heldout runs recorded ``machine.git`` from the ``trpo`` its own
process had imported (the editable install of another checkout), not from the frozen tree whose
``src/`` the workers ran. The workers' own ``summary.json`` (``result.summary.git``) names the code
that ran; this copies each record, sets ``machine.git`` to the frozen tree's commit (the peer's
records have no summary) and keeps the wrong value as ``machine.git_recorded_by_bug``.
"""
import json
import subprocess
import sys
from pathlib import Path

frozen = Path(sys.argv[1])
sha = subprocess.run(["git", "-C", str(frozen), "rev-parse", "HEAD"], capture_output=True, text=True,
                     check=True).stdout.strip()
dest = Path(__file__).resolve().parent / "mujoco-heldout"
dest.mkdir(exist_ok=True)
for f in sorted((frozen / "benchmarks" / "records" / "mujoco-heldout").glob("*.json")):
    rec = json.loads(f.read_text())
    m = rec["machine"]
    if m.get("git", {}).get("commit") != sha and "git_recorded_by_bug" not in m:
        m["git_recorded_by_bug"] = m.get("git")
        m["git"] = (rec["result"].get("summary") or {}).get("git") or {"commit": sha, "dirty": False}
    (dest / f.name).write_text(json.dumps(rec, indent=1) + "\n")
    print(f.name, m["git"]["commit"][:7])
