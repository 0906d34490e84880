#!/bin/bash
# "Private by default" on MBA (bench/PRIVACY.md): our defaults, privacy guard on, for each seed.
#   bench/private-default-mba.sh [OUT_DIR] ["SEEDS"]      (default tmp/private-default, "0 1 2")
#   TRAIN_FLAGS="--model criticSteps=1" bench/private-default-mba.sh ...   a variation (flags added to dg train)
# Each seed trains `dg train` with every default on ../shared/baselines/mba/train.csv (480 series: the
# default 10% holdout, 48 series, is carved out of them and is what the guard watches), generates 480
# series and evaluates them as bench/privacy-mba.sh does: against the run's training series, with the
# fixed 120-series holdout.csv as the unseen real data, and the critic attack (--run).
# Run from the repository root. Trainings run one after another (they use every core).
set -euo pipefail
OUT=${1:-tmp/private-default}
SEEDS=${2:-"0 1 2"}
DATA=../shared/baselines/mba
LAYOUT="--id series_id --time step --attributes isp,technology,state --features traffic_byte_counter,ping_loss_rate"
mkdir -p "$OUT"
# gretel's DGAN as bench/fidelity-mba.sh evaluates it, for the fidelity table
for name in gretel_dgan gretel_dgan_seed1; do
  [ -f "$OUT/$name/metrics.json" ] || node bin/dg.js evaluate --real $DATA/train.csv --synth $DATA/$name.csv --holdout $DATA/holdout.csv $LAYOUT --target technology --out "$OUT/$name"
done
rows=()
evals=()
for seed in $SEEDS; do
  dir="$OUT/s$seed"
  if [ ! -f "$dir/eval/privacy.json" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    node bin/dg.js train $DATA/train.csv $LAYOUT --seed "$seed" ${TRAIN_FLAGS:-} --out "$dir/run" | tee "$dir/train.json"
    node bin/dg.js generate "$dir/run" -n 480 --seed 1 --out "$dir/synth.csv"
    node bin/dg.js evaluate --run "$dir/run" --synth "$dir/synth.csv" --holdout $DATA/holdout.csv $LAYOUT --target technology --out "$dir/eval"
  fi
  rows+=("private_s$seed=$dir/eval")
  evals+=("$dir/eval")
  node -e "const r=require(process.argv[1]); console.log('seed $seed: ' + r.iteration + ' iterations kept; ' + r.privacyGuard.message)" "$(realpath "$dir/run/run.json")"
done
node --import tsx bench/privacy-table.ts "${rows[@]}"
node --import tsx bench/fidelity-table.ts gretel_dgan="$OUT/gretel_dgan" gretel_dgan_seed1="$OUT/gretel_dgan_seed1" ours="$(IFS=,; echo "${evals[*]}")"
