# Sourced by run_snapshot_tests.sh (uses its helpers): the default Linux guest on the software
# engine counts to its console and writes each count, synced, to its virtio-blk disk while a
# shell reads the console; it is saved, Vessel is killed, and two new processes restore it in
# turn: the count goes on from where it stopped, the disk holds every count the guest wrote
# before the snapshot and gets the new ones, and the shell answers a command typed after the
# restore. A Diff taken two counts after the Full snapshot is much smaller than it. The guest
# runs its local APIC in x2APIC mode, restored as such.
# (Firecracker's API offers TAP networking only, which needs privileges this test does not
# have, so user networking after a restore is not covered here.)
linux=$work/linux
mkdir -p "$linux"
truncate -s 16M "$linux/disk.img"
counter='i=0; while :; do i=$((i+1)); echo "count $i"; printf "count %08d\n" $i | dd of=/dev/vda bs=15 seek=$i conv=notrunc,fsync 2>/dev/null; sleep 0.3; done'
program="($counter) & exec sh"
boot_args="quiet console=ttyS0 vessel.exec=$(printf %s "$program" | base64 -w0)"

last_count() { grep -ao 'count [0-9]*' "$1" | tail -n 1 | cut -d' ' -f2; }
first_count() { grep -ao 'count [0-9]*' "$1" | head -n 1 | cut -d' ' -f2; }
# disk_holds FIRST LAST: the disk has "count %08d" records FIRST..LAST at their places.
disk_holds() {
    local i got
    for i in $(seq "$1" "$2"); do
        got=$(dd if="$linux/disk.img" bs=15 skip="$i" count=1 status=none)
        [ "$got" = "$(printf 'count %08d' "$i")" ] || { echo "record $i is '$got'"; return 1; }
    done
}

start linux-source || true
linux_pid=$pid
api linux-source PUT /boot-source "{\"kernel_image_path\": \"$build/guest/vmlinuz\", \"initrd_path\": \"$build/guest/initramfs.cpio.gz\", \"boot_args\": \"$boot_args\"}"
api linux-source PUT /drives/vda "{\"drive_id\": \"vda\", \"path_on_host\": \"$linux/disk.img\", \"is_root_device\": false, \"is_read_only\": false}"
api linux-source PUT /actions '{"action_type": "InstanceStart"}'
expect linux-start 204
if wait_for "$work/linux-source.out" "count 5" 300; then
    api linux-source PATCH /vm '{"state": "Paused"}'
    api linux-source PUT /snapshot/create "{\"snapshot_path\": \"$linux/vm.state\", \"mem_file_path\": \"$linux/vm.mem\"}"
    expect linux-create 204
    linux_last=$(last_count "$work/linux-source.out")
    # A Diff two counts later holds only what the guest wrote meanwhile: much less than the Full.
    api linux-source PATCH /vm '{"state": "Resumed"}'
    wait_for "$work/linux-source.out" "count $((linux_last + 2))" 60
    api linux-source PATCH /vm '{"state": "Paused"}'
    api linux-source PUT /snapshot/create "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$linux/diff.state\", \"mem_file_path\": \"$linux/diff.mem\"}"
    expect linux-create-diff 204
    full_kib=$(du -k "$linux/vm.mem" | cut -f1)
    diff_kib=$(du -k "$linux/diff.mem" | cut -f1)
    echo "     Linux: Full memory file $full_kib KiB on disk, Diff after two counts $diff_kib KiB"
    if [ "$diff_kib" -gt 0 ] && [ $((diff_kib * 10)) -le "$full_kib" ]; then pass linux-diff-much-smaller; else fail linux-diff-much-smaller "Diff $diff_kib KiB, Full $full_kib KiB"; fi
    kill_pid "$linux_pid"
    # The guest synced each count before printing the next one: all but possibly the last are on
    # the disk.
    if why=$(disk_holds 1 $((linux_last - 1))); then pass linux-disk-before; else fail linux-disk-before "$why"; fi
    for run in 1 2; do
        name=linux-restore$run
        rm -f "$work/$name.in"
        mkfifo "$work/$name.in"
        rm -f "$work/$name.sock"
        "$vessel" --api-sock "$work/$name.sock" <"$work/$name.in" >"$work/$name.out" 2>"$work/$name.err" &
        pid=$!
        pids+=("$pid")
        exec 4>"$work/$name.in"
        for _ in $(seq 100); do [ -S "$work/$name.sock" ] && break; sleep 0.05; done
        api "$name" PUT /snapshot/load "{\"snapshot_path\": \"$linux/vm.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$linux/vm.mem\"}, \"resume_vm\": true}"
        expect "$name-load" 204
        if wait_for "$work/$name.out" "count $((linux_last + 3))" 120; then
            first=$(first_count "$work/$name.out")
            if [ "$first" = $((linux_last + 1)) ]; then pass "$name-continues"; else fail "$name-continues" "first count $first after $linux_last"; fi
            if why=$(disk_holds $((linux_last + 1)) $((linux_last + 2))); then pass "$name-disk-after"; else fail "$name-disk-after" "$why"; fi
            echo 'echo shell-$((6*7))' >&4
            if wait_for "$work/$name.out" "shell-42" 60; then pass "$name-shell"; else fail "$name-shell" "no answer: $(tail -c 200 "$work/$name.out")"; fi
            # The guest booted with its local APIC in x2APIC mode (IA32_APIC_BASE.EXTD, saved
            # with the APIC): its timer interrupts and EOIs after the restore went through the
            # x2APIC MSRs, or the counting above would have stopped.
            echo 'echo "apic-mode-$(dmesg | grep -c -e "x2apic enabled" -e "physical x2apic")"' >&4
            if wait_for "$work/$name.out" "apic-mode-2" 60; then pass "$name-x2apic"; else fail "$name-x2apic" "$(grep -a apic-mode "$work/$name.out" | tail -n 1)"; fi
        else
            fail "$name-continues" "no count $((linux_last + 3)): $(tail -c 300 "$work/$name.out") $(tail -c 300 "$work/$name.err")"
        fi
        exec 4>&-
        kill_pid "$pid"
    done
else
    fail linux-boot "no count 5: $(tail -c 300 "$work/linux-source.out") $(tail -c 300 "$work/linux-source.err")"
    kill_pid "$linux_pid"
fi
