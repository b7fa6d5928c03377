#!/usr/bin/env bash
# Model-checks the SECS handshake of the fault fast path (src/secs_gate.rs,
# compiled into tests/gate_loom.rs with loom's atomics) with loom. Under
# `--cfg loom` the library itself is empty: only the gate is modelled. A
# separate target directory keeps the normal build's artefacts (built
# without the cfg) from being invalidated.
#
# Three threads and a lock are too many for loom to explore every
# interleaving in reasonable time, so preemptions are bounded (3 by
# default; set LOOM_MAX_PREEMPTIONS to change it).
set -euo pipefail
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
RUSTFLAGS="--cfg loom" exec cargo test -p epc-enclave --release --test gate_loom "$@"
