#!/usr/bin/env bash
# Runs every test guest under QEMU (TCG) to prove the guests themselves are right: check_with_qemu.sh BUILD_DIR
set -u
build=${1:?usage: check_with_qemu.sh BUILD_DIR}
guest_dir=$build/tests/guests
here=$(cd "$(dirname "$0")" && pwd)
source "$here/guest_table.sh"
TRIPLE_FAULT_EXIT_ZERO_OK=1
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 not found (apt-get install -y qemu-system-x86)"; exit 2; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0
for name in ${GUESTS:-${GUEST_NAMES[@]}}; do
    cmdline=$(guest_cmdline "$name")
    # QEMU's unassigned memory reads as zero where Vessel (like a PCI master abort) reads all ones.
    [ "$name" = mmio_unbacked ] && cmdline="mmio_unbacked unbacked=zeros"
    module=$(guest_module "$name")
    args=(-accel tcg -kernel "$guest_dir/$name.elf" -append "$cmdline" -m "$GUEST_MEMORY_MIB" -smp "$GUEST_CPUS"
          -serial stdio -display none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04
          -d cpu_reset -D "$scratch/log")
    [ -n "$module" ] && args+=(-initrd "$guest_dir/$module")
    read -r -a extra <<<"$(guest_qemu_args "$name")"
    args+=("${extra[@]}")
    timeout 30 qemu-system-x86_64 "${args[@]}" </dev/null >"$scratch/out" 2>"$scratch/err"
    status=$?
    # QEMU with -no-reboot exits 0 on both reset and triple fault; its cpu_reset log names the triple fault.
    grep -h 'Triple fault' "$scratch/log" >>"$scratch/err" 2>/dev/null
    if [ "$(guest_expectation "$name")" = reset ] && grep -q 'Triple fault' "$scratch/err"; then
        why="triple fault instead of a reset"
    else
        why=$(guest_verdict "$name" "$status" "$scratch/out" "$scratch/err" "triple fault")
    fi
    if [ -z "$why" ]; then
        printf 'ok   qemu  %s\n' "$name"
        passed=$((passed + 1))
    else
        printf 'FAIL qemu  %s: %s\n' "$name" "$why"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
