#!/usr/bin/env bash
# The main job: installs what is missing, builds sluice in build/, and runs `sluice demo`: the
# emulator (a local Stripe) and `sluice serve` on loopback, the inbox in SQLite in a scratch
# data directory, a connection, its webhook endpoint registered, a few of the seeds' events
# triggered and received. Both keep running until Ctrl-C. Arguments go to `sluice demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
sluice_install_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "Built build/sluice ($(build/sluice --version)). Running: build/sluice demo $*"
echo
exec build/sluice demo "$@"
