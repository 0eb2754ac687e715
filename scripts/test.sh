#!/usr/bin/env bash
# Runs every test: installs what is missing, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer in build-test/, and runs the whole CTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
sluice_install_deps --test
# The official stripe npm package, for the form-encoding cross-check.
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON
cmake --build build-test -j"$(nproc)"
cd build-test
ctest --output-on-failure -j"$(nproc)"
