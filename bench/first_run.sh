#!/usr/bin/env bash
# First run from a fresh clone: what `make run` does (Debian packages checked, build/vessel
# compiled and the default guest fetched side by side), then the boot to the guest's shell
# (`vessel run --exec true`: boot to userspace, run a command, power off). No compiler cache.
# Usage: bench/first_run.sh [REPOSITORY]   (default: this checkout's committed HEAD)
set -euo pipefail
repository=${1:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CCACHE_DISABLE=1
now() { date +%s.%N; }
start=$(now)
git clone -q "$repository" "$work/vessel"
cd "$work/vessel"
make --no-print-directory deps >/dev/null
built_start=$(now)
make --no-print-directory -j2 vessel guest >"$work/build.log" 2>&1 ||
  { tail -n 30 "$work/build.log" >&2; exit 1; }
built=$(now)
build/vessel --log-level warn run --exec true </dev/null >/dev/null
booted=$(now)
awk -v s="$start" -v b="$built_start" -v m="$built" -v e="$booted" 'BEGIN {
  printf "clone + package check   %6.1f s\n", b - s
  printf "compile + guest fetch   %6.1f s\n", m - b
  printf "boot to shell + exit    %6.1f s\n", e - m
  printf "first run total         %6.1f s (%.1f min; target 5 min)\n", e - s, (e - s) / 60 }'
