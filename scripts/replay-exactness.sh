#!/usr/bin/env bash
# Deterministic replay against textbook FIFO and CLOCK on every shared
# trace, the large ones included (orm-busy and w106 have about 5 million
# references each): `epc replay --deterministic --tlb-entries 0` must fault
# exactly as often as the textbook policy misses with `capacity_pages`
# pages. Release build; a few minutes. EPC_TRACES="cpp loop" limits the set.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --release -p epc-cli --test replay -- --ignored --nocapture \
    large_traces_equal_textbook_fifo_and_clock
