#!/usr/bin/env bash
# Runs every test guest (tests/guests) on every available engine: run_guest_tests.sh BUILD_DIR
# Environment: GUESTS="hello pit_irq" and ENGINES="soft" narrow the run; GUEST_TIMEOUT (seconds, default 30).
set -u
build=${1:?usage: run_guest_tests.sh BUILD_DIR}
guest_dir=$build/tests/guests
vessel=$build/vessel
here=$(cd "$(dirname "$0")" && pwd)
source "$here/guests/guest_table.sh"
timeout_seconds=${GUEST_TIMEOUT:-30}

engines=()
skipped=0
guests=(${GUESTS:-${GUEST_NAMES[@]}})
for engine in ${ENGINES:-kvm soft}; do
    # -c first: bash's <> would create a regular file where the device is missing.
    if [ "$engine" = kvm ] && ! { [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; }; then
        echo "skipping engine kvm: /dev/kvm not available"
        skipped=$((skipped + ${#guests[@]}))
        continue
    fi
    engines+=("$engine")
done
if [ ! -x "$vessel" ]; then
    echo "note: $vessel not built; every run will fail"
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0
# KVM without VT-x/AMD-V in the CPU (a nested host's kvm_pvm) emulates guest CPL0 code.
hardware_kvm=yes
grep -qwE 'vmx|svm' /proc/cpuinfo || hardware_kvm=no
for engine in "${engines[@]}"; do
    for name in "${guests[@]}"; do
        need=$(guest_needs_hardware_kvm "$name")
        if [ "$engine" = kvm ] && [ "$hardware_kvm" = no ] && [ -n "$need" ]; then
            printf 'skip %-5s %s: needs VT-x/AMD-V for %s (this host has neither)\n' "$engine" "$name" "$need"
            skipped=$((skipped + 1))
            continue
        fi
        args=(run --engine "$engine" --kernel "$guest_dir/$name.elf" --memory "${GUEST_MEMORY_MIB}M"
              --cpus "$GUEST_CPUS")
        cmdline=$(guest_cmdline "$name")
        module=$(guest_module "$name")
        [ -n "$cmdline" ] && args+=(--cmdline "$cmdline")
        [ -n "$module" ] && args+=(--initrd "$guest_dir/$module")
        timeout "$timeout_seconds" "$vessel" "${args[@]}" </dev/null >"$scratch/out" 2>"$scratch/err"
        status=$?
        why=$(guest_verdict "$name" "$status" "$scratch/out" "$scratch/err" "triple fault")
        if [ -z "$why" ]; then
            printf 'ok   %-5s %s\n' "$engine" "$name"
            passed=$((passed + 1))
        else
            # One line per run: the reason plus the tail of what the guest and the VMM said, flattened.
            output=$( (grep -v '^FAIL:' "$scratch/out" | tail -c 200; tail -c 200 "$scratch/err") | tr '\n' ' ')
            printf 'FAIL %-5s %s: %s, output: %s\n' "$engine" "$name" "$why" "$output"
            failed=$((failed + 1))
        fi
    done
done

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" = 0 ]
