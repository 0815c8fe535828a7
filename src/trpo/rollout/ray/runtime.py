"""Ray itself, for the Ray sampler and the asynchronous workers: importing it (an optional
dependency, never at module level), joining a cluster or starting a local instance sized to this
machine, and the one-line messages."""
from __future__ import annotations

import os
import sys

from trpo.errors import ConfigError, TrpoError
from trpo.system import usable_cores

START_TIMEOUT_S = 120.0  # a (re)started worker process must be up within max(this, worker_timeout_s)


def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("backend 'ray' needs Ray: pip install 'trpo[ray]'") from None
    return ray


def init_ray(ray, address: str, min_cpus: int, object_store_bytes: int = 0) -> bool:
    """Join the cluster at ``address``, or start a local instance with max(min_cpus, this
    machine's cores) CPU slots; nothing if Ray is initialised already. True: this call started
    Ray (the caller shuts it down)."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            store = max(256 * 2**20, 3 * object_store_bytes)
            # address "local": a new instance even where `ray start` runs one (ray.init() would join it)
            ray.init(address="local", num_cpus=max(min_cpus, usable_cores()), **quiet,
                     **({"object_store_memory": store} if store <= 2 * 2**30 else {}))
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"join the Ray cluster at {address!r}" if address else "start a local Ray instance"
        raise TrpoError(f"cannot {where}: {first_line(e)}") from None
    return True


def first_line(e: BaseException) -> str:
    lines = [s.strip() for s in str(e).splitlines() if s.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:300]


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr, flush=True)


def node_id() -> str:
    try:
        import ray
        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - informational only
        return ""
