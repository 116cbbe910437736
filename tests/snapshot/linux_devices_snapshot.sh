# Sourced by run_snapshot_tests.sh (uses its helpers): the default Linux guest with a
# virtio-balloon (statistics on, inflated to its target) and a virtio-vsock device serving an
# echo server, saved and restored in a new process. After the restore the balloon keeps its
# target, its inflated pages and its statistics (a deflate then finds every page it inflated:
# no duplicate PFNs), the guest was told of the lost vsock connections (transport reset event)
# and a new host connection is echoed; the old one is gone, as in Firecracker.
devices=$work/devices
mkdir -p "$devices/fs"
if ! gcc -static -O2 -o "$devices/fs/vcat" "$here/../vsock/vcat.c" 2>"$devices/gcc.log" ||
    ! mke2fs -q -t ext4 -d "$devices/fs" "$devices/fs.img" 8M >/dev/null 2>&1; then
    skip linux-devices "cannot build the guest's vsock program disk: $(head -c 200 "$devices/gcc.log")"
    return 0
fi
vsock_path=$devices/v.sock
devices_program='mkdir -p /mnt && mount -t ext4 -o ro /dev/vda /mnt && (/mnt/vcat echo 5001 100 &) ; echo devices-ready; exec sh'
devices_args="quiet console=ttyS0 vessel.exec=$(printf %s "$devices_program" | base64 -w0)"

# vsock_echo TEXT: connects to the guest's port 5001 through Vessel's socket, sends TEXT and
# prints what came back (or the error).
vsock_echo() {
    python3 - "$vsock_path" "$1" <<'PY'
import socket, sys, time
path, text = sys.argv[1], sys.argv[2].encode() + b"\n"
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(path)
s.sendall(b"CONNECT 5001\n")
line = b""
while not line.endswith(b"\n"):
    chunk = s.recv(1)
    if not chunk:
        print("closed before OK"); sys.exit(1)
    line += chunk
if not line.startswith(b"OK "):
    print("answer %r" % line); sys.exit(1)
s.sendall(text)
got = b""
while not got.endswith(b"\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    got += chunk
print(got.decode(errors="replace").strip())
PY
}
# balloon_field PATH FIELD: a number from GET PATH on the named Vessel ($1).
balloon_field() {
    api "$1" GET "$2"
    python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$body" "$3" 2>/dev/null
}

start devices-source || true
devices_pid=$pid
api devices-source PUT /boot-source "{\"kernel_image_path\": \"$build/guest/vmlinuz\", \"initrd_path\": \"$build/guest/initramfs.cpio.gz\", \"boot_args\": \"$devices_args\"}"
api devices-source PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}'
api devices-source PUT /drives/vda "{\"drive_id\": \"vda\", \"path_on_host\": \"$devices/fs.img\", \"is_root_device\": false, \"is_read_only\": true}"
api devices-source PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$vsock_path\"}"
api devices-source PUT /balloon '{"amount_mib": 16, "deflate_on_oom": false, "stats_polling_interval_s": 1}'
expect devices-balloon 204
api devices-source PUT /actions '{"action_type": "InstanceStart"}'
expect devices-start 204
inflated=
if wait_for "$work/devices-source.out" "devices-ready" 300; then
    for _ in $(seq 300); do
        [ "$(balloon_field devices-source /balloon/statistics actual_pages)" = 4096 ] && inflated=yes && break
        sleep 0.2
    done
fi
if [ -n "$inflated" ] && [ "$(vsock_echo before)" = before ]; then
    pass devices-running
    api devices-source PATCH /vm '{"state": "Paused"}'
    api devices-source PUT /snapshot/create "{\"snapshot_path\": \"$devices/vm.state\", \"mem_file_path\": \"$devices/vm.mem\"}"
    expect devices-create 204
    api devices-source PUT /vm.send-migration '{"destination_url": "unix:/nonexistent/x"}'
    expect devices-migrate-refused 400 "virtio-vsock: its host socket $vsock_path"
    kill_pid "$devices_pid"
    rm -f "$vsock_path" # the killed Vessel left its socket file; the restore binds it again
    rm -f "$work/devices-restore.sock"
    "$vessel" --log-level debug --api-sock "$work/devices-restore.sock" </dev/null >"$work/devices-restore.out" 2>"$work/devices-restore.err" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do [ -S "$work/devices-restore.sock" ] && break; sleep 0.05; done
    : >"$devices/metrics.json"
    api devices-restore PUT /metrics "{\"metrics_path\": \"$devices/metrics.json\"}"
    api devices-restore PUT /snapshot/load "{\"snapshot_path\": \"$devices/vm.state\", \"mem_file_path\": \"$devices/vm.mem\", \"resume_vm\": true}"
    expect devices-load 204
    api devices-restore GET /balloon
    expect devices-balloon-target 200 '"amount_mib":16'
    if [ "$(balloon_field devices-restore /balloon/statistics actual_pages)" = 4096 ]; then pass devices-balloon-actual; else fail devices-balloon-actual "$body"; fi
    if wait_for "$work/devices-restore.err" "transport reset event sent" 30; then pass devices-vsock-reset-event; else fail devices-vsock-reset-event "$(tail -c 300 "$work/devices-restore.err")"; fi
    answer=$(vsock_echo after)
    if [ "$answer" = after ]; then pass devices-vsock-after; else fail devices-vsock-after "$answer"; fi
    # The last statistics report came along with the device.
    updates_before=$(balloon_field devices-restore /balloon/statistics free_memory)
    api devices-restore PATCH /balloon '{"amount_mib": 0}'
    deflated=
    for _ in $(seq 300); do
        [ "$(balloon_field devices-restore /balloon/statistics actual_pages)" = 0 ] && deflated=yes && break
        sleep 0.2
    done
    api devices-restore PUT /actions '{"action_type": "FlushMetrics"}'
    if [ -n "$deflated" ] && python3 -c 'import json,sys; b=json.loads(open(sys.argv[1]).readlines()[-1])["balloon"]; assert b["deflate_count"] >= 4096 and b["duplicate_pfn_count"] == 0, b' "$devices/metrics.json" 2>"$work/py"; then
        pass devices-balloon-deflate
    else
        fail devices-balloon-deflate "deflated=${deflated:-no} $(tail -c 300 "$work/py")"
    fi
    if [ -n "$updates_before" ]; then pass devices-balloon-statistics; else fail devices-balloon-statistics "no statistics after the restore: $body"; fi
    kill_pid "$pid"
else
    fail devices-running "balloon inflated: ${inflated:-no}; $(tail -c 300 "$work/devices-source.out") $(tail -c 300 "$work/devices-source.err")"
    kill_pid "$devices_pid"
fi
