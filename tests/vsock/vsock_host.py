#!/usr/bin/env python3
"""Host side of the vsock end-to-end test: boots the default guest with --vsock and drives
Firecracker-style host- and guest-initiated connections against tests/vsock/vcat.c in it.

Usage: vsock_host.py VESSEL WORK_DIR VCAT_DISK_IMAGE [BIG_MB]
Prints one "ok NAME" or "FAIL NAME: why" line per check and throughput lines; exits 1 on any
failure."""
import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
import time

vessel, work, disk = sys.argv[1], sys.argv[2], sys.argv[3]
big = int(sys.argv[4]) if len(sys.argv) > 4 else 100
big_bytes = big << 20
small_bytes = 256 << 10
connections = 16
uds = os.path.join(work, "v.sock")
results = []
timings = {}


def check(name, good, why=""):
    results.append(good)
    print(("ok   " if good else "FAIL ") + name + ("" if good else ": " + why), flush=True)


def host_connect(port, deadline):
    """Firecracker's handshake: CONNECT <port>\\n, answered OK <host port>\\n. Retried while the
    guest is not listening yet (the guest answers RST, Vessel closes the socket)."""
    while time.time() < deadline:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(uds)
            sock.sendall(b"CONNECT %d\n" % port)
            line = b""
            while not line.endswith(b"\n"):
                byte = sock.recv(1)
                if not byte:
                    break
                line += byte
            if re.fullmatch(rb"OK \d+\n", line):
                return sock
        except OSError:
            pass
        sock.close()
        time.sleep(0.2)
    raise TimeoutError("no OK for CONNECT %d" % port)


def receive_all(sock):
    digest, total = hashlib.sha256(), 0
    while True:
        data = sock.recv(1 << 20)
        if not data:
            return digest.hexdigest(), total
        digest.update(data)
        total += len(data)


def send_then_close_write(sock, data):
    view = memoryview(data)
    for at in range(0, len(view), 1 << 20):
        sock.sendall(view[at:at + (1 << 20)])
    sock.shutdown(socket.SHUT_WR)


def listener(port):
    path = "%s_%d" % (uds, port)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(64)
    return sock


def echo_roundtrip(sock, data, outcome, index):
    """Sends data while reading the echo back; records whether it came back whole."""
    sender = threading.Thread(target=send_then_close_write, args=(sock, data))
    sender.start()
    digest, total = receive_all(sock)
    sender.join()
    sock.close()
    outcome[index] = total == len(data) and digest == hashlib.sha256(data).hexdigest()


# Guest-initiated, one big stream: the guest sends BIG MB to port 6000.
g2h = {}
g2h_listener = listener(6000)


def serve_g2h():
    conn, _ = g2h_listener.accept()
    start = time.time()
    g2h["digest"], g2h["bytes"] = receive_all(conn)
    g2h["seconds"] = time.time() - start
    conn.close()


# Guest-initiated, many at once: an echo server on port 6001.
echo_listener = listener(6001)
echo_served = []


def serve_echo():
    def one(conn):
        while True:
            data = conn.recv(1 << 16)
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        conn.close()
        echo_served.append(1)

    threads = []
    for _ in range(connections):
        conn, _ = echo_listener.accept()
        thread = threading.Thread(target=one, args=(conn,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()


guest_script = f"""
mkdir -p /mnt && mount -t ext4 -o ro /dev/vda /mnt || exit 3
V=/mnt/vcat
$V echo 5001 {connections} &
$V listen 5000 </dev/null >/tmp/h2g
echo "H2G $(sha256sum </tmp/h2g | cut -d' ' -f1)"
rm /tmp/h2g
head -c {big_bytes} /dev/urandom >/tmp/big
echo "G2H $(sha256sum </tmp/big | cut -d' ' -f1)"
$V connect 6000 </tmp/big >/dev/null
rm /tmp/big
for i in $(seq {connections}); do head -c {small_bytes} /dev/urandom >/tmp/c$i; done
for i in $(seq {connections}); do $V connect 6001 </tmp/c$i >/tmp/r$i & done
wait
good=0
for i in $(seq {connections}); do cmp -s /tmp/c$i /tmp/r$i && good=$((good + 1)); done
echo "MANY-G2H $good"
"""

threads = [threading.Thread(target=serve_g2h, daemon=True),
           threading.Thread(target=serve_echo, daemon=True)]
for thread in threads:
    thread.start()
vm = subprocess.Popen([vessel, "run", "--engine", os.environ.get("ENGINE", "soft"),
                       "--memory", "768M", "--net", "none", "--vsock", "3:" + uds,
                       "--disk", disk + ",readonly", "--exec", guest_script],
                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, text=True)
deadline = time.time() + 300
try:
    # Host-initiated, one big stream to the guest's port 5000.
    payload = os.urandom(big_bytes)
    sent_digest = hashlib.sha256(payload).hexdigest()
    sock = host_connect(5000, deadline)
    start = time.time()
    send_then_close_write(sock, payload)
    receive_all(sock)  # the guest's end: it has taken everything
    timings["host-to-guest"] = time.time() - start
    sock.close()
    # Host-initiated, many at once, to the guest's echo server on port 5001.
    outcome = [False] * connections
    socks = [host_connect(5001, deadline) for _ in range(connections)]
    workers = [threading.Thread(target=echo_roundtrip,
                                args=(s, os.urandom(small_bytes), outcome, i))
               for i, s in enumerate(socks)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(max(1, deadline - time.time()))
    check("host-initiated-%d-echo-connections" % connections, all(outcome),
          "%d of %d came back whole" % (sum(outcome), connections))
except (OSError, TimeoutError) as error:
    check("host-initiated-connections", False, str(error))
try:
    out, err = vm.communicate(timeout=max(1, deadline - time.time()))
except subprocess.TimeoutExpired:
    vm.kill()
    out, err = vm.communicate()
status = vm.returncode
check("guest-exit-status", status == 0, "status %d, stderr: %s" % (status, err[-600:]))
guest = dict(re.findall(r"^(H2G|G2H|MANY-G2H) (\S+)", out, re.M))
check("host-to-guest-%dMB-sha256" % big, guest.get("H2G") == sent_digest,
      "guest got %s, host sent %s" % (guest.get("H2G"), sent_digest))
check("guest-to-host-%dMB-sha256" % big,
      g2h.get("bytes") == big_bytes and guest.get("G2H") == g2h.get("digest"),
      "host got %s bytes with %s, guest sent %s" % (g2h.get("bytes"), g2h.get("digest"),
                                                   guest.get("G2H")))
check("guest-initiated-%d-echo-connections" % connections,
      guest.get("MANY-G2H") == str(connections) and len(echo_served) == connections,
      "guest saw %s whole, host served %d" % (guest.get("MANY-G2H"), len(echo_served)))
if "host-to-guest" in timings:
    print("throughput host-to-guest: %d MB in %.2f s = %.1f MB/s"
          % (big, timings["host-to-guest"], big / timings["host-to-guest"]))
if "seconds" in g2h:
    print("throughput guest-to-host: %d MB in %.2f s = %.1f MB/s"
          % (big, g2h["seconds"], big / g2h["seconds"]))
if not all(results):
    print("guest output:", out[-1500:], "\nstderr:", err[-1500:])
sys.exit(0 if all(results) else 1)
