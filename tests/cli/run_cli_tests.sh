#!/usr/bin/env bash
# Bad input to `vessel run`: each case must exit non-zero (not crash, not hang) with a message
# naming the input. Usage: tests/cli/run_cli_tests.sh BUILD_DIR
set -u
build=${1:-build}
vessel="$build/vessel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

guests="$build/tests/guests"
runner=() # a command prefix for vessel (see without_kvm)

# expect NAME EXPECTED_STATUS PATTERN -- ARGS...: status must equal EXPECTED_STATUS and stderr
# must contain PATTERN.
expect() {
  local name=$1 want=$2 pattern=$3
  shift 4
  local status
  timeout 20 "${runner[@]}" "$vessel" "$@" </dev/null >"$work/out" 2>"$work/err"
  status=$?
  if [ "$status" -eq "$want" ] && grep -qF -- "$pattern" "$work/err"; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name: status $status (want $want), stderr: $(head -c 300 "$work/err")"
    failed=$((failed + 1))
  fi
}

head -c 70000 /dev/urandom >"$work/garbage.bin"
: >"$work/empty.bin"
printf '\x7fELF\x01\x01\x01' >"$work/truncated_elf.bin"
# A Multiboot header (magic, flags 0, checksum) followed by nothing loadable.
printf '\x02\xb0\xad\x1b\x00\x00\x00\x00\xfe\x4f\x52\xe4' >"$work/header_only.bin"
# A Linux setup header claiming a kernel far larger than the file.
python3 - "$work/truncated_bzimage.bin" <<'PY'
import struct, sys
image = bytearray(0x400)
image[0x1f1] = 4                      # setup_sects
image[0x1fe:0x200] = b'\x55\xaa'
image[0x202:0x206] = b'HdrS'
struct.pack_into('<H', image, 0x206, 0x020f)
struct.pack_into('<I', image, 0x1f4, 0x100000)  # syssize in 16-byte units: 16 MiB
open(sys.argv[1], 'wb').write(image)
PY

