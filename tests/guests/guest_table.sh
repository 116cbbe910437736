# Sourced by run_guest_tests.sh and check_with_qemu.sh: the guest list and what each guest expects.
# Expectations: pass (debug-exit 0: VMM status 1, a PASS: line, no FAIL: line),
#               reset (VMM status 0 after the announce line), triple_fault (VMM reports a triple fault).

GUEST_MEMORY_MIB=128
GUEST_CPUS=1
# The suite guests of guests.list (the one list; CMakeLists.txt builds every guest in it).
GUEST_NAMES=()
while read -r guest_name guest_role _; do
    if [ "$guest_role" = suite ]; then GUEST_NAMES+=("$guest_name"); fi
done < <(grep -v '^#' "$(dirname "${BASH_SOURCE[0]}")/guests.list")
unset guest_name guest_role

# Guests that need a KVM with hardware virtualization (VT-x/AMD-V). Without it (kvm_pvm, see
# ENVIRONMENT.md) the host emulates guest CPL0 code and refuses 32-bit non-PAE paging (mov to
# CR0.PG raises #GP), emulates iret and int n only in real mode and has no daa.
guest_needs_hardware_kvm() {
    case "$1" in
    paging) echo "32-bit non-PAE paging" ;;
    exceptions) echo "int n at CPL0" ;;
    legacy32) echo "daa at CPL0" ;;
    user_mode) echo "iret to CPL3" ;;
    *) echo "" ;;
    esac
}

guest_expectation() {
    case "$1" in
    reset) echo reset ;;
    triple_fault) echo triple_fault ;;
    *) echo pass ;;
    esac
}

# The command line each guest parses (the first word mimics a boot loader's kernel name).
guest_cmdline() {
    case "$1" in
    multiboot_info) echo "multiboot_info token=vessel" ;;
    fw_cfg) echo "fw_cfg ram=${GUEST_MEMORY_MIB}M cpus=${GUEST_CPUS}" ;;
    *) echo "" ;;
    esac
}

# The Multiboot module file a guest needs (relative to the guest build directory), or nothing.
guest_module() {
    case "$1" in
    multiboot_info) echo "multiboot_module.bin" ;;
    *) echo "" ;;
    esac
}

# Extra QEMU arguments for check_with_qemu.sh (the devices Vessel always has, QEMU adds on demand).
guest_qemu_args() {
    case "$1" in
    virtio_rng) echo "-device virtio-rng-pci,disable-legacy=on" ;;
    *) echo "" ;;
    esac
}

# The line a reset or triple_fault guest prints before it stops running.
guest_announce_line() {
    case "$1" in
    reset) echo "reset: requesting a reset through the i8042" ;;
    triple_fault) echo "triple_fault: loading an empty IDT and executing ud2" ;;
    *) echo "" ;;
    esac
}

# Judges one run: guest_verdict NAME STATUS STDOUT_FILE STDERR_FILE TRIPLE_FAULT_PATTERN.
# Prints nothing and returns 0 when the run met the expectation, else prints why and returns 1.
guest_verdict() {
    local name=$1 status=$2 out=$3 err=$4 triple_pattern=$5
    local expectation announce
    expectation=$(guest_expectation "$name")
    announce=$(guest_announce_line "$name")
    if grep -q '^FAIL:' "$out"; then
        echo "exit $status, $(grep -m3 '^FAIL:' "$out" | tr '\n' ' ')"
        return 1
    fi
    if [ "$status" = 124 ]; then
        echo "timed out"
        return 1
    fi
    case "$expectation" in
    pass)
        if [ "$status" != 1 ]; then echo "exit $status (expected 1)"; return 1; fi
        if ! grep -q '^PASS:' "$out"; then echo "exit $status but no PASS: line"; return 1; fi
        ;;
    reset)
        if [ "$status" != 0 ]; then echo "exit $status (expected 0 for a reset)"; return 1; fi
        if ! grep -qF "$announce" "$out"; then echo "exit 0 but the guest never printed its announce line"; return 1; fi
        ;;
    triple_fault)
        # QEMU with -no-reboot exits 0 on a triple fault; Vessel must exit non-zero (and not 1, a pass).
        if [ "$status" = 1 ] || { [ "$status" = 0 ] && [ "${TRIPLE_FAULT_EXIT_ZERO_OK:-0}" != 1 ]; }; then
            echo "exit $status (expected a triple-fault status)"; return 1
        fi
        if ! grep -qF "$announce" "$out"; then echo "exit $status but the guest never printed its announce line"; return 1; fi
        if ! grep -qi "$triple_pattern" "$err"; then echo "exit $status, no \"$triple_pattern\" message on stderr"; return 1; fi
        ;;
    esac
    return 0
}
