#!/usr/bin/env bash
# Syscall census: runs a test suite with every Vessel process under `strace -f`, then lists per
# thread role the distinct system calls its threads made once their seccomp filter was in place
# (and, as "pre-filter", what threads did before installing theirs: their creator's filter
# checks those). This is how the allow-lists in src/sandbox/seccomp_filters.cpp were narrowed.
# Usage: tests/sandbox/census_syscalls.sh BUILD_DIR OUT_DIR SUITE_SCRIPT [ARGS...]
#   e.g. tests/sandbox/census_syscalls.sh build /tmp/census tests/api/run_api_tests.sh
# The suite gets a shadow build directory whose `vessel` is a strace wrapper (strace -D keeps
# the process id the suite sees, so its signals and exit statuses are Vessel's own).
# Then: tests/sandbox/census_report.py OUT_DIR [OUT_DIR...] prints the per-role table.
set -uo pipefail
build=$(cd "${1:?usage: census_syscalls.sh BUILD_DIR OUT_DIR SUITE [ARGS...]}" && pwd)
out=${2:?OUT_DIR}
shift 2
mkdir -p "$out/traces" "$out/build"
out=$(cd "$out" && pwd)
for entry in "$build"/* "$build"/.[!.]*; do
    [ -e "$entry" ] || continue
    name=$(basename "$entry")
    [ "$name" = vessel ] && continue
    ln -sfn "$entry" "$out/build/$name"
done
cat >"$out/build/vessel" <<WRAPPER
#!/usr/bin/env bash
exec strace -D -f -ff -qq -s 40 -o "$out/traces/run.\$\$" "$build/vessel" "\$@"
WRAPPER
chmod +x "$out/build/vessel"
"$@" "$out/build"
