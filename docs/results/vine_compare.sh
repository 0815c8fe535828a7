#!/usr/bin/env bash
# Single path vs vine (TRPO paper §5.1 vs §5.2) at equal total env steps, 3 seeds each.
# Every simulated step, vine branches included, counts in --total-steps.
# Usage: bash docs/results/vine_compare.sh [RUNS_DIR]   (then: python docs/results/vine_table.py RUNS_DIR)
set -euo pipefail
RUNS=${1:-runs/vine_compare}
TRPO=${TRPO:-.venv/bin/trpo}
VINE_COMMON="--set batch_steps=4096 --set vine_trunk_fraction=0.25"
for seed in 0 1 2; do
  $TRPO train CartPole-v1 --seed $seed --total-steps 100000 --quiet --run-dir $RUNS/CartPole-v1_single-path_s$seed
  $TRPO train CartPole-v1 --seed $seed --total-steps 100000 --quiet --run-dir $RUNS/CartPole-v1_vine_s$seed \
    --sampler vine $VINE_COMMON --set vine_branch_length=100
done
for seed in 0 1 2; do
  $TRPO train Hopper-v5 --seed $seed --total-steps ${HOPPER_STEPS:-200000} --quiet --run-dir $RUNS/Hopper-v5_single-path_s$seed
  $TRPO train Hopper-v5 --seed $seed --total-steps ${HOPPER_STEPS:-200000} --quiet --run-dir $RUNS/Hopper-v5_vine_s$seed \
    --sampler vine $VINE_COMMON --set vine_branch_length=50 --set vine_actions=4
done
