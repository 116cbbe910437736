#!/usr/bin/env bash
# Guest-side cost of one ACPI PM timer read (`inl` of port 0x608) in the default Debian guest on
# the software engine, next to a port no device backs (bench/pm_timer_read.c, timed by the
# guest's clock_gettime).
# Usage: [CPUS=N] [ENGINE=soft|interp] bench/pm_timer.sh [BUILD_DIR] [READS]
set -euo pipefail
build=${1:-build}
reads=${2:-200000}
here=$(dirname "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -static -o "$work/program" "$here/pm_timer_read.c"
size=$(stat -c %s "$work/program")
cp "$work/program" "$work/disk.img"
truncate -s %4096 "$work/disk.img"
"$build/vessel" --log-level warn run --engine "${ENGINE:-soft}" ${CPUS:+--cpus "$CPUS"} --disk "$work/disk.img,readonly" \
  --exec "head -c $size /dev/vda >/tmp/p && chmod +x /tmp/p && /tmp/p $reads" </dev/null |
  tr -d '\r' | grep -E '^(pm timer|unbacked)'
