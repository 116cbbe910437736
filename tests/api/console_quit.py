#!/usr/bin/env python3
"""Ctrl-A x typed on an API-mode Vessel's terminal before InstanceStart ends it with status 0,
as the README says of Ctrl-A x, and removes the socket.

Usage: console_quit.py VESSEL SOCKET ENGINE. Vessel runs in the foreground of a pseudo-terminal
(not yet in raw mode, so the line goes through once Enter follows). Prints "ok" or what went
wrong; exits 0 or 1.
"""
import os
import pty
import select
import signal
import sys
import time


def main():
    vessel, socket_path, engine = sys.argv[1:4]
    pid, master = pty.fork()
    if pid == 0:
        os.execv(vessel, [vessel, "--api-sock", socket_path, "--engine", engine])
    output = b""
    status = None

    def pump(seconds, until):
        nonlocal output, status
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            if select.select([master], [], [], 0.05)[0]:
                try:
                    output += os.read(master, 4096)
                except OSError:
                    pass
            if status is None:
                done, wait_status = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = os.waitstatus_to_exitcode(wait_status)

    pump(10, lambda: os.path.exists(socket_path) or status is not None)
    if not os.path.exists(socket_path):
        print(f"no socket (status {status}): {output[-300:]!r}")
        return 1
    os.write(master, b"\x01x\n")
    pump(10, lambda: status is not None)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        print(f"still running 10 s after Ctrl-A x: {output[-300:]!r}")
        return 1
    if status != 0 or os.path.exists(socket_path):
        print(f"exit {status} (want 0), socket left: {os.path.exists(socket_path)}; "
              f"terminal: {output[-300:]!r}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
