#!/usr/bin/env python3
"""Sends hand-made (often broken) HTTP to Vessel's API socket; prints the status codes it got.

Usage: raw_http.py SOCKET CASE. Prints the status code of each response received, space
separated ("-" for none), after the server closed the connection or went quiet for 3 s.
"""
import re
import socket
import sys
import time

GET = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
GET_CLOSE = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def body_request(body, extra=b""):
    return (b"PUT /machine-config HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + extra +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


CASES = {
    "bad-request-line": b"THIS IS NOT HTTP\r\n\r\n",
    "garbage-binary": bytes(range(256)) + b"\r\n\r\n",
    "lowercase-space-method": b"G ET / HTTP/1.1\r\n\r\n",
    "absolute-target": b"GET http://x/ HTTP/1.1\r\n\r\n",
    "http2-version": b"GET / HTTP/2.0\r\n\r\n",
    "bad-version": b"GET / HTTX/1.1\r\n\r\n",
    "huge-headers": b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    "many-headers": b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(100)) + b"\r\n",
    "header-no-colon": b"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n",
    "header-space-before-colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "header-control-char": b"GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n",
    "huge-body": b"PUT /machine-config HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"{" * 100000,
    "bad-content-length": b"PUT /machine-config HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",
    "negative-content-length": b"PUT /machine-config HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    "overflow-content-length": b"PUT /machine-config HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    "conflicting-content-length": b"PUT /machine-config HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "chunked": b"PUT /machine-config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "bad-expect": b"PUT /machine-config HTTP/1.1\r\nExpect: magic\r\nContent-Length: 2\r\n\r\n{}",
    "wrong-json-type": body_request(b'{"vcpu_count": 1.5, "mem_size_mib": 64}'),
    "json-array": body_request(b'[1, 2, 3]'),
    "invalid-utf8-json": body_request(b'{"vcpu_count": 1, "mem_size_mib": 64, "\xff\xfe": 1}'),
    "deep-json": body_request(b"[" * 30000 + b"]" * 30000),
    "keep-alive-pipelined": GET + GET + GET_CLOSE,
    "keep-alive-then-close": GET + GET_CLOSE,
    "http10": b"GET / HTTP/1.0\r\n\r\n",
    "good-then-bad": GET + b"BROKEN\r\n\r\n",
}


def expect_continue(path):
    """Sends the head alone, waits for the interim 100, then the body."""
    body = b'{"vcpu_count": 1, "mem_size_mib": 128}'
    head, _, _ = body_request(body, b"Expect: 100-continue\r\n").partition(b"\r\n\r\n")
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(3)
    client.connect(path)
    client.sendall(head + b"\r\n\r\n")
    received = client.recv(65536)
    client.sendall(body)
    while True:
        chunk = client.recv(65536)
        if not chunk:
            break
        received += chunk
    client.close()
    return received


def run(path, data, partial=False):
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(3)
    client.connect(path)
    try:
        client.sendall(data)
    except OSError:
        pass  # the server may answer and stop reading before everything is sent
    if partial:
        client.close()
        return b""
    received = b""
    deadline = time.time() + 3
    while time.time() < deadline:
        try:
            chunk = client.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    client.close()
    return received


def main():
    path, case = sys.argv[1], sys.argv[2]
    if case == "disconnect-mid-body":
        run(path, b"PUT /machine-config HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"vcpu", partial=True)
        data = run(path, GET_CLOSE)
    elif case == "expect-continue":
        data = expect_continue(path)
    elif case == "many-idle-connections":
        # More idle clients than slots: a new client is still served (the longest-idle
        # connection makes room), at once.
        idle = []
        for _ in range(100):
            idle_client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            idle_client.connect(path)
            idle.append(idle_client)
        time.sleep(0.3)
        data = run(path, GET_CLOSE)
        for idle_client in idle:
            idle_client.close()
    elif case == "trickling-clients":
        # Clients that each send one byte of a request every second never go idle; a request
        # must still arrive whole within the server's bound (10 s), else 408. Meanwhile other
        # clients are served.
        tricklers = []
        for _ in range(80):
            trickler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            trickler.connect(path)
            try:
                trickler.sendall(b"GET / HTTP/1.1\r\n")
            except OSError:
                pass  # refused at once (a server without room)
            tricklers.append(trickler)
        data = b""
        started = time.time()
        while time.time() - started < 14:
            for trickler in tricklers:
                try:
                    trickler.sendall(b"X")
                except OSError:
                    pass
            if 2 < time.time() - started < 3 and not data:
                data = run(path, GET_CLOSE)  # served while they trickle
            time.sleep(1)
        timed_out = 0
        for trickler in tricklers[-8:]:  # the last ones kept their slots all along
            trickler.settimeout(1)
            try:
                if b" 408 " in trickler.recv(65536):
                    timed_out += 1
            except OSError:
                pass
        for trickler in tricklers:
            trickler.close()
        if timed_out == len(tricklers[-8:]):
            data += b"HTTP/1.1 408 (all of the last 8 tricklers)"
    else:
        data = run(path, CASES[case])
    codes = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
    print(" ".join(code.decode() for code in codes) or "-")


if __name__ == "__main__":
    main()
