#!/bin/bash
# Hiding ISP's distribution on MBA (bench/PRIVACY.md, "Hiding an attribute's distribution"):
#   bench/hide-mba.sh [OUT_DIR] [N]     (default tmp/hide-mba, 480 series)
# Trains the default run (seed 0, all 480 training series; skipped when OUT_DIR/run is complete), generates
# N series from it as trained (unhidden), replaces isp's distribution by uniform with `dg hide` (the
# attribute generator replaced by a resampled table of its own draws; the feature generator untouched),
# generates N series again with the same seed (hidden), evaluates both against the same real data, and
# prints the released isp marginal's JS distance to the target and the metadata dependence gaps.
# Run from the repository root.
set -euo pipefail
OUT=${1:-tmp/hide-mba}
N=${2:-480}
DATA=../shared/baselines/mba
LAYOUT="--id series_id --time step --attributes isp,technology,state --features traffic_byte_counter,ping_loss_rate"
mkdir -p "$OUT"
if ! grep -q '"status": "complete"' "$OUT/run/run.json" 2>/dev/null; then
  rm -rf "$OUT/run"
  node bin/dg.js train $DATA/train.csv $LAYOUT --seed 0 --holdout-fraction 0 --out "$OUT/run"
fi
rm -f "$OUT/run/released-attributes.json"
node bin/dg.js generate "$OUT/run" -n "$N" --seed 1 --out "$OUT/unhidden-$N.csv"
node bin/dg.js hide "$OUT/run" --replace isp=uniform
node bin/dg.js generate "$OUT/run" -n "$N" --seed 1 --out "$OUT/hidden-$N.csv"
# Control: the same path (a released table, features conditioned on its rows) with the generator's own
# isp mix as the target (recorded in run.json by the dg hide above): separates what conditioning on table
# rows does from what changing the mix does.
node -e 'const i = require("./'"$OUT"'/run/run.json"); for (const [c, p] of Object.entries(i.hiding.released.generatedShare)) console.log(`${c},${p}`)' > "$OUT/own-mix.csv"
node bin/dg.js hide "$OUT/run" --replace "isp=$OUT/own-mix.csv"
node bin/dg.js generate "$OUT/run" -n "$N" --seed 1 --out "$OUT/ownmix-$N.csv"
for name in unhidden hidden ownmix; do
  node bin/dg.js evaluate --run "$OUT/run" --synth "$OUT/$name-$N.csv" --holdout $DATA/holdout.csv $LAYOUT --target technology --out "$OUT/eval-$name-$N"
done
echo "== control: isp replaced by the generator's own mix"
node --import tsx bench/hide-table.ts "$OUT/run" isp "$OUT/unhidden-$N.csv" "$OUT/eval-unhidden-$N" "$OUT/ownmix-$N.csv" "$OUT/eval-ownmix-$N" $DATA/train.csv
node bin/dg.js hide "$OUT/run" --replace isp=uniform # the same table as before (same seed)
echo "== isp replaced by uniform"
node --import tsx bench/hide-table.ts "$OUT/run" isp "$OUT/unhidden-$N.csv" "$OUT/eval-unhidden-$N" "$OUT/hidden-$N.csv" "$OUT/eval-hidden-$N" $DATA/train.csv
