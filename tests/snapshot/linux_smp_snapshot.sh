# Sourced by run_snapshot_tests.sh (uses its helpers): the default Linux guest with 2 vCPUs, its
# local APICs in x2APIC mode, runs one counter pinned to each CPU while a shell reads the
# console; it is saved, Vessel is killed, and a new process restores it: both counters go on
# (each CPU's x2APIC timer and EOIs work after the restore) and a command typed afterwards runs
# on CPU 1 (the shell on CPU 0 wakes it with an x2APIC IPI through the 64-bit ICR MSR).
smp=$work/smp
mkdir -p "$smp"
smp_counter() { # CPU LETTER
    echo "taskset -c $1 sh -c 'i=0; while :; do i=\$((i+1)); echo \"smp $2 \$i\"; sleep 0.3; done' &"
}
smp_program="$(smp_counter 0 a) $(smp_counter 1 b) exec sh"
smp_args="quiet console=ttyS0 vessel.exec=$(printf %s "$smp_program" | base64 -w0)"
smp_last() { grep -ao "smp $2 [0-9]*" "$1" | tail -n 1 | cut -d' ' -f3; }

start smp-source || true
smp_pid=$pid
api smp-source PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
api smp-source PUT /boot-source "{\"kernel_image_path\": \"$build/guest/vmlinuz\", \"initrd_path\": \"$build/guest/initramfs.cpio.gz\", \"boot_args\": \"$smp_args\"}"
api smp-source PUT /actions '{"action_type": "InstanceStart"}'
expect smp-start 204
if wait_for "$work/smp-source.out" "smp a 3" 300 && wait_for "$work/smp-source.out" "smp b 3" 60; then
    api smp-source PATCH /vm '{"state": "Paused"}'
    api smp-source PUT /snapshot/create "{\"snapshot_path\": \"$smp/vm.state\", \"mem_file_path\": \"$smp/vm.mem\"}"
    expect smp-create 204
    last_a=$(smp_last "$work/smp-source.out" a)
    last_b=$(smp_last "$work/smp-source.out" b)
    kill_pid "$smp_pid"
    name=smp-restore
    rm -f "$work/$name.in" "$work/$name.sock"
    mkfifo "$work/$name.in"
    "$vessel" --api-sock "$work/$name.sock" <"$work/$name.in" >"$work/$name.out" 2>"$work/$name.err" &
    pid=$!
    pids+=("$pid")
    exec 4>"$work/$name.in"
    for _ in $(seq 100); do [ -S "$work/$name.sock" ] && break; sleep 0.05; done
    api "$name" PUT /snapshot/load "{\"snapshot_path\": \"$smp/vm.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$smp/vm.mem\"}, \"resume_vm\": true}"
    expect "$name-load" 204
    if wait_for "$work/$name.out" "smp a $((last_a + 3))" 120 &&
        wait_for "$work/$name.out" "smp b $((last_b + 3))" 60; then
        pass "$name-both-cpus-continue"
    else
        fail "$name-both-cpus-continue" "after a $last_a, b $last_b: $(tail -c 300 "$work/$name.out")"
    fi
    echo 'taskset -c 1 sh -c "echo cpu1-\$((6*7))-\$(dmesg | grep -c \"physical x2apic\")"' >&4
    if wait_for "$work/$name.out" "cpu1-42-1" 60; then pass "$name-x2apic-ipi"; else fail "$name-x2apic-ipi" "$(tail -c 300 "$work/$name.out")"; fi
    exec 4>&-
    kill_pid "$pid"
else
    fail smp-boot "no counts on both CPUs: $(tail -c 300 "$work/smp-source.out") $(tail -c 300 "$work/smp-source.err")"
    kill_pid "$smp_pid"
fi
