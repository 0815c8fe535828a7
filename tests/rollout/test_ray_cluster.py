"""The Ray backend on a real multi-node cluster on this machine (``ray.cluster_utils.Cluster``:
a head without CPUs for workers, and two nodes of one CPU each, so each rollout worker runs on its
own node). In the middle of the run a third node joins and one of the workers' nodes is removed:
its worker dies with the node's raylet, is restarted on the new node from the snapshots of its
envs, and the run finishes with the metrics, value for value, of the undisturbed local run with the
same envs (the Ray sampler's batches equal the local sampler's with workers * num_envs envs:
tests/rollout/test_ray_sampler.py). summary.json counts the three nodes that ran a worker."""
import csv
import os
import signal

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from trpo import Config  # noqa: E402


def _metrics(run_dir) -> list[dict]:
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    return [{k: v for k, v in r.items() if k not in ("wall_s", "fps") and not k.endswith("_s")} for r in rows]


@pytest.fixture
def cluster():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():  # another module's local instance in this test process
        ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    nodes = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    yield c, nodes
    if ray.is_initialized():
        ray.shutdown()
    c.shutdown()


@pytest.mark.slow
def test_a_node_removed_mid_run_and_another_joined_the_run_equals_the_undisturbed_one(cluster, tmp_path, capsys):
    from trpo.trainer import train

    c, nodes = cluster
    common = dict(env_id="CartPole-v1", algo="trpo", batch_steps=256, seed=5, total_steps=1536, vector_mode="sync",
                  eval_periodic_episodes=0, eval_episodes=2, checkpoint_every=100, check_env=False)
    train(Config(**common, num_envs=4), tmp_path / "local", progress=False)

    def move(row, agent):
        if row["iteration"] == 2:  # between batches: the next batch meets the dead node
            c.add_node(num_cpus=1)
            c.wait_for_nodes()
            c.remove_node(nodes[0])

    res = train(Config(**common, backend="ray", workers=2, num_envs=2, ray_address=c.address), tmp_path / "ray",
                progress=True, callback=move)
    out = capsys.readouterr()
    s = res.summary
    assert s["worker_restarts"] >= 1 and s["ray_nodes"] == 3, s
    assert "backend ray: 2 workers x 2 envs on 2 nodes of the cluster at" in out.out
    assert "restarted it (its envs restored from the last batch)" in out.err
    assert _metrics(tmp_path / "ray") == _metrics(tmp_path / "local")


DRIVER = r"""
import sys
from ray.cluster_utils import Cluster
from trpo import Config
from trpo.trainer import train
c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
c.add_node(num_cpus=2)
c.wait_for_nodes()
import os
nodes = [c.head_node, *c.worker_nodes]
pids = {i.process.pid for node in nodes for infos in node.all_processes.values() for i in infos}
parent = {}
for d in os.listdir("/proc"):
    try:
        parent[int(d)] = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
    except (ValueError, OSError):
        pass
while True:  # and their descendants (the raylets' agents)
    more = {p for p, pp in parent.items() if pp in pids} - pids
    if not more:
        break
    pids |= more
with open(sys.argv[2], "w") as f:  # the cluster's processes, for the test to stop after the driver's death
    f.writelines(f"{p}\n" for p in sorted(pids))

def lose_the_drivers_node(row, agent):
    if row["iteration"] == 3:  # after the checkpoint of iteration 2; the driver runs on the head node
        c.head_node.kill_raylet()

train(Config(env_id="CartPole-v1", batch_steps=256, total_steps=256 * 50, checkpoint_every=2, eval_episodes=1,
             eval_periodic_episodes=0, check_env=False, backend="ray", workers=2, num_envs=2, ray_address=c.address),
      sys.argv[1], progress=False, callback=lose_the_drivers_node)
print("not reached")
"""


@pytest.mark.slow
def test_when_the_drivers_node_dies_the_run_says_so_in_one_line(tmp_path):
    """Ray ends the driver from its C++ core (exit status 1, no Python code runs) when the raylet
    of the driver's node dies; the run's watcher process says what happened and how to resume."""
    import subprocess
    import sys

    run, pids = tmp_path / "run", tmp_path / "pids"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    try:
        p = subprocess.run([sys.executable, "-c", DRIVER, str(run), str(pids)], capture_output=True, text=True,
                           timeout=600, env=env)
    finally:  # the cluster outlives its driver: stop its processes (not `ray stop`, which stops every Ray here)
        for pid in (pids.read_text().split() if pids.exists() else []):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert p.returncode != 0 and "not reached" not in p.stdout
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("error: the run in")]
    assert len(lines) == 1, p.stderr[-3000:]
    assert "ended without a word" in lines[0] and "the Ray node it runs on dies" in lines[0]
    assert f"the last checkpoint is iteration 2 (512 env steps): trpo train --resume {run}" in lines[0]
