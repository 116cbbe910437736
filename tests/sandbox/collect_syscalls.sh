#!/usr/bin/env bash
# Runs a command (a test suite) with VESSEL_SECCOMP=log and lists, per Vessel thread name, the
# system calls its seccomp filter would have refused (the kernel's audit lines in dmesg). An
# empty list means the filters cover what the command made Vessel do.
# Usage: tests/sandbox/collect_syscalls.sh COMMAND [ARGS...]   (root, or dmesg readable)
set -uo pipefail
unistd=/usr/include/x86_64-linux-gnu/asm/unistd_64.h
before=$(dmesg | wc -l)
VESSEL_SECCOMP=log "$@"
status=$?
dmesg | tail -n +"$((before + 1))" | grep 'type=1326' | grep 'exe="[^"]*vessel"' |
  sed -E 's/.*comm="([^"]*)".*syscall=([0-9]+).*/\1 \2/' | sort | uniq -c |
  while read -r count thread number; do
    name=$(awk -v n="$number" '$1 == "#define" && $3 == n { sub("__NR_", "", $2); print $2 }' "$unistd")
    echo "seccomp-log: $thread ${name:-$number} ($count)"
  done
exit "$status"
