#!/usr/bin/env bash
# docs/results/recurrent.md: recurrent TRPO (policy = gru, the defaults otherwise), our MLP policy
# with the same settings, and sb3-contrib's RecurrentPPO with RL-Zoo's ppo_lstm settings and budget
# (100k steps), side by side per env in one command each, seeds 0-2. One run at a time; the peer
# on one torch thread (the other core ran other jobs).
# Usage: bash docs/results/recurrent/run.sh   (BENCH=path/to/bench_trpo.py TRPO_SRC=frozen/src to pin both)
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PYTHONPATH=${TRPO_SRC:-$PWD/src}
bench=${BENCH:-benchmarks/bench_trpo.py}
for env in trpo/CartPoleNoVelocity-v1 trpo/PendulumNoVelocity-v1; do
  .venv/bin/python "$bench" --env "$env" --peer recurrentppo --set policy=gru --only ours,ours-mlp,peer \
    --steps 300000 --peer-steps 100000 --seeds 0 1 2 --eval-every 10000 --peer-threads 1 \
    --out benchmarks/results
done
