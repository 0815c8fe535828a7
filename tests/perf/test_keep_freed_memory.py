"""keep_freed_memory: glibc reuses a freed large block instead of unmapping it, so allocating it
again costs no page faults (the kernel's own count, getrusage's ru_minflt, is the reference). Each
case runs in a fresh interpreter, so the test process's allocator is left as it was."""
import platform
import subprocess
import sys

import pytest

import trpo

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="glibc's mallopt")

CODE = """
import resource, sys
import numpy as np
from trpo.system import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
n = 200 * 2**20 // 4                       # 200 MB of float32, like one float copy of a frame batch
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(n, np.float32); del a          # the first pass faults its pages in either way
before = faults()
a = np.ones(n, np.float32); del a          # the second pass: fresh pages again, or the kept ones
print(faults() - before)
"""


def _second_pass_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", CODE, mode], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.split()[-1])


def test_a_freed_block_is_reused_without_page_faults():
    pages = 200 * 2**20 // 4096
    kept = _second_pass_faults("keep")
    assert kept < 0.02 * pages, kept  # 51,200 pages; reused memory faults none of them in
    assert _second_pass_faults("default") > kept  # glibc's default unmaps it and faults it in again


def test_the_atari_presets_turn_it_on_and_nothing_else_does():
    from trpo.resolve import layer

    for name, on in [("atari", True), ("atari-paper", True), ("minatar", False), ("mujoco", False)]:
        assert layer(trpo.Config(env_id="CartPole-v1", preset=name)).keep_freed_memory is on, name
    assert trpo.Config().keep_freed_memory is False
