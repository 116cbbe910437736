#!/usr/bin/env python3
"""`vessel run` puts its terminal in raw mode; every way out must put it back.

Usage: terminal_restore.py VESSEL TICKER_ELF. For each signal below, boots the ticker guest on
the soft engine in the foreground of a fresh pseudo-terminal, waits for raw mode and guest
output, sends the signal and checks the exit (status 130 for the quit signals Vessel handles,
death by the signal itself for the others) and that the terminal's modes are the ones it had
before. Prints one "ok"/"FAIL" line per signal; exits 1 if any failed.
"""
import fcntl
import os
import resource
import select
import signal
import sys
import termios
import time

# signal -> expected exit: an exit status, or minus the signal that must end Vessel.
CASES = {signal.SIGQUIT: 130, signal.SIGUSR1: 130, signal.SIGUSR2: 130, signal.SIGHUP: 130,
         signal.SIGSEGV: -signal.SIGSEGV, signal.SIGABRT: -signal.SIGABRT,
         signal.SIGALRM: -signal.SIGALRM}


def run_case(vessel, ticker, signal_number):
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    pid = os.fork()
    if pid == 0:
        os.close(master)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGSEGV and SIGABRT: no core files
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.execv(vessel, [vessel, "run", "--engine", "soft", "--kernel", ticker, "--memory", "32M"])
    output = b""
    status = None
    deadline = time.monotonic() + 20
    raw_seen = False
    while time.monotonic() < deadline and status is None:
        if select.select([master], [], [], 0.05)[0]:
            try:
                output += os.read(master, 4096)
            except OSError:
                pass
        if not raw_seen and b"tick 1 " in output:
            raw_seen = not termios.tcgetattr(slave)[3] & termios.ICANON
            if raw_seen:
                os.kill(pid, signal_number)
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(wait_status)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    name = signal.Signals(signal_number).name
    want = CASES[signal_number]
    problems = []
    if not raw_seen:
        problems.append("never saw raw mode and a tick")
    if status != want:
        problems.append(f"exit {status} (want {want})")
    if after != before:
        problems.append("terminal modes not restored")
    if problems:
        print(f"FAIL terminal-restored-after-{name}: {'; '.join(problems)}; "
              f"output: {output[-200:]!r}")
        return False
    print(f"ok   terminal-restored-after-{name}")
    return True


def main():
    vessel, ticker = sys.argv[1:3]
    results = [run_case(vessel, ticker, signal_number) for signal_number in CASES]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
