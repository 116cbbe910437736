#!/usr/bin/env python3
"""Reads the strace files census_syscalls.sh collected and prints, per thread role, the distinct
system calls made under the role's filter, and those threads made before installing their own
filter (which their creator's filter checks). Usage: census_report.py OUT_DIR [OUT_DIR...]"""
import collections
import pathlib
import re
import sys

CALL = re.compile(r"^([a-z_][a-z0-9_]*)\(")
GET_NAME = re.compile(r'^prctl\(PR_GET_NAME, "([^"]*)"')
ROLES = {"vessel": "vmm", "vessel-terminal": "terminal"}  # main thread; full names below


def role_of(name):
    if name in ROLES:
        return ROLES[name]
    return name[len("vessel-"):] if name.startswith("vessel-") else "?" + name


def main():
    show = None  # --show ROLE CALL: print those calls' lines (under the role's filter)
    if len(sys.argv) > 3 and sys.argv[1] == "--show":
        show = (sys.argv[2], sys.argv[3])
        del sys.argv[1:4]
    used = collections.defaultdict(collections.Counter)
    pre = collections.defaultdict(collections.Counter)
    for directory in sys.argv[1:]:
        for path in pathlib.Path(directory, "traces").glob("run.*.*"):
            _, pid, tid = path.name.split(".")
            lines = path.read_text(errors="replace").splitlines()
            name, role, filtered_at = None, None, len(lines)
            for index, line in enumerate(lines):
                match = GET_NAME.match(line)
                if match:
                    name = match.group(1)
                if line.startswith("seccomp(SECCOMP_SET_MODE_FILTER, 0, {len=") and line.endswith("= 0"):
                    role = "vmm" if tid == pid else role_of(name or "vessel")
                    filtered_at = index
                    break
            for index, line in enumerate(lines):
                call = CALL.match(line)
                if not call or index == filtered_at:
                    continue
                if index < filtered_at:
                    pre["main (unfiltered)" if tid == pid else (role or "unfiltered")][call.group(1)] += 1
                else:
                    used[role][call.group(1)] += 1
                    if show and show == (role, call.group(1)):
                        print(f"{path.name}: {line}")
    if show:
        return
    for title, table in (("filtered", used), ("pre-filter", pre)):
        for role in sorted(table):
            calls = table[role]
            print(f"{title} {role} ({len(calls)}): " +
                  " ".join(f"{c}:{n}" for c, n in sorted(calls.items())))


main()
