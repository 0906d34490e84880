#!/bin/bash
# Probe for issues 14/17 (bench/PRIVACY.md, "A zero flag for ping loss"): would modelling a zero-inflated
# feature's zeros apart from its magnitude let the privacy guard's early stop learn MBA's rare ping losses?
#   bench/zero-flag-probe.sh [OUT_DIR] ["SEEDS"]      (default tmp/zero-flag, "0 1 2")
# Adds a categorical feature ping_loss_nonzero (yes/no) to MBA's fixed split, trains `dg train` with every
# default (privacy guard on), generates 480 series, sets ping loss to 0 where the generated flag says "no",
# drops the flag and evaluates against the full 480-series train split with the fixed 120-series holdout.
# The baseline is the same evaluation of bench/private-default-mba.sh's synthetic data (BASE_DIR, default
# tmp/pdavg). Not a product path: what the encoder would do on its own is the next step.
set -euo pipefail
OUT=${1:-tmp/zero-flag}
SEEDS=${2:-"0 1 2"}
BASE=${BASE_DIR:-tmp/pdavg}
D=../shared/baselines/mba
EVAL="--holdout $D/holdout.csv --id series_id --time step --attributes isp,technology,state --features traffic_byte_counter,ping_loss_rate --target technology"
mkdir -p "$OUT"
for name in train holdout; do
  python3 - "$D/$name.csv" "$OUT/$name.csv" <<'PY'
import csv, sys
r = csv.DictReader(open(sys.argv[1]))
w = csv.writer(open(sys.argv[2], 'w', newline=''))
w.writerow(r.fieldnames + ['ping_loss_nonzero'])
for row in r:
    w.writerow([row[c] for c in r.fieldnames] + ['yes' if float(row['ping_loss_rate']) > 0 else 'no'])
PY
done
flagged=() base=()
for s in $SEEDS; do
  O=$OUT/s$s
  rm -rf "$O" && mkdir -p "$O"
  node bin/dg.js train $OUT/train.csv --id series_id --time step --attributes isp,technology,state \
    --features traffic_byte_counter,ping_loss_rate,ping_loss_nonzero --seed "$s" --out $O/run > $O/train.log 2>&1
  node bin/dg.js generate $O/run -n 480 --seed 1 --out $O/raw.csv >> $O/train.log 2>&1
  python3 - "$O/raw.csv" "$O/synth.csv" <<'PY'
import csv, sys
r = csv.DictReader(open(sys.argv[1]))
cols = [c for c in r.fieldnames if c != 'ping_loss_nonzero']
w = csv.writer(open(sys.argv[2], 'w', newline=''))
w.writerow(cols)
for row in r:
    if row['ping_loss_nonzero'] == 'no': row['ping_loss_rate'] = '0'
    w.writerow([row[c] for c in cols])
PY
  node bin/dg.js evaluate --real $D/train.csv --synth $O/synth.csv $EVAL --out $O/eval >> $O/train.log 2>&1
  node bin/dg.js evaluate --real $D/train.csv --synth $BASE/s$s/synth.csv $EVAL --out $OUT/base-s$s >> $O/train.log 2>&1
  grep -h '"keptIteration"\|"iteration"' $O/train.log | tail -1
  flagged+=("$O/eval") base+=("$OUT/base-s$s")
done
rows=()
for s in $SEEDS; do rows+=("base_s$s=$OUT/base-s$s" "flag_s$s=$OUT/s$s/eval"); done
node --import tsx bench/privacy-table.ts "${rows[@]}"
node --import tsx bench/fidelity-table.ts gretel_dgan=$BASE/gretel_dgan gretel_dgan_seed1=$BASE/gretel_dgan_seed1 \
  base="$(IFS=,; echo "${base[*]}")" flag="$(IFS=,; echo "${flagged[*]}")"
