#!/usr/bin/env bash
# Builds Vessel's default guest from Debian packages into OUT (default build/guest):
# the stock linux-image-cloud-amd64 kernel (vmlinuz) and a busybox initramfs with its virtio
# modules. Cached: rebuilt only when the kernel package version or guest/init changes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/guest}
mkdir -p "$out"

step() { echo "vessel guest: $*" >&2; }

package=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
if [ -z "$package" ]; then
  step "refreshing the Debian package lists"
  apt-get update -qq
  package=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
fi
[ -n "$package" ] || { echo "vessel guest: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }
version=$(apt-cache policy "$package" | awk '/Candidate:/ {print $2}')
stamp="$package $version $(cat "$root/guest/init" "$root/guest/udhcpc.script" | sha256sum | cut -c1-16) $(stat -c %s /bin/busybox)"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio.gz" ]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! ls "$out"/"$package"_*.deb >/dev/null 2>&1; then
  step "downloading $package $version (about 30 MB)"
  (cd "$out" && apt-get download "$package" 2>&1 | tail -n 1 >&2)
fi
deb=$(ls "$out"/"$package"_*.deb | head -n 1)
step "unpacking $(basename "$deb")"
dpkg-deb -x "$deb" "$work/kernel"
cp "$work"/kernel/boot/vmlinuz-* "$out/vmlinuz"
kernel_release=$(basename "$work"/kernel/lib/modules/*)

step "building the initramfs (busybox $(busybox 2>&1 | head -n 1 | awk '{print $2}'), kernel $kernel_release)"
rootfs="$work/rootfs"
mkdir -p "$rootfs"/{bin,sbin,etc,proc,sys,dev,tmp,root,lib/modules/"$kernel_release"}
cp /bin/busybox "$rootfs/bin/busybox"
ln -s busybox "$rootfs/bin/sh"
install -m 0755 "$root/guest/init" "$rootfs/init"
install -m 0755 "$root/guest/udhcpc.script" "$rootfs/etc/udhcpc.script"
for directory in drivers/virtio drivers/block drivers/net drivers/char/hw_random drivers/char net/vmw_vsock net/core; do
  [ -d "$work/kernel/lib/modules/$kernel_release/kernel/$directory" ] || continue
  find "$work/kernel/lib/modules/$kernel_release/kernel/$directory" -maxdepth 1 \
    \( -name 'virtio*.ko*' -o -name 'failover.ko*' -o -name 'net_failover.ko*' -o -name 'vsock*.ko*' \
       -o -name 'vmw_vsock_virtio*.ko*' \) -exec cp {} "$rootfs/lib/modules/$kernel_release/" \;
done
echo "root:x:0:0:root:/root:/bin/sh" > "$rootfs/etc/passwd"
(cd "$rootfs" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initramfs.cpio.gz"
echo "$kernel_release" > "$out/kernel-release"
echo "$stamp" > "$out/stamp"
step "ready: $out/vmlinuz, $out/initramfs.cpio.gz ($(du -h "$out/initramfs.cpio.gz" | cut -f1))"
