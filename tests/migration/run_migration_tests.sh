#!/usr/bin/env bash
# End-to-end tests of live migration on the software engine, between Vessel processes on this
# machine. The ticker guest (numbered, checkable lines) moves over a Unix socket with the CLI
# (`vessel migrate`, `vessel run --incoming`) and over loopback TCP with the API
# (PUT /vm.send-migration, PUT /vm.receive-migration): the destination's first line follows the
# source's last, and the source exits. A stream cut in the middle leaves the source running; a
# receiver fed garbage and bad URLs are refused with a message (exit 2, API 400). With the
# default guest built, a Linux guest that writes memory in a loop and counts to its console
# hops twice (Unix socket, then TCP) and its count goes on without a gap.
# Usage: tests/migration/run_migration_tests.sh BUILD_DIR
# Prints one line per case ("ok", "FAIL" or "skip" and why) and "N passed, N failed" last.
set -u
build=${1:?usage: run_migration_tests.sh BUILD_DIR}
build=$(cd "$build" && pwd)
vessel=$build/vessel
ticker=$build/tests/guests/ticker.elf
work=$(mktemp -d)
pids=()
passed=0
failed=0
skipped=0

cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
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
    local args=(-s -o "$work/body.$1" -w '%{http_code}' -X "$2" --max-time 300
                --unix-socket "$work/$1.sock" "http://localhost$3")
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    status=$(curl "${args[@]}" 2>/dev/null) || status=000
    body=$(cat "$work/body.$1" 2>/dev/null)
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
        grep -qaF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# wait_exit PID SECONDS: until the process ended; sets code (its status, or "running").
