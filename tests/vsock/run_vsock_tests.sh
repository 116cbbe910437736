#!/usr/bin/env bash
# End-to-end vsock: the default guest (Debian's kernel and its vsock modules) on the software
# engine, with Firecracker's Unix-socket host side. Builds tests/vsock/vcat.c static with the
# host's gcc, puts it on an ext4 disk for the guest, and runs vsock_host.py.
# Usage: tests/vsock/run_vsock_tests.sh BUILD_DIR [BIG_MB]
set -u
build=${1:-build}
big=${2:-100}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! gcc -static -O2 -o "$work/vcat" "$here/vcat.c" 2>"$work/gcc.log"; then
  echo "FAIL vsock: cannot build the static guest program: $(cat "$work/gcc.log")"
  exit 1
fi
mkdir -p "$work/fs" && cp "$work/vcat" "$work/fs/vcat"
if ! mke2fs -q -t ext4 -d "$work/fs" "$work/fs.img" 8M >/dev/null 2>&1; then
  echo "FAIL vsock: mke2fs could not build the guest disk"
  exit 1
fi
python3 "$here/vsock_host.py" "$build/vessel" "$work" "$work/fs.img" "$big"
