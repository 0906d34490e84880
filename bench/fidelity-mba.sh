#!/bin/bash
# The MBA fidelity comparison of bench/FIDELITY.md, end to end:
#   bench/fidelity-mba.sh [OUT_DIR] [SEEDS]     (defaults: tmp/fidelity/final, "0 1 2")
# Trains our model with its default settings on ../shared/baselines/mba/train.csv once per seed,
# generates 480 series from each run, evaluates them and the reference generators (naive, gretel DGAN)
# with `dg evaluate` against the same training data and holdout, and prints the tables.
# Run from the repository root. Trainings run one after another (they use every core).
set -euo pipefail
OUT=${1:-tmp/fidelity/final}
SEEDS=${2:-0 1 2}
DATA=../shared/baselines/mba
LAYOUT="--id series_id --time step --attributes isp,technology,state --features traffic_byte_counter,ping_loss_rate"
mkdir -p "$OUT"

evaluate() { # evaluate SYNTH_FILE OUT_DIR
  node bin/dg.js evaluate --real $DATA/train.csv --synth "$1" --holdout $DATA/holdout.csv $LAYOUT --target technology --out "$2"
}

for name in naive gretel_dgan gretel_dgan_seed1; do
  [ -f "$OUT/$name/metrics.json" ] || evaluate $DATA/$name.csv "$OUT/$name"
done

ours=()
for seed in $SEEDS; do
  dir="$OUT/ours_s$seed"
  if [ ! -f "$dir/eval/metrics.json" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    # --holdout-fraction 0: train on all 480 series like gretel did; holdout.csv is the unseen real data.
    # --privacy-guard off: the full fidelity schedule (without a holdout the guard caps it at 1,000 epochs;
    # the guarded default is bench/private-default-mba.sh)
    node bin/dg.js train $DATA/train.csv $LAYOUT --seed "$seed" --holdout-fraction 0 --privacy-guard off --out "$dir/run"
    node bin/dg.js generate "$dir/run" -n 480 --seed 1 --out "$dir/synth.csv"
    evaluate "$dir/synth.csv" "$dir/eval"
  fi
  ours+=("$dir/eval")
  node -e "const r=require(process.argv[1]); console.log('seed $seed: ' + r.iteration + ' iterations, ' + r.elapsedSeconds.toFixed(0) + ' s of training on ' + r.engine)" "$(realpath "$dir/run/run.json")"
done

node --import tsx bench/fidelity-table.ts naive="$OUT/naive" gretel_dgan="$OUT/gretel_dgan" gretel_dgan_seed1="$OUT/gretel_dgan_seed1" \
  ours="$(IFS=,; echo "${ours[*]}")"
