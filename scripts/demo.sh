#!/usr/bin/env bash
# The embedded default: installs missing system packages, builds trialflow, generates a
# recording and runs the demo pipeline over it (in ./trialflow-demo).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-system.sh
cargo run --release --quiet -- demo "$@"
