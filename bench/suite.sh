#!/bin/bash
# The default-settings benchmark suite of bench/SUITE.md (issue 17), end to end:
#   bench/suite.sh [OUT_DIR] [DATASETS]     (defaults: tmp/suite, "chickweight produc gapminder diseases pm10 mba")
#   SEED=N bench/suite.sh ...               trains with --seed N (default 0; the split and the generation seed stay)
# For each dataset: (re)builds its CSV from the Debian R package that ships it (bench/suite/datasets.R;
# installs r-base-core and the packages if missing, and says so), splits it 80/20 by series with a seeded
# shuffle and makes the naive baseline (bench/suite/prep.ts), trains `dg train` with no flags but the
# data layout and --out (the defaults are what is judged), generates as many series as the training
# split, and evaluates ours and naive with `dg evaluate` against the training split with the holdout as
# the unseen real data (metrics.json's `holdout` block is the real-holdout yardstick). MBA uses its fixed
# split and naive from ../shared/baselines/mba. Finally prints the tables (bench/suite/table.ts).
# Run from the repository root. Trainings run one after another, niced (the machine is shared); a dataset
# whose eval/metrics.json exists is skipped, so an interrupted suite continues where it stopped.
set -euo pipefail
OUT=${1:-tmp/suite}
DATASETS=${2:-chickweight produc gapminder diseases pm10 mba}
SEED=${SEED:-0}
mkdir -p "$OUT"

# The data come from R packages in Debian's archive (the only source besides npm this machine reaches).
need=()
command -v Rscript >/dev/null || need+=(r-base-core)
for pkg in dslabs plm spacetime; do
  Rscript -e "quit(status = !requireNamespace('$pkg', quietly = TRUE))" 2>/dev/null || need+=("r-cran-$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "suite: installing ${need[*]} from Debian (apt-get; needs root)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
[ -f "$OUT/data/pm10.csv" ] || Rscript bench/suite/datasets.R "$OUT/data"

# layout NAME: the id, time, attribute and feature columns (what `dg` needs to read the file; nothing else).
layout() {
  case $1 in
    chickweight) echo "--id chick --time day --attributes diet --features weight" ;;
    produc) echo "--id state --time year --attributes region --features gsp,pcap,emp,unemp" ;;
    gapminder) echo "--id country --time year --attributes continent,region --features life_expectancy,fertility" ;;
    diseases) echo "--id series --time year --attributes disease --features count,weeks_reporting" ;;
    pm10) echo "--id window --time day --attributes land,season --features pm10" ;;
    mba) echo "--id series_id --time step --attributes isp,technology,state --features traffic_byte_counter,ping_loss_rate" ;;
  esac
}

for name in $DATASETS; do
  dir="$OUT/$name"
  L=$(layout "$name")
  read -r _ id _ time _ attrs _ <<<"$L"
  if [ "$name" = mba ]; then
    mkdir -p "$dir/split" && cp ../shared/baselines/mba/{train,holdout,naive}.csv "$dir/split/"
  elif [ ! -f "$dir/split/naive.csv" ]; then
    # The time column goes with the attributes: prep.ts copies those from the donor series and draws the rest.
    node --import tsx bench/suite/prep.ts "$OUT/data/$name.csv" "$dir/split" "$id" "$time,$attrs" 0
  fi
  S="$dir/split"
  if [ ! -f "$dir/naive/metrics.json" ]; then
    node bin/dg.js evaluate --real $S/train.csv --synth $S/naive.csv --holdout $S/holdout.csv $L --out "$dir/naive"
  fi
  if [ ! -f "$dir/eval/metrics.json" ]; then
    rm -rf "$dir/run"
    n=$(tail -n +2 $S/train.csv | cut -d, -f$(head -1 $S/train.csv | tr , '\n' | grep -nx "$id" | cut -d: -f1) | sort -u | wc -l)
    echo "suite: $name: training on $n series ($(date))"
    # train.log keeps what dg train says it chose (T, S, auto-normalization, iterations) for the table.
    nice -n 10 node bin/dg.js train $S/train.csv $L --seed "$SEED" --out "$dir/run" 2>&1 | tee "$dir/train.log"
    nice -n 10 node bin/dg.js generate "$dir/run" -n "$n" --seed 1 --out "$dir/synth.csv"
    node bin/dg.js evaluate --real $S/train.csv --synth "$dir/synth.csv" --holdout $S/holdout.csv $L --out "$dir/eval"
  fi
done

node --import tsx bench/suite/table.ts "$OUT" $DATASETS
