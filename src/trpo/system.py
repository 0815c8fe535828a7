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
