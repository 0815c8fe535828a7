"""The Ray backend: distributed synchronous sampling on Ray (``backend = "ray"``): single path and vine.

The learner (the "driver") holds the policy; ``workers`` Ray actors each run a vector env of
``num_envs`` envs. Every iteration the driver

  1. puts the actor's weights and the observation statistics in the object store once (shared),
  2. draws the action-sampling noise of the whole batch from ITS generator, in the order the
     local sampler would draw it, and hands each worker its slice,
  3. gathers each worker's (T, num_envs) slice and joins them along the env axis into one
     (T, workers * num_envs) Batch, then updates the observation statistics from all raw
     observations and scales the rewards over all columns, as the local sampler does.

Same batches as the local sampler. Worker k's envs are seeded ``seed + k * num_envs + i``, i.e.
like columns k * num_envs + i of a local vector env of ``workers * num_envs`` envs, and its
actions use that column's slice of the noise the local sampler's single generator would draw
(Gaussian: ``standard_normal((N, act_dim))`` per step; categorical: Gumbel noise). So a Ray run
and a local run with ``num_envs = workers * num_envs`` produce bit-for-bit the same batches,
statistics and checkpoints when the vector env's sub-envs are independent envs seeded
``seed + i`` (``vector_mode`` ``sync`` or ``async``; not the array-at-once ``vector_entry_point``
CartPole, whose envs share one generator) and the actor is a plain built-in MLP actor (the numpy
fast path, ``trpo.nets.policies.plain_actor_class``). Any other actor samples in torch from one seed
per step; there each worker gets its own seed (equal to the local run for ``workers = 1``).
Vine sampling distributes the rollout set: the driver draws the states, the branch actions' noise
and the common-random-number seeds as the local vine sampler would; each worker snapshots its
own states during its trunk and rolls out their branches in its own branch env.

Faults. A worker that dies (its process killed, its node lost) or has not answered within
``worker_timeout_s`` is killed and replaced by a new actor, which restores the envs' snapshots
from the end of the previous batch (``trpo.envs.snapshot``; envs that cannot be snapshotted restart
from a fresh reset with a new seed) and re-samples its share with the same weights and noise:
with snapshots the batch is the same as without the fault. After ``max_worker_failures``
consecutive failures of one worker the run stops with ``WorkerFailureError`` (the trainer then
saves a checkpoint of the last completed iteration). ``summary()`` counts restarts and timeouts.

Needs Ray (``pip install 'trpo[ray]'``); nothing here imports it at module level. Without
``ray_address`` a local Ray instance is started, sized to this machine (and shut down by
``close``); with one, the run joins that cluster. If Ray is already initialised it is used as is.

The modules: ``runtime`` (importing Ray, joining or starting an instance, messages),
``replay`` (the driver's action noise, replayed by the workers), ``worker`` (the rollout worker
actor) and ``sampler`` (``RaySampler``, the driver). ``trpo.rollout.async_workers`` shares
``runtime``.
"""
