#!/usr/bin/env bash
# Host-to-guest throughput of virtio-vsock (Firecracker's Unix-socket host side) next to
# virtio-net over user networking (libslirp), in one boot of the default guest on
# `vessel run --engine soft`: the guest times, by its own clock, MB megabytes arriving over each
# (wget from a host HTTP server at 10.0.2.2, and tests/vsock/vcat.c listening on vsock port 5000
# while a host program writes to it). Prints MB/s. Usage: bench/vsock_net.sh [BUILD_DIR] [MB]
set -euo pipefail
build=${1:-build}
mb=${2:-100}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
http_pid=""
cleanup() { [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

gcc -static -O2 -o "$work/vcat" "$root/tests/vsock/vcat.c"
mkdir -p "$work/fs" "$work/www" && cp "$work/vcat" "$work/fs/vcat"
mke2fs -q -t ext4 -d "$work/fs" "$work/fs.img" 8M >/dev/null 2>&1
head -c $((mb << 20)) /dev/urandom >"$work/www/big"
python3 -u -m http.server --bind 127.0.0.1 --directory "$work/www" 0 >"$work/http.log" 2>&1 &
http_pid=$!
port=""
for _ in $(seq 100); do
  port=$(grep -o 'port [0-9]*' "$work/http.log" | head -n 1 | cut -d' ' -f2) && [ -n "$port" ] && break
  sleep 0.1
done

script='up() { cut -d" " -f1 /proc/uptime; }
mkdir -p /mnt && mount -t ext4 -o ro /dev/vda /mnt
s=$(up); wget -q -O /dev/null http://10.0.2.2:'$port'/big; e=$(up); echo "RESULT net $s $e"
s=$(up); /mnt/vcat listen 5000 </dev/null >/dev/null; e=$(up); echo "RESULT vsock $s $e"'
"$build/vessel" run --engine soft --memory 512M --net user --vsock "3:$work/v.sock" \
  --disk "$work/fs.img,readonly" --exec "$script" </dev/null >"$work/out" 2>"$work/err" &
vm=$!
# The host side of the vsock transfer: CONNECT until the guest listens, then write MB MB.
python3 - "$work/v.sock" "$work/www/big" <<'PY'
import socket, sys, time
path, data = sys.argv[1], open(sys.argv[2], "rb").read()
for _ in range(3000):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        s.sendall(b"CONNECT 5000\n")
        line = b""
        while not line.endswith(b"\n"):
            byte = s.recv(1)
            if not byte:
                break
            line += byte
        if line.startswith(b"OK "):
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            s.recv(1)
            break
    except OSError:
        pass
    s.close()
    time.sleep(0.2)
PY
wait "$vm" || { cat "$work/err" >&2; exit 1; }
tr -d '\r' <"$work/out" | awk -v mb="$mb" '$1 == "RESULT" {
  t = $4 - $3; if (t <= 0) t = 0.01
  printf "%-6s host to guest: %d MB in %.2f s = %.1f MB/s\n", $2, mb, t, mb / t }'
