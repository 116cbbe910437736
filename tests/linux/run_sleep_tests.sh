#!/usr/bin/env bash
# End-to-end ACPI S3 (suspend to RAM) with Debian's stock kernel on the software engine: the
# guest suspends with `echo mem > /sys/power/state` and wakes by an RTC alarm (the kernel's
# rtc-cmos through /sys/class/rtc/rtc0/wakealarm), by console input, or by the API's
# PUT /vessel/wake; its shell answers afterwards and dmesg shows a clean suspend and resume.
# Usage: tests/linux/run_sleep_tests.sh BUILD_DIR
set -u
build=${1:-build}
vessel="$build/vessel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap '' PIPE
. "$(dirname "$0")/../lib.sh"

# What the guest prints after its resume: the kernel's own account of the cycles (N of them).
report() {
  echo "echo \"resumed status=\$st deep=\$(grep -c '\\[deep\\]' /sys/power/mem_sleep) exit=\$(dmesg | grep -c 'PM: suspend exit') acpi=\$(dmesg | grep -c 'ACPI: PM: Waking up from system sleep state S3') trace=\$(dmesg | grep -cE 'Call Trace|WARNING:|BUG:|Oops')\""
}
expected() { echo "^resumed status=0 deep=1 exit=$1 acpi=$1 trace=0"; }

# run NAME STDOUT_PATTERN STDERR_PATTERN -- vessel-run-args... (TYPE: typed once asleep)
run() {
  local name=$1 out_pattern=$2 err_pattern=$3
  shift 4
  if [ -n "${TYPE:-}" ]; then
    rm -f "$work/in"
    mkfifo "$work/in"
    timeout 180 "$vessel" run --engine soft "$@" <"$work/in" >"$work/out" 2>"$work/err" &
    local pid=$! waited=0
    exec 3>"$work/in"
    # Type once the guest is asleep (Vessel logged the suspend).
    while ! grep -q "suspended to RAM" "$work/err" && kill -0 "$pid" 2>/dev/null &&
          [ $waited -lt 1800 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    sleep 1 # asleep for a moment: nothing may run meanwhile
    echo "$TYPE" >&3
    wait "$pid"
  else
    timeout 180 "$vessel" run --engine soft "$@" </dev/null >"$work/out" 2>"$work/err"
  fi
  local status=$?
  exec 3>&-
  if [ "$status" -eq 0 ] && grep -qE -- "$out_pattern" "$work/out" &&
     grep -qE -- "$err_pattern" "$work/err"; then
    result "$name" 1
  else
    result "$name" 0 "status $status, output: $(tail -c 400 "$work/out" | tr '\n' ' ') stderr: $(tail -c 400 "$work/err" | tr '\n' ' ')"
  fi
}

# RTC alarm 3 s ahead, then S3: the alarm (AIE + RTC_EN) wakes the guest.
run s3-rtc-alarm-wake "$(expected 1)" "woke from S3 \(RTC alarm\)" -- --exec \
  "echo +3 >/sys/class/rtc/rtc0/wakealarm && echo mem >/sys/power/state; st=\$?; $(report)"
# Twice in a row: every cycle resumes.
run s3-two-cycles "$(expected 2)" "woke from S3 \(RTC alarm\)" -- --exec \
  "for i in 1 2; do echo +2 >/sys/class/rtc/rtc0/wakealarm && echo mem >/sys/power/state || break; done; st=\$?; $(report)"
# Two vCPUs: Linux offlines CPU 1 (hlt with interrupts off) before S3 and brings it back with
# INIT-SIPI-SIPI after the resume, when it waits for SIPI; CPU hotplug uses the same path.
run s3-two-cpus-ap-restarts "^online=0-1 replug=0-1 $(expected 1 | cut -c2-)" "woke from S3 \(RTC alarm\)" -- \
  --cpus 2 --exec "echo +3 >/sys/class/rtc/rtc0/wakealarm && echo mem >/sys/power/state; st=\$?; printf 'online=%s ' \$(cat /sys/devices/system/cpu/online); echo 0 >/sys/devices/system/cpu/cpu1/online; echo 1 >/sys/devices/system/cpu/cpu1/online; printf 'replug=%s ' \$(cat /sys/devices/system/cpu/online); $(report)"
# No alarm: a line typed on the console wakes the guest (the key press itself is lost, as on a
# PC whose serial port the resuming kernel sets up again).
TYPE=typed-while-asleep run s3-console-input-wake "$(expected 1)" \
  "woke from S3 \(console input\)" -- --exec \
  "echo mem >/sys/power/state; st=\$?; $(report)"
# Time while asleep: the wall clock (from the RTC at resume) covers the whole sleep.
run s3-sleep-time-accounted "^slept=[3-9]" "woke from S3" -- --exec \
  'a=$(date +%s); echo +4 >/sys/class/rtc/rtc0/wakealarm && echo mem >/sys/power/state; b=$(date +%s); echo "slept=$((b - a))"'

# The API: a VM from a config file with an API socket; PUT /vessel/wake is refused while the
# guest runs (400), a snapshot of the sleeping guest is refused, and PUT /vessel/wake wakes it
# (204); the guest's command then ends the VM.
command="echo mem >/sys/power/state; st=\$?; $(report)"
cat >"$work/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$build/guest/vmlinuz",
                 "initrd_path": "$build/guest/initramfs.cpio.gz",
                 "boot_args": "quiet console=ttyS0 vessel.exec=$(printf '%s' "$command" | base64 -w0)"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256}}
JSON
socket="$work/api.sock"
timeout 180 "$vessel" --api-sock "$socket" --config-file "$work/vm.json" --engine soft </dev/null \
  >"$work/out" 2>"$work/err" &
pid=$!
early=""
for _ in $(seq 300); do
  [ -S "$socket" ] && early=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$socket" \
    -X PUT http://localhost/vessel/wake) && break
  sleep 0.1
done
waited=0
while ! grep -q "suspended to RAM" "$work/err" && kill -0 "$pid" 2>/dev/null && [ $waited -lt 1800 ]; do
  sleep 0.1
  waited=$((waited + 1))
done
sleep 1
# A snapshot of a sleeping guest is refused, naming why (the VM must be paused to try).
api() { curl -s --unix-socket "$socket" -X "$1" "http://localhost$2" -d "${3:-}"; }
api PATCH /vm '{"state": "Paused"}' >/dev/null
refusal=$(api PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$work/s.state\", \"mem_file_path\": \"$work/s.mem\"}")
api PATCH /vm '{"state": "Resumed"}' >/dev/null
woke=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$socket" -X PUT http://localhost/vessel/wake)
wait "$pid"
status=$?
if [ "$early" = 400 ] && [ "$woke" = 204 ] && [[ "$refusal" == *"suspended to RAM"* ]] && [ "$status" = 0 ] &&
   grep -qE "$(expected 1)" "$work/out" && grep -q "woke from S3 (API request)" "$work/err"; then
  result s3-api-wake 1
else
  result s3-api-wake 0 "early $early, wake $woke, snapshot '$refusal', status $status, output: $(tail -c 300 "$work/out" | tr '\n' ' ') stderr: $(tail -c 300 "$work/err" | tr '\n' ' ')"
fi

echo "sleep tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
