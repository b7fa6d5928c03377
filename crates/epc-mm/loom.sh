#!/usr/bin/env bash
# Model-checks the manager's races with loom (tests/loom.rs, and the
# models inside the library: ksgxd's throttle handshake) against the
# shipped code, whose `sync` module switches to loom's types under
# `--cfg loom`. A separate target directory keeps the normal build's
# artefacts (built without the cfg) from being invalidated.
#
# The models are small enough for loom to explore every interleaving (no
# preemption bound) in about a second; the build takes under a minute on two
# cores. Set LOOM_MAX_PREEMPTIONS to bound a larger model.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
RUSTFLAGS="--cfg loom" exec cargo test -p epc-mm --release --lib --test loom "$@"
