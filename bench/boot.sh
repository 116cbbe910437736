#!/usr/bin/env bash
# Boot-to-userspace-and-power-off wall time of the default guest: `vessel run --engine soft`
# against `qemu-system-x86_64 -accel tcg` with the same kernel, initramfs, memory and command
# line. Prints medians and the ratio. Usage: bench/boot.sh [BUILD_DIR] [RUNS]
set -euo pipefail
build=${1:-build}
runs=${2:-3}
guest="$build/guest"
[ -f "$guest/vmlinuz" ] || { echo "missing $guest/vmlinuz: run make guest" >&2; exit 1; }
command=$(printf 'true' | base64 -w0)
cmdline="console=ttyS0 quiet vessel.exec=$command"

seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 </dev/null || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

vessel_boot() { "$build/vessel" run --engine soft --memory 256M --kernel "$guest/vmlinuz" --initrd "$guest/initramfs.cpio.gz" --cmdline "$cmdline"; }
qemu_boot() {
  # The devices Vessel gives this guest: a virtio-rng and a virtio-net on user networking.
  qemu-system-x86_64 -accel tcg -m 256 -display none -no-reboot -serial null \
    -device virtio-rng-pci -nic user,model=virtio-net-pci \
    -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" -append "$cmdline"
}

vessel_times=() qemu_times=()
for i in $(seq "$runs"); do
  vessel_times+=("$(seconds vessel_boot)")
  qemu_times+=("$(seconds qemu_boot)")
  echo "run $i: vessel ${vessel_times[-1]} s, qemu ${qemu_times[-1]} s" >&2
done
vessel_median=$(median "${vessel_times[@]}")
qemu_median=$(median "${qemu_times[@]}")
printf 'vessel soft: %6.2f s (median of %d)\n' "$vessel_median" "$runs"
printf 'qemu tcg:    %6.2f s (median of %d)\n' "$qemu_median" "$runs"
printf 'ratio vessel/qemu: %.2f (target <= 1)\n' "$(echo "$vessel_median / $qemu_median" | bc -l)"
