#!/usr/bin/env bash
# End-to-end tests of Vessel's Firecracker-compatible API: drives a real `vessel --api-sock`
# process over its Unix socket with curl (and raw_http.py for broken HTTP), boots the ticker
# guest, pauses and resumes it, and checks the guest kept running correctly.
# Usage: tests/api/run_api_tests.sh BUILD_DIR   Environment: ENGINE (default soft).
# Prints one line per case ("ok", "FAIL" or "skip" with the reason) and finishes with the line
# "N passed, N failed" (preceded by "N skipped" when cases could not run).
set -u
build=${1:?usage: run_api_tests.sh BUILD_DIR}
build=$(cd "$build" && pwd)
vessel=$build/vessel
guests=$build/tests/guests
engine=${ENGINE:-soft}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
socket=$work/api.sock
vessel_pid=
skipped=0

cleanup() {
    [ -n "$vessel_pid" ] && kill "$vessel_pid" 2>/dev/null && wait "$vessel_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/../lib.sh"
skip() { echo "skip $1: $2"; skipped=$((skipped + 1)); }

# start_vessel [ARGS...]: starts Vessel serving $socket; its console goes to $work/console.
start_vessel() {
    rm -f "$socket" "$work/console" "$work/stderr"
    "$vessel" --api-sock "$socket" --engine "$engine" "$@" <"${vessel_stdin:-/dev/null}" \
        >"$work/console" 2>"$work/stderr" &
    vessel_pid=$!
    for _ in $(seq 100); do
        [ -S "$socket" ] && return 0
        kill -0 "$vessel_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "note: vessel did not create $socket: $(head -c 300 "$work/stderr")"
    return 1
}

# stop_vessel: SIGTERM and reap; sets exit_code.
stop_vessel() {
    exit_code=
    [ -z "$vessel_pid" ] && return
    kill "$vessel_pid" 2>/dev/null
    wait "$vessel_pid" 2>/dev/null
    exit_code=$?
    vessel_pid=
}

# wait_exit SECONDS: waits for Vessel to exit by itself; sets exit_code (empty on timeout).
wait_exit() {
    exit_code=
    for _ in $(seq $(($1 * 20))); do
        if ! kill -0 "$vessel_pid" 2>/dev/null; then
            wait "$vessel_pid" 2>/dev/null
            exit_code=$?
            vessel_pid=
            return
        fi
        sleep 0.05
    done
}

# api METHOD PATH [BODY]: sets status and body (the response).
api() {
    local args=(-s -o "$work/body" -w '%{http_code}' -X "$1" --max-time 10
                --unix-socket "$socket" "http://localhost$2")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    status=$(curl "${args[@]}" 2>/dev/null) || status=000
    body=$(cat "$work/body" 2>/dev/null)
}

# expect NAME STATUS [PATTERN]: the last api call answered STATUS with PATTERN in its body.
expect() {
    if [ "$status" = "$2" ] && { [ $# -lt 3 ] || grep -qF -- "$3" <<<"$body"; }; then
        pass "$1"
    else
        fail "$1" "got $status '$(head -c 200 <<<"$body")', want $2${3:+ with '$3'}"
    fi
}

# call NAME METHOD PATH BODY STATUS [PATTERN]
call() {
    local name=$1 want=$5 pattern=${6-}
    if [ -n "$4" ]; then api "$2" "$3" "$4"; else api "$2" "$3"; fi
    if [ -n "$pattern" ]; then expect "$name" "$want" "$pattern"; else expect "$name" "$want"; fi
}

# raw NAME CASE EXPECTED_CODES: raw_http.py CASE must yield these status codes, and the server
# must still answer GET / afterwards.
raw() {
    local got
    got=$(python3 "$here/raw_http.py" "$socket" "$2" 2>&1)
    api GET /
    if [ "$got" = "$3" ] && [ "$status" = 200 ]; then
        pass "$1"
    else
        fail "$1" "got '$got' (want '$3'), then GET / -> $status"
    fi
}

# check_ticks FILE: the ticker's lines are numbered 1, 2, 3... with the right LCG values.
check_ticks() {
    local value=1 expected=1 number word got
    while read -r word number got; do
        [ "$word" = tick ] || continue
        value=$(((value * 1103515245 + 12345) & 0xffffffff)) # 32-bit LCG, as the guest does
        local want
        want=$(printf '%08x' "$value")
        if [ "$number" != "$expected" ] || [ "$got" != "$want" ]; then
            echo "got \"tick $number $got\", want \"tick $expected $want\""
            return 1
        fi
        expected=$((expected + 1))
    done <"$1"
    echo $((expected - 1))
}

tick_count() { grep -c '^tick ' "$work/console"; }

# ---------------------------------------------------------------------------------------
# API-only cases: no guest runs.
if [ ! -x "$vessel" ]; then
    echo "FAIL setup: $vessel not built"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! start_vessel --id api-test-vm; then
    echo "FAIL setup: vessel did not start"
    echo "0 passed, 1 failed"
    exit 1
fi

call get-root GET / "" 200 '"state":"Not started"'
call get-root-id GET / "" 200 '"id":"api-test-vm"'
call get-version GET /version "" 200 '"firecracker_version"'
call get-machine-config-defaults GET /machine-config "" 200 '"mem_size_mib":128'
call put-machine-config PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64}' 204
call get-machine-config-updated GET /machine-config "" 200 '"vcpu_count":2'
call patch-machine-config PATCH /machine-config '{"mem_size_mib": 96}' 204
call get-machine-config-patched GET /machine-config "" 200 '"mem_size_mib":96'
call patch-kept-vcpus GET /machine-config "" 200 '"vcpu_count":2'
call machine-config-smt PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64, "smt": true}' 400 'smt'
call machine-config-smt-false PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "smt": false}' 204
call machine-config-cpu-template PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "cpu_template": "T2"}' 400 'cpu_template'
call machine-config-cpu-template-bogus PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "cpu_template": "Z9"}' 400 'cpu_template'
call machine-config-huge-pages PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "2M"}' 400 'huge_pages'
call machine-config-huge-pages-none PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "None"}' 204
call machine-config-dirty-pages PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "track_dirty_pages": true}' 400 'track_dirty_pages'
call machine-config-string-count PUT /machine-config '{"vcpu_count": "2", "mem_size_mib": 64}' 400 'vcpu_count'
call machine-config-negative PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": -5}' 400 'mem_size_mib'
call machine-config-zero-vcpus PUT /machine-config '{"vcpu_count": 0, "mem_size_mib": 64}' 400 'vcpu_count'
call machine-config-33-vcpus PUT /machine-config '{"vcpu_count": 33, "mem_size_mib": 64}' 400 'vcpu_count'
call machine-config-missing-field PUT /machine-config '{"vcpu_count": 1}' 400 'mem_size_mib'
call machine-config-unknown-field PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "turbo": true}' 400 "unknown field 'turbo'"
call machine-config-invalid-json PUT /machine-config '{"vcpu_count": 1,' 400 'invalid JSON'
call machine-config-empty-body PUT /machine-config "" 400 'empty'
host_mib=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
if [ $((host_mib + 1024)) -le 65536 ]; then
    call machine-config-above-host PUT /machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": $((host_mib + 1024))}" 400 "is larger than this host's physical memory of"
