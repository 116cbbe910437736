#!/usr/bin/env bash
# End-to-end virtio-balloon on the default guest (software engine): free page reporting,
# inflate/deflate through Firecracker's API, statistics (see balloon_e2e.py); then an idle
# default guest's wake-ups (idle_wakeups.sh).
# Usage: tests/balloon/run_balloon_tests.sh BUILD_DIR
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -f "$build/guest/vmlinuz" ] || [ ! -f "$build/guest/initramfs.cpio.gz" ]; then
  echo "FAIL balloon: no default guest in $build/guest (scripts/build-default-guest.sh $build/guest)"
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/balloon_e2e.py" "$(cd "$build" && pwd)/vessel" "$(cd "$build/guest" && pwd)" "$work"
balloon_status=$?
"$here/idle_wakeups.sh" "$build"
idle_status=$?
[ "$balloon_status" = 0 ] && [ "$idle_status" = 0 ]
