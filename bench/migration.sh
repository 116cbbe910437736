#!/usr/bin/env bash
# Live-migration numbers on the software engine over loopback TCP, between Vessel processes on
# this machine: the default Linux guest (256 MiB; the ticker with 64 MiB when the guest is not
# built) is booted once and hops HOPS times (default 5) from one Vessel to the next, first idle
# at its shell, then while it rewrites 64 MiB of its memory with random bytes in a loop (a fast
# dirtier). For each hop the source's log gives the rounds, pages and bytes sent, the downtime
# (vCPUs parked at the source until the destination answered that it runs the VM) and the total
# time; the script prints each hop and the median downtime per case.
# Usage: bench/migration.sh [BUILD_DIR] [HOPS]
set -eu
build=${1:-build}
hops=${2:-5}
build=$(cd "$build" && pwd)
vessel=$build/vessel
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start() {
    rm -f "$work/$1.sock"
    "$vessel" --api-sock "$work/$1.sock" --engine soft </dev/null >"$work/$1.out" 2>"$work/$1.err" &
    pids+=($!)
    for _ in $(seq 200); do [ -S "$work/$1.sock" ] && return 0; sleep 0.05; done
    echo "vessel did not start: $(cat "$work/$1.err")" >&2
    exit 1
}
api() {
    curl -s -o "$work/body" -w '%{http_code}' -X "$2" --max-time 600 --unix-socket "$work/$1.sock" \
        "http://localhost$3" ${4:+-H 'Content-Type: application/json' --data-binary "$4"}
}
wait_for() { for _ in $(seq $(($3 * 10))); do grep -qaF -- "$2" "$1" && return 0; sleep 0.1; done; return 1; }
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] }'; }

# run_case NAME PROGRAM: boots a guest running PROGRAM, lets it settle, then hops.
run_case() {
    local name=$1 program=$2 current=${1}0 next hop port
    start "$current"
    if [ -f "$build/guest/vmlinuz" ]; then
        local args="quiet console=ttyS0"
        [ -n "$program" ] && args="$args vessel.exec=$(printf %s "$program" | base64 -w0)"
        api "$current" PUT /boot-source "{\"kernel_image_path\": \"$build/guest/vmlinuz\", \"initrd_path\": \"$build/guest/initramfs.cpio.gz\", \"boot_args\": \"$args\"}" >/dev/null
        api "$current" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}' >/dev/null
        ready=${3:-"# "}
    else
        api "$current" PUT /boot-source "{\"kernel_image_path\": \"$build/tests/guests/ticker.elf\"}" >/dev/null
        api "$current" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' >/dev/null
        ready="tick 3"
    fi
    api "$current" PUT /actions '{"action_type": "InstanceStart"}' >/dev/null
    wait_for "$work/$current.out" "$ready" 600 || { echo "$name: the guest did not get ready" >&2; exit 1; }
    sleep 2
    : >"$work/$name.downtimes"
    for hop in $(seq "$hops"); do
        next=$name$hop
        start "$next"
        port=$((20000 + RANDOM % 20000))
        (api "$next" PUT /vm.receive-migration "{\"receiver_url\": \"tcp:127.0.0.1:$port\"}" >"$work/$next.received") &
        receiver=$!
        for _ in $(seq 100); do grep -q "0100007F:$(printf %04X "$port") 00000000:0000 0A" /proc/net/tcp && break; sleep 0.05; done
        status=$(api "$current" PUT /vm.send-migration "{\"destination_url\": \"tcp:127.0.0.1:$port\"}")
        [ "$status" = 204 ] || { echo "$name hop $hop failed: $status $(cat "$work/body")" >&2; exit 1; }
        wait "$receiver"
        for _ in $(seq 50); do grep -q 'migrated to' "$work/$current.err" && break; sleep 0.1; done
        line=$(grep -ao 'migrated to .*' "$work/$current.err" | head -n 1)
        echo "  $name hop $hop: ${line#migrated to tcp:127.0.0.1:$port: }"
        grep -ao 'migration downtime: .*' "$work/$current.err" | head -n 1 | sed 's/^migration downtime: /    (/; s/$/)/'
        grep -ao 'received the VM from .*' "$work/$next.err" | head -n 1 | sed 's/^/    (destination: /; s/$/)/'
        grep -o 'downtime [0-9.]* ms' <<<"$line" | cut -d' ' -f2 >>"$work/$name.downtimes"
        current=$next
        sleep 1
    done
    echo "$name: median downtime $(median <"$work/$name.downtimes") ms over $hops hops"
}

if [ -f "$build/guest/vmlinuz" ]; then echo "guest: default Linux guest, 256 MiB, software engine"; else echo "guest: ticker, 64 MiB (the default guest is not built)"; fi
run_case idle ""
run_case dirtier 'while :; do dd if=/dev/urandom of=/tmp/dirty bs=1M count=64 2>/dev/null; done & echo dirtier-running; exec sh' dirtier-running
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (numbers from a loaded machine are upper bounds)"
