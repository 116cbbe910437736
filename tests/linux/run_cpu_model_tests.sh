#!/usr/bin/env bash
# End-to-end: the software CPU's models (--cpu-model) on Debian's stock kernel. The kernel sees
# the model's CPUID, and a static program built by the host's gcc for x86-64-v2 plus BMI1/BMI2,
# LZCNT and MOVBE (auto-vectorized loops, crc32, glibc's SSE4.2 string functions) prints in the
# guest exactly what it prints on the host; on the baseline model glibc refuses to start it.
# Likewise for x86-64-v3 (AVX2, FMA, F16C, BMI: tests/linux/avx_program.c) on the max model,
# with the kernel's XSAVE set-up (YMM state) checked in its log; on x86-64-v2 it is refused.
# The kernel runs its local APICs in x2APIC mode where the model offers it (2 vCPUs).
# Usage: tests/linux/run_cpu_model_tests.sh BUILD_DIR
set -u
build=${1:-build}
vessel="$build/vessel"
here=$(dirname "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/../lib.sh"

guest() { # vessel-run-args...: runs the default guest on the software engine
  timeout 240 "$vessel" run --engine soft "$@" </dev/null >"$work/raw" 2>"$work/err"
  local status=$?
  tr -d '\r' <"$work/raw" >"$work/out" # the serial console ends lines with CR LF
  return $status
}

detail() { echo "output: $(tail -c 400 "$work/out" | tr '\n' ' ') stderr: $(tail -c 300 "$work/err" | tr '\n' ' ')"; }

# A model name the software CPU does not have is a usage error naming it.
"$vessel" run --engine soft --cpu-model pentium --exec true </dev/null >"$work/out" 2>"$work/err"
status=$?
ok=0; [ "$status" = 2 ] && grep -q "pentium" "$work/err" && ok=1
result unknown-cpu-model-refused $ok "status $status $(detail)"

flags='grep -m1 ^flags /proc/cpuinfo | tr " " "\n" | grep -x -E "pni|ssse3|sse4_1|sse4_2|popcnt|movbe|bmi1|bmi2|abm|rdtscp" | sort | tr "\n" " "; echo'
guest --cpu-model max --exec "$flags"
ok=0; grep -q "^abm bmi1 bmi2 movbe pni popcnt rdtscp sse4_1 sse4_2 ssse3 $" "$work/out" && ok=1
result max-model-cpuinfo-flags $ok "$(detail)"

# x86-64-v3 has SMEP and SMAP as every CPU of that level does (Linux then brackets each user
# copy with stac/clac, which the translator runs in the block).
v3_flags='grep -m1 ^flags /proc/cpuinfo | tr " " "\n" | grep -x -E "avx|avx2|bmi1|bmi2|fma|f16c|movbe|abm|xsave|xsaveopt|rdtscp|smep|smap" | sort | tr "\n" " "; echo'
guest --cpu-model x86-64-v3 --exec "$v3_flags; dmesg | grep -o \"Enabled xstate features 0x7, context size is 832 bytes\""
ok=0; grep -q "^abm avx avx2 bmi1 bmi2 f16c fma movbe smap smep xsave xsaveopt $" "$work/out" &&
  grep -q "^Enabled xstate features 0x7, context size is 832 bytes$" "$work/out" && ok=1
result v3-model-cpuinfo-flags-and-xsave $ok "$(detail)"

# Without --cpu-model a VM is x86-64-v3 where the host has AVX2 (the translator runs AVX2's
# integer and move instructions natively), with SMEP and SMAP and no RDTSCP (max only).
if [ -z "$(grep -m1 ^flags /proc/cpuinfo | grep -w avx2)" ]; then
  echo "skip default-model-is-x86-64-v3: the host has no AVX2"
else
  guest --exec "$v3_flags"
  ok=0; grep -q "^abm avx avx2 bmi1 bmi2 f16c fma movbe smap smep xsave xsaveopt $" "$work/out" && ok=1
  result default-model-is-x86-64-v3 $ok "$(detail)"
fi

guest --cpu-model x86-64-v2 --exec "$flags; echo smep-smap=\$(grep -m1 ^flags /proc/cpuinfo | tr ' ' '\n' | grep -c -x -E 'smep|smap')"
ok=0; grep -q "^pni popcnt sse4_1 sse4_2 ssse3 $" "$work/out" && grep -q "^smep-smap=0$" "$work/out" && ok=1
result v2-model-cpuinfo-flags $ok "$(detail)"

guest --cpu-model baseline --exec "echo \"[\$($flags)]\""
ok=0; grep -q "^\[ *\]$" "$work/out" && ok=1
result baseline-model-cpuinfo-flags $ok "$(detail)"

# x2APIC: the default model offers it, and Debian's kernel on 2 vCPUs runs both local APICs in
# x2APIC mode (physical destinations: no interrupt remapping) and brings up both CPUs; the
# baseline model has no x2APIC, so the same kernel keeps the xAPIC. The ACPI PM timer (port
# 0x608) is there as a clocksource. Boot log clean.
apic='echo "apic=$(dmesg | grep -c -e "x2apic enabled" -e "Switched APIC routing to physical x2apic") cpus=$(grep -c ^processor /proc/cpuinfo) flag=$(grep -m1 ^flags /proc/cpuinfo | tr " " "\n" | grep -c -x x2apic) pm=$(grep -c -w acpi_pm /sys/devices/system/clocksource/clocksource0/available_clocksource)"; dmesg | grep -E "unchecked MSR access|Call Trace|WARNING:|BUG:" || echo clean-log'
guest --cpus 2 --exec "$apic"
ok=0; grep -q "^apic=2 cpus=2 flag=1 pm=1$" "$work/out" && grep -q "^clean-log$" "$work/out" && ok=1
result x2apic-mode-smp-and-pm-timer $ok "$(detail)"
guest --cpu-model baseline --exec "$apic"
ok=0; grep -q "^apic=0 cpus=1 flag=0 pm=1$" "$work/out" && ok=1
result baseline-model-keeps-xapic $ok "$(detail)"

# The max model's supervisor protections and system instructions: the kernel sees and enables
# them (SMEP, SMAP with stac/clac on every user copy, UMIP, protection keys) and boots cleanly.
protection_flags='grep -m1 ^flags /proc/cpuinfo | tr " " "\n" | grep -x -E "smep|smap|umip|pku|ospke|rdrand|rdseed|rdpid|clflushopt|clwb" | sort | tr "\n" " "; echo; dmesg | grep -E "unchecked MSR access|Call Trace|WARNING:|BUG:|Oops" || echo clean-log'
guest --cpu-model max --exec "$protection_flags"
ok=0; grep -q "^clflushopt clwb ospke pku rdpid rdrand rdseed smap smep umip $" "$work/out" &&
  grep -q "^clean-log$" "$work/out" && ok=1
result max-model-protections-cpuinfo-and-clean-log $ok "$(detail)"

# Machine-check architecture in CPUID (Debian's cloud kernel is built without MCE support, so the
# MSRs themselves are covered by the unit tests), and a clean boot log with it.
guest --exec 'echo "flags=$(grep -m1 ^flags /proc/cpuinfo | tr " " "\n" | grep -x -E "mce|mca" | tr "\n" ,)"; dmesg | grep -E "unchecked MSR access|Call Trace|WARNING:|BUG:" || echo clean-log'
ok=0; grep -q "^flags=mce,mca,$" "$work/out" && grep -q "^clean-log$" "$work/out" && ok=1
result machine-check-cpuid-and-clean-log $ok "$(detail)"

if gcc -O3 -march=x86-64-v2 -mbmi -mbmi2 -mlzcnt -mmovbe -static -o "$work/program" \
     "$here/isa_program.c" -lm 2>"$work/gcc" && native=$("$work/program"); then
  size=$(stat -c %s "$work/program")
  # The program reaches the guest on a raw virtio-blk disk.
  cp "$work/program" "$work/disk.img"
  truncate -s %4096 "$work/disk.img"
  run="head -c $size /dev/vda >/tmp/p && chmod +x /tmp/p && /tmp/p"
  guest --cpu-model max --disk "$work/disk.img,readonly" --exec "$run"
  ok=0; [ "$(grep -E '^(sum|strlen)=' "$work/out" | tr -d '\r')" = "$native" ] && ok=1
  result x86-64-v2-program-output-matches-host $ok "native: $native $(detail)"
  guest --cpu-model baseline --disk "$work/disk.img,readonly" --exec "$run"
  status=$?
  ok=0; [ "$status" != 0 ] && ! grep -q "^sum=" "$work/out" && ok=1
  result x86-64-v2-program-refused-on-baseline $ok "status $status $(detail)"
else
  echo "skip x86-64-v2 program: the host cannot build or run it ($(head -c 200 "$work/gcc"))"
fi

if gcc -O3 -march=x86-64-v3 -static -o "$work/avx_program" "$here/avx_program.c" -lm \
     2>"$work/gcc" && native=$("$work/avx_program"); then
  size=$(stat -c %s "$work/avx_program")
  cp "$work/avx_program" "$work/avx_disk.img"
  truncate -s %4096 "$work/avx_disk.img"
  run="head -c $size /dev/vda >/tmp/p && chmod +x /tmp/p && /tmp/p"
  # The max model (x86-64-v3 and more), with the translator and with the interpreter.
  for engine in soft interp; do
    timeout 240 "$vessel" run --engine $engine --cpu-model max --disk "$work/avx_disk.img,readonly" --exec "$run" \
      </dev/null 2>"$work/err" | tr -d '\r' >"$work/out"
    ok=0; [ "$(grep -E '^(int|float|libc):' "$work/out")" = "$native" ] && ok=1
    result "x86-64-v3-program-output-matches-host-$engine" $ok "native: $native $(detail)"
  done
  guest --cpu-model x86-64-v2 --disk "$work/avx_disk.img,readonly" --exec "$run"
  status=$?
  ok=0; [ "$status" != 0 ] && ! grep -q "^int:" "$work/out" && ok=1
  result x86-64-v3-program-refused-on-v2 $ok "status $status $(detail)"
else
  echo "skip x86-64-v3 program: the host cannot build or run it ($(head -c 200 "$work/gcc"))"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
