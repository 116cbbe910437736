#!/usr/bin/env bash
# Density: boots N default guests (software engine, 256 MiB, user networking) one after
# another, waits until each is at its shell, lets the fleet settle, and reports the host memory
# it really uses (sum of PSS from /proc/PID/smaps_rollup, and the fall of the host's
# MemAvailable), resident memory per VM, and the host CPU the idle fleet uses over 30 s (every
# thread's run time from /proc/PID/task/*/schedstat, plus ksmd's when KSM runs); first with the
# balloon's free page reporting and KSM page sharing on (`--page-sharing`, the default guest's
# balloon), then with both off (`--balloon none`), side by side.
#
# Usage: bench/density.sh [BUILD_DIR] [N] [SETTLE_SECONDS]
# Environment:
#   MODES="on off"   which fleets to boot (on: reporting + sharing, off: neither)
#   KSM=1            as root: switch KSM on for the "on" fleet (pages_to_scan KSM_PAGES, default
#                    1000) and put run and pages_to_scan back as they were on every way out
#   WINDOW=30        seconds over which the idle fleet's CPU is measured
#   BOOT_PARALLEL=1  guests booted at a time (on a loaded host 2-4 shorten the fleet's boot)
# Without KSM=1 and with KSM off on the host, page sharing is marked but nothing merges: the
# bench says so and measures the rest. Every VM is killed on exit, Ctrl-C or TERM (a bench
# started in the background of a script ignores Ctrl-C: stop it with kill -TERM).
set -euo pipefail
build=${1:-build}
count=${2:-10}
settle=${3:-30}
window=${WINDOW:-30}
modes=${MODES:-on off}
parallel=${BOOT_PARALLEL:-1}
guest="$build/guest"
[ -x "$build/vessel" ] || { echo "missing $build/vessel: build it first" >&2; exit 2; }
[ -f "$guest/vmlinuz" ] || { echo "missing $guest/vmlinuz: run make guest" >&2; exit 2; }
[[ "$count" =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive number, not '$count'" >&2; exit 2; }
[[ "$parallel" =~ ^[1-9][0-9]*$ ]] || { echo "BOOT_PARALLEL must be a positive number, not '$parallel'" >&2; exit 2; }
[[ "$settle" =~ ^[0-9]+$ ]] || { echo "SETTLE_SECONDS must be a number, not '$settle'" >&2; exit 2; }
for mode in $modes; do
  [ "$mode" = on ] || [ "$mode" = off ] || { echo "MODES: unknown fleet '$mode' (on, off)" >&2; exit 2; }
done

ksm=/sys/kernel/mm/ksm
work=$(mktemp -d)
pids=()
ksm_saved_run="" ksm_saved_pages=""
stop_fleet() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
restore_ksm() {
  if [ -n "$ksm_saved_run" ]; then
    echo "$ksm_saved_pages" >"$ksm/pages_to_scan" 2>/dev/null || true
    echo "$ksm_saved_run" >"$ksm/run" 2>/dev/null || true
    ksm_saved_run=""
  fi
}
cleanup() {
  stop_fleet
  restore_ksm
  exec 3>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "density: interrupted, stopping the fleet" >&2; exit 130' INT TERM HUP
# Every guest's console input: a FIFO nobody writes to, held open so no guest sees its end.
mkfifo "$work/input"
exec 3<>"$work/input"

cores=$(nproc)
mem_available_kb() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
# run_ns PID...: nanoseconds every thread of these processes has run (schedstat, exact).
run_ns() {
  local pid
  for pid in "$@"; do cat /proc/"$pid"/task/*/schedstat 2>/dev/null || true; done |
    awk '{total += $1} END {printf "%.0f\n", total}'
}
ksmd_ns() {
  local pid
  pid=$(pgrep -x ksmd 2>/dev/null | head -n 1 || true)
  [ -n "$pid" ] && awk '{print $1}' /proc/"$pid"/schedstat 2>/dev/null || echo 0
}
sum_field_kb() { # sum_field_kb FILE FIELD PID...
  local file=$1 field=$2 pid
  shift 2
  for pid in "$@"; do cat /proc/"$pid"/"$file" 2>/dev/null || true; done |
    awk -v f="$field:" '$1 == f {total += $2} END {printf "%.0f\n", total}'
}
ksm_counter() { cat "$ksm/$1" 2>/dev/null || echo 0; }

# fleet MODE ARGS...: boots the fleet with these `vessel run` arguments, measures it, stops it,
# and writes "pss_kb available_drop_kb rss_kb rss_min_kb rss_max_kb cpu_percent ksmd_percent
# boot_seconds sharing_pages" to $work/MODE.
fleet() {
  local mode=$1
  shift
  local before started index
  sync
  before=$(mem_available_kb)
  started=$(date +%s.%N)
  # One after another (BOOT_PARALLEL=P: P at a time): the next boots once these reached their
  # shells.
  local first=1
  while [ "$first" -le "$count" ]; do
    local last=$((first + parallel - 1)) began
    [ "$last" -le "$count" ] || last=$count
    began=$(date +%s.%N)
    for index in $(seq "$first" "$last"); do
      "$build/vessel" run --engine soft --memory 256M "$@" <&3 >"$work/$mode-$index.log" 2>&1 &
      pids+=($!)
    done
    for index in $(seq "$first" "$last"); do
      local log="$work/$mode-$index.log" pid=${pids[$((index - 1))]} waited=0
      until grep -q "Welcome to Vessel's default guest" "$log" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { echo "guest $index ($mode) exited: $(tail -c 300 "$log")" >&2; return 1; }
        [ "$waited" -lt 3000 ] || { echo "guest $index ($mode) never reached its shell in 300 s" >&2; return 1; }
        sleep 0.1
        waited=$((waited + 1))
      done
    done
    printf '\r  %s: %d/%d at their shell (last boot %.1f s, MemAvailable %d MiB)  ' "$mode" "$last" \
      "$count" "$(echo "$(date +%s.%N) - $began" | bc -l)" $(($(mem_available_kb) / 1024)) >&2
    first=$((last + 1))
  done
  echo >&2
  local booted
  booted=$(echo "$(date +%s.%N) - $started" | bc -l)
  # Let free page reporting (2 s after frees) and KSM scans do their work.
  echo "  $mode: settling ${settle} s" >&2
  sleep "$settle"
  local cpu0 cpu1 ksmd0 ksmd1 t0 t1
  t0=$(date +%s%N)
  cpu0=$(run_ns "${pids[@]}")
  ksmd0=$(ksmd_ns)
  sleep "$window"
  cpu1=$(run_ns "${pids[@]}")
  ksmd1=$(ksmd_ns)
  t1=$(date +%s%N)
  local pss rss after rss_min rss_max sharing
  pss=$(sum_field_kb smaps_rollup Pss "${pids[@]}")
  rss=$(sum_field_kb status VmRSS "${pids[@]}")
  read -r rss_min rss_max < <(for pid in "${pids[@]}"; do awk '/^VmRSS:/ {print $2}' /proc/"$pid"/status; done |
    sort -n | awk 'NR == 1 {min = $1} {max = $1} END {print min, max}')
  after=$(mem_available_kb)
  sharing=$(ksm_counter pages_sharing)
  local alive=0 pid
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
  [ "$alive" = "$count" ] || echo "  $mode: only $alive of $count guests still run" >&2
  local cpu ksmd_cpu
  cpu=$(echo "scale=3; 100 * ($cpu1 - $cpu0) / ($t1 - $t0) / $cores" | bc -l)
  ksmd_cpu=$(echo "scale=3; 100 * ($ksmd1 - $ksmd0) / ($t1 - $t0) / $cores" | bc -l)
  stop_fleet
  echo "$pss $((before - after)) $rss $rss_min $rss_max $cpu $ksmd_cpu $booted $sharing" >"$work/$mode"
  echo "  $mode: PSS $((pss / 1024)) MiB ($((pss / count / 1024)) MiB per VM), MemAvailable fell $(((before - after) / 1024)) MiB, VmRSS $((rss / count / 1024)) MiB per VM, idle CPU $cpu% of $cores cores (ksmd $ksmd_cpu%), KSM pages_sharing $sharing" >&2
}

echo "density: $count default guests (256 MiB, --engine soft, user networking), settle ${settle} s, CPU over ${window} s, $cores cores, $(date -u +%H:%M) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in $modes; do
  if [ "$mode" = on ]; then
    if [ "${KSM:-0}" = 1 ]; then
      [ -w "$ksm/run" ] || { echo "KSM=1: cannot write $ksm/run (root needed)" >&2; exit 2; }
      ksm_saved_run=$(cat "$ksm/run")
      ksm_saved_pages=$(cat "$ksm/pages_to_scan")
      echo "${KSM_PAGES:-1000}" >"$ksm/pages_to_scan"
      echo 1 >"$ksm/run"
      echo "  KSM switched on for this fleet (pages_to_scan ${KSM_PAGES:-1000}; was run=$ksm_saved_run, pages_to_scan $ksm_saved_pages)"
    fi
    ksm_run=$(cat "$ksm/run" 2>/dev/null || echo missing)
    [ "$ksm_run" = 1 ] || echo "  note: KSM is not running on this host ($ksm/run=$ksm_run): page sharing is marked but nothing merges (KSM=1 switches it on for the bench)"
    fleet on --page-sharing
    restore_ksm
  else
    fleet off --balloon none
  fi
done

value() { # value MODE FIELD_NUMBER
  [ -f "$work/$1" ] && cut -d' ' -f"$2" "$work/$1" || echo "-"
}
mib() { [ "$1" = - ] && echo - || echo $(($1 / 1024)); }
per() { [ "$1" = - ] && echo - || echo $(($1 / count / 1024)); }
row() { printf '%-46s %18s %18s\n' "$1" "$2" "$3"; }
echo
row "" "reporting+sharing" "both off"
row "host memory used, sum of PSS (MiB)" "$(mib "$(value on 1)")" "$(mib "$(value off 1)")"
row "  per VM (MiB)" "$(per "$(value on 1)")" "$(per "$(value off 1)")"
row "fall of the host's MemAvailable (MiB)" "$(mib "$(value on 2)")" "$(mib "$(value off 2)")"
row "  per VM (MiB)" "$(per "$(value on 2)")" "$(per "$(value off 2)")"
row "resident memory per VM, VmRSS (MiB)" "$(per "$(value on 3)")" "$(per "$(value off 3)")"
row "  smallest / largest VmRSS (MiB)" "$(mib "$(value on 4)") / $(mib "$(value on 5)")" \
  "$(mib "$(value off 4)") / $(mib "$(value off 5)")"
row "host CPU of the idle fleet (% of $cores cores)" "$(value on 6)" "$(value off 6)"
row "  ksmd meanwhile (% of $cores cores)" "$(value on 7)" "-"
row "time to boot the fleet (s)" "$(value on 8 | cut -d. -f1)" "$(value off 8 | cut -d. -f1)"
row "KSM pages_sharing at the end" "$(value on 9)" "-"
