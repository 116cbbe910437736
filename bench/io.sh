#!/usr/bin/env bash
# Guest-side I/O throughput of the default guest: virtio-blk sequential read/write and random 4 KiB
# reads, and virtio-net download through user networking, on `vessel run --engine soft` next to
# `qemu-system-x86_64 -accel tcg` with the same kernel, initramfs and virtio-pci devices.
# Prints MB/s (and reads/s) and the ratio vessel/qemu. Usage: bench/io.sh [BUILD_DIR] [DISK_MB]
set -euo pipefail
build=${1:-build}
disk_mb=${2:-64}
guest="$build/guest"
[ -f "$guest/vmlinuz" ] || { echo "missing $guest/vmlinuz: run make guest" >&2; exit 1; }
work=$(mktemp -d)
http_pid=""
cleanup() { [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

net_mb=32
mkdir -p "$work/www"
head -c $((net_mb << 20)) /dev/urandom >"$work/www/big"
python3 -u -m http.server --bind 127.0.0.1 --directory "$work/www" 0 >"$work/http.log" 2>&1 &
http_pid=$!
port=""
for _ in $(seq 100); do
  port=$(grep -o 'port [0-9]*' "$work/http.log" | head -n 1 | cut -d' ' -f2) && [ -n "$port" ] && break
  sleep 0.1
done

random_reads=200
blocks=$((disk_mb * 256))
# Times come from the guest's /proc/uptime (10 ms resolution): boot time is not counted.
read -r -d '' script <<GUEST || true
up() { cut -d' ' -f1 /proc/uptime; }
s=\$(up); dd if=/dev/vda of=/dev/null bs=1M 2>/dev/null; e=\$(up); echo "RESULT seq-read $disk_mb \$s \$e"
s=\$(up); dd if=/dev/zero of=/dev/vda bs=1M count=$disk_mb conv=fsync 2>/dev/null; e=\$(up); echo "RESULT seq-write $disk_mb \$s \$e"
s=\$(up); i=0; while [ \$i -lt $random_reads ]; do dd if=/dev/vda of=/dev/null bs=4k count=1 skip=\$(( (RANDOM * 32768 + RANDOM) % $blocks )) iflag=direct 2>/dev/null; i=\$((i + 1)); done; e=\$(up); echo "RESULT rand-read $random_reads \$s \$e"
s=\$(up); wget -q -O /dev/null http://10.0.2.2:$port/big; e=\$(up); echo "RESULT net-download $net_mb \$s \$e"
GUEST
cmdline="console=ttyS0 quiet vessel.exec=$(printf '%s' "$script" | base64 -w0)"

fresh_disk() { rm -f "$work/disk.img"; head -c $((disk_mb << 20)) /dev/urandom >"$work/disk.img"; }

vessel_run() {
  fresh_disk
  timeout 900 "$build/vessel" run --engine soft --memory 256M --kernel "$guest/vmlinuz" \
    --initrd "$guest/initramfs.cpio.gz" --cmdline "$cmdline" --disk "$work/disk.img" --net user \
    </dev/null 2>"$work/vessel.err" | tr -d '\r' | grep '^RESULT' || { cat "$work/vessel.err" >&2; true; }
}
qemu_run() {
  fresh_disk
  timeout 900 qemu-system-x86_64 -accel tcg -m 256 -display none -no-reboot -serial stdio \
    -monitor none -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" -append "$cmdline" \
    -drive file="$work/disk.img",if=none,id=d0,format=raw,cache=writeback \
    -device virtio-blk-pci,drive=d0 -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
    </dev/null 2>"$work/qemu.err" | tr -d '\r' | grep '^RESULT' || { cat "$work/qemu.err" >&2; true; }
}

echo "running the default guest on vessel (soft engine)..." >&2
vessel_results=$(vessel_run)
echo "running the default guest on qemu (tcg)..." >&2
qemu_results=$(qemu_run)

# rate NAME RESULTS: MB/s (or operations/s for rand-read) from a RESULT line.
rate() {
  awk -v name="$1" '$2 == name { t = $5 - $4; if (t <= 0) t = 0.01; printf "%.2f", $3 / t }' <<<"$2"
}
printf '%-14s %12s %12s %8s\n' test vessel qemu ratio
for test in seq-read seq-write rand-read net-download; do
  unit="MB/s"; [ "$test" = rand-read ] && unit="reads/s"
  v=$(rate "$test" "$vessel_results"); q=$(rate "$test" "$qemu_results")
  ratio="-"
  [ -n "$v" ] && [ -n "$q" ] && ratio=$(echo "$v / $q" | bc -l | xargs printf '%.2f')
  printf '%-14s %12s %12s %8s  (%s)\n' "$test" "${v:-failed}" "${q:-failed}" "$ratio" "$unit"
done
