#!/usr/bin/env python3
"""Floods a Vessel API socket the way a hostile local client could, then checks it still serves.

Usage: api_flood.py SOCKET SECONDS [--start-guest CONFIG_JSON]

For SECONDS, threads at once: open and drop many connections; send garbage bytes; send requests
with huge heads, huge declared bodies and endless bodies; hold slowloris connections that send a
byte now and then and never finish a request; pipeline hundreds of requests without reading the
answers. Half-way a valid GET / must be answered (200, "Not started") within 5 s while the flood
and the slowloris connections hold their slots; with --start-guest, a well-behaved client then
configures the VM from CONFIG_JSON (an object of path -> body, PUT in order), sends InstanceStart
and a GET / that must find it running, while the flood goes on through the guest's run (Vessel
ends with the guest). Prints one line per check; exit status 0 when all passed.
"""
import json
import os
import random
import socket
import sys
import threading
import time

socket_path = sys.argv[1]
seconds = float(sys.argv[2])
guest_config = None
if len(sys.argv) > 4 and sys.argv[3] == "--start-guest":
    with open(sys.argv[4]) as f:
        guest_config = json.load(f)

stop = threading.Event()
counts = {"connections": 0, "refused": 0, "bytes": 0}
lock = threading.Lock()


def connect(timeout=2.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(socket_path)
    with lock:
        counts["connections"] += 1
    return s


def send_quietly(s, data):
    try:
        s.sendall(data)
        with lock:
            counts["bytes"] += len(data)
        return True
    except OSError:
        return False


def flood(kind, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        try:
            s = connect()
        except OSError:
            with lock:
                counts["refused"] += 1
            time.sleep(0.01)
            continue
        try:
            if kind == "garbage":
                send_quietly(s, bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8192))))
            elif kind == "huge_head":  # a header line that never ends
                send_quietly(s, b"GET / HTTP/1.1\r\nX-Long: " + b"a" * (256 * 1024))
            elif kind == "huge_body":  # a declared body far above the limit, then bytes
                send_quietly(s, b"PUT /drives/x HTTP/1.1\r\nContent-Length: 1099511627776\r\n\r\n")
                send_quietly(s, b"{" * (512 * 1024))
            elif kind == "pipeline":  # many requests, answers never read
                send_quietly(s, b"GET /vm/config HTTP/1.1\r\n\r\n" * 2000)
                time.sleep(0.2)
            elif kind == "churn":  # connect and drop at once
                pass
            elif kind == "bad_json":
                body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 4000)))
                send_quietly(s, b"PUT /machine-config HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
                s.recv(4096)
        except OSError:
            pass
        finally:
            s.close()


def slowloris(held):
    """Holds connections that trickle a request out and never finish it."""
    while not stop.is_set():
        try:
            s = connect()
            send_quietly(s, b"PUT /boot-source HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
            held.append(s)
        except OSError:
            time.sleep(0.05)
        for s in list(held):
            if not send_quietly(s, b" "):
                held.remove(s)
                s.close()
        time.sleep(0.05)


def connect_retrying(timeout):
    """A connection even while the flood keeps the listen backlog full (EAGAIN): retried."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return connect(timeout)
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def request(method, path, body=None, timeout=5.0):
    """One request on a fresh connection; returns (status, body text). When the flood holds all
    of the server's connection slots it closes one to make room for each newcomer (the longest
    idle, or the slowest request with a 503 that says to retry): a request whose connection is
    closed so before its answer is sent again on a new one, as a client should, until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, text = request_once(method, path, body, max(0.5, deadline - time.monotonic()))
            if status not in (0, 503) or time.monotonic() > deadline:
                return status, text
        except (BrokenPipeError, ConnectionResetError):
            if time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def request_once(method, path, body, timeout):
    """One attempt of request(): (status, body text); status 0 when the server closed first."""
    s = connect_retrying(timeout)
    try:
        data = b"" if body is None else json.dumps(body).encode()
        s.sendall(b"%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n%s"
                  % (method.encode(), path.encode(), len(data), data))
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        head, _, rest = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, rest.decode(errors="replace")
    finally:
        s.close()


results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail), flush=True)


threads = []
held = []
kinds = ["garbage", "huge_head", "huge_body", "pipeline", "churn", "bad_json"] * 3
for index, kind in enumerate(kinds):
    threads.append(threading.Thread(target=flood, args=(kind, index), daemon=True))
threads.append(threading.Thread(target=slowloris, args=(held,), daemon=True))
for thread in threads:
    thread.start()

started_at = time.monotonic()


def get_root(name, expected_state=None):
    """A valid GET / on a fresh connection must be answered within 5 s."""
    try:
        begin = time.monotonic()
        status, text = request("GET", "/")
        elapsed = time.monotonic() - begin
        state = json.loads(text).get("state") if status == 200 else None
        check(f"{name}: GET / answered in {elapsed:.2f} s (state {state})",
              status == 200 and elapsed < 5 and state is not None and
              (expected_state is None or state == expected_state), f"{status} {text}")
    except (OSError, ValueError) as error:
        check(f"{name}: GET /", False, str(error))


time.sleep(seconds / 2)
# The answer must come while the flood and the slowloris connections still hold their slots.
get_root("after half the flood", "Not started")
if guest_config is not None:
    try:
        for path, body in guest_config.items():
            status, text = request("PUT", path, body)
            if status != 204:
                raise RuntimeError(f"PUT {path}: {status} {text}")
        status, text = request("PUT", "/actions", {"action_type": "InstanceStart"})
        check("InstanceStart through the flooded API", status == 204, f"{status} {text}")
    except (OSError, RuntimeError, ValueError) as error:
        check("InstanceStart through the flooded API", False, str(error))
    # The guest runs for a second or two under the flood; Vessel ends with it.
    get_root("while the hostile guest runs", "Running")
time.sleep(max(0.0, seconds - (time.monotonic() - started_at)))
stop.set()
for thread in threads:
    thread.join(timeout=5)
for s in held:
    s.close()
print(f"flood: {counts['connections']} connections, {counts['bytes'] >> 20} MiB sent, "
      f"{counts['refused']} refused, {len(held)} slowloris held at the end", flush=True)
sys.exit(0 if all(results) else 1)
