#!/usr/bin/env bash
# End-to-end tests of the GDB stub (`vessel run --gdb`) with Debian's gdb in batch mode: a test
# guest with symbols on the software engine (break, registers, variables, steps, watchpoints,
# normal exit), bad protocol input, and Debian's kernel on two vCPUs stopped at a function by its
# /proc/kallsyms address. The KVM engine is skipped with the reason where /dev/kvm cannot run
# guests. Usage: tests/gdb/run_gdb_tests.sh BUILD_DIR
set -u
build=${1:-build}
vessel="$build/vessel"
guest="$(cd "$build" && pwd)/tests/gdb/gdb_target.elf"
work=$(mktemp -d)
vessel_pid=
trap '[ -n "$vessel_pid" ] && kill "$vessel_pid" 2>/dev/null; rm -rf "$work"' EXIT
passed=0
failed=0
port_base=$((20000 + $$ % 20000))

if ! command -v gdb >/dev/null; then
  echo "FAIL gdb is not installed (scripts/install-deps.sh installs it)"
  exit 1
fi

ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# start_vessel ADDRESS ARGS...: vessel in the background with its stub on ADDRESS; waits until
# it listens.
start_vessel() {
  local address=$1
  shift
  timeout 300 "$vessel" run --gdb "$address" "$@" </dev/null >"$work/out" 2>"$work/err" &
  vessel_pid=$!
  for _ in $(seq 1 100); do
    grep -q "gdb: listening" "$work/err" && return 0
    kill -0 "$vessel_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# finish_vessel: waits for vessel; its exit status goes to $status.
finish_vessel() {
  status=0
  wait "$vessel_pid" || status=$?
  vessel_pid=
}

# expect NAME FILE PATTERN...: every extended regex must match a line of FILE.
expect() {
  local name=$1 file=$2
  shift 2
  for pattern in "$@"; do
    if ! grep -qE -- "$pattern" "$file"; then
      fail "$name" "no line matches '$pattern' in: $(tail -c 1500 "$file" | tr '\n' '|')"
      return 1
    fi
  done
  ok "$name"
}

# --- bad options: exit status 2 and a message naming the input -----------------------------
bad_option() {
  local name=$1 pattern=$2
  shift 2
  local status=0
  timeout 20 "$vessel" run --kernel "$guest" "$@" </dev/null >"$work/out" 2>"$work/err" || status=$?
  if [ "$status" = 2 ] && grep -qE -- "$pattern" "$work/err"; then ok "$name"; else
    fail "$name" "status $status, stderr: $(head -c 300 "$work/err")"; fi
}
bad_option "--gdb without a scheme is refused" "--gdb 'localhost:1234': expected tcp:HOST:PORT or unix:PATH" --gdb localhost:1234
bad_option "--gdb with a bad port is refused" "port '99999' is not 1-65535" --gdb tcp:127.0.0.1:99999
touch "$work/taken.sock"
bad_option "--gdb on an existing Unix path is refused" "$work/taken.sock exists" --gdb "unix:$work/taken.sock"
bad_option "--gdb-no-wait needs --gdb" "--gdb-no-wait needs --gdb" --gdb-no-wait

# --- the test guest, on each engine that can run it ---------------------------------------
guest_session() {
  local engine=$1 address=$2 target=$3
  # The software engine gives GDB the YMM registers (org.gnu.gdb.i386.avx) and XCR0: write the
  # top lane of ymm0 (its upper half, ymm0h), step, read it back.
  local ymm_write="" ymm_read=""
  if [ "$engine" != kvm ]; then
    ymm_write='set var $ymm0.v8_int32[7] = 1234'
    ymm_read=$'echo === ymm\\n\noutput $ymm0.v8_int32[7]\necho \\n\noutput/x $xcr0\necho \\n'
  fi
  cat >"$work/session.gdb" <<GDB
set pagination off
set confirm off
set architecture i386:x86-64
file $guest
target remote $target
echo === attached\n
info registers rip
break gdb_break_here
continue
echo === first-break\n
info registers rip
print/x \$pc == (long)&gdb_break_here
print gdb_counter
continue
echo === second-break\n
print gdb_counter
print/x \$cr0
print/x \$fs_base
$ymm_write
stepi
echo === stepped\n
print/x \$pc - (long)&gdb_break_here
$ymm_read
delete
hbreak gdb_break_here
continue
echo === hardware-break\n
print gdb_counter
delete
watch gdb_watched
continue
echo === watch-hit\n
print/x gdb_watched
continue
echo === watch-again\n
print/x gdb_watched
delete
rwatch gdb_counter
continue
echo === rwatch-hit\n
delete
print gdb_counter = 100
print gdb_counter
set var gdb_counter = 3
x/4xb &gdb_counter
monitor help
monitor phys on
x/4xb &gdb_counter
monitor phys off
info threads
continue
GDB
  if ! start_vessel "$address" --kernel "$guest" --engine "$engine"; then
    fail "$engine: vessel listens" "$(cat "$work/err")"
    return
  fi
  timeout 300 gdb -batch -nx -x "$work/session.gdb" >"$work/gdb.out" 2>&1
  finish_vessel
  cat "$work/err" >>"$work/gdb.out"
  local f="$work/gdb.out"
  expect "$engine: waits for the debugger at the first instruction" "$f" \
    "^rip +0x100091 +0x100091 <_start>"
  expect "$engine: break at a symbol and continue to it" "$f" "=== first-break" \
    "Breakpoint 1, gdb_break_here" "^rip +0x10000c +0x10000c <gdb_break_here>" '^\$1 = 0x1$'
  expect "$engine: read a variable at the second hit" "$f" '^\$3 = 1$'
  expect "$engine: control registers and segment bases" "$f" '^\$4 = 0x1[01]$' '^\$5 = 0x0$'
  expect "$engine: single step" "$f" "=== stepped" '^\$6 = 0x1$'
  if [ "$engine" != kvm ]; then
    expect "$engine: write a YMM upper lane, step, read it back; XCR0" "$f" "=== ymm" \
      '^1234$' '^0x[0-9a-f]+$'
  fi
  expect "$engine: hardware breakpoint" "$f" "Hardware assisted breakpoint 2" \
    "=== hardware-break" '^\$7 = 3$'
  expect "$engine: write watchpoint triggers" "$f" "Hardware watchpoint 3: gdb_watched" \
    "New value = 4660" '^\$8 = 0x1234$' "New value = 22136" '^\$9 = 0x5678$'
  expect "$engine: read watchpoint triggers" "$f" "Hardware read watchpoint 4: gdb_counter" \
    "Value = 6" "=== rwatch-hit"
  expect "$engine: write memory and read it back" "$f" '^\$11 = 100$' \
    "<gdb_counter>:\s+0x03\s+0x00\s+0x00\s+0x00"
  expect "$engine: monitor commands" "$f" "phys on\|off" \
    "memory accesses use guest-physical addresses"
  expect "$engine: vCPUs are threads" "$f" '^\* 1 +Thread 1 \(vCPU 0\)'
  # The guest ends normally (its check read the counter, 6, before the read watchpoint stopped
  # it): debug exit 0, Vessel's status 1.
  expect "$engine: continue to the guest's exit" "$f" "exited with code 01"
  if [ "$status" = 1 ]; then ok "$engine: vessel exits with the guest's status"; else
    fail "$engine: vessel exits with the guest's status" "status $status, want 1"; fi
}

guest_session soft "tcp:127.0.0.1:$port_base" "127.0.0.1:$port_base"
guest_session interp "unix:$work/gdb.sock" "$work/gdb.sock"

# KVM where it runs this guest (a KVM without VT-x/AMD-V cannot: it emulates guest kernel code).
# A KVM without them that does run it (a nested host's kvm_pvm) takes breakpoints and steps but
# never reports a hardware watchpoint, and the session waits for one: skipped there.
if ! grep -qwE 'vmx|svm' /proc/cpuinfo && [ -c /dev/kvm ]; then
  echo "skip kvm: this host's KVM has no VT-x/AMD-V (kvm_pvm): it runs the guest and its breakpoints but reports no hardware watchpoint"
elif timeout 60 "$vessel" run --engine kvm --kernel "$guest" </dev/null >"$work/kvm.out" 2>"$work/kvm.err" ||
   [ $? = 1 ]; then
  guest_session kvm "tcp:127.0.0.1:$((port_base + 1))" "127.0.0.1:$((port_base + 1))"
else
  echo "skip kvm: the KVM engine cannot run the test guest here: $(grep -m1 -E 'error|KVM' "$work/kvm.err" | cut -c1-200)"
fi

# --- the API: machine-config's gdb_socket_path (Firecracker's field) --------------------------
api_socket="$work/api.sock"
timeout 120 "$vessel" --api-sock "$api_socket" </dev/null >"$work/out" 2>"$work/err" &
vessel_pid=$!
for _ in $(seq 1 50); do [ -S "$api_socket" ] && break; sleep 0.1; done
api() { curl -s -o /dev/null -w '%{http_code}' --unix-socket "$api_socket" -X "$1" "http://localhost$2" -d "$3"; }
codes="$(api PUT /boot-source "{\"kernel_image_path\": \"$guest\"}") $(api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128, "gdb_socket_path": "'"$work/api-gdb.sock"'"}') $(api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128, "gdb_socket_path": "'"$work"'"}') $(api PUT /actions '{"action_type": "InstanceStart"}')"
cat >"$work/api.gdb" <<GDB
set pagination off
set architecture i386:x86-64
file $guest
target remote $work/api-gdb.sock
break gdb_break_here
continue
print gdb_counter
delete
continue
GDB
timeout 120 gdb -batch -nx -x "$work/api.gdb" >"$work/gdb.out" 2>&1
finish_vessel
if [ "$codes" = "204 204 400 204" ]; then ok "api: gdb_socket_path accepted, an existing path refused"; else
  fail "api: gdb_socket_path accepted, an existing path refused" "status codes $codes (want 204 204 400 204)"; fi
