#!/usr/bin/env bash
# End-to-end tests of Vessel's isolation: every thread of a running VM is under a seccomp filter
# (run mode with every kind of back-end thread, and API mode), --no-seccomp turns them off, and
# `vessel jail` runs the default guest as an unprivileged uid in a chroot with new PID and mount
# namespaces, its API reachable through the socket inside the chroot, in its cgroup.
# Usage: tests/sandbox/run_sandbox_tests.sh BUILD_DIR   (jail cases need root; else skipped)
# Prints one line per case ("ok", "FAIL" or "skip" with the reason), then "N passed, N failed".
set -u
build=${1:?usage: run_sandbox_tests.sh BUILD_DIR}
build=$(cd "$build" && pwd)
vessel=$build/vessel
guest=$build/guest
work=$(mktemp -d)
pids=()
skipped=0
jail_uid=65534 # nobody
unset VESSEL_SECCOMP

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/../lib.sh"
skip() { echo "skip $1: $2"; skipped=$((skipped + 1)); }

# wait_for FILE PATTERN SECONDS: until FILE contains PATTERN.
wait_for() {
    for _ in $(seq $(($3 * 10))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# seccomp_modes PID: "tid:name:mode" for each thread whose Seccomp mode is not 2, or nothing.
unfiltered_threads() {
    for task in /proc/"$1"/task/*; do
        mode=$(awk '/^Seccomp:/ {print $2}' "$task/status" 2>/dev/null)
        [ -z "$mode" ] && continue
        [ "$mode" = 2 ] || echo "$(basename "$task"):$(cat "$task/comm"):$mode"
    done
}
thread_names() { cat /proc/"$1"/task/*/comm 2>/dev/null | sort | uniq -c | tr -s ' ' | tr '\n' ','; }

# cgroup_cpu_seconds VERSION ID: CPU time (s) used so far by the jail's processes.
group_cpu_seconds() {
    local group
    if [ "$1" = 2 ]; then group=/sys/fs/cgroup/vessel/$2; else group=/sys/fs/cgroup/cpu/vessel/$2; fi
    local ticks=0
    for pid in $(cat "$group/cgroup.procs"); do
        set -- $(sed 's/.*) //' /proc/"$pid"/stat 2>/dev/null) # fields from 3 on: state ...
        [ $# -ge 13 ] && ticks=$((ticks + ${12} + ${13}))   # utime + stime
    done
    echo "$ticks $(getconf CLK_TCK)" | awk '{printf "%.2f", $1 / $2}'
}

# cpu_ratio_case BASE VERSION: two jailed default guests spinning in a shell loop, both pinned
# to CPU 0 (cpuset), with CPU weights 1:3 (v1 cpu.shares 256/768, v2 cpu.weight 100/300).
cpu_ratio_case() {
    local base=$1 version=$2 light heavy
    if [ "$version" = 2 ]; then light=cpu.weight=100; heavy=cpu.weight=300; else
        light=cpu.shares=256; heavy=cpu.shares=768; fi
    local ids=(sbx-w1 sbx-w3) settings=("$light" "$heavy") jail_pids=()
    for index in 0 1; do
        "$vessel" jail --id "${ids[$index]}" --exec-file "$vessel" --uid $jail_uid --gid $jail_uid \
            --chroot-base-dir "$base" --new-pid-ns --cgroup "${settings[$index]}" \
            --cgroup cpuset.cpus=0 --file "$guest/vmlinuz:/guest/vmlinuz" \
            --file "$guest/initramfs.cpio.gz:/guest/initramfs.cpio.gz" -- run --engine soft \
            --exec 'while :; do :; done' </dev/null >"$work/${ids[$index]}.out" 2>&1 &
        jail_pids+=($!)
        pids+=($!)
    done
    sleep 4 # both running (booting is as busy as the loop)
    local start_light start_heavy end_light end_heavy
    start_light=$(group_cpu_seconds "$version" sbx-w1)
    start_heavy=$(group_cpu_seconds "$version" sbx-w3)
    sleep "${CPU_RATIO_SECONDS:-15}"
    end_light=$(group_cpu_seconds "$version" sbx-w1)
    end_heavy=$(group_cpu_seconds "$version" sbx-w3)
    kill "${jail_pids[@]}" 2>/dev/null
    wait "${jail_pids[@]}" 2>/dev/null
    local verdict
    verdict=$(awk -v a="$start_light" -v b="$end_light" -v c="$start_heavy" -v d="$end_heavy" \
        'BEGIN { l = b - a; h = d - c; r = l > 0 ? h / l : 0;
                 printf "%s %.2f (%.1f s vs %.1f s)", (r >= 2.55 && r <= 3.45) ? "ok" : "bad", r, h, l }')
    if [ "${verdict%% *}" = ok ]; then
        pass "jail: CPU weights 1:3 on one CPU give CPU time ${verdict#* } (within 15% of 3)"
    else
        fail "jail: CPU weights 1:3" "ratio ${verdict#* }, expected 3 within 15%"
    fi
    for id in "${ids[@]}"; do
        for hierarchy in cpu cpuset; do rmdir /sys/fs/cgroup/$hierarchy/vessel/$id 2>/dev/null; done
        rmdir /sys/fs/cgroup/vessel/$id 2>/dev/null
    done
}

# A VM with every kind of thread run mode has: vCPUs, user network, io_uring disk, vsock,
# balloon statistics timer, GDB stub, terminal.
truncate -s 16M "$work/disk.img"
"$vessel" run --engine soft --cpus 2 --disk "$work/disk.img" --vsock "3:$work/v.sock" \
    --balloon stats=1 --gdb "unix:$work/gdb.sock" --gdb-no-wait --exec 'echo booted; sleep 30' \
    </dev/null >"$work/run.out" 2>&1 &
run_pid=$!
pids+=("$run_pid")
if wait_for "$work/run.out" booted 120; then
    left=$(unfiltered_threads "$run_pid")
    names=$(thread_names "$run_pid")
    if [ -z "$left" ] && [ "$(ls /proc/$run_pid/task | wc -l)" -ge 8 ]; then
        pass "run: every thread has Seccomp 2 ($names)"
    else
        fail "run: every thread filtered" "unfiltered: ${left:-none}; threads: $names"
    fi
else
    fail "run: boot" "$(tail -c 400 "$work/run.out")"
fi
kill "$run_pid" 2>/dev/null
wait "$run_pid" 2>/dev/null

# API mode: the API thread, the VM's thread and its vCPU, booting the default guest.
api_vm() { # SOCKET: boots the default guest through the API
    curl -sf --unix-socket "$1" -X PUT http://localhost/boot-source -d "{\"kernel_image_path\": \
\"$2/vmlinuz\", \"initrd_path\": \"$2/initramfs.cpio.gz\", \"boot_args\": \"console=ttyS0 quiet\"}" &&
        curl -sf --unix-socket "$1" -X PUT http://localhost/actions -d '{"action_type": "InstanceStart"}'
}
"$vessel" --api-sock "$work/api.sock" --engine soft </dev/null >"$work/api.out" 2>&1 &
api_pid=$!
pids+=("$api_pid")
if wait_for "$work/api.out" "API listening" 10 && api_vm "$work/api.sock" "$guest" &&
    wait_for "$work/api.out" "VM started" 10; then
    sleep 1
    left=$(unfiltered_threads "$api_pid")
    names=$(thread_names "$api_pid")
    [ -z "$left" ] && grep -q vessel-vcpu <<<"$names" && grep -q vessel-vmm <<<"$names" &&
        pass "api: every thread has Seccomp 2 ($names)" ||
        fail "api: every thread filtered" "unfiltered: $left; threads: $names"
else
    fail "api: boot through the API" "$(tail -c 400 "$work/api.out")"
fi
kill "$api_pid" 2>/dev/null
wait "$api_pid" 2>/dev/null

# --no-seccomp: no filter anywhere (the debugging escape hatch).
"$vessel" run --no-seccomp --engine soft --exec 'echo booted; sleep 30' </dev/null \
    >"$work/off.out" 2>&1 &
off_pid=$!
pids+=("$off_pid")
if wait_for "$work/off.out" booted 120; then
    modes=$(awk '/^Seccomp:/ {print $2}' /proc/"$off_pid"/task/*/status | sort -u | tr '\n' ' ')
    [ "$modes" = "0 " ] && pass "--no-seccomp: no thread filtered" ||
        fail "--no-seccomp" "Seccomp modes: $modes"
else
    fail "--no-seccomp: boot" "$(tail -c 400 "$work/off.out")"
fi
kill "$off_pid" 2>/dev/null
wait "$off_pid" 2>/dev/null

# VESSEL_SECCOMP with a bad value is refused, naming it.
if VESSEL_SECCOMP=maybe "$vessel" run --engine soft --exec true >"$work/bad.out" 2>&1; then
    fail "VESSEL_SECCOMP=maybe" "accepted"
else
    grep -q "VESSEL_SECCOMP=maybe" "$work/bad.out" && pass "VESSEL_SECCOMP=maybe is refused" ||
        fail "VESSEL_SECCOMP=maybe" "$(cat "$work/bad.out")"
fi

# A hostile guest (tests/guests/hostile.c): random values on every port and emulated MMIO
# register, virtio rings pointing outside RAM, into the hole, looping, overlapping, indirect into
# themselves, random PCI configuration, a UART flood; every thread under its filter. Vessel must
# stay up (the guest ends with its own verdict), its peak RSS bounded, nothing leaked to stderr
# but warnings. Two seeds, on the software engine (translator and interpreter).
hostile_case() { # SEED ENGINE
    local seed=$1 engine=$2 out=$work/hostile-$1.out err=$work/hostile-$1.err
    rm -f "$work/hostile.sock"
    truncate -s 16M "$work/hostile.img"
    "$vessel" run --engine "$engine" --kernel "$build/tests/guests/hostile.elf" --memory 128M \
        --cmdline "hostile seed=$seed" --disk "$work/hostile.img" --net user \
        --vsock "3:$work/hostile.sock" </dev/null >"$out" 2>"$err" &
    local pid=$! peak=0 hwm
    pids+=("$pid")
    while kill -0 "$pid" 2>/dev/null; do # VmHWM: the process's peak RSS so far (KiB)
        hwm=$(awk '/^VmHWM:/ {print $2}' /proc/"$pid"/status 2>/dev/null)
        [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
        sleep 0.05
    done
    wait "$pid"
    local status=$? limit=$((HOSTILE_RSS_LIMIT_MIB * 1024))
    if [ $status = 1 ] && grep -q '^PASS: UART flood' "$out" && ! grep -q '^FAIL' "$out" &&
        [ "$peak" -le $limit ] && ! grep -qiE 'seccomp|sanitizer|fatal|error' "$err"; then
        pass "hostile guest (seed $seed, $engine): Vessel stays up, peak RSS $((peak / 1024)) MiB, $(grep -c '^PASS' "$out") checks"
    else
        fail "hostile guest (seed $seed, $engine)" "status $status, peak RSS $((peak / 1024)) MiB (limit $HOSTILE_RSS_LIMIT_MIB), $(grep -am3 '^FAIL' "$out" | tr '\n' ' ') $(grep -viE 'warning' "$err" | tail -c 300)"
    fi
}
HOSTILE_RSS_LIMIT_MIB=${HOSTILE_RSS_LIMIT_MIB:-256} # 128 MiB of guest RAM, mostly untouched
hostile_case 1 soft
hostile_case 2 interp

# An API flood while the hostile guest runs (tests/sandbox/api_flood.py): many connections,
# garbage, huge heads and bodies, pipelined requests never read, slowloris half requests; the
# guest is configured and started through the flooded socket. Vessel must stay up, answer a valid
# GET / half-way through the flood and again while the guest runs, keep its peak RSS bounded and
# its log short (guest- and client-triggered warnings are rate limited), and the guest must pass.
api_flood_case() {
    local out=$work/flood.out err=$work/flood.err config=$work/flood.json
    rm -f "$work/flood.sock" "$work/flood-vsock.sock"
    truncate -s 16M "$work/flood.img"
    cat >"$config" <<EOF
{"/machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
 "/boot-source": {"kernel_image_path": "$build/tests/guests/hostile.elf", "boot_args": "hostile seed=3"},
 "/drives/disk": {"drive_id": "disk", "path_on_host": "$work/flood.img", "is_root_device": false, "is_read_only": false},
 "/vsock": {"guest_cid": 3, "uds_path": "$work/flood-vsock.sock"}}
EOF
    "$vessel" --api-sock "$work/flood.sock" --engine soft </dev/null >"$out" 2>"$err" &
    local pid=$! peak=0 hwm
    pids+=("$pid")
    for _ in $(seq 100); do [ -S "$work/flood.sock" ] && break; sleep 0.1; done
    python3 "$(dirname "$0")/api_flood.py" "$work/flood.sock" "${API_FLOOD_SECONDS:-6}" \
        --start-guest "$config" >"$work/flood-client.out" 2>&1 &
    local client=$! ticks=0
    # Vessel ends with the guest; if the guest never started, it is stopped 30 s after the client.
    while kill -0 "$pid" 2>/dev/null; do
        hwm=$(awk '/^VmHWM:/ {print $2}' /proc/"$pid"/status 2>/dev/null)
        [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
        sleep 0.05
        kill -0 "$client" 2>/dev/null || ticks=$((ticks + 1))
        [ $ticks -eq 600 ] && kill "$pid"
    done
    wait "$pid"
    local status=$? limit=$((HOSTILE_RSS_LIMIT_MIB * 1024)) lines
    wait "$client"
    local client_status=$?
    lines=$(wc -l <"$err")
    if [ $client_status = 0 ] && [ $status = 1 ] && grep -q '^PASS: UART flood' "$out" &&
        ! grep -q '^FAIL' "$out" && [ "$peak" -le $limit ] && [ "$lines" -le 600 ] &&
        ! grep -qiE 'seccomp|sanitizer|fatal' "$err"; then
        pass "API flood during the hostile guest: $(tail -n 1 "$work/flood-client.out"); peak RSS $((peak / 1024)) MiB, $lines log lines"
    else
        fail "API flood during the hostile guest" "client $client_status, status $status, peak RSS $((peak / 1024)) MiB (limit $HOSTILE_RSS_LIMIT_MIB), $lines log lines (at most 600); $(grep -v '^ok' "$work/flood-client.out" | tr '\n' ' ') $(grep -am3 '^FAIL' "$out" | tr '\n' ' ') $(grep -viE 'warning' "$err" | tail -c 300)"
    fi
}
api_flood_case

# The jailer.
if [ "$(id -u)" != 0 ]; then
    skip "jail" "needs root (namespaces, cgroups, mknod)"
else
    base=$work/jail
    # Bad input: named errors, nothing run.
    "$vessel" jail --id 'bad/id' --exec-file "$vessel" --uid $jail_uid --gid $jail_uid \
        --chroot-base-dir "$base" -- run >"$work/bad-id.out" 2>&1
    [ $? = 2 ] && grep -q "id 'bad/id'" "$work/bad-id.out" && pass "jail: a bad --id is refused" ||
        fail "jail: bad --id" "$(cat "$work/bad-id.out")"
    "$vessel" jail --id j0 --exec-file "$vessel" --uid $jail_uid --gid $jail_uid \
        --chroot-base-dir "$base" --cgroup nonsense=1 -- run >"$work/bad-cg.out" 2>&1
    [ $? = 2 ] && grep -q "nonsense" "$work/bad-cg.out" && pass "jail: a bad --cgroup is refused" ||
        fail "jail: bad --cgroup" "$(cat "$work/bad-cg.out")"

    # --exec in the jail: the default guest from /guest in the chroot, as nobody.
    owner_before=$(stat -c %u:%g "$guest/vmlinuz")
    out=$("$vessel" jail --id sbx-exec --exec-file "$vessel" --uid $jail_uid --gid $jail_uid \
        --chroot-base-dir "$base" --new-pid-ns --file "$guest/vmlinuz:/guest/vmlinuz" \
        --file "$guest/initramfs.cpio.gz:/guest/initramfs.cpio.gz" -- run --engine soft \
        --exec 'echo jailed-guest-ok' </dev/null 2>&1)
    status=$?
    [ $status = 0 ] && grep -q jailed-guest-ok <<<"$out" && pass "jail: --exec runs the default guest" ||
        fail "jail: --exec" "status $status: $(tail -c 400 <<<"$out")"
    owner_after=$(stat -c %u:%g "$guest/vmlinuz")
    jailed_owner=$(stat -c %u:%g "$base/vessel/sbx-exec/root/guest/vmlinuz" 2>/dev/null)
    [ "$owner_after" = "$owner_before" ] && [ "$jailed_owner" = $jail_uid:$jail_uid ] &&
        pass "jail: --file is the jailed uid's inside, the host file keeps its owner" ||
        fail "jail: --file ownership" "host $owner_before -> $owner_after, jailed $jailed_owner"

    # API mode in the jail: the socket is inside the chroot; check uid, namespaces, root, cgroup.
    version=$([ -e /sys/fs/cgroup/cgroup.controllers ] && echo 2 || echo 1)
    cgroup_setting=$([ "$version" = 2 ] && echo cpu.weight=50 || echo cpu.shares=512)
    root=$base/vessel/sbx-api/root
    "$vessel" jail --id sbx-api --exec-file "$vessel" --uid $jail_uid --gid $jail_uid \
        --chroot-base-dir "$base" --new-pid-ns --cgroup "$cgroup_setting" \
        --resource-limit no-file=256 --file "$guest/vmlinuz" --file "$guest/initramfs.cpio.gz" \
        -- --api-sock /run/api.sock --engine soft </dev/null >"$work/jail-api.out" 2>&1 &
    jail_pid=$!
    pids+=("$jail_pid")
    for _ in $(seq 100); do [ -S "$root/run/api.sock" ] && break; sleep 0.1; done
    info=$(curl -sf --unix-socket "$root/run/api.sock" http://localhost/ 2>&1)
    if grep -q '"id":"sbx-api"' <<<"$info" || grep -q '"id": "sbx-api"' <<<"$info"; then
        pass "jail: API answers through the socket inside the chroot"
    else
        fail "jail: API through the chroot's socket" "$info $(tail -c 300 "$work/jail-api.out")"
    fi
    if api_vm "$root/run/api.sock" "" >/dev/null && wait_for "$work/jail-api.out" "VM started" 10; then
        pass "jail: the guest starts through the API (kernel and initrd at / in the jail)"
    else
        fail "jail: InstanceStart" "$(tail -c 400 "$work/jail-api.out")"
    fi
    vessel_pid=$(pgrep -f -- "--id sbx-api --api-sock" | while read -r p; do
        [ "$(awk '/^Uid:/ {print $2}' /proc/$p/status)" = $jail_uid ] && echo "$p"; done | head -1)
    if [ -z "$vessel_pid" ]; then
        fail "jail: the jailed Vessel runs as uid $jail_uid" "no such process"
    else
        pass "jail: the jailed Vessel runs as uid $jail_uid"
        nspid=$(awk '/^NSpid:/ {print $NF}' /proc/$vessel_pid/status)
        [ "$(readlink /proc/$vessel_pid/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] &&
            [ "$nspid" -le 3 ] && pass "jail: new PID namespace (pid $nspid inside)" ||
            fail "jail: PID namespace" "NSpid $nspid"
        [ "$(readlink /proc/$vessel_pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] &&
            pass "jail: new mount namespace" || fail "jail: mount namespace" "same as the host's"
        [ ! -e /proc/$vessel_pid/root/work ] && [ -e /proc/$vessel_pid/root/vmlinuz ] &&
            pass "jail: its root is the chroot (the host's files are not there)" ||
            fail "jail: root" "$(ls /proc/$vessel_pid/root/)"
        left=$(unfiltered_threads "$vessel_pid")
        [ -z "$left" ] && pass "jail: every thread has Seccomp 2" || fail "jail: seccomp" "$left"
        grep -q "Max open files *256" /proc/$vessel_pid/limits && pass "jail: resource limit no-file=256" ||
            fail "jail: resource limit" "$(grep 'open files' /proc/$vessel_pid/limits)"
        file=${cgroup_setting%%=*}
        value=${cgroup_setting#*=}
        if [ "$version" = 2 ]; then group=/sys/fs/cgroup/vessel/sbx-api; else
            group=/sys/fs/cgroup/${file%%.*}/vessel/sbx-api; fi
        grep -qx "$vessel_pid" "$group/cgroup.procs" && [ "$(cat "$group/$file")" = "$value" ] &&
            pass "jail: in cgroup v$version $group with $cgroup_setting" ||
            fail "jail: cgroup" "$group: $(cat "$group/cgroup.procs" "$group/$file" 2>&1 | tr '\n' ' ')"
    fi
    kill "$jail_pid" 2>/dev/null
    wait "$jail_pid" 2>/dev/null
    status=$?
    [ $status = 130 ] && pass "jail: SIGTERM to the jailer ends the jailed Vessel (status 130)" ||
        fail "jail: SIGTERM" "status $status"
    rmdir "${group:-/nonexistent}" 2>/dev/null

    # CPU weight: two busy VMs on one host CPU, weights 1:3, get CPU time 1:3 within 15%.
    cpu_ratio_case "$base" "$version"
fi

[ $skipped -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
