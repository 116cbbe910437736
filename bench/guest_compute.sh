#!/usr/bin/env bash
# Guest compute speed: busybox sha256sum, gzip -6 and gzip -dc | md5sum of `seq 1 1500000`,
# timed by the guest's own clock inside the default guest (Debian's kernel, busybox initramfs)
# on Vessel's software engine and on QEMU TCG, and the same busybox run natively. Prints each
# time, its ratio to native, and Vessel's ratio to QEMU.
# Usage: bench/guest_compute.sh [BUILD_DIR] [RUNS] [ENGINES]   (ENGINES default: "soft";
# add "interp" to also time the interpreter alone, which takes about a minute per run)
set -euo pipefail
build=${1:-build}
runs=${2:-3}
engines=${3:-soft}
guest="$build/guest"
[ -f "$guest/vmlinuz" ] || { echo "missing $guest/vmlinuz: run make guest" >&2; exit 1; }
busybox=/bin/busybox

# The workload prints "compute-seconds N" measured with /proc/uptime around the three steps.
read -r -d '' workload <<'SCRIPT' || true
cd "${WORKDIR:-/tmp}"
seq 1 1500000 > seq.txt
s=$(cut -d' ' -f1 /proc/uptime)
sha256sum seq.txt > /dev/null
gzip -6 -c seq.txt > seq.gz
gzip -dc seq.gz | md5sum > /dev/null
e=$(cut -d' ' -f1 /proc/uptime)
awk "BEGIN { printf \"compute-seconds %.2f\n\", $e - $s }"
SCRIPT

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
extract() { grep -ao 'compute-seconds [0-9.]*' | tail -n 1 | awk '{print $2}'; }

native_run() {
  local dir
  dir=$(mktemp -d)
  WORKDIR=$dir "$busybox" sh -c "$workload" | extract
  rm -rf "$dir"
}
vessel_run() { # engine
  "$build/vessel" --log-level warn run --engine "$1" --memory 512M --exec "$workload" 2>/dev/null </dev/null | extract
}
qemu_run() {
  local command out
  command=$(printf '%s' "$workload" | base64 -w0)
  out=$(mktemp)
  qemu-system-x86_64 -accel tcg -m 512 -display none -no-reboot -serial "file:$out" \
    -device virtio-rng-pci -nic user,model=virtio-net-pci \
    -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet vessel.exec=$command" </dev/null >/dev/null 2>&1 || true
  extract <"$out"
  rm -f "$out"
}

declare -A times
for i in $(seq "$runs"); do
  times[native]+=" $(native_run)"
  times[qemu]+=" $(qemu_run)"
  for engine in $engines; do times[$engine]+=" $(vessel_run "$engine")"; done
  echo "run $i: native${times[native]##* } s, qemu${times[qemu]##* } s$(for e in $engines; do printf ', vessel %s%s s' "$e" "${times[$e]##* }"; done)" >&2
done
native=$(median ${times[native]})
qemu=$(median ${times[qemu]})
printf '%-24s %6.2f s\n' "native busybox" "$native"
printf '%-24s %6.2f s  %5.1fx native\n' "qemu tcg" "$qemu" "$(echo "$qemu / $native" | bc -l)"
for engine in $engines; do
  t=$(median ${times[$engine]})
  printf '%-24s %6.2f s  %5.1fx native  %5.2fx qemu\n' "vessel --engine $engine" "$t" \
    "$(echo "$t / $native" | bc -l)" "$(echo "$t / $qemu" | bc -l)"
done
echo "(medians of $runs runs; target for the translator: <= 2x native)"
