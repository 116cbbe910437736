#!/usr/bin/env bash
# Snapshot numbers on the software engine: saves a running guest (the default Linux guest with
# 256 MiB when built, else the ticker with 64 MiB) once, then restores it RUNS times (default 20)
# in fresh Vessel processes and prints, for the restore, median and p90 of
#   - Vessel's own restore time: reading and checking the state file, mapping the memory file,
#     building the machine and loading every device and vCPU, until the vCPU threads start
#     (the "restored snapshot ... in X ms" log line; the first instruction follows at once),
#   - the time to the restored guest's first instruction (the vCPU thread about to enter the
#     guest: "restore: first guest instruction at X ms", --log-level debug),
#   - the PUT /snapshot/load round trip seen by the client (curl's time_total),
#   - the CPU time the restoring thread used (what the restore costs without the waits for a
#     CPU that a busy host adds to the wall-clock figures),
#   - where the restore's time went, per phase (median and p90 of each; for the software
#     engine also the CPU time vCPU 0's construction took, which a busy host changes little): reading and checking
#     the state file, starting the vCPU threads (they wait while the rest loads), mapping the
#     memory file, the engine and VM, the devices, the vCPUs, loading the saved state into
#     them, the return to Machine::start, and from start handing the threads their vCPUs to
#     vCPU 0's first instruction (the thread's wake-up: "restore: first guest instruction at F
#     ms (vCPU threads started at S ms, ...)"),
# and the state and memory file sizes and the create time.
# Usage: bench/snapshot.sh [BUILD_DIR] [RUNS]
set -eu
build=${1:-build}
runs=${2:-20}
build=$(cd "$build" && pwd)
vessel=$build/vessel
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start() {
    rm -f "$work/api.sock"
    "$vessel" "$@" --api-sock "$work/api.sock" </dev/null >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 200); do [ -S "$work/api.sock" ] && return 0; sleep 0.05; done
    echo "vessel did not start: $(cat "$work/err")" >&2
    exit 1
}
api() {
    curl -s -o "$work/body" -w '%{http_code} %{time_total}' -X "$1" --unix-socket "$work/api.sock" \
        "http://localhost$2" ${3:+-H 'Content-Type: application/json' --data-binary "$3"}
}
stop() { kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=; }
# stats: median and p90 of the numbers on stdin.
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "median %.2f ms, p90 %.2f ms (%d runs)\n", v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.999)], NR }'; }

start
if [ -f "$build/guest/vmlinuz" ]; then
    guest="default Linux guest, 256 MiB"
    api PUT /boot-source "{\"kernel_image_path\": \"$build/guest/vmlinuz\", \"initrd_path\": \"$build/guest/initramfs.cpio.gz\", \"boot_args\": \"quiet console=ttyS0\"}" >/dev/null
    api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}' >/dev/null
    ready="# "
else
    guest="ticker guest, 64 MiB"
    api PUT /boot-source "{\"kernel_image_path\": \"$build/tests/guests/ticker.elf\"}" >/dev/null
    api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' >/dev/null
    ready="tick 3"
