#!/usr/bin/env bash
# Times `epc`'s offline simulator against libCacheSim 0.3.5 (PyPI
# `libcachesim`, GPL: installed here into a scratch venv as an outside tool,
# never a dependency of the project) on the same decompressed plain-text
# trace, parsing included, median of five runs each, for lru, fifo and clock.
#
# Usage: scripts/bench_vs_libcachesim.sh [TRACE.xz] [CAPACITY_PAGES]
# (defaults: ../shared/traces/w106.trace.xz and 10 % of its distinct pages).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
trace_xz="${1:-$root/../shared/traces/w106.trace.xz}"
scratch="${TMPDIR:-/tmp}/epc-bench-lcs"
mkdir -p "$scratch"
txt="$scratch/$(basename "${trace_xz%.xz}").txt"
[ -s "$txt" ] || xz -dc "$trace_xz" > "$txt"
refs=$(wc -l < "$txt")
distinct=$(sort -u "$txt" | wc -l)
cap="${2:-$((distinct / 10))}"

venv="$scratch/venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import libcachesim" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "libcachesim==0.3.5"
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p epc-sim --example sim_once --manifest-path "$root/Cargo.toml"
ours="$CARGO_TARGET_DIR/release/examples/sim_once"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "trace $(basename "$txt"): $refs refs, $distinct distinct pages, cache $cap pages"
printf '| policy | epc misses | libCacheSim misses | epc s (median of 5) | libCacheSim s (median of 5) | epc M req/s | libCacheSim M req/s | speed-up |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for policy in lru fifo clock; do
    ours_t=(); lcs_t=()
    for _ in 1 2 3 4 5; do
        s=$(date +%s%N)
        out=$("$ours" "$txt" "$policy" "$cap")
        e=$(date +%s%N)
        ours_t+=("$(( (e - s) / 1000000 ))")
        ours_m=$(echo "$out" | awk '{print $3}')
        s=$(date +%s%N)
        out=$("$venv/bin/python" "$root/scripts/libcachesim_time.py" "$txt" "$policy" "$cap" "$refs" 2>/dev/null | tail -1)
        e=$(date +%s%N)
        lcs_t+=("$(( (e - s) / 1000000 ))")
        lcs_m=$(echo "$out" | awk '{print $3}')
    done
    o=$(printf '%s\n' "${ours_t[@]}" | median)
    l=$(printf '%s\n' "${lcs_t[@]}" | median)
    # Times are whole-process wall clock in milliseconds.
    awk -v p="$policy" -v om="$ours_m" -v lm="$lcs_m" -v o="$o" -v l="$l" -v n="$refs" 'BEGIN {
        printf "| %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %.2fx |\n", p, om, lm, o / 1000, l / 1000,
            n / o / 1000, n / l / 1000, l / o }'
done
