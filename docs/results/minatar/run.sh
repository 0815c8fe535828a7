#!/usr/bin/env bash
# The MinAtar table of docs/results/minatar.md: TRPO with the shipped settings (the minatar preset,
# which `trpo train` picks for MinAtar ids) on the five games, seed-major order so an interrupted
# queue still covers every game. One run at a time on one core (critic fitted inline; bitwise the
# same as with the helper process). PPO (defaults, cnn=minatar) for reference with ALGO=ppo.
# Usage: bash docs/results/minatar/run.sh [RUNS_DIR] [STEPS] [SEEDS]
# (TRPO_SRC=DIR runs the package from a frozen copy of src/, so editing the tree cannot touch it)
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-runs/minatar}
steps=${2:-300000}
seeds=${3:-"0 1 2"}
algo=${ALGO:-trpo}
mkdir -p "$out"
export PYTHONPATH=${TRPO_SRC:-$PWD/src}
for seed in $seeds; do
  for game in Breakout Asterix Freeway Seaquest SpaceInvaders; do
    dir=$out/${game}_${algo}_s${seed}
    [ -f "$dir/summary.json" ] && continue
    extra=()
    [ "$algo" = trpo ] || extra=(--set cnn=minatar)
    .venv/bin/python -m trpo train "MinAtar/$game-v1" --algo "$algo" --seed "$seed" --total-steps "$steps" \
      --run-dir "$dir" --overwrite --quiet --set critic_fit=inline "${extra[@]}" > "$dir.log" 2>&1 \
      || echo "failed: $game $seed" >&2
  done
done