else
    skip machine-config-above-host "this host has more than 63 GiB, above the API's own 64 GiB cap"
fi
call machine-config-unchanged-after-errors GET /machine-config "" 200 '"mem_size_mib":64'
call boot-source-missing-kernel PUT /boot-source "{\"kernel_image_path\": \"$work/nope.elf\"}" 400 'nope.elf'
call boot-source-no-kernel-field PUT /boot-source '{"boot_args": "console=ttyS0"}' 400 'kernel_image_path'
call boot-source-directory PUT /boot-source "{\"kernel_image_path\": \"$work\"}" 400 'not a regular file'
call boot-source-unknown-field PUT /boot-source "{\"kernel_image_path\": \"$vessel\", \"x\": 1}" 400 "unknown field 'x'"
call vm-config-no-drives GET /vm/config "" 200 '"drives":[]'
head -c 1048576 /dev/zero >"$work/disk.img"
call drive-attached PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$work/disk.img\", \"is_root_device\": true, \"is_read_only\": false}" 204
call drive-missing-file PUT /drives/data '{"drive_id": "data", "path_on_host": "/tmp/vessel-no-such.img", "is_root_device": false}' 400 'vessel-no-such.img'
call drive-second-root PUT /drives/other "{\"drive_id\": \"other\", \"path_on_host\": \"$work/disk.img\", \"is_root_device\": true}" 400 'root block device already exists'
call drive-rate-limiter-refused PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$work/disk.img\", \"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": 100}}}" 400 'rate_limiter'
# Image locking: a second drive on the image of a read-write drive is refused, as is an image
# another process holds (an OFD write lock, as a second Vessel or QEMU takes); read-only
# drives share an image.
call drive-same-image-refused PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$work/disk.img\", \"is_root_device\": false, \"is_read_only\": true}" 400 'another user holds it'
head -c 1048576 /dev/zero >"$work/shared.img"
call drive-read-only-shared-1 PUT /drives/ro1 "{\"drive_id\": \"ro1\", \"path_on_host\": \"$work/shared.img\", \"is_root_device\": false, \"is_read_only\": true}" 204
call drive-read-only-shared-2 PUT /drives/ro2 "{\"drive_id\": \"ro2\", \"path_on_host\": \"$work/shared.img\", \"is_root_device\": false, \"is_read_only\": true}" 204
call drive-read-write-on-shared-refused PUT /drives/rw3 "{\"drive_id\": \"rw3\", \"path_on_host\": \"$work/shared.img\", \"is_root_device\": false, \"is_read_only\": false}" 400 'another user holds it'
head -c 1048576 /dev/zero >"$work/held.img"
python3 -c 'import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, 37, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))  # F_OFD_SETLK
open(sys.argv[2], "w").close()
time.sleep(30)' "$work/held.img" "$work/holder-ready" &
holder_pid=$!
for _ in $(seq 100); do [ -e "$work/holder-ready" ] && break; sleep 0.1; done  # a loaded host starts python slowly
call drive-held-by-another-process PUT /drives/held "{\"drive_id\": \"held\", \"path_on_host\": \"$work/held.img\", \"is_root_device\": false, \"is_read_only\": true}" 400 'another user holds it'
kill "$holder_pid" 2>/dev/null; wait "$holder_pid" 2>/dev/null
call drive-patch-unknown PATCH /drives/nope '{"drive_id": "nope", "path_on_host": "/x"}' 400 'no such drive'
call drive-id-mismatch PUT /drives/rootfs '{"drive_id": "other", "path_on_host": "/tmp/x.img", "is_root_device": true, "is_read_only": false}' 400 'does not match'
call drive-missing-root-flag PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "/tmp/x.img"}' 400 'is_root_device'
call drive-bad-cache-type PUT /drives/rootfs '{"drive_id": "rootfs", "is_root_device": false, "cache_type": "Fast"}' 400 'cache_type'
call drive-bad-rate-limiter PUT /drives/rootfs '{"drive_id": "rootfs", "is_root_device": false, "rate_limiter": {"bandwidth": {"size": -1, "refill_time": 100}}}' 400 'size'
call drive-bad-id PUT '/drives/a-b' '{"drive_id": "a-b", "is_root_device": false}' 400 'invalid id'
call net-bad-mac PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "01:00:AC:10:00:02"}' 400 'guest_mac'
call net-rate-limiter-refused PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "tx_rate_limiter": {"ops": {"size": 1, "refill_time": 100}}}' 400 'tx_rate_limiter'
call net-missing-tap PUT /network-interfaces/eth0 "{\"iface_id\": \"eth0\", \"host_dev_name\": \"vnotap$$\"}" 400 "TAP interface 'vnotap$$' does not exist"
call net-patch-unknown PATCH /network-interfaces/eth9 '{"iface_id": "eth9"}' 400 'no such interface'
call net-missing-host-dev PUT /network-interfaces/eth0 '{"iface_id": "eth0"}' 400 'host_dev_name'
call net-bad-mtu PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "mtu": 10}' 400 'mtu'
call vm-config-lists-drive GET /vm/config "" 200 '"drive_id":"rootfs"'
# Drives and network interfaces together are bounded by the PCI slots left for them (27 of 32 on
# bus 0): three drives so far, 24 more fit, the next one of either kind is refused naming the
# limit, and replacing a configured drive still works.
added=0
for i in $(seq 4 27); do
    api PUT "/drives/d$i" "{\"drive_id\": \"d$i\", \"path_on_host\": \"$work/shared.img\", \"is_root_device\": false, \"is_read_only\": true}"
    [ "$status" = 204 ] && added=$((added + 1))
