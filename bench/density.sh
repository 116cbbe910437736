#!/usr/bin/env bash
# Density: boots N default guests (software engine, 256 MiB, user networking) one after
# another, waits until each is idle at its shell, lets them settle, and reports the host memory
# the fleet really uses (sum of PSS from /proc/PID/smaps_rollup, and the fall of the host's
# MemAvailable), resident memory per VM, and the host CPU the idle fleet uses over 30 s; first
# with the balloon's free page reporting and KSM page sharing on (`--page-sharing`, the default
# guest's balloon), then with both off (`--balloon none`), side by side.
# Usage: bench/density.sh [BUILD_DIR] [N] [SETTLE_SECONDS]
# Page sharing needs KSM running (/sys/kernel/mm/ksm/run = 1, set by root); the bench says so
# when it is not and measures the rest anyway.
set -euo pipefail
build=${1:-build}
count=${2:-10}
settle=${3:-30}
window=30
guest="$build/guest"
[ -x "$build/vessel" ] || { echo "missing $build/vessel: build it first" >&2; exit 1; }
[ -f "$guest/vmlinuz" ] || { echo "missing $guest/vmlinuz: run make guest" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  exec 3>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# Every guest's console input: a FIFO nobody writes to, held open so no guest sees its end.
mkfifo "$work/input"
exec 3<>"$work/input"

ksm_run=$(cat /sys/kernel/mm/ksm/run 2>/dev/null || echo missing)
ticks=$(getconf CLK_TCK)
cores=$(nproc)

mem_available_kb() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
# cpu_ticks PID...: user + system clock ticks of these processes (all their threads).
cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
sum_field_kb() { # sum_field_kb FILE_SUFFIX FIELD PID...
  local suffix=$1 field=$2 total=0 pid
  shift 2
  for pid in "$@"; do
    total=$((total + $(awk -v f="$field:" '$1 == f {print $2}' "/proc/$pid/$suffix" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# fleet MODE ARGS...: boots the fleet with these `vessel run` arguments and prints
# "MODE pss_kb available_drop_kb rss_kb cpu_percent boot_seconds".
fleet() {
  local mode=$1
  shift
  pids=()
  local before started
  sync
  before=$(mem_available_kb)
  started=$(date +%s.%N)
  for index in $(seq "$count"); do
    local log="$work/$mode-$index.log"
    "$build/vessel" run --engine soft --memory 256M "$@" <&3 >"$log" 2>&1 &
    pids+=($!)
    # One after another: the next boots once this one reached its shell.
    for _ in $(seq 1200); do
      grep -q "Welcome to Vessel's default guest" "$log" 2>/dev/null && break
      kill -0 "${pids[-1]}" 2>/dev/null || { echo "guest $index ($mode) exited: $(tail -c 300 "$log")" >&2; return 1; }
      sleep 0.1
    done
    grep -q "Welcome to Vessel's default guest" "$log" || { echo "guest $index ($mode) never reached its shell" >&2; return 1; }
  done
  local booted
  booted=$(echo "$(date +%s.%N) - $started" | bc -l)
  # Let free page reporting (2 s after frees) and KSM scans do their work.
  sleep "$settle"
  local cpu0 cpu1
  cpu0=$(cpu_ticks "${pids[@]}")
  sleep "$window"
  cpu1=$(cpu_ticks "${pids[@]}")
  local pss rss after
  pss=$(sum_field_kb smaps_rollup Pss "${pids[@]}")
  rss=$(sum_field_kb status VmRSS "${pids[@]}")
  after=$(mem_available_kb)
  local cpu
  cpu=$(echo "scale=2; 100 * ($cpu1 - $cpu0) / $ticks / $window / $cores" | bc -l)
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  echo "$mode $pss $((before - after)) $rss $cpu $booted"
}

echo "density: $count default guests (256 MiB, --engine soft, user networking), settle ${settle} s, CPU over ${window} s, $cores cores; KSM run=$ksm_run"
[ "$ksm_run" = 1 ] || echo "note: KSM is not running on this host (/sys/kernel/mm/ksm/run=$ksm_run): page sharing is marked but nothing merges"
# In this shell (not a $(...) subshell), so the EXIT trap sees the fleet's pids.
fleet on --page-sharing >"$work/on"
fleet off --balloon none >"$work/off"
read -r _ on_pss on_drop on_rss on_cpu on_boot <"$work/on"
read -r _ off_pss off_drop off_rss off_cpu off_boot <"$work/off"
per() { echo $(($1 / count / 1024)); }
printf '%-44s %18s %18s\n' "" "reporting+sharing" "both off"
printf '%-44s %15s MiB %15s MiB\n' "host memory used, sum of PSS" "$((on_pss / 1024))" "$((off_pss / 1024))"
printf '%-44s %15s MiB %15s MiB\n' "  per VM" "$(per "$on_pss")" "$(per "$off_pss")"
printf '%-44s %15s MiB %15s MiB\n' "fall of the host's MemAvailable" "$((on_drop / 1024))" "$((off_drop / 1024))"
printf '%-44s %15s MiB %15s MiB\n' "  per VM" "$(per "$on_drop")" "$(per "$off_drop")"
printf '%-44s %15s MiB %15s MiB\n' "resident memory per VM (VmRSS)" "$(per "$on_rss")" "$(per "$off_rss")"
printf '%-44s %17s%% %17s%%\n' "host CPU of the idle fleet (of $cores cores)" "$on_cpu" "$off_cpu"
printf '%-44s %16.1f s %16.1f s\n' "time to boot the fleet" "$on_boot" "$off_boot"