expect "api: the guest waits for the debugger, stops at the breakpoint and exits" "$work/gdb.out" \
  "Breakpoint 1, gdb_break_here" '^\$1 = 0$' "exited with code 01"

# --- bad input: bad checksums, malformed packets, huge lengths, unmapped memory ----------------
# send_raw TEXT...: each TEXT goes as is over one connection; the replies land in $work/raw.
send_raw() {
  exec 5<>"/dev/tcp/127.0.0.1/$((port_base + 2))" || return 1
  for text in "$@"; do
    printf '%s' "$text" >&5
    sleep 0.2
  done
  timeout 2 cat <&5 >"$work/raw"
  exec 5>&-
}
checksum() {
  local sum=0 i
  for ((i = 0; i < ${#1}; i++)); do sum=$(((sum + $(printf '%d' "'${1:i:1}")) % 256)); done
  printf '$%s#%02x' "$1" "$sum"
}
if start_vessel "tcp:127.0.0.1:$((port_base + 2))" --kernel "$guest" --engine soft; then
  send_raw '$g#00' "$(checksum 'm0,ffffffffffffffff')" "$(checksum 'mfffffffffff000,10')" \
    "$(checksum 'mzz,4')" "$(checksum 'M100000,4:zz')" "$(checksum 'Z9,100000,1')" \
    "$(checksum 'Z2,100000,0')" "$(checksum 'p999')" "$(checksum 'Hg77')" \
    "$(checksum 'G00')" "$(checksum 'X100000,4:ab')" "$(checksum 'qXfer:features:read:other.xml:0,10')" \
    '$'"$(head -c 20000 /dev/zero | tr '\0' 'a')"'#00' "$(checksum 'vCont;q')" \
    "$(checksum 'mffffffff80000000,4')" "$(checksum 'k')"
  finish_vessel
  raw=$(tr -d '\n' <"$work/raw")
  # In order: '-' for the bad checksum; for m0,huge the first 8 KiB are readable (RAM at 0);
  # unmapped -> E0e; bad hex -> E16; bad M data -> E16; unknown Z type -> E16; watch length 0
  # -> E1c; register 0x999 -> E16; thread 0x77 -> E16; short G -> E16; X length mismatch ->
  # E16; unknown annex -> E00; the 20000-byte packet -> '-'; bad vCont action -> E16; the kernel
  # half of a 32-bit guest is not mapped -> E0e; k ends the VM.
  if [[ "$raw" =~ ^-\+\$[0-9a-f]{16384}#..\+\$E0e#..\+\$E16#..\+\$E16#..\+\$E16#..\+\$E1c#..\+\$E16#..\+\$E16#..\+\$E16#..\+\$E16#..\+\$E00#..-\+\$E16#..\+\$E0e#..\+$ ]] &&
     [ "$status" = 0 ]; then
    ok "bad packets get '-' or E.. replies, and the stub keeps serving"
  else
    fail "bad packets get '-' or E.. replies, and the stub keeps serving" \
      "status $status, replies: $(echo "$raw" | sed -E 's/[0-9a-f]{200,}/<hex>/g' | head -c 600)"
  fi
else
  fail "bad input: vessel listens" "$(cat "$work/err")"
fi

# --- Debian's kernel on two vCPUs, attached while it runs -----------------------------------
if [ -f "$build/guest/vmlinuz" ] && [ "${GDB_TEST_LINUX:-1}" = 1 ]; then
  linux_port=$((port_base + 3))
  # Both vCPUs stay busy so each takes timer ticks; scheduler_tick runs on every tick.
  if start_vessel "tcp:127.0.0.1:$linux_port" --gdb-no-wait --engine soft --cpus 2 \
       --cmdline nokaslr --exec 'echo "tick-address $(grep " scheduler_tick$" /proc/kallsyms)"; echo "banner-address $(grep " linux_banner$" /proc/kallsyms)"; (while :; do :; done) & while :; do :; done'; then
    for _ in $(seq 1 1200); do
      grep -q "^banner-address" "$work/out" && break
      sleep 0.1
    done
    address=$(grep -m1 "^tick-address" "$work/out" | awk '{print $2}')
    banner=$(grep -m1 "^banner-address" "$work/out" | awk '{print $2}')
    if [ -z "$address" ]; then
      fail "linux: /proc/kallsyms names scheduler_tick" "$(tail -c 500 "$work/out")"
      kill "$vessel_pid"
      finish_vessel
    else
      cat >"$work/linux.gdb" <<GDB
set pagination off
set confirm off
target remote 127.0.0.1:$linux_port
info threads
break *0x$address
continue
delete
break *0x$address thread 2
continue
delete
break *0x$address thread 1
continue
print/x \$pc
print/x \$cr3
x/2i \$pc
stepi
print/x \$pc - 0x$address
x/s 0x$banner
kill
GDB
      timeout 600 gdb -batch -nx -x "$work/linux.gdb" >"$work/gdb.out" 2>&1
      for _ in $(seq 1 100); do kill -0 "$vessel_pid" 2>/dev/null || break; sleep 0.1; done
      kill "$vessel_pid" 2>/dev/null # still running: the session failed before its kill
      finish_vessel
      threads=$(grep -oE "^Thread [0-9]+ hit Breakpoint [0-9]" "$work/gdb.out" | cut -d' ' -f2 | sort -u | wc -l)
      if expect "linux: stop at scheduler_tick (0x$address from /proc/kallsyms)" "$work/gdb.out" \
           "hit Breakpoint 1, 0x0*$address in" "^Thread 2 hit Breakpoint 2, 0x0*$address in" \
           "^Thread 1 hit Breakpoint 3, 0x0*$address in" "^\\\$1 = 0x$address$"; then
        expect "linux: single step in the kernel, read its memory through its page tables" \
          "$work/gdb.out" '^\$3 = 0x[1-9a-f]' "0x0*$banner.*\"Linux version $(cat "$build/guest/kernel-release")"
        if [ "$threads" -ge 2 ]; then ok "linux: the breakpoint stops each vCPU ($threads threads)"
        else fail "linux: the breakpoint stops each vCPU" "only $threads thread(s) hit it: $(grep hit "$work/gdb.out" | head -5 | tr '\n' '|')"; fi
      fi
      if [ "$status" = 0 ]; then ok "linux: kill from the debugger ends Vessel (status 0)"; else
        fail "linux: kill from the debugger ends Vessel" "status $status: $(tail -c 300 "$work/err")"; fi
    fi
  else
    fail "linux: vessel listens" "$(cat "$work/err")"
  fi
else
  echo "skip linux: no default guest in $build/guest (make guest)"
fi

echo "gdb tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
