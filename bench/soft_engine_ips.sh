#!/usr/bin/env bash
# Software-engine speed on a fixed integer workload (tests/guests/bench_integer.c: 10
# instructions per iteration), next to QEMU TCG on the same guest. Boot and exit overhead is
# removed by timing a short run and a long run and dividing the extra instructions by the
# extra time. Usage: bench/soft_engine_ips.sh [BUILD_DIR] [ITERATIONS] [RUNS]
set -euo pipefail
build=${1:-build}
iterations=${2:-20000000}
runs=${3:-3}
guest="$build/tests/guests/bench_integer.elf"
[ -f "$guest" ] || { echo "missing $guest: build first (make build)" >&2; exit 1; }
short=1000

seconds() { # command... -> wall seconds of one run
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 </dev/null || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

vessel_run() { "$build/vessel" --log-level warn run --engine soft --memory 64M --kernel "$guest" --cmdline "iterations=$1"; }
qemu_run() {
  qemu-system-x86_64 -accel tcg -m 64 -display none -no-reboot -serial null \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$guest" -append "iterations=$1"
}

measure() { # engine-function -> instructions per second
  local function=$1 short_times=() long_times=()
  for _ in $(seq "$runs"); do
    short_times+=("$(seconds "$function" "$short")")
    long_times+=("$(seconds "$function" "$iterations")")
  done
  local short_median long_median
  short_median=$(median "${short_times[@]}")
  long_median=$(median "${long_times[@]}")
  echo "10 * ($iterations - $short) / ($long_median - $short_median)" | bc -l
}

echo "workload: $((iterations * 10)) guest instructions, median of $runs runs each"
vessel_ips=$(measure vessel_run)
printf 'vessel soft engine: %8.1f M instructions/s\n' "$(echo "$vessel_ips / 1000000" | bc -l)"
if command -v qemu-system-x86_64 >/dev/null; then
  qemu_ips=$(measure qemu_run)
  printf 'qemu tcg:           %8.1f M instructions/s\n' "$(echo "$qemu_ips / 1000000" | bc -l)"
  printf 'ratio vessel/qemu:  %8.2f\n' "$(echo "$vessel_ips / $qemu_ips" | bc -l)"
else
  echo "qemu-system-x86_64 not installed: no reference number (apt-get install qemu-system-x86)"
fi
