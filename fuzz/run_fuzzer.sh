#!/usr/bin/env bash
# Runs one libFuzzer target for a while on a scratch copy of its seed corpus, so that the
# inputs it discovers never land in the source tree. Quiet when nothing is found (one
# line); otherwise prints the end of libFuzzer's log and keeps the crashing input.
#
#   run_fuzzer.sh BINARY CORPUS_DIR SECONDS ARTIFACT_DIR [EXTRA_SEED_FILE...]
#
# FUZZ_SECONDS in the environment overrides SECONDS. Extra seeds that do not exist (the
# shared test data is not always beside the repository) are skipped.
set -euo pipefail

binary=$1 corpus=$2 seconds=${FUZZ_SECONDS:-$3} artifacts=$4
shift 4
name=$(basename "$binary")

scratch=$(mktemp -d "${TMPDIR:-/tmp}/imgbatch-$name-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/corpus" "$artifacts/$name"
cp "$corpus"/* "$scratch/corpus/"
for seed in "$@"; do
  if [ -f "$seed" ]; then cp "$seed" "$scratch/corpus/extra-$(basename "$seed")"; fi
done

status=0
"$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$artifacts/$name/" "$scratch/corpus" >"$scratch/log" 2>&1 || status=$?

if [ "$status" -ne 0 ]; then
  echo "$name: FAILED (exit $status); the end of libFuzzer's log:"
  tail -n 60 "$scratch/log"
  echo "$name: the input that failed is in $artifacts/$name/ (rerun: $binary FILE)"
  exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/log")
echo "$name: ${runs:-?} inputs in ${seconds}s, no finding"
