#!/usr/bin/env bash
# Runs fuzz targets for $SECONDS_PER_TARGET seconds each (default 900), one
# after the other, from the committed corpus (fuzz/corpus/<target>/); new
# inputs go to fuzz/work/<target>/. Then, with MINIMISE=1, merges both into a
# minimised fuzz/corpus/<target>/ (`cargo fuzz cmin`).
#
# Sanitizer: none (the code under test is safe Rust; debug assertions and
# overflow checks stay on, as in every cargo-fuzz build). Logs go to
# fuzz/logs/<target>.log (the last lines hold libFuzzer's final stats, e.g.
# stat::number_of_executed_units); crashes to fuzz/artifacts/<target>/.
#
#   bash fuzz/run_all.sh                                # all targets, 15 minutes each
#   SECONDS_PER_TARGET=60 bash fuzz/run_all.sh weights  # one target, one minute
#   MINIMISE=1 SECONDS_PER_TARGET=0 bash fuzz/run_all.sh    # only minimise the corpora
set -uo pipefail
cd "$(dirname "$0")"
time_per_target=${SECONDS_PER_TARGET:-900}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(inline_dsl toml_model weights embed_weights)
mkdir -p logs
cargo +nightly fuzz build -s none
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "work/$target"
    if [ "$time_per_target" -gt 0 ]; then
        cargo +nightly fuzz run -s none "$target" "work/$target" "corpus/$target" -- \
            -timeout=1 -rss_limit_mb=4096 -max_total_time="$time_per_target" -print_final_stats=1 \
            >"logs/$target.log" 2>&1
        echo "$target: exit $?, $(grep -E 'stat::number_of_executed_units' "logs/$target.log")"
    fi
    if [ "${MINIMISE:-0}" = 1 ]; then
        cp -n "work/$target"/* "corpus/$target"/ 2>/dev/null
        cargo +nightly fuzz cmin -s none "$target" "corpus/$target" >"logs/$target.cmin.log" 2>&1
        echo "$target: minimised corpus $(ls "corpus/$target" | wc -l) files, $(du -sh "corpus/$target" | cut -f1)"
    fi
done