expect missing-kernel 2 "$work/nope.elf" -- run --kernel "$work/nope.elf"
expect directory-kernel 2 "$work" -- run --kernel "$work"
expect empty-kernel 2 "empty.bin" -- run --kernel "$work/empty.bin"
expect garbage-kernel 2 "garbage.bin" -- run --kernel "$work/garbage.bin"
expect truncated-elf 2 "truncated_elf.bin" -- run --kernel "$work/truncated_elf.bin"
expect multiboot-header-only 2 "header_only.bin" -- run --kernel "$work/header_only.bin"
expect truncated-bzimage 2 "truncated_bzimage.bin" -- run --kernel "$work/truncated_bzimage.bin"
# Headers and sizes are checked before a file is read: a 4000 MiB sparse file that is no
# kernel, a bzImage or an initrd larger than guest RAM are refused at once (before: both files
# were read whole, 55 s and 4 GB of memory for "not a kernel"). timeout 20 in expect.
truncate -s 4000M "$work/huge_garbage.bin"
cp "$work/truncated_bzimage.bin" "$work/huge_bzimage.bin" && truncate -s 4000M "$work/huge_bzimage.bin"
expect huge-garbage-kernel 2 "huge_garbage.bin: not a kernel" -- run --kernel "$work/huge_garbage.bin"
# ... and without reading it: the peak memory stays far below the file's size (before: 4 GB).
peak_kib=$(python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$vessel" run --kernel "$work/huge_garbage.bin")
if [ "${peak_kib:-999999999}" -lt 262144 ]; then
  echo "ok   huge-garbage-kernel-unread"; passed=$((passed + 1))
else
  echo "FAIL huge-garbage-kernel-unread: peak RSS ${peak_kib:-?} KiB (want < 256 MiB)"; failed=$((failed + 1))
fi
expect huge-bzimage 2 "huge_bzimage.bin: the kernel file is 4000.0 MiB, larger than guest RAM (256.0 MiB)" -- run --kernel "$work/huge_bzimage.bin"
expect huge-initrd 2 "initrd $work/huge_garbage.bin: 4000.0 MiB does not fit in guest RAM (256.0 MiB)" -- run --kernel "$work/truncated_bzimage.bin" --initrd "$work/huge_garbage.bin"
expect missing-initrd 2 "$work/no-initrd" -- run --kernel "$work/garbage.bin" --initrd "$work/no-initrd"
expect bad-memory-unit 2 "12X" -- run --kernel "$work/garbage.bin" --memory 12X
expect zero-memory 2 "memory" -- run --kernel "$work/garbage.bin" --memory 0
expect huge-memory 2 "memory" -- run --kernel "$work/garbage.bin" --memory 9999T
expect balloon-bad-item 2 "unknown item 'bogus'" -- run --kernel "$work/garbage.bin" --balloon 64M,bogus
expect balloon-above-memory 2 "larger than guest memory" -- run --kernel "$work/garbage.bin" --memory 128M --balloon 256M
expect balloon-bad-stats 2 "stats interval" -- run --kernel "$work/garbage.bin" --balloon stats=0
# Guest RAM larger than the host's physical memory is refused, naming both sizes; up to it is
# accepted with a warning when it exceeds what is available now.
host_mib=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
expect memory-above-host 2 "is larger than this host's physical memory of" -- run --kernel "$work/garbage.bin" --memory "$((host_mib * 2))M"
printf '{"boot-source": {"kernel_image_path": "%s"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": %d}}' \
  "$work/garbage.bin" "$((host_mib * 2))" >"$work/big.json"
expect memory-above-host-config-file 2 "is larger than this host's physical memory of" -- --config-file "$work/big.json" --no-api
if [ -f "$guests/hello.elf" ]; then
  expect memory-above-available-warns 1 "this host has available now" -- run --engine soft --kernel "$guests/hello.elf" --memory "${host_mib}M"
else
  echo "skip memory-above-available-warns: $guests/hello.elf not built"
fi
expect bad-cpus 2 "--cpus" -- run --kernel "$work/garbage.bin" --cpus 0
expect bad-engine 2 "--engine" -- run --kernel "$work/garbage.bin" --engine warp
expect bad-console 2 "--console" -- run --kernel "$work/garbage.bin" --console vga
expect missing-disk 2 "$work/no-disk.img" -- run --kernel "$work/garbage.bin" --disk "$work/no-disk.img"
expect bad-disk-option 2 "cache=none" -- run --kernel "$work/garbage.bin" --disk "$work/garbage.bin,cache=none"
expect empty-disk 2 "smaller than one" -- run --kernel "$work/garbage.bin" --disk "$work/empty.bin"
# Disk images are locked (OFD locks, as QEMU): one read-write user alone, or readers only.
head -c 1048576 /dev/zero >"$work/disk.img"
expect disk-twice 2 "disk $work/disk.img: the image is locked: another user holds it" -- run --kernel "$work/garbage.bin" --disk "$work/disk.img" --disk "$work/disk.img"
expect disk-twice-one-readonly 2 "another user holds it" -- run --kernel "$work/garbage.bin" --disk "$work/disk.img,readonly" --disk "$work/disk.img"
expect disk-twice-readonly-shared 2 "garbage.bin: not a kernel" -- run --kernel "$work/garbage.bin" --disk "$work/disk.img,readonly" --disk "$work/disk.img,readonly"
# Disks and NICs share the 27 PCI slots the machine leaves them: the 28th is refused up front.
many_disks=()
for _ in $(seq 28); do many_disks+=(--disk "$work/disk.img,readonly"); done
expect too-many-disks 2 "28 disk(s) and 0 network interface(s): at most 27 together" -- run --kernel "$work/garbage.bin" "${many_disks[@]}" --net none
python3 -c 'import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, 37, struct.pack("hhqqi", fcntl.F_RDLCK, 0, 0, 0, 0))  # F_OFD_SETLK: a reader
open(sys.argv[2], "w").close()
time.sleep(30)' "$work/disk.img" "$work/holder-ready" &
holder_pid=$!
for _ in $(seq 100); do [ -e "$work/holder-ready" ] && break; sleep 0.1; done  # a loaded host starts python slowly
expect disk-held-by-another-process 2 "disk $work/disk.img: the image is locked: another user holds it" -- run --kernel "$work/garbage.bin" --disk "$work/disk.img"
expect disk-read-only-beside-reader 2 "garbage.bin: not a kernel" -- run --kernel "$work/garbage.bin" --disk "$work/disk.img,readonly"
kill "$holder_pid" 2>/dev/null; wait "$holder_pid" 2>/dev/null
expect bad-net-kind 2 "'bridge' is not a network kind" -- run --kernel "$work/garbage.bin" --net bridge
expect bad-hostfwd 2 "host address '1.2.3'" -- run --kernel "$work/garbage.bin" --net "user,hostfwd=tcp:1.2.3:80-:22"
expect bad-mac 2 "MAC address '01:00:5e:00:00:01'" -- run --kernel "$work/garbage.bin" --net "user,mac=01:00:5e:00:00:01"
expect net-none-combined 2 "cannot be combined" -- run --kernel "$work/garbage.bin" --net none --net user
expect bad-tap-name 2 "TAP interface 'a-very-long-interface-name'" -- run --kernel "$work/garbage.bin" --net tap=a-very-long-interface-name
# A TAP interface that does not exist is an error, not a new unconnected TAP (as root).
missing_tap=vnotap$$
expect missing-tap 2 "TAP interface '$missing_tap' does not exist" -- run --kernel "$work/garbage.bin" --net "tap=$missing_tap"
if [ -e "/sys/class/net/$missing_tap" ]; then
  echo "FAIL missing-tap-not-created: $missing_tap exists now"; failed=$((failed + 1))
  ip link delete "$missing_tap" 2>/dev/null
fi
expect not-a-tap 2 "TAP interface 'lo': the interface exists but is not a TAP" -- run --kernel "$work/garbage.bin" --net tap=lo
expect unknown-option 2 "--frobnicate" -- run --frobnicate
# without_kvm NAME EXPECTED_STATUS PATTERN -- ARGS...: expect, on a host where /dev/kvm cannot
# be opened (as root: a mount namespace with /dev/null over it; else only where it is absent).
without_kvm() {
  if [ ! -e /dev/kvm ]; then
    expect "$@"
  elif [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
    runner=(unshare -m sh -c 'mount --bind /dev/null /dev/kvm && exec "$0" "$@"')
    expect "$@"
    runner=()
  else
    echo "skip $1: /dev/kvm exists and cannot be hidden without root"
  fi
}
without_kvm kvm-absent 2 "/dev/kvm" -- run --engine kvm --kernel "$work/garbage.bin"
# Input files are checked before the engine: a wrong path is not reported as a KVM problem.
without_kvm missing-kernel-before-engine 2 "$work/nope.elf: cannot open" -- run --engine kvm --kernel "$work/nope.elf"
without_kvm missing-initrd-before-engine 2 "$work/no-initrd: cannot open" -- run --engine kvm --kernel "$work/garbage.bin" --initrd "$work/no-initrd"
without_kvm missing-disk-before-engine 2 "disk $work/no-disk.img" -- run --engine kvm --kernel "$work/garbage.bin" --disk "$work/no-disk.img"

# Vessel's log lines start on a line of their own, also after a guest line left unfinished
# (halt.elf prints a prompt without its newline, then halts).
# A guest halting with interrupts disabled ends the VM with status 0 and a warning saying so.
if [ -f "$guests/halt.elf" ]; then
  timeout 20 "$vessel" run --engine soft --kernel "$guests/halt.elf" --memory 32M </dev/null >"$work/out" 2>&1
  status=$?
  if grep -qx 'halt: interrupts off, halting here> ' "$work/out" && grep -q '^vessel: ' "$work/out"; then
    echo "ok   log-line-after-unfinished-guest-line"; passed=$((passed + 1))
  else
    echo "FAIL log-line-after-unfinished-guest-line: $(head -c 300 "$work/out")"; failed=$((failed + 1))
  fi
  if [ "$status" = 0 ] && grep -q '^vessel: warning: guest halted with interrupts disabled .*nothing can wake it' "$work/out"; then
    echo "ok   halt-with-interrupts-disabled"; passed=$((passed + 1))
  else
    echo "FAIL halt-with-interrupts-disabled: status $status (want 0), $(tail -c 300 "$work/out")"; failed=$((failed + 1))
  fi
else
  echo "skip log-line-after-unfinished-guest-line: $guests/halt.elf not built"
  echo "skip halt-with-interrupts-disabled: $guests/halt.elf not built"
fi

# --exec too long for the kernel command line: the error names --exec.
if [ -f "$build/guest/vmlinuz" ]; then
  expect exec-too-long 2 "--exec: the command of 3000 bytes is too long" -- run --exec "$(head -c 3000 /dev/zero | tr '\0' a)"
else
  echo "skip exec-too-long: the default guest is not built ($build/guest)"
fi

# Piped stdin reaches the --exec command from its first byte, and its end is the command's end
# of file (before: early input was dropped and the command waited for input forever).
# piped_exec NAME WANT_STDOUT INPUT_COMMAND EXEC: runs `INPUT_COMMAND | vessel run --exec EXEC`.
piped_exec() {
  local name=$1 want=$2 got status
  bash -c "$3" | timeout 90 "$vessel" run --exec "$4" >"$work/out" 2>"$work/err"
  status=${PIPESTATUS[1]}
  got=$(tr -d '\r' <"$work/out")
  if [ "$status" = 0 ] && [ "$got" = "$want" ]; then
    echo "ok   $name"; passed=$((passed + 1))
  else
    echo "FAIL $name: status $status, stdout '$(head -c 200 <<<"$got")' (want '$want'), stderr: $(tail -c 300 "$work/err")"
    failed=$((failed + 1))
  fi
}
if [ -f "$build/guest/vmlinuz" ]; then
  piped_exec piped-exec-read-line "got:hi" "echo hi" 'read l; echo "got:$l"'
  piped_exec piped-exec-eof-after-unfinished-line "4" "printf 'a\nbc'" 'wc -c'
  piped_exec piped-exec-many-lines "$(seq 1 3000 | md5sum)" "seq 1 3000" 'md5sum'
  piped_exec piped-exec-dev-null "end" "true" 'cat; echo end'
else
  echo "skip piped-exec-*: the default guest is not built ($build/guest)"
fi

# A closed stdout ends the console output, not Vessel (before: killed by SIGPIPE, status 141):
# the ticker guest runs on after head has gone, until timeout's SIGTERM (status 124).
if [ -f "$guests/ticker.elf" ]; then
  timeout 4 "$vessel" run --engine soft --kernel "$guests/ticker.elf" --memory 32M </dev/null 2>"$work/err" | head -n 2 >/dev/null
  status=${PIPESTATUS[0]}
  if [ "$status" = 124 ] && grep -q 'stdout: Broken pipe: guest console output is discarded' "$work/err"; then
    echo "ok   closed-stdout"; passed=$((passed + 1))
  else
    echo "FAIL closed-stdout: status $status (want 124: still running), stderr: $(head -c 300 "$work/err")"; failed=$((failed + 1))
  fi
  # The terminal is restored on every way out (quit signals, crashes, other fatal signals).
  while read -r verdict rest; do
    echo "$verdict $rest"
    if [ "$verdict" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  done < <(python3 "$(dirname "$0")/terminal_restore.py" "$vessel" "$guests/ticker.elf" 2>&1)
else
  echo "skip closed-stdout, terminal-restored-*: $guests/ticker.elf not built"
fi

timeout 10 "$vessel" run --help >"$work/help" 2>&1
if grep -q -- "--kernel" "$work/help" && grep -q -- "--engine" "$work/help"; then
  echo "ok   help"; passed=$((passed + 1))
else
  echo "FAIL help: $(head -c 300 "$work/help")"; failed=$((failed + 1))
fi
if timeout 10 "$vessel" --version 2>&1 | grep -qE '^vessel [0-9]+\.[0-9]+\.[0-9]+'; then
  echo "ok   version"; passed=$((passed + 1))
else
  echo "FAIL version: $("$vessel" --version 2>&1 | head -c 200)"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
