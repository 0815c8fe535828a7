"""Facts about the machine this process runs on."""
from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on (its affinity set), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU as lscpu names it, with the CPU count and the hypervisor when there is one, e.g.
    'AMD EPYC, 2 CPU(s), KVM VM'. Seeded runs give different floating-point results on different
    CPU models and speeds move with them, so every measured figure is reported with this."""
    import platform
    import subprocess

    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    info = dict((k.strip(), v.strip()) for k, v in (ln.split(":", 1) for ln in out.splitlines() if ":" in ln))
    model = info.get("Model name") or platform.processor() or platform.machine() or "unknown CPU"
    hyp = info.get("Hypervisor vendor")
    return f"{model}, {info.get('CPU(s)', os.cpu_count())} CPU(s)" + (f", {hyp} VM" if hyp else "")


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Make glibc's malloc serve allocations up to 2 GiB from its heap and keep what is freed for
    reuse, rather than mmap-ing each large block and unmapping it on free. A training iteration on
    Atari frames converts the uint8 batch to float several times (4,096 x 4 x 84 x 84 float32 =
    462 MB a pass); with glibc's defaults every pass page-faults that memory fresh and the kernel
    zeroes it, about half of the CPU time (docs/atari.md, "Speed on a CPU"). The process keeps
    its peak heap instead of returning it between passes. Applies to this process and to the
    processes it forks afterwards (the critic helper). Returns whether glibc accepted both
    settings; False, doing nothing, on other C libraries and systems."""
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    big = 2**31 - 1
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, big)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, big))


def git_state() -> dict[str, object] | None:
    """The commit of the package's own source tree and whether it has uncommitted changes to
    tracked files, ``{"commit": SHA, "dirty": bool}``; None when the package does not run from a
    git checkout (an installed wheel). Every result names the code that made it."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "src"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": sha, "dirty": dirty}


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG), so that a
    helper never outlives a trainer killed with SIGKILL; elsewhere nothing (the closed pipe still
    ends the loop)."""
    import ctypes
    import ctypes.util
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
