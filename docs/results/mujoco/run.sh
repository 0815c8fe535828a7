#!/usr/bin/env bash
# The MuJoCo table of docs/results/mujoco.md: TRPO at 1M steps with the shipped settings (the
# mujoco presets, which `trpo train` picks for these ids), 5 envs x seeds 0-4, two runs at a time
# (one core each: the critic is fitted inline so a run keeps to its core; the result is bitwise
# the same as with the helper process). Seed-major order, so an interrupted queue still covers
# every env. Usage: bash docs/results/mujoco/run.sh [RUNS_DIR] [STEPS]
# (TRPO_SRC=DIR runs the package from a frozen copy of src/, so editing the tree cannot touch it)
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-runs/mujoco}
steps=${2:-1000000}
mkdir -p "$out"
jobs=()
for seed in 0 1 2 3 4; do
  for env in Hopper-v5 Walker2d-v5 HalfCheetah-v5 Swimmer-v5 Ant-v5; do
    jobs+=("$env $seed")
  done
done
export PYTHONPATH=${TRPO_SRC:-$PWD/src}
printf '%s\n' "${jobs[@]}" | xargs -P 2 -L 1 bash -c '
  env=$0; seed=$1; dir='"$out"'/${env}_s${seed}
  [ -f "$dir/summary.json" ] && exit 0
  .venv/bin/python -m trpo train "$env" --seed "$seed" --total-steps '"$steps"' --run-dir "$dir" --overwrite \
     --quiet --set critic_fit=inline > "$dir.log" 2>&1 || echo "failed: $env $seed" >&2'
