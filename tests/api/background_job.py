#!/usr/bin/env python3
"""Runs `vessel --api-sock SOCKET` as a background job of an interactive terminal, as the
README's `build/vessel --api-sock /tmp/vessel.sock &` does, and boots KERNEL through the API.

Usage: background_job.py VESSEL SOCKET KERNEL ENGINE. A pseudo-terminal plays the user's
terminal (with TOSTOP set, so even output from a background job would stop it); a session
leader child plays the shell, owning the foreground, and starts Vessel in a process group of
its own. Vessel must create its socket, boot the guest when asked, never be stopped by
SIGTTOU/SIGTTIN, and leave the terminal's modes as they were. Prints "ok" or what went wrong;
exits 0 or 1.
"""
import fcntl
import json
import os
import select
import signal
import socket
import sys
import termios
import time


def http(socket_path, method, path, body):
    data = json.dumps(body).encode()
    request = (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(10)
        connection.connect(socket_path)
        connection.sendall(request + data)
        response = b""
        while chunk := connection.recv(4096):
            response += chunk
    return response.split(b" ", 2)[1].decode() if response else "none"


def shell(slave, master, report, argv):
    """The job-control shell: session leader, foreground owner, Vessel as a background job."""
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)  # our process group is now the foreground one
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)  # a background job, as `&` makes it
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.execv(argv[0], argv)
    os.setpgid(child, child)
    while True:
        _, status = os.waitpid(child, os.WUNTRACED)
        if os.WIFSTOPPED(status):
            os.write(report, f"stopped by {signal.Signals(os.WSTOPSIG(status)).name}".encode())
            os.kill(child, signal.SIGKILL)
            continue
        if os.WIFSIGNALED(status):
            os.write(report, f"killed by signal {os.WTERMSIG(status)}".encode())
        else:
            os.write(report, f"exit {os.WEXITSTATUS(status)}".encode())
        os._exit(0)


def main():
    vessel, socket_path, kernel, engine = sys.argv[1:5]
    master, slave = os.openpty()
    modes = termios.tcgetattr(slave)
    modes[3] |= termios.TOSTOP  # lflag: background output stops the writer unless it opts out
    termios.tcsetattr(slave, termios.TCSANOW, modes)
    before = termios.tcgetattr(slave)
    report_read, report_write = os.pipe()
    shell_pid = os.fork()
    if shell_pid == 0:
        os.close(report_read)
        shell(slave, master, report_write, [vessel, "--api-sock", socket_path, "--engine", engine])
    os.close(report_write)
    output = b""
    result = None

    def pump(seconds, until):
        nonlocal output, result
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            ready, _, _ = select.select([master, report_read], [], [], 0.05)
            if master in ready:
                try:
                    output += os.read(master, 4096)
                except OSError:
                    pass
            if report_read in ready and result is None:
                result = os.read(report_read, 200).decode()

    problems = []
    pump(10, lambda: os.path.exists(socket_path) or result is not None)
    if not os.path.exists(socket_path):
        problems.append(f"no socket ({result or 'still running'})")
    else:
        put_boot = http(socket_path, "PUT", "/boot-source", {"kernel_image_path": kernel})
        start = http(socket_path, "PUT", "/actions", {"action_type": "InstanceStart"})
        if (put_boot, start) != ("204", "204"):
            problems.append(f"PUT /boot-source -> {put_boot}, InstanceStart -> {start}")
        pump(30, lambda: result is not None)
        pump(0.2, lambda: False)  # the last output
        if result != "exit 1":
            problems.append(f"vessel {result or 'still running after 30 s'} (want exit 1)")
        if b"PASS: hello" not in output:
            problems.append("no 'PASS: hello' on the terminal")
    if termios.tcgetattr(slave) != before:
        problems.append("the terminal's modes changed")
    if result is None:
        kill_job(shell_pid)
    os.waitpid(shell_pid, 0)
    if problems:
        print("; ".join(problems) + f"; terminal: {output[-300:]!r}")
        return 1
    print("ok")
    return 0


def kill_job(shell_pid):
    """Ends a job still running after a failure: Vessel (its own group) and the shell."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == shell_pid:  # the parent is our shell: that is Vessel
                    os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass
    os.kill(shell_pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
