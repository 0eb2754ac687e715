#!/usr/bin/env bash
# Runs every test: installs what is missing, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer in build-test/, and runs the whole CTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
sluice_install_deps --test
# The official stripe npm package (form-encoding cross-check), the MCP SDK and Inspector CLI, and
# playwright-core, which drives Debian's chromium through the dashboard (e2e_dashboard).
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
# The optimised build warns about things the debug build does not (-Werror makes them fail).
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON
cmake --build build-test -j"$(nproc)"
cd build-test
ctest --output-on-failure -j"$(nproc)"