done
if [ "$added" = 24 ]; then pass drives-up-to-the-limit; else fail drives-up-to-the-limit "$added of 24 more drives added; last answer $status $body"; fi
call drive-beyond-the-limit PUT /drives/d28 "{\"drive_id\": \"d28\", \"path_on_host\": \"$work/shared.img\", \"is_root_device\": false, \"is_read_only\": true}" 400 'at most 27 fit together'
call drive-replaced-at-the-limit PUT /drives/ro1 "{\"drive_id\": \"ro1\", \"path_on_host\": \"$work/shared.img\", \"is_root_device\": false, \"is_read_only\": true}" 204
call net-beyond-the-limit PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0"}' 400 '27 drive(s) and 0 network interface(s) are configured'
call balloon-get-none GET /balloon "" 400 'No balloon device found.'
call balloon-missing-deflate PUT /balloon '{"amount_mib": 10}' 400 'deflate_on_oom'
call balloon-missing-amount PUT /balloon '{"deflate_on_oom": true}' 400 'amount_mib'
call balloon-negative PUT /balloon '{"amount_mib": -1, "deflate_on_oom": false}' 400 'amount_mib'
call balloon-absurd PUT /balloon '{"amount_mib": 99999999999, "deflate_on_oom": false}' 400 'amount_mib'
call balloon-too-large PUT /balloon '{"amount_mib": 100000, "deflate_on_oom": false}' 400 'Amount of pages requested is too large.'
call balloon-huge-interval PUT /balloon '{"amount_mib": 10, "deflate_on_oom": false, "stats_polling_interval_s": 70000}' 400 'stats_polling_interval_s'
call balloon-unknown-field PUT /balloon '{"amount_mib": 10, "deflate_on_oom": false, "size": 1}' 400 "unknown field 'size'"
call balloon-patch-before-start PATCH /balloon '{"amount_mib": 5}' 400 'before starting'
call balloon-stats-before-start GET /balloon/statistics "" 400 'before starting'
call balloon-stats-patch-before-start PATCH /balloon/statistics '{"stats_polling_interval_s": 5}' 400 'before starting'
call balloon-put PUT /balloon '{"amount_mib": 10, "deflate_on_oom": true, "stats_polling_interval_s": 1}' 204
call balloon-get GET /balloon "" 200 '"amount_mib":10'
call balloon-put-replaces PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false, "free_page_reporting": true}' 204
call balloon-get-replaced GET /balloon "" 200 '"free_page_reporting":true'
call vm-config-lists-balloon GET /vm/config "" 200 '"stats_polling_interval_s":0'
call balloon-unknown-subpath GET /balloon/nothing "" 400 'Invalid request method and/or path'
call vsock-reserved-cid PUT /vsock '{"guest_cid": 2, "uds_path": "/tmp/v.sock"}' 400 'guest_cid'
call vsock-missing-path PUT /vsock '{"guest_cid": 3}' 400 'uds_path'
call vsock-path-in-use PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$socket\"}" 400 'Address in use'
call vsock-deprecated-id PUT /vsock "{\"vsock_id\": \"v0\", \"guest_cid\": 3, \"uds_path\": \"$socket.vsock\"}" 204 ''
call vm-config-lists-vsock GET /vm/config "" 200 '"guest_cid":3'
call snapshot-before-start PUT /snapshot/create '{"mem_file_path": "m", "snapshot_path": "s"}' 400 'the microVM must be paused to take a snapshot (state: Not started)'
call snapshot-bad-type PUT /snapshot/create '{"snapshot_type": "Half", "mem_file_path": "m", "snapshot_path": "s"}' 400 'snapshot_type must be Full or Diff'
call snapshot-load-no-memory PUT /snapshot/load '{"snapshot_path": "s"}' 400 'mem_backend (or the older mem_file_path) is required'
call snapshot-load-unknown-field PUT /snapshot/load '{"snapshot_path": "s", "mem_file_path": "m", "colour": 1}' 400 'colour'
call unknown-path GET /nothing-here "" 400 'Invalid request method and/or path'
call wrong-method DELETE /machine-config "" 400 'Invalid request method and/or path'
call start-without-kernel PUT /actions '{"action_type": "InstanceStart"}' 400 'kernel'
call action-unknown PUT /actions '{"action_type": "Explode"}' 400 'action_type'
call action-missing-type PUT /actions '{}' 400 'action_type'
call pause-before-start PATCH /vm '{"state": "Paused"}' 400 'before starting'
call vm-bad-state PATCH /vm '{"state": "Sleeping"}' 400 'state'
call ctrl-alt-del-before-start PUT /actions '{"action_type": "SendCtrlAltDel"}' 400 'before starting'
call flush-metrics-unconfigured PUT /actions '{"action_type": "FlushMetrics"}' 400 'metrics'
call logger-bad-level PUT /logger '{"level": "Loud"}' 400 'level'
call logger-module-unsupported PUT /logger '{"module": "api_server"}' 400 'module'
call logger-put PUT /logger "{\"level\": \"Debug\", \"log_path\": \"$work/vessel.log\", \"show_level\": true}" 204
# The refusals above log from one call site, which writes a few lines a second (the rest are
# summed up later): a new second, so this one is written now.
sleep 1.1
api GET /does-not-exist
if grep -q 'does-not-exist' "$work/vessel.log" 2>/dev/null; then pass logger-writes-file
else fail logger-writes-file "no log line about the request in $work/vessel.log"; fi
call metrics-bad-field PUT /metrics '{"metrics_path": 5}' 400 'metrics_path'
call metrics-put PUT /metrics "{\"metrics_path\": \"$work/metrics.json\"}" 204
call metrics-reinitialize PUT /metrics "{\"metrics_path\": \"$work/metrics2.json\"}" 400 'reinitialization'
call flush-metrics PUT /actions '{"action_type": "FlushMetrics"}' 204
if python3 -c 'import json,sys; line=json.loads(open(sys.argv[1]).readlines()[-1]); assert line["vmm"]["state"] == "Not started"; assert line["put_api_requests"]["machine_cfg_count"] > 0; assert "uart" in line; assert "ioeventfd_notifications" in line["kvm_fast_path"]' "$work/metrics.json" 2>"$work/py"; then
    pass metrics-line-is-json
