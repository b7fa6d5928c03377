#!/usr/bin/env bash
# Times `epc sim` against libCacheSim's native `cachesim` (built from source
# with its own CMake, Release; GPL, so only ever run as an outside tool,
# nothing of it part of the project), each on its fastest input format:
# libCacheSim's oracleGeneral made by its own `traceConv`, the project's
# binary format made by `epc trace convert`. Whole processes are timed
# (start to exit, parsing included), five runs each, pair by pair (epc, then
# cachesim, five times), with the cache at 10 % of the distinct pages;
# cachesim runs with `--ignore-obj-size 1` (one object, one slot).
#
# Usage: scripts/bench_vs_libcachesim.sh [TRACE_NAME...]
#   (default: w106 orm-busy, from ../shared/traces/NAME.trace.xz)
# Environment: LIBCACHESIM_SRC, a libCacheSim checkout (default: cloned
# into the scratch folder); building it needs cmake, libglib2.0-dev and
# libzstd-dev. RUNS (default 5).
#
# Prints a Markdown table (and the load average before and after, on
# standard error): medians of the five wall times, the median of the
# five pairwise ratios (cachesim time / epc time), peak resident memory, and
# both miss ratios (cachesim prints four decimals; the exact counts were
# compared with a build that also prints its miss counter, see
# docs/POLICIES.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${TMPDIR:-/tmp}/epc-bench-lcs"
runs="${RUNS:-5}"
mkdir -p "$scratch"
src="${LIBCACHESIM_SRC:-$scratch/libCacheSim}"
if [ ! -x "$src/_build/bin/cachesim" ] || [ ! -x "$src/_build/bin/traceConv" ]; then
    [ -d "$src" ] || git clone --depth 1 https://github.com/1a1a11a/libCacheSim "$src"
    cmake -S "$src" -B "$src/_build" -DCMAKE_BUILD_TYPE=Release > "$scratch/cmake.log"
    make -C "$src/_build" -j2 cachesim traceConv > "$scratch/make.log"
fi
cachesim="$src/_build/bin/cachesim"
traceconv="$src/_build/bin/traceConv"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p epc-cli --bin epc --manifest-path "$root/Cargo.toml"
epc="$CARGO_TARGET_DIR/release/epc"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s%N; }

# libCacheSim name : epc name. libCacheSim's Clock starts a page with its
# bit clear, which is epc's clock0; Belady is epc's opt.
pairs="lru:lru fifo:fifo clock:clock0 sieve:sieve arc:arc s3fifo:s3fifo belady:opt"

# The machine may be shared: say how busy it was (standard error).
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '| trace | policy | epc miss ratio | cachesim miss ratio | epc s | cachesim s | speed-up | epc MiB | cachesim MiB |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(w106 orm-busy)
for name in "${names[@]}"; do
    txt="$scratch/$name.txt"
    [ -s "$txt" ] || xz -dc "$root/../shared/traces/$name.trace.xz" > "$txt"
    og="$scratch/$name.oracleGeneral"
    [ -s "$og" ] || "$traceconv" "$txt" txt -t "obj-id-is-num=true" --ignore-obj-size 1 \
        -o "$og" > "$scratch/traceconv.log" 2>&1
    bin="$scratch/$name.bin"
    [ -s "$bin" ] || "$epc" trace convert "$txt" "$bin" --format binary > /dev/null
    refs=$(wc -l < "$txt")
    distinct=$(sort -u "$txt" | wc -l)
    cap=$((distinct / 10))
    for pair in $pairs; do
        lcs_p="${pair%%:*}"
        epc_p="${pair##*:}"
        et=(); lt=(); ratios=(); em=(); lm=()
        for _ in $(seq "$runs"); do
            s=$(now)
            out=$(/usr/bin/time -f "%M" -o "$scratch/rss" "$epc" sim "$bin" --capacity "$cap" \
                --policy "$epc_p" --json)
            e=$(now)
            et+=("$(( (e - s) / 1000 ))")
            em+=("$(cat "$scratch/rss")")
            emiss=$(echo "$out" | sed -n 's/.*"misses": *\([0-9]*\).*/\1/p')
            s=$(now)
            out=$(/usr/bin/time -f "%M" -o "$scratch/rss" "$cachesim" "$og" oracleGeneralBin \
                "$lcs_p" "$cap" --ignore-obj-size 1 -o "$scratch/cachesim.out" 2>/dev/null)
            e=$(now)
            lt+=("$(( (e - s) / 1000 ))")
            lm+=("$(cat "$scratch/rss")")
            lratio=$(echo "$out" | sed -n 's/.*miss ratio \([0-9.]*\).*/\1/p' | tail -1)
            ratios+=("$(awk -v a="${lt[-1]}" -v b="${et[-1]}" 'BEGIN {print a / b}')")
        done
        awk -v t="$name" -v p="$epc_p" -v em="$emiss" -v n="$refs" -v lr="$lratio" \
            -v eo="$(printf '%s\n' "${et[@]}" | median)" -v lo="$(printf '%s\n' "${lt[@]}" | median)" \
            -v r="$(printf '%s\n' "${ratios[@]}" | median)" \
            -v ek="$(printf '%s\n' "${em[@]}" | median)" -v lk="$(printf '%s\n' "${lm[@]}" | median)" \
            'BEGIN { printf "| %s | %s | %.4f | %s | %.2f | %.2f | %.2fx | %.0f | %.0f |\n",
                t, p, em / n, lr, eo / 1e6, lo / 1e6, r, ek / 1024, lk / 1024 }'
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
