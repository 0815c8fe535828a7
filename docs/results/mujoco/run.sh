#!/usr/bin/env bash
# The MuJoCo table of docs/results/mujoco.md: TRPO at 1M steps, 5 envs x seeds 0-4, two runs at a
# time (one core each: the critic is fitted inline so a run keeps to its core; the result is
# bitwise the same as with the helper process). Seed-major order, so an interrupted queue still
# covers every env. Usage: bash docs/results/mujoco/run.sh [RUNS_DIR] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-runs/mujoco}
steps=${2:-1000000}
mkdir -p "$out"
# the settings (the package's mujoco preset): RL-Zoo's TRPO MuJoCo settings with 8 envs of 256 steps
extra() {
  local s="--set vector_mode=sync --set num_envs=8 --set batch_steps=2048 --set cg_iters=25 --set critic_epochs=20 --set critic_minibatch=128"
  case "$1" in Swimmer-*) s="$s --set gamma=0.9999";; esac
  echo "$s"
}
jobs=()
for seed in 0 1 2 3 4; do
  for env in Hopper-v5 Walker2d-v5 HalfCheetah-v5 Swimmer-v5 Ant-v5; do
    jobs+=("$env $seed")
  done
done
export -f extra 2>/dev/null || true
printf '%s\n' "${jobs[@]}" | xargs -P 2 -L 1 bash -c '
  env=$0; seed=$1; dir='"$out"'/${env}_s${seed}
  [ -f "$dir/summary.json" ] && exit 0
  .venv/bin/trpo train "$env" --seed "$seed" --total-steps '"$steps"' --run-dir "$dir" --overwrite --quiet \
     --set critic_fit=inline $(extra "$env") > "$dir.log" 2>&1 || echo "failed: $env $seed" >&2'