else fail metrics-line-is-json "$(tail -c 300 "$work/py") in $(tail -c 300 "$work/metrics.json")"; fi
call vm-config-metrics GET /vm/config "" 200 "\"metrics_path\":\"$work/metrics.json\""

# Broken HTTP: each gets its 4xx (or 5xx where HTTP says so) and the server keeps serving.
if command -v python3 >/dev/null; then
    raw http-bad-request-line bad-request-line 400
    raw http-garbage-binary garbage-binary 400
    raw http-space-in-method lowercase-space-method 400
    raw http-absolute-target absolute-target 400
    raw http-version-2 http2-version 505
    raw http-bad-version bad-version 400
    raw http-huge-headers huge-headers 431
    raw http-too-many-headers many-headers 431
    raw http-header-no-colon header-no-colon 400
    raw http-header-space-before-colon header-space-before-colon 400
    raw http-header-control-char header-control-char 400
    raw http-huge-body huge-body 413
    raw http-bad-content-length bad-content-length 400
    raw http-negative-content-length negative-content-length 400
    raw http-overflow-content-length overflow-content-length 400
    raw http-conflicting-content-length conflicting-content-length 400
    raw http-chunked chunked 501
    raw http-bad-expect bad-expect 417
    raw json-float-count wrong-json-type 400
    raw json-array-body json-array 400
    raw json-invalid-utf8 invalid-utf8-json 400
    raw json-deep-nesting deep-json 400
    raw http-keep-alive-pipelined keep-alive-pipelined "200 200 200"
    raw http-keep-alive-then-close keep-alive-then-close "200 200"
    raw http-1.0 http10 200
    raw http-good-then-bad good-then-bad "200 400"
    raw http-expect-continue expect-continue "100 204"
    raw http-disconnect-mid-body disconnect-mid-body 200
    raw http-many-idle-connections many-idle-connections 200
    raw http-trickling-clients-bounded trickling-clients "200 408"