fi
api PUT /actions '{"action_type": "InstanceStart"}' >/dev/null
for _ in $(seq 3000); do grep -qF -- "$ready" "$work/out" && break; sleep 0.1; done
api PATCH /vm '{"state": "Paused"}' >/dev/null
create=$(api PUT /snapshot/create "{\"snapshot_path\": \"$work/vm.state\", \"mem_file_path\": \"$work/vm.mem\"}")
stop
echo "guest: $guest"
echo "state file: $(stat -c %s "$work/vm.state") bytes; memory file: $(stat -c %s "$work/vm.mem") bytes, $(du -k "$work/vm.mem" | cut -f1) KiB on disk"
echo "create (PUT /snapshot/create round trip): $(awk '{ printf "%.1f ms", $2 * 1000 }' <<<"$create")"
phases="inside first roundtrip read early map engine devices vcpus load handoff wake cpu vcpucpu"
for phase in $phases; do : >"$work/$phase"; done
for _ in $(seq "$runs"); do
    start --log-level debug
    answer=$(api PUT /snapshot/load "{\"snapshot_path\": \"$work/vm.state\", \"mem_file_path\": \"$work/vm.mem\", \"resume_vm\": true}")
    [ "${answer%% *}" = 204 ] || { echo "load failed: $answer $(cat "$work/body")" >&2; exit 1; }
    awk '{ printf "%.3f\n", $2 * 1000 }' <<<"$answer" >>"$work/roundtrip"
    for _ in $(seq 100); do grep -q 'first guest instruction' "$work/err" && break; sleep 0.02; done
    # "build: engine and VM A ms, devices B ms, vCPUs C ms"; "restore: state file read and
    # checked at R ms, vCPU threads started at E ms, memory mapped at M ms, machine built and
    # loaded at T ms"; "first guest instruction at F ms (vCPU threads started at S ms, ...)".
    awk -v dir="$work" '
        /restored snapshot .* in [0-9.]+ ms/ { v = $NF == "ms" ? $(NF - 1) : $NF; print v >> dir "/inside" }
        /first guest instruction at/ { for (i = 1; i <= NF; i++) {
            if ($i == "instruction") first = $(i + 2); if ($i == "started" && $(i + 1) == "at") threads = $(i + 2) }
            print first >> dir "/first" }
        /build: engine and VM/ { gsub(",", ""); for (i = 1; i <= NF; i++) {
            if ($i == "VM") engine = $(i + 1); if ($i == "devices") devices = $(i + 1);
            if ($i == "vCPUs") vcpus = $(i + 1) } }
        /soft engine: vCPU 0 built using/ { for (i = 1; i <= NF; i++) if ($i == "using") vcpucpu = $(i + 1) }
        /restore: state file read and checked at/ { gsub(",", ""); for (i = 1; i <= NF; i++) {
            if ($i == "checked") read = $(i + 2); if ($i == "mapped") mapped = $(i + 2);
            if ($i == "started") early = $(i + 2);
            if ($i == "loaded") total = $(i + 2); if ($i == "using") cpu = $(i + 1) } }
        END { print read >> dir "/read"; print early - read >> dir "/early"; print mapped - early >> dir "/map"; print engine >> dir "/engine";
              print devices >> dir "/devices"; print vcpus >> dir "/vcpus";
              print total - mapped - engine - devices - vcpus >> dir "/load"; print cpu >> dir "/cpu";
              print threads - total >> dir "/handoff"; print first - threads >> dir "/wake"
              if (vcpucpu != "") print vcpucpu >> dir "/vcpucpu" }' "$work/err"
    stop
done
echo "restore, inside Vessel (state file to vCPU threads ready): $(stats <"$work/inside")"
echo "restore, to the guest's first instruction:              $(stats <"$work/first")"
echo "restore, PUT /snapshot/load round trip:                 $(stats <"$work/roundtrip")"
echo "restore, CPU time of the restoring thread:              $(stats <"$work/cpu")"
echo "phases of a restore (median and p90 of each):"
echo "  read and check the state file: $(stats <"$work/read")"
echo "  start the vCPU threads (they wait for their vCPUs): $(stats <"$work/early")"
echo "  map the memory file:           $(stats <"$work/map")"
echo "  engine and VM:                 $(stats <"$work/engine")"
echo "  devices:                       $(stats <"$work/devices")"
echo "  vCPUs:                         $(stats <"$work/vcpus")"
[ -s "$work/vcpucpu" ] && echo "    vCPU 0's construction, CPU time (the soft engine's account): $(stats <"$work/vcpucpu")"
echo "  load the saved state:          $(stats <"$work/load")"
echo "  restore's return to start():   $(stats <"$work/handoff")"
echo "  vCPU threads started to the first instruction (thread wake-up): $(stats <"$work/wake")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (numbers from a loaded machine are upper bounds)"
