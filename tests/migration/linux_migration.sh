# Sourced by run_migration_tests.sh (uses its helpers): the default Linux guest (256 MiB) counts
# to its console while it rewrites 16 MiB of its memory with random bytes in a loop; it moves
# to a second Vessel over a Unix socket (PUT /vm.receive-migration there) and from that one to a
# third over loopback TCP (`vessel run --incoming`). The console count goes on at each hop with
# no number missing or repeated, and each count is also written, synced, to a virtio-blk disk
# that every hop opens at the same path: at the end it holds them all.
counter='i=0; while :; do i=$((i+1)); echo "count $i"; printf "count %08d\n" $i | dd of=/dev/vda bs=15 seek=$i conv=notrunc,fsync 2>/dev/null; sleep 0.3; done'
writer='while :; do dd if=/dev/urandom of=/tmp/dirty bs=1M count=16 2>/dev/null; done'
program="($writer) & ($counter) & exec sh"
boot_args="quiet console=ttyS0 vessel.exec=$(printf %s "$program" | base64 -w0)"

# counts_continue FILE...: the "count N" lines of the files, read in turn, are 1, 2, 3, ...
counts_continue() {
    local expected=1 number
    while read -r number; do
        [ "$number" = "$expected" ] || { echo "count $number where $expected was due"; return 1; }
        expected=$((expected + 1))
    done < <(cat "$@" | tr -d '\r' | grep -ao 'count [0-9]*' | cut -d' ' -f2)
    [ "$expected" -gt 2 ] || { echo "no counts"; return 1; }
}
# disk_holds FIRST LAST: the shared disk has "count %08d" records FIRST..LAST at their places.
disk_holds() {
    local i got
    for i in $(seq "$1" "$2"); do
        got=$(dd if="$work/linux-disk.img" bs=15 skip="$i" count=1 status=none)
        [ "$got" = "$(printf 'count %08d' "$i")" ] || { echo "record $i is '$got'"; return 1; }
    done
}
last_count() { tr -d '\r' <"$1" | grep -ao 'count [0-9]*' | tail -n 1 | cut -d' ' -f2; }

if start linux-source; then
    linux_pid=$pid
    api linux-source PUT /boot-source "{\"kernel_image_path\": \"$build/guest/vmlinuz\", \"initrd_path\": \"$build/guest/initramfs.cpio.gz\", \"boot_args\": \"$boot_args\"}"
    api linux-source PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}'
    truncate -s 16M "$work/linux-disk.img"
    api linux-source PUT /drives/vda "{\"drive_id\": \"vda\", \"path_on_host\": \"$work/linux-disk.img\", \"is_root_device\": false, \"is_read_only\": false}"
    api linux-source PUT /actions '{"action_type": "InstanceStart"}'
    expect linux-start 204
    if wait_for "$work/linux-source.out" "count 5" 300 && start linux-hop1; then
        hop1_pid=$pid
        curl -s -o "$work/hop1.body" -w '%{http_code}' -X PUT --max-time 300 --unix-socket "$work/linux-hop1.sock" \
            http://localhost/vm.receive-migration -H 'Content-Type: application/json' \
            --data-binary "{\"receiver_url\": \"unix:$work/hop1.migration\"}" >"$work/hop1.status" 2>/dev/null &
        receive_pid=$!
        for _ in $(seq 100); do [ -S "$work/hop1.migration" ] && break; sleep 0.05; done
        api linux-source PUT /vm.send-migration "{\"destination_url\": \"unix:$work/hop1.migration\"}"
        expect linux-unix-send 204
        wait "$receive_pid"
        if wait_exit "$linux_pid" 20 && [ "$code" = 0 ]; then pass linux-source-exits; else fail linux-source-exits "status $code"; fi
        grep -ao 'migrat[a-z]* \(to\|downtime\).*' "$work/linux-source.err" | sed 's/^/     /'
        last=$(last_count "$work/linux-source.out")
        if wait_for "$work/linux-hop1.out" "count $((last + 3))" 120 && why=$(counts_continue "$work/linux-source.out" "$work/linux-hop1.out"); then
            pass linux-unix-continues
        else
            fail linux-unix-continues "${why:-no count $((last + 3))}: $(tail -c 300 "$work/linux-hop1.out") $(tail -c 300 "$work/linux-hop1.err")"
        fi
        port=$((20000 + RANDOM % 20000))
        "$vessel" run --incoming "tcp:127.0.0.1:$port" </dev/null >"$work/linux-hop2.out" 2>"$work/linux-hop2.err" &
        hop2_pid=$!
        pids+=("$hop2_pid")
        wait_listening "$port"
        "$vessel" migrate "$work/linux-hop1.sock" "tcp:127.0.0.1:$port" >"$work/linux-migrate.out" 2>&1
        code=$?
        if [ "$code" = 0 ]; then pass linux-tcp-migrate; else fail linux-tcp-migrate "exit $code: $(tail -c 300 "$work/linux-migrate.out")"; fi
        if wait_exit "$hop1_pid" 20 && [ "$code" = 0 ]; then pass linux-hop1-exits; else fail linux-hop1-exits "status $code"; fi
        grep -ao 'migrat[a-z]* \(to\|downtime\).*' "$work/linux-hop1.err" | sed 's/^/     /'
        last=$(last_count "$work/linux-hop1.out")
        if wait_for "$work/linux-hop2.out" "count $((last + 3))" 120 && why=$(counts_continue "$work/linux-source.out" "$work/linux-hop1.out" "$work/linux-hop2.out"); then
            pass linux-tcp-continues
        else
            fail linux-tcp-continues "${why:-no count $((last + 3))}: $(tail -c 300 "$work/linux-hop2.out") $(tail -c 300 "$work/linux-hop2.err")"
        fi
        # The disk went along (the source let go of its lock at the switch): every count the
        # guest wrote on any of the three hosts is on it.
        last=$(last_count "$work/linux-hop2.out")
        if why=$(disk_holds 1 $((last - 1))); then pass linux-disk-across-hops; else fail linux-disk-across-hops "$why"; fi
        kill -9 "$hop2_pid" 2>/dev/null
    else
        fail linux-boot "no count 5: $(tail -c 300 "$work/linux-source.out") $(tail -c 300 "$work/linux-source.err")"
    fi
    kill -9 "$linux_pid" 2>/dev/null
else
    fail linux-source "vessel did not start"
fi