else
    skip raw-http "python3 not found"
fi
call still-serving GET / "" 200 '"state":"Not started"'

stop_vessel
if [ "$exit_code" = 130 ] && [ ! -e "$socket" ]; then pass sigterm-before-start
else fail sigterm-before-start "exit $exit_code (want 130), socket left: $([ -e "$socket" ] && echo yes || echo no)"; fi
if result=$(python3 "$here/console_quit.py" "$vessel" "$socket" "$engine"); then
    pass console-quit-before-start
else fail console-quit-before-start "$result"; fi

: >"$socket.taken"
"$vessel" --api-sock "$socket.taken" </dev/null >/dev/null 2>"$work/err"
code=$?
if [ "$code" = 2 ] && grep -q 'bind' "$work/err"; then pass socket-path-exists
else fail socket-path-exists "exit $code: $(head -c 200 "$work/err")"; fi
"$vessel" --no-api </dev/null >/dev/null 2>"$work/err"
code=$?
if [ "$code" = 2 ] && grep -q 'config-file' "$work/err"; then pass no-api-without-config
else fail no-api-without-config "exit $code: $(head -c 200 "$work/err")"; fi
echo '{"boot-source": {"kernel_image_path": "/nonexistent"}, "balloon": {"amount_mib": 1}}' >"$work/bad.json"
"$vessel" --config-file "$work/bad.json" --no-api </dev/null >/dev/null 2>"$work/err"
code=$?
if [ "$code" = 2 ] && grep -q 'nonexistent' "$work/err"; then pass config-file-bad
else fail config-file-bad "exit $code: $(head -c 200 "$work/err")"; fi
echo "{\"boot-source\": {\"kernel_image_path\": \"$vessel\"}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 32}, \"balloon\": {\"amount_mib\": 64, \"deflate_on_oom\": false}}" >"$work/balloon.json"
"$vessel" --config-file "$work/balloon.json" --no-api </dev/null >/dev/null 2>"$work/err"
code=$?
if [ "$code" = 2 ] && grep -q 'Amount of pages requested is too large.' "$work/err"; then pass config-file-balloon-too-large
else fail config-file-balloon-too-large "exit $code: $(head -c 200 "$work/err")"; fi

