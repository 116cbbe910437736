#!/usr/bin/env bash
# Software-engine speed on a fixed integer workload (tests/guests/bench_integer.c: 10
# instructions per iteration, run in 64-bit mode), next to QEMU TCG on the same guest and the
# same loop run natively (a C program with the same instructions, built here with gcc). Boot and exit overhead is
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

engine=${ENGINE:-soft} # ENGINE=interp times the interpreter alone
vessel_run() { "$build/vessel" --log-level warn run --engine "$engine" --memory 64M --kernel "$guest" --cmdline "iterations=$1"; }
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

native_ips() { # the loop of bench_integer.c, natively: prints instructions per second
  local dir
  dir=$(mktemp -d)
  cat >"$dir/loop.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char** argv) {
    unsigned a = 1, b = 2, c = 3, d = 4, count = (unsigned)strtoul(argv[1], 0, 10);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    __asm__ volatile("1:\n\tadd %1, %0\n\txor %0, %2\n\tlea 7(%2,%3,2), %1\n\timul $3, %1, %3\n\t"
                     "sub %3, %0\n\trol $5, %2\n\tand $0xffff7fff, %1\n\tor $1, %3\n\tdec %4\n\t"
                     "jnz 1b\n\t" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(count) : : "cc");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%f\n", 10.0 * strtoul(argv[1], 0, 10) / seconds + 0 * (a ^ b ^ c ^ d));
    return 0;
}
C
  if gcc -O2 -o "$dir/loop" "$dir/loop.c" 2>/dev/null; then
    local values=()
    for _ in $(seq "$runs"); do values+=("$("$dir/loop" "$iterations")"); done
    median "${values[@]}"
  fi
  rm -rf "$dir"
}

echo "workload: $((iterations * 10)) guest instructions, median of $runs runs each"
vessel_ips=$(measure vessel_run)
printf 'vessel --engine %-6s %8.1f M instructions/s\n' "$engine" "$(echo "$vessel_ips / 1000000" | bc -l)"
native=$(native_ips)
[ -n "$native" ] && printf 'native (same loop):   %8.1f M instructions/s\n' "$(echo "$native / 1000000" | bc -l)"
if command -v qemu-system-x86_64 >/dev/null; then
  qemu_ips=$(measure qemu_run)
  printf 'qemu tcg:             %8.1f M instructions/s\n' "$(echo "$qemu_ips / 1000000" | bc -l)"
  printf 'ratio vessel/qemu:    %8.2f (target >= 1)\n' "$(echo "$vessel_ips / $qemu_ips" | bc -l)"
else
  echo "qemu-system-x86_64 not installed: no reference number (apt-get install qemu-system-x86)"
fi
