#!/usr/bin/env bash
# End-to-end: Debian's stock kernel on the software engine (the default guest, built by
# `make guest`). Usage: tests/linux/run_linux_tests.sh BUILD_DIR
set -u
build=${1:-build}
vessel="$build/vessel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap '' PIPE # typing into a VM that already exited must not end this script
passed=0
failed=0
release=$(cat "$build/guest/kernel-release")

# boot NAME EXPECTED_STATUS STDOUT_PATTERN STDERR_PATTERN -- vessel-run-args...
# With BOOT_TYPE=TEXT and BOOT_WAIT_FOR=PATTERN, TEXT is typed on the console once the guest
# printed PATTERN (stdin is /dev/null otherwise).
boot() {
  local name=$1 want=$2 out_pattern=$3 err_pattern=$4
  shift 5
  if [ -n "${BOOT_TYPE:-}" ]; then
    rm -f "$work/in"
    mkfifo "$work/in"
    timeout 180 "$vessel" run --engine "${BOOT_ENGINE:-soft}" "$@" <"$work/in" >"$work/out" 2>"$work/err" &
    local pid=$! waited=0
    exec 3>"$work/in"
    while ! grep -qE -- "$BOOT_WAIT_FOR" "$work/out" && kill -0 "$pid" 2>/dev/null &&
          [ $waited -lt 1800 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    echo "$BOOT_TYPE" >&3
    wait "$pid"
  else
    timeout 180 "$vessel" run --engine "${BOOT_ENGINE:-soft}" "$@" </dev/null >"$work/out" 2>"$work/err"
  fi
  local status=$?
  exec 3>&-
  if [ "$status" -eq "$want" ] && grep -qE -- "$out_pattern" "$work/out" &&
     grep -qE -- "$err_pattern" "$work/err"; then
    echo "ok   $name ($(grep -o 'userspace in [0-9]* ms' "$work/err" || echo 'no boot signal'))"
    passed=$((passed + 1))
  else
    echo "FAIL $name: status $status (want $want), output: $(tail -c 300 "$work/out" | tr '\n' ' ') stderr: $(tail -c 300 "$work/err" | tr '\n' ' ')"
    failed=$((failed + 1))
  fi
}

boot uname-and-status 0 "^$release" "userspace in" -- --exec 'uname -r'
# --engine soft runs hot code through the translator; the interpreter alone keeps a smoke run.
BOOT_ENGINE=interp boot interpreter-only-uname 0 "^$release" "userspace in" -- --exec 'uname -r'
# Userspace compute through the translator (SSE string functions, gzip's loops, sha256): the
# digests of known data must be exact.
boot translated-compute-digests 0 "^9ab1c76a034ecb9d31c317ffc180849e0d61ab92d80897b3ffa1ce93d8890505 .*01b2a23e74272b44e6745c851c2462da" "." -- \
  --memory 512M --exec 'seq 1 1500000 > /tmp/s; echo $(sha256sum /tmp/s) $(gzip -6 -c /tmp/s | gzip -dc | md5sum)'
# A clean boot log (no MSR access the CPU refuses, no warning or call trace), and the kernel
# believes the CPU's IA32_ARCH_CAPABILITIES: no page-table isolation, no retpolines.
boot clean-boot-log-no-mitigations 0 "^clean-log pti=off v2=Enhanced" "." -- --exec \
  'if dmesg | grep -E "unchecked MSR access|Call Trace|WARNING:|BUG:"; then echo dirty-log; else echo "clean-log pti=$(grep -qw pti /proc/cpuinfo && echo on || echo off) v2=$(cut -d" " -f2 /sys/devices/system/cpu/vulnerabilities/spectre_v2)"; fi'
boot exit-status-passes-through 7 "before-exit" "exited with status 7" -- --exec 'echo before-exit; exit 7'
boot one-cpu-memory 0 "^cpus=1 mem=(2[0-9]{5}) kB" "." -- --memory 256M --cpus 1 \
  --exec 'echo "cpus=$(grep -c ^processor /proc/cpuinfo) mem=$(awk "/MemTotal/ {print \$2}" /proc/meminfo) kB"'
# Any busybox initramfs, not only Vessel's own: an xz-compressed one with its own /init, booted
# with --kernel/--initrd and no --cmdline (Vessel then gives Linux console=ttyS0), on 2 vCPUs.
mkdir -p "$work/initramfs/bin" "$work/initramfs/proc"
cp "$(command -v busybox)" "$work/initramfs/bin/busybox"
cat >"$work/initramfs/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
echo "own-init cpus=$(grep -c ^processor /proc/cpuinfo)"
poweroff -f
INIT
chmod +x "$work/initramfs/init"
(cd "$work/initramfs" && find . | cpio -o -H newc 2>/dev/null | xz --check=crc32 >"$work/own.cpio.xz")
boot own-initramfs-two-cpus 0 "^own-init cpus=2" "powered off" -- --cpus 2 \
  --kernel "$build/guest/vmlinuz" --initrd "$work/own.cpio.xz"
# 8 vCPUs (INIT/SIPI for seven APs): all seen, and four writers on other CPUs appending to one
# file through the kernel's locks lose no line.
boot eight-cpus-parallel-appends 0 "^cpus=8 lines=800" "." -- --cpus 8 --exec \
  'for i in 1 2 3 4; do (for j in $(seq 200); do echo x >>/tmp/f; done) & done; wait; echo "cpus=$(grep -c ^processor /proc/cpuinfo) lines=$(wc -l </tmp/f)"'
boot quoting 0 "^a b \\\$HOME 'q'" "." -- --exec "echo \"a b \\\$HOME 'q'\""
boot poweroff 0 "." "powered off" -- --exec 'echo going; poweroff -f; sleep 10'
boot reboot 0 "." "reset" -- --exec 'echo going; reboot -f; sleep 10'
# PCI found through the DSDT with ACPI on, virtio-pci binds the rng, /dev/hwrng gives bytes.
boot pci-acpi-and-hwrng 0 "^pci=ok rng=16 distinct=([2-9]|1[0-6])" "." -- --exec \
  'dmesg | grep -q "PCI Root Bridge \[PCI0\]" && ! dmesg | grep -iE "ACPI (Error|BIOS Error)|virtio.*(fail|error)" && p=ok; n=$(head -c 16 /dev/hwrng | wc -c); d=$(head -c 16 /dev/hwrng | od -An -v -tx1 | tr " " "\n" | grep . | sort -u | wc -l); echo "pci=$p rng=$n distinct=$d"'
# --console virtio: /init's shell runs on hvc0 (virtio-console), a line typed on the host
# reaches it, output comes back, and the --exec status still travels through the guest-signal
# page.
BOOT_WAIT_FOR="^waiting-for-input" BOOT_TYPE=typed-on-host boot virtio-console-hvc0 0 \
  "^hello-hvc dev=229:0 stdout=/dev/hvc0 read=typed-on-host" "exited with status 0" -- \
  --console virtio --exec 'echo waiting-for-input; read -t 60 line;
    echo "hello-hvc dev=$(cat /sys/class/tty/hvc0/dev) stdout=$(readlink /proc/$$/fd/1) read=$line"'
# virtio-blk: the guest hashes the first sector, writes a pattern with fsync; after Vessel exits
# the host finds it in the image. A readonly disk refuses writes and stays unchanged.
head -c 4194304 /dev/urandom >"$work/disk.img"
head -c 1048576 /dev/urandom >"$work/ro.img"
first_sector=$(head -c 512 "$work/disk.img" | sha256sum | cut -d' ' -f1)
ro_before=$(sha256sum <"$work/ro.img")
boot virtio-blk-read-write 0 "^hash=$first_sector ro=refused" "." -- \
  --disk "$work/disk.img" --disk "$work/ro.img,readonly" --exec \
  'h=$(head -c 512 /dev/vda | sha256sum | cut -d" " -f1); echo VESSEL-PATTERN-4242 | dd of=/dev/vda bs=512 seek=100 conv=fsync,sync 2>/dev/null; if echo x | dd of=/dev/vdb bs=512 conv=fsync 2>/dev/null; then r=accepted; else r=refused; fi; echo "hash=$h ro=$r"'
check() {
  if eval "$2"; then echo "ok   $1"; passed=$((passed + 1)); else echo "FAIL $1"; failed=$((failed + 1)); fi
}
check virtio-blk-pattern-in-host-file \
  '[ "$(dd if="$work/disk.img" bs=512 skip=100 count=1 2>/dev/null | head -c 19)" = VESSEL-PATTERN-4242 ]'
check virtio-blk-readonly-image-unchanged '[ "$(sha256sum <"$work/ro.img")" = "$ro_before" ]'
# 27 disks (the most the PCI slots allow): their serials, which Vessel names as Linux names the
# disks (vdz, then vdaa), do not wrap back to vda.
many_disks=()
for _ in $(seq 27); do many_disks+=(--disk "$work/ro.img,readonly"); done
boot twenty-seven-disk-serials 0 "^serials vda vdz vdaa" "." -- "${many_disks[@]}" --net none \
  --exec 'echo "serials $(cat /sys/block/vda/serial) $(cat /sys/block/vdz/serial) $(cat /sys/block/vdaa/serial)"'
# ext4 on virtio-blk: the guest runs a program whose pages arrived by device DMA (the soft
# engine's decoded-code cache must see those writes) and writes a file the host then reads.
if command -v mke2fs >/dev/null && command -v debugfs >/dev/null && [ -x /bin/busybox ]; then
  mkdir -p "$work/fs" && cp /bin/busybox "$work/fs/busybox"
  mke2fs -q -t ext4 -d "$work/fs" "$work/fs.img" 16M >/dev/null 2>&1
  bb_hash=$(sha256sum /bin/busybox | cut -d' ' -f1)
  boot virtio-blk-ext4-exec 0 "^exec $bb_hash" "." -- --disk "$work/fs.img" --exec \
    'mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && echo "exec $(/mnt/busybox sha256sum /mnt/busybox | cut -d" " -f1)" && echo from-guest >/mnt/note.txt && umount /mnt'
  check virtio-blk-ext4-file-on-host \
    '[ "$(debugfs -R "cat /note.txt" "$work/fs.img" 2>/dev/null)" = from-guest ]'
fi
boot panic 8 "." "Kernel panic - not syncing" -- --exec 'echo c > /proc/sysrq-trigger; sleep 10'

# Network: the guest fetches a random file from an HTTP server on the host's 127.0.0.1 through
# the default user network (the host is 10.0.2.2 there) and checks its hash.
mkdir -p "$work/www"
head -c 300000 /dev/urandom >"$work/www/file"
python3 -u -m http.server --bind 127.0.0.1 --directory "$work/www" 0 >"$work/http.log" 2>&1 &
http_pid=$!
http_port=""
for _ in $(seq 50); do
  http_port=$(grep -o 'port [0-9]*' "$work/http.log" | head -n 1 | cut -d' ' -f2)
  [ -n "$http_port" ] && break
  sleep 0.1
done
file_hash=$(sha256sum "$work/www/file" | cut -d' ' -f1)
boot net-user-http-fetch 0 "^$file_hash" "." -- \
  --exec "wget -q -O - http://10.0.2.2:$http_port/file | sha256sum"
kill "$http_pid" 2>/dev/null
wait "$http_pid" 2>/dev/null

# Network: a hostfwd port on the host reaches a listener in the guest, which sends a token.
forward_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The client connects once the guest has printed its token (so it has an address): earlier
# attempts would leave slirp retrying SYNs that the guest's listener could accept later.
: >"$work/out"
python3 - "$forward_port" "$work/out" >"$work/forward.out" 2>&1 <<'PYTHON' &
import socket, sys, time
deadline = time.time() + 170
while time.time() < deadline and "token=" not in open(sys.argv[2], errors="replace").read():
    time.sleep(0.5)
while time.time() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as connection:
            data = connection.recv(100)
            if data.startswith(b"token="):
                print(data.decode().strip())
                break
    except OSError:
        pass
    time.sleep(0.5)
PYTHON
client_pid=$!
boot net-user-hostfwd 0 "^token=" "." -- --net "user,hostfwd=tcp:127.0.0.1:$forward_port-:8022" \
  --exec 't=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d " \n"); echo "token=$t"; (echo "token=$t"; sleep 5) | nc -l -p 8022'
wait "$client_pid" 2>/dev/null
guest_token=$(tr -d '\r' <"$work/out" | grep -m1 '^token=')
if [ -n "$guest_token" ] && [ "$guest_token" = "$(cat "$work/forward.out")" ]; then
  echo "ok   net-user-hostfwd-token (the host read the guest's token)"
  passed=$((passed + 1))
else
  echo "FAIL net-user-hostfwd-token: guest said '$guest_token', host read '$(cat "$work/forward.out")'"
  failed=$((failed + 1))
fi

# Network on a TAP interface, configured the Firecracker way: a config file whose
# network-interfaces entry names the TAP (host_dev_name) and the guest MAC. The guest takes a
# static address and fetches a file from a server bound to the host's end of the TAP.
tap=vst$$
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && command -v ip >/dev/null &&
   ip tuntap add dev "$tap" mode tap 2>/dev/null; then
  ip addr add 10.77.0.1/24 dev "$tap" && ip link set "$tap" up
  python3 -u -m http.server --bind 10.77.0.1 --directory "$work/www" 0 >"$work/http-tap.log" 2>&1 &
  http_pid=$!
  http_port=""
  for _ in $(seq 50); do
    http_port=$(grep -o 'port [0-9]*' "$work/http-tap.log" | head -n 1 | cut -d' ' -f2)
    [ -n "$http_port" ] && break
    sleep 0.1
  done
  command="echo mac=\$(cat /sys/class/net/eth0/address); ip addr add 10.77.0.2/24 dev eth0; ip link set eth0 up; wget -q -O - http://10.77.0.1:$http_port/file | sha256sum"
  cat >"$work/tap.json" <<JSON
{"boot-source": {"kernel_image_path": "$build/guest/vmlinuz",
                 "initrd_path": "$build/guest/initramfs.cpio.gz",
                 "boot_args": "quiet console=ttyS0 vessel.exec=$(printf '%s' "$command" | base64 -w0)"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
 "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "$tap", "guest_mac": "06:00:ac:10:00:02"}]}
JSON
  timeout 180 "$vessel" --config-file "$work/tap.json" --no-api --engine soft </dev/null \
    >"$work/out" 2>"$work/err"
  status=$?
  if [ "$status" = 0 ] && grep -q "^mac=06:00:ac:10:00:02" "$work/out" &&
     grep -q "^$file_hash" "$work/out"; then
    echo "ok   net-tap-api-config-http-fetch"
    passed=$((passed + 1))
  else
    echo "FAIL net-tap-api-config-http-fetch: status $status, output: $(tail -c 300 "$work/out" | tr '\n' ' ') stderr: $(tail -c 300 "$work/err" | tr '\n' ' ')"
    failed=$((failed + 1))
  fi
  kill "$http_pid" 2>/dev/null
  wait "$http_pid" 2>/dev/null
  ip link delete "$tap" 2>/dev/null
else
  echo "skip net-tap-api-config-http-fetch: needs root, /dev/net/tun and iproute2 to create a TAP"
fi

# Firecracker's getting-started flow: the stock kernel and an ext4 rootfs drive, no initrd
# (before: "VFS: Unable to mount root fs", Debian's virtio_blk is a module). Vessel's initramfs
# mounts root= and switch_roots to the rootfs's own /sbin/init, which must run as PID 1 with
# /dev/vda as /. Through --config-file (Firecracker's boot_args) and `--disk PATH,root`.
mkdir -p "$work/rootfs/bin" "$work/rootfs/sbin" "$work/rootfs/dev" "$work/rootfs/proc" "$work/rootfs/sys"
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
cat >"$work/rootfs/sbin/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "rootfs-init pid=$$ root=$(/bin/busybox awk '$2 == "/" {print $1 "," $3}' /proc/mounts | /bin/busybox tail -n 1)"
/bin/busybox poweroff -f
INIT
chmod +x "$work/rootfs/sbin/init"
mkfs.ext4 -q -F -d "$work/rootfs" "$work/rootfs.ext4" 32M >/dev/null
cat >"$work/rootfs.json" <<JSON
{"boot-source": {"kernel_image_path": "$build/guest/vmlinuz",
                 "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
 "drives": [{"drive_id": "rootfs", "path_on_host": "$work/rootfs.ext4",
             "is_root_device": true, "is_read_only": false}]}
JSON
timeout 180 "$vessel" --config-file "$work/rootfs.json" --no-api --engine soft </dev/null \
  >"$work/out" 2>"$work/err"
status=$?
if [ "$status" = 0 ] && grep -q "^rootfs-init pid=1 root=/dev/vda,ext4" "$work/out"; then
  echo "ok   firecracker-rootfs-config-file"; passed=$((passed + 1))
else
  echo "FAIL firecracker-rootfs-config-file: status $status, output: $(tail -c 300 "$work/out" | tr '\n' ' ') stderr: $(tail -c 300 "$work/err" | tr '\n' ' ')"
  failed=$((failed + 1))
fi
boot rootfs-disk-option 0 "^rootfs-init pid=1 root=/dev/vda,ext4" "powered off" -- --disk "$work/rootfs.ext4,root"
boot rootfs-disk-option-own-kernel 0 "^rootfs-init pid=1 root=/dev/vda,ext4" "powered off" -- \
  --kernel "$build/guest/vmlinuz" --disk "$work/rootfs.ext4,root"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