# ---------------------------------------------------------------------------------------
# Boot cases: need the test guests and an engine that runs them.
boot_skip_reason=
if [ ! -f "$guests/ticker.elf" ] || [ ! -f "$guests/hello.elf" ]; then
    boot_skip_reason="test guests not built in $guests"
else
    timeout 30 "$vessel" run --engine "$engine" --kernel "$guests/hello.elf" --memory 64M \
        </dev/null >"$work/probe.out" 2>"$work/probe.err"
    code=$?
    if [ "$code" != 1 ] || ! grep -q '^PASS: hello' "$work/probe.out"; then
        boot_skip_reason="the $engine engine cannot boot hello.elf (exit $code: $(tail -c 150 "$work/probe.err" | tr '\n' ' '))"
    fi
fi

boot_cases=(config-file-no-api config-file-unsupported-drive hello-via-api-exits background-job ticker-start
            ticker-running start-twice boot-source-after-start machine-config-after-start
            ticker-pause ticker-paused-silent ticker-resume ticker-resumed-output ticker-sequence
            pause-twice metrics-after-boot ctrl-alt-del ctrl-alt-del-exit)
if [ -n "$boot_skip_reason" ]; then
    for name in "${boot_cases[@]}"; do skip "$name" "$boot_skip_reason"; done
