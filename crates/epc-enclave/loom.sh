#!/usr/bin/env bash
# Model-checks the SECS handshake of the fault fast path (src/secs_gate.rs,
# compiled into tests/gate_loom.rs with loom's atomics) with loom. Under
# `--cfg loom` the library itself is empty: only the gate is modelled. A
# separate target directory keeps the normal build's artefacts (built
# without the cfg) from being invalidated.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
RUSTFLAGS="--cfg loom" exec cargo test -p epc-enclave --release --test gate_loom "$@"
