#!/usr/bin/env bash
# An idle default guest costs almost nothing: at its shell, after it settled, Vessel's vCPU thread
# wakes at most twice a second (the guest's own timers: with the default command line an idle
# Debian kernel needs one every few seconds) and the user network's thread at most once every
# two seconds (it has no timer of its own once the network is quiet). Counted from the threads'
# voluntary context switches (each sleep is one), so a loaded host does not change the result;
# the CPU time is printed, not checked.
# Usage: tests/balloon/idle_wakeups.sh BUILD_DIR
set -u
build=${1:-build}
settle=${SETTLE:-40}
window=${WINDOW:-20}
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  exec 3>&- 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkfifo "$work/input"
exec 3<>"$work/input" # held open: the guest's console never sees an end of input
"$build/vessel" run --engine soft --memory 256M <&3 >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1800); do
  grep -q "Welcome to Vessel's default guest" "$work/log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "Welcome to Vessel's default guest" "$work/log"; then
  echo "FAIL idle wake-ups: the default guest did not reach its shell: $(tail -c 300 "$work/log")"
  exit 1
fi
sleep "$settle"

thread() { # thread NAME: the task id of Vessel's thread with this name
  grep -l -x "$1" /proc/"$pid"/task/*/comm 2>/dev/null | head -n 1 | cut -d/ -f5
}
switches() { awk '/^voluntary_ctxt_switches:/ {print $2}' /proc/"$pid"/task/"$1"/status; }
run_us() { awk '{printf "%d\n", $1 / 1000}' /proc/"$pid"/task/"$1"/schedstat; }
vcpu=$(thread vessel-vcpu)
net=$(thread vessel-net)
if [ -z "$vcpu" ] || [ -z "$net" ]; then
  echo "FAIL idle wake-ups: no vessel-vcpu or vessel-net thread in process $pid"
  exit 1
fi
vcpu0=$(switches "$vcpu") net0=$(switches "$net") vcpu_cpu0=$(run_us "$vcpu") net_cpu0=$(run_us "$net")
sleep "$window"
vcpu_wakeups=$(($(switches "$vcpu") - vcpu0))
net_wakeups=$(($(switches "$net") - net0))
echo "idle default guest over ${window} s: vCPU thread woke $vcpu_wakeups times ($(($(run_us "$vcpu") - vcpu_cpu0)) us of CPU), network thread $net_wakeups times ($(($(run_us "$net") - net_cpu0)) us)"
status=0
if [ "$vcpu_wakeups" -le $((2 * window)) ]; then
  echo "ok   idle vCPU wakes at most twice a second"
else
  echo "FAIL idle vCPU wakes at most twice a second: $vcpu_wakeups wake-ups in ${window} s"
  status=1
fi
if [ "$net_wakeups" -le $((window / 2)) ]; then
  echo "ok   idle user network wakes at most once every 2 s"
else
  echo "FAIL idle user network wakes at most once every 2 s: $net_wakeups wake-ups in ${window} s"
  status=1
fi
exit $status
