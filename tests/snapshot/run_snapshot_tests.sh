#!/usr/bin/env bash
# End-to-end tests of snapshots on the software engine: the ticker guest is saved through the
# API (PUT /snapshot/create), Vessel is killed, and new Vessel processes restore it (PUT
# /snapshot/load, `vessel run --restore`): the guest's numbered, checkable lines continue from
# where they stopped, in two restores one after the other and two at the same time. Damaged and
# mismatched snapshots are refused (400 with fault_message, CLI exit 2) and leave no VM behind.
# With the default guest built, a Linux guest is saved while it counts to its console and to
# its virtio-blk disk (tests/snapshot/linux_snapshot.sh).
# Usage: tests/snapshot/run_snapshot_tests.sh BUILD_DIR
# Prints one line per case ("ok", "FAIL" or "skip" and why) and "N passed, N failed" last.
set -u
build=${1:?usage: run_snapshot_tests.sh BUILD_DIR}
build=$(cd "$build" && pwd)
vessel=$build/vessel
ticker=$build/tests/guests/ticker.elf
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()
skipped=0

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/../lib.sh"
skip() { echo "skip $1: $2"; skipped=$((skipped + 1)); }

# start NAME: a Vessel serving $work/NAME.sock, console to $work/NAME.out; sets pid.
start() {
    rm -f "$work/$1.sock"
    "$vessel" --api-sock "$work/$1.sock" --engine soft </dev/null >"$work/$1.out" \
        2>"$work/$1.err" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 200); do
        [ -S "$work/$1.sock" ] && return 0
        sleep 0.05
    done
    echo "note: vessel $1 did not start: $(head -c 300 "$work/$1.err")"
    return 1
}

# api NAME METHOD PATH [BODY]: sets status and body.
api() {
    local args=(-s -o "$work/body" -w '%{http_code}' -X "$2" --max-time 60
                --unix-socket "$work/$1.sock" "http://localhost$3")
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    status=$(curl "${args[@]}" 2>/dev/null) || status=000
    body=$(cat "$work/body" 2>/dev/null)
}

