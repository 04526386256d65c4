#!/usr/bin/env bash
# The reference results of docs/results.md: every strategy, 10 seeds, 25 + 20 x 25 labels, on the
# datasets of ../shared/data (see its README.md), then three variants. Run from the repository root:
#
#   bash scripts/run_reference.sh            # everything, smallest dataset first
#   bash scripts/run_reference.sh trec cr    # only these
#
# Each dataset is embedded once into $WS/simulations/<name>-all-MiniLM-L6-v2/ (re-runs reuse it);
# its summary.md, curves.csv, curves.json and curves.png land there, and the plot is copied to
# docs/sim-<name>.png. The variants write into a subfolder of their dataset's folder.
# Set TEXTAL to run another entry point (default: python -m textal).
#
# The added sets (trec-fine, imdb-stars, ag-rare) run the default strategy and random only, then
# the small-text peer (scripts/bench_peer.py, needs the `bench` extra) on the same seeds; the
# derived files of imdb-stars and ag-rare are made first by scripts/make_datasets.py. NAME-peer
# does the same for the seven original sets, into the subfolder peer/ of their folder.
set -euo pipefail

DATA=${DATA:-../shared/data}
WS=${WS:-textal-workspace}
TEXTAL=${TEXTAL:-python -m textal}
MODEL_SLUG=all-MiniLM-L6-v2
# --candidates all: every round scores the whole pool, as the tables were made (SST-2's 67k
# phrases are above the 50,000 items where the default, auto, scores candidates from the index)
COMMON=(--workspace "$WS" --seeds 10 --init 25 --batch-size 25 --rounds 20 --candidates all)
ALL=adaptive,margin-density,margin,entropy,least-confidence,committee,random

DERIVED=$WS/derived
PEER_SEEDS=${PEER_SEEDS:-10}

simulate() {  # name, then the data arguments: all strategies, plot copied to docs/
  local name=$1
  shift
  $TEXTAL simulate "${COMMON[@]}" --strategies "$ALL" --name "$name" "$@"
  cp "$WS/simulations/$name-$MODEL_SLUG/curves.png" "docs/sim-$name.png"
}

variant() {  # dataset name, subfolder, then the data and variant arguments: default vs random
  local name=$1 sub=$2
  shift 2
  $TEXTAL simulate "${COMMON[@]}" --strategies margin-density,random --name "$name" \
    --out "$WS/simulations/$name-$MODEL_SLUG/$sub" "$@"
}

versus_peer() {  # name, results folder, then the data arguments: default vs random, then the peer
  local name=$1 out=$2
  shift 2
  $TEXTAL simulate "${COMMON[@]}" --strategies default,random --name "$name" --out "$out" "$@"
  python scripts/bench_peer.py --workspace "$WS" --name "$name" --seeds "$PEER_SEEDS" \
    --results "$out" "$@"
}

added_set() {  # name, then the data arguments: versus_peer in the dataset's folder, plot to docs/
  local name=$1 dir="$WS/simulations/$1-$MODEL_SLUG"
  shift
  versus_peer "$name" "$dir" "$@"
  cp "$dir/curves.png" "docs/sim-$name.png"
}

index_candidates() {  # name, then the data arguments: the default strategy on candidates
  local name=$1 dir="$WS/simulations/$1-$MODEL_SLUG"
  shift
  $TEXTAL simulate "${COMMON[@]}" --strategies default --candidates index --name "$name" \
    --out "$dir/candidates-index" "$@"
  python scripts/compare_candidates.py "$name" "$dir/curves.json" "$dir/candidates-index/curves.json"
}

derived() {  # the derived file arguments of a dataset made by scripts/make_datasets.py
  [ -f "$DERIVED/$1/pool.csv" ] || python scripts/make_datasets.py --data "$DATA" --out "$DERIVED" "$1" >&2
  echo --data "$DERIVED/$1/pool.csv" --test "$DERIVED/$1/test.csv"
}

data_args() {  # the data arguments of one of the seven original sets
  case $1 in
    uci-amazon | uci-yelp | uci-imdb)
      echo --data "$DATA/uci_sentiment_labelled/${1#uci-}.csv" --test-fraction 0.2 ;;
    cr) echo --data "$DATA/cr_customer_reviews/all.csv" --test-fraction 0.2 ;;
    trec) echo --data "$DATA/trec/train.csv" --test "$DATA/trec/test.csv" ;;
    ag_news) echo --data "$DATA/ag_news/train_subset.csv" --test "$DATA/ag_news/test.csv" ;;
    sst2) echo --data "$DATA/sst2/train.csv" --test "$DATA/sst2/validation.csv" ;;
    *) echo "unknown dataset $1" >&2; exit 2 ;;
  esac
}

run() {
  local name
  case $1 in
    uci-amazon | uci-yelp | uci-imdb | cr | trec | ag_news | sst2) simulate "$1" $(data_args "$1") ;;
    trec-fine) added_set trec-fine --data "$DATA/trec/train_fine.csv" --test "$DATA/trec/test_fine.csv" ;;
    imdb-stars | ag-rare) added_set "$1" $(derived "$1") ;;
    # the seven original sets: the default against random and the peer (the tables of issue 13)
    *-peer)
      name=${1%-peer}
      versus_peer "$name" "$WS/simulations/$name-$MODEL_SLUG/peer" $(data_args "$name")
      ;;
    cr-max-class-share) variant cr max-class-share-0.5 $(data_args cr) --max-class-share 0.5 ;;
    trec-cold-start) variant trec initial-cold-start $(data_args trec) --initial cold-start ;;
    cr-30-seeds) variant cr seeds-30 $(data_args cr) --seeds 30 ;;
    # after the dataset's own run: --candidates index against its full-scan curves
    *-index) name=${1%-index}; index_candidates "$name" $(data_args "$name") ;;
    *) echo "unknown run $1" >&2; exit 2 ;;
  esac
}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(uci-amazon uci-yelp uci-imdb cr trec ag_news sst2 trec-fine imdb-stars ag-rare cr-max-class-share trec-cold-start cr-30-seeds)
  names+=(uci-amazon-peer uci-yelp-peer uci-imdb-peer cr-peer trec-peer ag_news-peer sst2-peer)
  names+=(uci-amazon-index uci-yelp-index uci-imdb-index cr-index trec-index ag_news-index sst2-index)
fi
for name in "${names[@]}"; do
  run "$name"
done
