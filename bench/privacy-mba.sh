#!/bin/bash
# The privacy review and the price of DP-SGD on MBA (bench/PRIVACY.md), end to end:
#   bench/privacy-mba.sh [OUT_DIR]      (default tmp/privacy)
# On ../shared/baselines/mba (480 training series, 120 unseen holdout series): the privacy review of the
# reference generators' output (naive, gretel DGAN), of our default run (20,000 iterations), of shorter
# runs without DP (2,000, 5,000, 10,000 iterations) and with DP-SGD at epsilon 10, 4 and 1 (2,000); each generates 480 series, evaluated by
# `dg evaluate` against the same training data and holdout (--run: the critic attack too).
# Run from the repository root. Trainings run one after another (they use every core).
set -euo pipefail
OUT=${1:-tmp/privacy}
DATA=../shared/baselines/mba
LAYOUT="--id series_id --time step --attributes isp,technology,state --features traffic_byte_counter,ping_loss_rate"
mkdir -p "$OUT"

for name in naive gretel_dgan; do
  [ -f "$OUT/$name/privacy.json" ] || node bin/dg.js evaluate --real $DATA/train.csv --synth $DATA/$name.csv --holdout $DATA/holdout.csv $LAYOUT --target technology --out "$OUT/$name"
done

run() { # run NAME [dg train options...]
  local name=$1 dir="$OUT/$1"
  shift
  if [ ! -f "$dir/eval/privacy.json" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    # --holdout-fraction 0: train on all 480 series like gretel did; holdout.csv is the unseen real data.
    node bin/dg.js train $DATA/train.csv $LAYOUT --seed 0 --holdout-fraction 0 "$@" --out "$dir/run"
    node bin/dg.js generate "$dir/run" -n 480 --seed 1 --out "$dir/synth.csv"
    node bin/dg.js evaluate --run "$dir/run" --synth "$dir/synth.csv" --holdout $DATA/holdout.csv $LAYOUT --target technology --out "$dir/eval"
  fi
}
run short_nodp --iterations 2000
run mid5000 --iterations 5000
run mid10000 --iterations 10000
run short_eps10 --iterations 2000 --dp-epsilon 10
run short_eps4 --iterations 2000 --dp-epsilon 4
run short_eps1 --iterations 2000 --dp-epsilon 1
run default --privacy-guard off # today's full schedule (unguarded; the guarded default: bench/private-default-mba.sh)

node --import tsx bench/privacy-table.ts naive="$OUT/naive" gretel_dgan="$OUT/gretel_dgan" default="$OUT/default/eval" \
  short_nodp="$OUT/short_nodp/eval" mid5000="$OUT/mid5000/eval" mid10000="$OUT/mid10000/eval" short_eps10="$OUT/short_eps10/eval" short_eps4="$OUT/short_eps4/eval" short_eps1="$OUT/short_eps1/eval"