# expect CASE STATUS [TEXT]: the last answer had STATUS and TEXT in its body.
expect() {
    if [ "$status" = "$2" ] && { [ $# -lt 3 ] || grep -qF -- "$3" <<<"$body"; }; then
        pass "$1"
    else
        fail "$1" "got $status '$(head -c 300 <<<"$body")', want $2${3:+ with '$3'}"
    fi
}

# wait_for FILE TEXT [SECONDS]: until FILE holds TEXT.
wait_for() {
    for _ in $(seq $((${3:-60} * 10))); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# tick_line N: the ticker's line N ("tick N VALUE", VALUE step N of its 32-bit LCG from 1).
tick_line() {
    local value=1
    for _ in $(seq "$1"); do value=$(((value * 1103515245 + 12345) & 0xffffffff)); done
    printf 'tick %d %08x' "$1" "$value"
}

last_tick() { grep -o '^tick [0-9]*' "$1" | tail -n 1 | cut -d' ' -f2; }

# continues FILE FIRST: FILE's lines are ticker lines FIRST, FIRST+1, ... (at least two), with
# nothing before them: the restored guest went on, it did not boot again.
continues() {
    local expected=$2 line count=0
    while IFS= read -r line; do
        line=${line%$'\r'}
        [ -z "$line" ] && continue
        [ "$line" = "$(tick_line "$expected")" ] || { echo "line '$line', want '$(tick_line "$expected")'"; return 1; }
        expected=$((expected + 1))
        count=$((count + 1))
    done <"$1"
    [ "$count" -ge 2 ] || { echo "only $count lines"; return 1; }
}

kill_pid() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

if [ ! -x "$vessel" ] || [ ! -f "$ticker" ]; then
    echo "FAIL setup: $vessel or $ticker not built"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- save the ticker through the API ----
snap=$work/snap
mkdir -p "$snap"
start source || { echo "0 passed, 1 failed"; exit 1; }
source_pid=$pid
api source PUT /boot-source "{\"kernel_image_path\": \"$ticker\"}"
api source PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
: >"$work/metrics.json"
api source PUT /metrics "{\"metrics_path\": \"$work/metrics.json\"}"
api source PUT /snapshot/load "{\"snapshot_path\": \"$snap/vm.state\", \"mem_file_path\": \"$snap/vm.mem\"}"
expect load-missing-files 400 "snapshot $snap/vm.state: cannot open"
api source PUT /actions '{"action_type": "InstanceStart"}'
expect start-ticker 204
if wait_for "$work/source.out" "$(tick_line 3)"; then pass ticker-runs; else fail ticker-runs "no tick 3: $(tail -c 200 "$work/source.out")"; fi
api source PUT /snapshot/create "{\"snapshot_path\": \"$snap/vm.state\", \"mem_file_path\": \"$snap/vm.mem\"}"
expect create-while-running 400 "the microVM must be paused"
api source PUT /snapshot/create "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$snap/vm.state\", \"mem_file_path\": \"$snap/vm.mem\"}"
expect create-diff-while-running 400 "the microVM must be paused"
api source PATCH /vm '{"state": "Paused"}'
expect pause 204
api source PUT /snapshot/create "{\"snapshot_path\": \"$snap/vm.state\", \"mem_file_path\": \"$snap/vm.mem\"}"
expect create 204
api source PUT /actions '{"action_type": "FlushMetrics"}'
if python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).readlines()[-1])["snapshot"]; assert s["state_bytes"] > 1000 and s["memory_bytes"] > 0 and s["create_ms"] > 0, s' "$work/metrics.json" 2>"$work/py"; then
    pass metrics-snapshot
else
    fail metrics-snapshot "$(tail -c 300 "$work/py")"
fi
last=$(last_tick "$work/source.out")
api source PUT /snapshot/load "{\"snapshot_path\": \"$snap/vm.state\", \"mem_file_path\": \"$snap/vm.mem\"}"
expect load-after-start 400 "only allowed before a microVM started"
# A Diff after a few more ticks holds only the pages written since the Full snapshot.
api source PATCH /vm '{"state": "Resumed"}'
wait_for "$work/source.out" "$(tick_line $((last + 3)))"
api source PATCH /vm '{"state": "Paused"}'
api source PUT /snapshot/create "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$snap/diff.state\", \"mem_file_path\": \"$snap/diff.mem\"}"
expect create-diff 204
full_kib=$(du -k "$snap/vm.mem" | cut -f1)
diff_kib=$(du -k "$snap/diff.mem" | cut -f1)
# The ticker's RAM is small (a few pages); the Linux guest below checks "much smaller".
if [ "$(stat -c %s "$snap/diff.mem")" = $((64 << 20)) ] && [ "$diff_kib" -gt 0 ] && [ "$diff_kib" -lt "$full_kib" ]; then
    pass diff-smaller
else
    fail diff-smaller "Diff $diff_kib KiB on disk, Full $full_kib KiB"
fi
echo "     Full memory file $full_kib KiB on disk, Diff $diff_kib KiB"
kill_pid "$source_pid"
size=$(stat -c %s "$snap/vm.mem")
if [ "$size" = $((64 << 20)) ] && [ -s "$snap/vm.state" ]; then pass files-written; else fail files-written "vm.mem $size bytes"; fi

# ---- restore it twice, each in a new process ----
for run in 1 2; do
    start "restore$run" || { fail "restore$run" "vessel did not start"; continue; }
    restore_pid=$pid
    if [ "$run" = 1 ]; then
        api "restore$run" PUT /snapshot/load "{\"snapshot_path\": \"$snap/vm.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$snap/vm.mem\"}, \"resume_vm\": true}"
    else
        api "restore$run" PUT /snapshot/load "{\"snapshot_path\": \"$snap/vm.state\", \"mem_file_path\": \"$snap/vm.mem\"}"
        expect "restore$run-load-paused" 204
        api "restore$run" GET /
        expect "restore$run-is-paused" 200 '"state":"Paused"'
        api "restore$run" PATCH /vm '{"state": "Resumed"}'
    fi
    expect "restore$run-load" 204
    if wait_for "$work/restore$run.out" "$(tick_line $((last + 3)))"; then
        if why=$(continues "$work/restore$run.out" $((last + 1))); then pass "restore$run-continues"; else fail "restore$run-continues" "$why"; fi
    else
        fail "restore$run-continues" "no tick $((last + 3)): $(tail -c 300 "$work/restore$run.out") $(tail -c 300 "$work/restore$run.err")"
    fi
    kill_pid "$restore_pid"
done

# ---- two restores of one snapshot at the same time: the memory file is mapped privately ----
if start concurrent1 && pid1=$pid && start concurrent2 && pid2=$pid; then
    for name in concurrent1 concurrent2; do
        api "$name" PUT /snapshot/load "{\"snapshot_path\": \"$snap/vm.state\", \"mem_file_path\": \"$snap/vm.mem\", \"resume_vm\": true}"
        expect "$name-load" 204
    done
    for name in concurrent1 concurrent2; do
        if wait_for "$work/$name.out" "$(tick_line $((last + 3)))" && why=$(continues "$work/$name.out" $((last + 1))); then
            pass "$name-continues"
        else
            fail "$name-continues" "${why:-no tick $((last + 3))}"
        fi
    done
    kill_pid "$pid1"
    kill_pid "$pid2"
else
    fail concurrent "vessel did not start"
fi

# ---- refused snapshots: 400 naming the file and the problem, nothing left running ----
bad=$work/bad
mkdir -p "$bad"
# refuse CASE STATE MEMORY TEXT: a load of these files answers 400 with TEXT, the VM stays
# "Not started", and a good load afterwards on the same process works.
start refusals || exit 1
refusals_pid=$pid
refuse() {
    api refusals PUT /snapshot/load "{\"snapshot_path\": \"$2\", \"mem_file_path\": \"$3\"}"
    expect "$1" 400 "$4"
    api refusals GET /
    if grep -qF '"state":"Not started"' <<<"$body"; then pass "$1-no-vm"; else fail "$1-no-vm" "$body"; fi
}
head -c $(($(stat -c %s "$snap/vm.state") - 20)) "$snap/vm.state" >"$bad/truncated.state"
refuse truncated "$bad/truncated.state" "$snap/vm.mem" "snapshot $bad/truncated.state: truncated"
cp "$snap/vm.state" "$bad/corrupt.state"
printf '\xff\xff\xff\xff' | dd of="$bad/corrupt.state" bs=1 seek=200 conv=notrunc status=none
refuse corrupted "$bad/corrupt.state" "$snap/vm.mem" "checksum mismatch"
python3 - "$snap/vm.state" "$bad/version.state" <<'PY'
import sys, zlib, struct
data = bytearray(open(sys.argv[1], 'rb').read())
data[8:12] = struct.pack('<I', 7)
body = bytes(data[:-8])
open(sys.argv[2], 'wb').write(body + struct.pack('<I', zlib.crc32(body)) + b'VEND')
PY
refuse wrong-version "$bad/version.state" "$snap/vm.mem" "format version 7 is newer than this Vessel reads (1)"
head -c $((32 << 20)) "$snap/vm.mem" >"$bad/small.mem"
refuse wrong-memory-size "$snap/vm.state" "$bad/small.mem" "memory file $bad/small.mem: 33554432 bytes, but the snapshot's VM has 67108864 bytes of RAM"
refuse not-a-snapshot "$ticker" "$snap/vm.mem" "not a Vessel state file"
api refusals PUT /snapshot/load "{\"snapshot_path\": \"$snap/vm.state\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"/tmp/x\"}}"
expect uffd-refused 400 "backend_type Uffd is not supported"
api refusals PUT /snapshot/load "{\"snapshot_path\": \"$snap/vm.state\", \"mem_file_path\": \"$snap/vm.mem\", \"resume_vm\": true}"
expect good-load-after-refusals 204
if wait_for "$work/refusals.out" "$(tick_line $((last + 2)))"; then pass refusals-then-runs; else fail refusals-then-runs "$(tail -c 200 "$work/refusals.out")"; fi
kill_pid "$refusals_pid"

# ---- the CLI: vessel snapshot SOCKET DIR, vessel snapshot --diff, vessel run --restore DIR ----
timeout 20 "$vessel" run --restore "$bad/none" </dev/null >"$work/cli-bad.out" 2>&1
code=$?
if [ "$code" = 2 ] && grep -qF "snapshot $bad/none/vm.state: cannot open" "$work/cli-bad.out"; then
    pass cli-restore-missing
else
    fail cli-restore-missing "exit $code: $(tail -c 300 "$work/cli-bad.out")"
fi
cp "$bad/corrupt.state" "$bad/vm.state"
cp "$snap/vm.mem" "$bad/vm.mem"
timeout 20 "$vessel" run --restore "$bad" </dev/null >"$work/cli-bad.out" 2>&1
code=$?
if [ "$code" = 2 ] && grep -qF "checksum mismatch" "$work/cli-bad.out"; then pass cli-restore-corrupt; else fail cli-restore-corrupt "exit $code: $(tail -c 300 "$work/cli-bad.out")"; fi

start cli || exit 1
cli_pid=$pid
api cli PUT /boot-source "{\"kernel_image_path\": \"$ticker\"}"
api cli PUT /actions '{"action_type": "InstanceStart"}'
wait_for "$work/cli.out" "$(tick_line 2)"
"$vessel" snapshot "$work/cli.sock" "$work/cli-snap" >"$work/cli-snapshot.out" 2>&1
code=$?
if [ "$code" = 0 ] && [ -s "$work/cli-snap/vm.state" ]; then pass cli-snapshot; else fail cli-snapshot "exit $code: $(tail -c 300 "$work/cli-snapshot.out")"; fi
cli_last=$(last_tick "$work/cli.out")
if wait_for "$work/cli.out" "$(tick_line $((cli_last + 1)))"; then pass cli-snapshot-resumes; else fail cli-snapshot-resumes "the source stopped"; fi
# Full + Diff: the Diff merged into the directory is what the restore below resumes.
wait_for "$work/cli.out" "$(tick_line $((cli_last + 3)))"
diff_from=$(last_tick "$work/cli.out")
"$vessel" snapshot --diff "$work/cli.sock" "$work/cli-snap" >"$work/cli-diff.out" 2>&1
code=$?
if [ "$code" = 0 ] && grep -q "merged into" "$work/cli-diff.out" && [ ! -e "$work/cli-snap/diff.mem" ]; then pass cli-diff-snapshot; else fail cli-diff-snapshot "exit $code: $(tail -c 300 "$work/cli-diff.out")"; fi
"$vessel" snapshot --diff "$work/cli.sock" "$work/cli-nosnap" >"$work/cli-diff.out" 2>&1
code=$?
if [ "$code" = 2 ] && grep -qF "holds no snapshot to merge into" "$work/cli-diff.out"; then pass cli-diff-needs-base; else fail cli-diff-needs-base "exit $code: $(tail -c 300 "$work/cli-diff.out")"; fi
"$vessel" snapshot "$work/nothing.sock" "$work/cli-snap2" >"$work/cli-snapshot.out" 2>&1
code=$?
if [ "$code" = 2 ] && grep -qF "cannot connect" "$work/cli-snapshot.out"; then pass cli-snapshot-no-socket; else fail cli-snapshot-no-socket "exit $code"; fi
kill_pid "$cli_pid"
# Not under timeout(1): kill_pid below must reach Vessel itself (a SIGKILLed timeout leaves it running).
"$vessel" run --restore "$work/cli-snap" </dev/null >"$work/cli-restore.out" 2>"$work/cli-restore.err" &
restore_pid=$!
pids+=("$restore_pid")
# The snapshot was taken somewhere after line cli_last (the source ran on while the CLI paused it).
if wait_for "$work/cli-restore.out" "tick " 60; then
    first=$(grep -o '^tick [0-9]*' "$work/cli-restore.out" | head -n 1 | cut -d' ' -f2)
    wait_for "$work/cli-restore.out" "$(tick_line $((first + 2)))"
    if [ "$first" -gt "$diff_from" ] && why=$(continues "$work/cli-restore.out" "$first"); then pass cli-run-restore-full-plus-diff; else fail cli-run-restore-full-plus-diff "first tick $first (the Diff was taken after tick $diff_from) ${why-}"; fi
else
    fail cli-run-restore "no output: $(tail -c 300 "$work/cli-restore.err")"
fi
kill_pid "$restore_pid"

# ---- a Linux guest: console counter, virtio-blk file, user networking ----
if [ -f "$build/guest/vmlinuz" ] && [ -f "$build/guest/initramfs.cpio.gz" ]; then
    source "$here/linux_snapshot.sh"
    source "$here/linux_devices_snapshot.sh"
    source "$here/linux_smp_snapshot.sh"
else
    skip linux-guest "the default guest is not built ($build/guest)"
fi

[ "$skipped" -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
