#!/bin/bash
# One variation of the defaults on a suite dataset (bench/SUITE.md's investigation), evaluated like the suite:
#   bench/suite/experiment.sh SUITE_DIR EXP_DIR DATASET OVERRIDE...      e.g. tmp/suite tmp/suite-exp produc autoNormalize=true
# Trains on SUITE_DIR/DATASET/split/train.csv through bench/suite/train-with.ts (the API call dg train
# makes, with the overrides the CLI lacks: autoNormalize=true|false, sampleLen=N, seed=N, iterations=N, privacyGuard=true|false), generates as many
# series as the training split and evaluates them against the same split and holdout as the suite.
# Writes EXP_DIR/DATASET_<overrides>/{run,train.log,synth.csv,eval}; bench/suite/table.ts reads it.
set -euo pipefail
SUITE=$1 EXP=$2 NAME=$3
shift 3
case $NAME in # the same columns as bench/suite.sh's layout: ID TIME ATTRIBUTES FEATURES
  chickweight) set -- chick day diet weight "$@" ;;
  produc) set -- state year region gsp,pcap,emp,unemp "$@" ;;
  gapminder) set -- country year continent,region life_expectancy,fertility "$@" ;;
  diseases) set -- series year disease count,weeks_reporting "$@" ;;
  pm10) set -- window day land,season pm10 "$@" ;;
  mba) set -- series_id step isp,technology,state traffic_byte_counter,ping_loss_rate "$@" ;;
esac
id=$1 time=$2 attrs=$3 feats=$4
shift 4
S=$SUITE/$NAME/split
E=$EXP/${NAME}_$(echo "$*" | tr ' =' '_-')
mkdir -p "$E" && rm -rf "$E/run"
nice -n 10 node --import tsx bench/suite/train-with.ts $S/train.csv "$E/run" $id $time $attrs $feats "$@" 2>&1 | tee "$E/train.log"
col=$(head -1 $S/train.csv | tr , '\n' | grep -nx "$id" | cut -d: -f1)
n=$(tail -n +2 $S/train.csv | cut -d, -f"$col" | sort -u | wc -l)
nice -n 10 node bin/dg.js generate "$E/run" -n "$n" --seed 1 --out "$E/synth.csv"
node bin/dg.js evaluate --real $S/train.csv --synth "$E/synth.csv" --holdout $S/holdout.csv --id $id --time $time --attributes $attrs --features $feats --out "$E/eval"