else
    cat >"$work/hello.json" <<JSON
{"boot-source": {"kernel_image_path": "$guests/hello.elf"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}, "drives": [], "network-interfaces": []}
JSON
    timeout 30 "$vessel" --config-file "$work/hello.json" --no-api --engine "$engine" \
        </dev/null >"$work/out" 2>"$work/err"
    code=$?
    if [ "$code" = 1 ] && grep -q '^PASS: hello' "$work/out"; then pass config-file-no-api
    else fail config-file-no-api "exit $code (want 1), output: $(tail -c 200 "$work/out")"; fi

    cat >"$work/drive.json" <<JSON
{"boot-source": {"kernel_image_path": "$guests/hello.elf"},
 "drives": [{"drive_id": "root", "is_root_device": true, "path_on_host": "/tmp/r.img", "is_read_only": true}]}
JSON
    timeout 30 "$vessel" --config-file "$work/drive.json" --no-api --engine "$engine" \
        </dev/null >"$work/out" 2>"$work/err"
    code=$?
    if [ "$code" = 2 ] && grep -q '/tmp/r.img' "$work/err"; then
        pass config-file-unsupported-drive
    else fail config-file-unsupported-drive "exit $code (want 2): $(tail -c 200 "$work/err")"; fi

    # A guest that ends by itself ends Vessel, as with Firecracker, and the socket goes away.
    start_vessel
    api PUT /boot-source "{\"kernel_image_path\": \"$guests/hello.elf\"}"
    api PUT /actions '{"action_type": "InstanceStart"}'
    wait_exit 30
    if [ "$exit_code" = 1 ] && grep -q '^PASS: hello' "$work/console" && [ ! -e "$socket" ]; then
        pass hello-via-api-exits
    else fail hello-via-api-exits "exit '$exit_code' (want 1), console: $(tail -c 100 "$work/console")"; fi

    # The README's `build/vessel --api-sock /tmp/vessel.sock &` from an interactive shell: the
    # background job must not be stopped by SIGTTOU/SIGTTIN nor change the terminal's modes.
    rm -f "$socket"
    if result=$(python3 "$here/background_job.py" "$vessel" "$socket" "$guests/hello.elf" "$engine"); then
        pass background-job
    else fail background-job "$result"; fi

    start_vessel
    api PUT /logger "{\"level\": \"Info\", \"log_path\": \"$work/boot.log\"}"
    api PUT /metrics "{\"metrics_path\": \"$work/boot-metrics.json\"}"
    api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 32}'
    api PUT /balloon '{"amount_mib": 4, "deflate_on_oom": false, "stats_polling_interval_s": 1}'
    api PUT /boot-source "{\"kernel_image_path\": \"$guests/ticker.elf\", \"boot_args\": \"ticker\"}"
    call ticker-start PUT /actions '{"action_type": "InstanceStart"}' 204
    # The ticker has no balloon driver: the device is there but never activated.
    call balloon-after-start PUT /balloon '{"amount_mib": 4, "deflate_on_oom": false}' 400 'after starting'
    call balloon-patch-too-large PATCH /balloon '{"amount_mib": 64}' 400 'Amount of pages requested is too large.'
    call balloon-patch-inactive PATCH /balloon '{"amount_mib": 8}' 400 'Device is inactive, check if balloon driver is enabled in guest kernel.'
    call balloon-statistics GET /balloon/statistics "" 200 '"target_mib":4'
    call balloon-stats-interval PATCH /balloon/statistics '{"stats_polling_interval_s": 2}' 204
    call balloon-stats-switch-off PATCH /balloon/statistics '{"stats_polling_interval_s": 0}' 400 'Cannot enable/disable the statistics after boot.'
    call balloon-stats-bad-field PATCH /balloon/statistics '{"interval": 2}' 400 'stats_polling_interval_s'
    for _ in $(seq 100); do [ "$(tick_count)" -ge 3 ] && break; sleep 0.1; done
    api GET /
    if grep -q '"state":"Running"' <<<"$body" && grep -q '^ticker: started' "$work/console" &&
        [ "$(tick_count)" -ge 3 ]; then pass ticker-running
    else fail ticker-running "$body, console: $(tail -c 100 "$work/console")"; fi
    call start-twice PUT /actions '{"action_type": "InstanceStart"}' 400 'after starting'
    call boot-source-after-start PUT /boot-source "{\"kernel_image_path\": \"$guests/hello.elf\"}" 400 'after starting'
    call machine-config-after-start PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' 400 'after starting'

    call ticker-pause PATCH /vm '{"state": "Paused"}' 204
    before=$(tick_count)
    sleep 1.5
    after=$(tick_count)
    api GET /
    if [ "$before" = "$after" ] && grep -q '"state":"Paused"' <<<"$body"; then pass ticker-paused-silent
    else fail ticker-paused-silent "ticks $before -> $after while paused; $body"; fi
    call ticker-resume PATCH /vm '{"state": "Resumed"}' 204
    for _ in $(seq 100); do [ "$(tick_count)" -ge $((after + 5)) ] && break; sleep 0.1; done
    api GET /
    if [ "$(tick_count)" -ge $((after + 5)) ] && grep -q '"state":"Running"' <<<"$body"; then
        pass ticker-resumed-output
    else fail ticker-resumed-output "ticks $after -> $(tick_count) after resume; $body"; fi
    # Pause and resume in quick succession a few times, then check the whole sequence.
    for _ in 1 2 3 4 5; do
        api PATCH /vm '{"state": "Paused"}'
        api PATCH /vm '{"state": "Resumed"}'
    done
    sleep 0.5
    if result=$(check_ticks "$work/console"); then pass "ticker-sequence ($result lines)"
    else fail ticker-sequence "$result"; fi
    api PATCH /vm '{"state": "Paused"}'
    call pause-twice PATCH /vm '{"state": "Paused"}' 204
    api PATCH /vm '{"state": "Resumed"}'

    api PUT /actions '{"action_type": "FlushMetrics"}'
    if [ "$status" = 204 ] && python3 -c 'import json,sys; line=json.loads(open(sys.argv[1]).readlines()[-1]); assert line["vmm"]["state"] == "Running", line; assert line["uart"]["total_write_count"] > 30, line; assert line["patch_api_requests"]["vm_count"] >= 2, line; assert line["vcpu"]["exit_io_out"] > 30, line; assert line["vcpu"]["exit_io_in"] > 0, line; assert line["balloon"]["inflate_count"] == 0, line; assert "ksm_running" in line["page_sharing"], line' "$work/boot-metrics.json" 2>"$work/py"; then
        pass metrics-after-boot
    else fail metrics-after-boot "$status $(tail -c 300 "$work/py")"; fi

    call ctrl-alt-del PUT /actions '{"action_type": "SendCtrlAltDel"}' 204
    wait_exit 20
    if [ "$exit_code" = 0 ] && grep -q 'ctrl-alt-del received' "$work/console" &&
        [ ! -e "$socket" ] && grep -q 'VM stopped' "$work/boot.log"; then
        pass ctrl-alt-del-exit
    else fail ctrl-alt-del-exit "exit '$exit_code' (want 0), console: $(tail -c 100 "$work/console")"; fi

    # Vessel's stdin feeds the guest's serial port in API mode, as with Firecracker.
    mkfifo "$work/stdin"
    exec 3<>"$work/stdin"
    vessel_stdin=$work/stdin start_vessel
    api PUT /boot-source "{\"kernel_image_path\": \"$guests/echo.elf\"}"
    api PUT /actions '{"action_type": "InstanceStart"}'
    for _ in $(seq 100); do grep -q '^echo: ready' "$work/console" && break; sleep 0.1; done
    printf 'hello vessel\nquit\n' >&3
    wait_exit 30
    exec 3>&-
    if [ "$exit_code" = 1 ] && grep -q '^echo: hello vessel' "$work/console" &&
        grep -q '^PASS: echo' "$work/console"; then pass console-input-reaches-guest
    else fail console-input-reaches-guest "exit '$exit_code' (want 1), console: $(tail -c 200 "$work/console")"; fi
fi

[ "$skipped" -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