wait_exit() {
    code=running
    for _ in $(seq $(($2 * 10))); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1" 2>/dev/null
            code=$?
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# wait_listening PORT: until something listens on loopback TCP PORT.
wait_listening() {
    for _ in $(seq 100); do
        # /proc/net/tcp: local address 127.0.0.1:PORT in hex, state 0A (listening).
        grep -q "0100007F:$(printf %04X "$1") 00000000:0000 0A" /proc/net/tcp && return 0
        sleep 0.05
    done
    return 1
}

# tick_line N: the ticker's line N ("tick N VALUE", VALUE step N of its 32-bit LCG from 1).
tick_line() {
    local value=1
    for _ in $(seq "$1"); do value=$(((value * 1103515245 + 12345) & 0xffffffff)); done
    printf 'tick %d %08x' "$1" "$value"
}
last_tick() { grep -ao '^tick [0-9]*' "$1" | tail -n 1 | cut -d' ' -f2; }

# continuous FILE...: the files' ticker lines, read in turn as one console, are ticks 1, 2, ...
# in order with none missing (a line may be cut between two files).
continuous() {
    local expected=1 line
    while IFS= read -r line; do
        [ "$line" = "$(tick_line "$expected")" ] || { echo "line '$line', want '$(tick_line "$expected")'"; return 1; }
        expected=$((expected + 1))
    done < <(cat "$@" | tr -d '\r' | grep -a '^tick ')
    [ "$expected" -gt 3 ] || { echo "only $((expected - 1)) lines"; return 1; }
}

# ticker_source NAME: a running ticker VM of 64 MiB at $work/NAME.sock; sets pid.
ticker_source() {
    start "$1" || return 1
    api "$1" PUT /boot-source "{\"kernel_image_path\": \"$ticker\"}"
    api "$1" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
    api "$1" PUT /actions '{"action_type": "InstanceStart"}'
    wait_for "$work/$1.out" "$(tick_line 2)"
}

if [ ! -x "$vessel" ] || [ ! -f "$ticker" ]; then
    echo "FAIL setup: $vessel or $ticker not built"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- Unix socket, CLI on both sides ----
if ticker_source unix-source; then
    source_pid=$pid
    rm -f "$work/unix.sock"
    "$vessel" run --incoming "unix:$work/unix.sock" </dev/null >"$work/unix-dest.out" 2>"$work/unix-dest.err" &
    dest_pid=$!
    pids+=("$dest_pid")
    for _ in $(seq 100); do [ -S "$work/unix.sock" ] && break; sleep 0.05; done
    "$vessel" migrate "$work/unix-source.sock" "unix:$work/unix.sock" >"$work/migrate.out" 2>&1
    code=$?
    if [ "$code" = 0 ]; then pass unix-migrate; else fail unix-migrate "exit $code: $(tail -c 300 "$work/migrate.out")"; fi
    if wait_exit "$source_pid" 20 && [ "$code" = 0 ]; then pass unix-source-exits; else fail unix-source-exits "status $code: $(tail -c 300 "$work/unix-source.err")"; fi
    last=$(last_tick "$work/unix-source.out")
    if wait_for "$work/unix-dest.out" "$(tick_line $((last + 2)))" 30 && why=$(continuous "$work/unix-source.out" "$work/unix-dest.out"); then
        pass unix-continues
    else
        fail unix-continues "${why:-no tick $((last + 2))}: $(tail -c 300 "$work/unix-dest.err")"
    fi
    if grep -q 'migrated to unix:.* rounds.*downtime' "$work/unix-source.err"; then pass unix-statistics; else fail unix-statistics "$(tail -c 300 "$work/unix-source.err")"; fi
    kill -9 "$dest_pid" 2>/dev/null
else
    fail unix-source "the ticker did not start"
fi

# ---- loopback TCP, API on both sides ----
port=$((20000 + RANDOM % 20000))
if ticker_source tcp-source && source_pid=$pid && start tcp-dest; then
    dest_pid=$pid
    curl -s -o "$work/receive.body" -w '%{http_code}' -X PUT --max-time 120 --unix-socket "$work/tcp-dest.sock" \
        http://localhost/vm.receive-migration -H 'Content-Type: application/json' \
        --data-binary "{\"receiver_url\": \"tcp:127.0.0.1:$port\"}" >"$work/receive.status" 2>/dev/null &
    receive_pid=$!
    wait_listening "$port"
    api tcp-source PUT /vm.send-migration "{\"destination_url\": \"tcp:127.0.0.1:$port\"}"
    expect tcp-send 204
    wait "$receive_pid"
    if [ "$(cat "$work/receive.status")" = 204 ]; then pass tcp-receive; else fail tcp-receive "$(cat "$work/receive.status") $(cat "$work/receive.body")"; fi
    if wait_exit "$source_pid" 20 && [ "$code" = 0 ]; then pass tcp-source-exits; else fail tcp-source-exits "status $code"; fi
    last=$(last_tick "$work/tcp-source.out")
    if wait_for "$work/tcp-dest.out" "$(tick_line $((last + 2)))" 30 && why=$(continuous "$work/tcp-source.out" "$work/tcp-dest.out"); then
        pass tcp-continues
    else
        fail tcp-continues "${why:-no tick $((last + 2))}: $(tail -c 300 "$work/tcp-dest.err")"
    fi
    api tcp-dest GET /
    expect tcp-dest-running 200 '"state":"Running"'
    api tcp-dest PUT /vm.receive-migration "{\"receiver_url\": \"tcp:127.0.0.1:$port\"}"
    expect receive-after-start 400 "only allowed before a microVM started"
    kill -9 "$dest_pid" 2>/dev/null
else
    fail tcp "vessel did not start"
fi

# ---- a stream cut in the middle: the source runs on unharmed ----
if ticker_source cut-source; then
    source_pid=$pid
    python3 - "$work/cut.sock" >"$work/cut.py.out" 2>&1 <<'PY' &
import socket, sys
server = socket.socket(socket.AF_UNIX)
server.bind(sys.argv[1])
server.listen(1)
connection, _ = server.accept()
received = 0
while received < 200000:
    data = connection.recv(65536)
    if not data:
        break
    received += len(data)
connection.close()
PY
    cutter=$!
    for _ in $(seq 100); do [ -S "$work/cut.sock" ] && break; sleep 0.05; done
    "$vessel" migrate "$work/cut-source.sock" "unix:$work/cut.sock" >"$work/cut.out" 2>&1
    code=$?
    wait "$cutter"
    if [ "$code" = 2 ] && grep -qF "migration to unix:$work/cut.sock" "$work/cut.out"; then pass cut-refused; else fail cut-refused "exit $code: $(tail -c 300 "$work/cut.out")"; fi
    last=$(last_tick "$work/cut-source.out")
    if wait_for "$work/cut-source.out" "$(tick_line $((last + 2)))" 20 && why=$(continuous "$work/cut-source.out"); then pass cut-source-runs-on; else fail cut-source-runs-on "${why:-no tick $((last + 2))}"; fi
    api cut-source GET /
    expect cut-source-state 200 '"state":"Running"'
    api cut-source PUT /vm.send-migration '{"destination_url": "ftp://example"}'
    expect api-bad-url 400 "expected unix:PATH or tcp:HOST:PORT"
    api cut-source PUT /vm.send-migration "{\"destination_url\": \"unix:$work/nobody.sock\"}"
    expect api-nobody-listens 400 "cannot connect"
    kill -9 "$source_pid" 2>/dev/null
else
    fail cut-source "the ticker did not start"
fi

# ---- a receiver fed garbage, and bad URLs on the command line ----
"$vessel" run --incoming "unix:$work/garbage.sock" </dev/null >"$work/garbage.out" 2>&1 &
garbage_pid=$!
pids+=("$garbage_pid")
for _ in $(seq 100); do [ -S "$work/garbage.sock" ] && break; sleep 0.05; done
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"GET / HTTP/1.0\r\n\r\n" * 4); s.close()' "$work/garbage.sock"
if wait_exit "$garbage_pid" 20 && [ "$code" = 2 ] && grep -qF "not a Vessel migration stream" "$work/garbage.out"; then
    pass receiver-refuses-garbage
else
    fail receiver-refuses-garbage "status $code: $(tail -c 300 "$work/garbage.out")"
fi
timeout 20 "$vessel" migrate "$work/none.sock" "tcp:127.0.0.1:0" >"$work/badurl.out" 2>&1
code=$?
if [ "$code" = 2 ]; then pass cli-bad-target; else fail cli-bad-target "exit $code"; fi
timeout 20 "$vessel" run --incoming "tcp:localhost" </dev/null >"$work/badurl.out" 2>&1
code=$?
if [ "$code" = 2 ] && grep -qF "migration URL tcp:localhost: no port" "$work/badurl.out"; then pass cli-bad-incoming-url; else fail cli-bad-incoming-url "exit $code: $(tail -c 200 "$work/badurl.out")"; fi

# ---- Linux writing memory and counting, Unix socket then TCP ----
if [ -f "$build/guest/vmlinuz" ] && [ -f "$build/guest/initramfs.cpio.gz" ]; then
    source "$(dirname "$0")/linux_migration.sh"
else
    skip linux-guest "the default guest is not built ($build/guest)"
fi

[ "$skipped" -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
