#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, run `vaead experiment`.
# Any arguments are passed on (for example --seeds 5 --json study.json).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
vaead_install_dependencies
vaead_build "$vaead_root/build" -DVAEAD_TESTS=OFF >&2
exec "$vaead_root/build/vaead" experiment "$@"
