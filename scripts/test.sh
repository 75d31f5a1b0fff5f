#!/usr/bin/env bash
# Build with warnings as errors and run the whole test suite (GPU tests skip without a device).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
vaead_install_dependencies
vaead_build "$vaead_root/build-test" -DVAEAD_WERROR=ON
cd "$vaead_root/build-test"
ctest --output-on-failure --parallel "$(nproc)"
