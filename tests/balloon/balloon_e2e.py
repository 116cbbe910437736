#!/usr/bin/env python3
"""virtio-balloon end to end: the default guest (Debian's kernel, its virtio_balloon module) on
the software engine, driven through Firecracker's API.

1. Free page reporting: the guest fills 400 MiB of its 512 MiB, frees it, and the resident
   memory of Vessel's guest RAM falls by at least 300 MiB without any inflate.
2. Statistics (GET /balloon/statistics) match the guest's /proc/meminfo within 5%.
3. Inflate to 300 MiB (PATCH /balloon): the guest's MemTotal drops by it and at most
   512 - 300 MiB of guest RAM stays resident.
4. Deflate to 0: MemTotal comes back, and the guest writes 400 MiB and reads back exactly that.
5. Without reporting, freeing changes nothing on the host until an inflate takes it back.
6. Bad requests get Firecracker's 400s.
7. Page sharing: two identical guests with vessel_page_sharing get pages merged by KSM
   (skipped, with the reason, where KSM is not running).

Usage: balloon_e2e.py VESSEL GUEST_DIR WORK_DIR
Prints "ok NAME" or "FAIL NAME: why" per check; exits 1 on any failure."""
import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

vessel, guest, work = sys.argv[1], sys.argv[2], sys.argv[3]
MIB = 1 << 20
memory_mib = 512
results = []


def check(name, good, why=""):
    results.append(good)
    print(("ok   " if good else "FAIL ") + name + ("" if good else ": " + why), flush=True)


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


class Vm:
    """One API-mode Vessel with the default guest; its serial console on a pipe."""

    def __init__(self, name, balloon, page_sharing=False):
        self.name = name
        self.sock = os.path.join(work, name + ".sock")
        self.output = b""
        self.lock = threading.Lock()
        self.process = subprocess.Popen([vessel, "--api-sock", self.sock, "--engine", "soft"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.time() + 10
        while not os.path.exists(self.sock) and time.time() < deadline:
            time.sleep(0.05)
        self.call("PUT", "/boot-source", {
            "kernel_image_path": os.path.join(guest, "vmlinuz"),
            "initrd_path": os.path.join(guest, "initramfs.cpio.gz"),
            "boot_args": "quiet console=ttyS0"}, 204)
        self.call("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": memory_mib,
                                             "vessel_page_sharing": page_sharing}, 204)
        self.call("PUT", "/balloon", balloon, 204)
        self.call("PUT", "/actions", {"action_type": "InstanceStart"}, 204)
        self.wait_shell()

    def _read(self):
        while True:
            data = self.process.stdout.read1(65536)
            if not data:
                return
            with self.lock:
                self.output += data

    def call(self, method, path, body=None, expect=None):
        connection = UnixConnection(self.sock)
        connection.request(method, path, body=None if body is None else json.dumps(body),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        if expect is not None and response.status != expect:
            raise RuntimeError("%s %s: %d %s (expected %d)" % (method, path, response.status,
                                                                text, expect))
        return response.status, (json.loads(text) if text else None)

    def send(self, line):
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def run(self, command, timeout=300):
        """Runs command in the guest shell; returns what it printed between two markers. The
        markers are built by the shell, so the echoed command line never matches them."""
        token = "%x" % (int(time.time() * 1000) & 0xffffff)
        begin, end = "B" + token + "B", "E" + token + "E"
        with self.lock:
            start = len(self.output)
        self.send("echo B%sB; %s; echo E%sE" % (token, command, token))
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                text = self.output[start:].decode(errors="replace")
            at = text.find(begin + "\r\n")
            if at < 0:
                at = text.find(begin + "\n")
            stop = text.find(end, at + 1) if at >= 0 else -1
            if at >= 0 and stop >= 0:
                return text[text.find("\n", at) + 1:stop]
            if self.process.poll() is not None:
                raise RuntimeError("Vessel exited (%d)" % self.process.returncode)
            time.sleep(0.2)
        raise TimeoutError("guest command timed out: " + command)

    def wait_shell(self):
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                self.run("true", timeout=5)
                return
            except TimeoutError:
                pass
        raise TimeoutError("the guest shell never answered")

    def meminfo(self):
        text = self.run("cat /proc/meminfo")
        return {m.group(1): int(m.group(2)) * 1024
                for m in re.finditer(r"^(\w+):\s+(\d+) kB", text, re.M)}

    def ram_resident(self):
        """Resident bytes of the guest RAM mapping: the smallest mapping at least as large as
        guest RAM (the kernel may merge it with an adjacent anonymous mapping)."""
        size_kb = memory_mib * 1024
        with open("/proc/%d/smaps" % self.process.pid) as smaps:
            lines = smaps.read().splitlines()
        best = None
        for index, line in enumerate(lines):
            if not line.startswith("Size:") or int(line.split()[1]) < size_kb:
                continue
            size = int(line.split()[1])
            for following in lines[index + 1:index + 8]:
                if following.startswith("Rss:") and (best is None or size < best[0]):
                    best = (size, int(following.split()[1]) * 1024)
        if best is None:
            raise RuntimeError("guest RAM mapping not found in smaps (Vessel %s); console: %r" % (
                "running" if self.process.poll() is None else "exited %d" % self.process.returncode,
                self.output[-600:]))
        return best[1]

    def balloon_stats(self):
        return self.call("GET", "/balloon/statistics", None, 200)[1]

    def wait_actual(self, mib, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            stats = self.balloon_stats()
            if stats["actual_mib"] == mib:
                return stats
            time.sleep(1)
        raise TimeoutError("balloon never reached %d MiB (at %d)" % (mib, stats["actual_mib"]))

    def wait_resident_below(self, limit, timeout):
        deadline = time.time() + timeout
        resident = self.ram_resident()
        while resident > limit and time.time() < deadline:
            time.sleep(1)
            resident = self.ram_resident()
        return resident

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# 400 MiB of data in a tmpfs big enough for it (the guest's /tmp takes half its memory): one
# MiB of a known pattern, written 400 times by one cat (busybox yes alone is far too slow).
FILL = ("mkdir -p /big && { grep -q ' /big ' /proc/mounts || mount -t tmpfs -o size=480m tmpfs /big; }"
        " && cd /big && yes 0123456789abcdef | head -c 1048576 > pattern && set -- &&"
        " for i in $(seq 400); do set -- \"$@\" pattern; done && cat \"$@\" > fill && cd /")
FREE = "rm -f /big/fill"


def expected_md5(mib):
    """md5 of the fill: the first MiB of `yes 0123456789abcdef`, mib times."""
    line = b"0123456789abcdef\n"
    pattern = (line * ((MIB // len(line)) + 1))[:MIB]
    digest = hashlib.md5()
    for _ in range(mib):
        digest.update(pattern)
    return digest.hexdigest()


def reporting_scenario():
    vm = Vm("reporting", {"amount_mib": 0, "deflate_on_oom": False,
                          "stats_polling_interval_s": 1, "free_page_reporting": True})
    try:
        vm.run(FILL)
        full = vm.ram_resident()
        vm.run(FREE)
        after = vm.wait_resident_below(full - 300 * MIB, 90)
        print("     guest RAM resident: %d MiB after the fill, %d MiB after freeing" %
              (full >> 20, after >> 20), flush=True)
        check("free page reporting returns freed guest memory",
              full - after >= 300 * MIB,
              "guest RAM resident %d MiB after the fill, %d MiB after freeing" %
              (full >> 20, after >> 20))

        time.sleep(2.5)  # a fresh statistics report (every second)
        stats = vm.balloon_stats()
        meminfo = vm.meminfo()
        total, available = stats.get("total_memory", 0), stats.get("available_memory", 0)
        check("statistics match the guest's MemTotal within 5%",
              abs(total - meminfo["MemTotal"]) <= 0.05 * meminfo["MemTotal"],
              "stats %d, guest %d" % (total, meminfo["MemTotal"]))
        check("statistics match the guest's MemAvailable within 5%",
              abs(available - meminfo["MemAvailable"]) <= 0.05 * meminfo["MemAvailable"],
              "stats %d, guest %d" % (available, meminfo["MemAvailable"]))

        before = meminfo["MemTotal"]
        vm.call("PATCH", "/balloon", {"amount_mib": 300}, 204)
        vm.wait_actual(300)
        inflated = vm.meminfo()["MemTotal"]
        check("inflating 300 MiB lowers the guest's MemTotal by it",
              abs((before - inflated) - 300 * MIB) <= 8 * MIB,
              "MemTotal %d MiB before, %d MiB after" % (before >> 20, inflated >> 20))
        resident = vm.ram_resident()
        check("with 300 MiB inflated at most 212 MiB of guest RAM is resident",
              resident <= (memory_mib - 300 + 8) * MIB, "resident %d MiB" % (resident >> 20))
        status, body = vm.call("GET", "/balloon")
        check("GET /balloon shows the new target", status == 200 and body["amount_mib"] == 300,
              "%d %s" % (status, body))

        vm.call("PATCH", "/balloon", {"amount_mib": 0}, 204)
        vm.wait_actual(0)
        deflated = vm.meminfo()["MemTotal"]
        check("deflating gives the memory back", abs(deflated - before) <= 8 * MIB,
              "MemTotal %d MiB, %d MiB before the inflate" % (deflated >> 20, before >> 20))
        digest = vm.run(FILL + " && md5sum /big/fill && " + FREE)
        check("after the deflate the guest writes and reads back 400 MiB",
              expected_md5(400) in digest, "guest md5sum said %r" % digest.strip())

        status, body = vm.call("PATCH", "/balloon", {"amount_mib": 600})
        check("a target above guest memory answers 400", status == 400 and
              "too large" in body.get("fault_message", ""), "%d %s" % (status, body))
        status, body = vm.call("PATCH", "/balloon/statistics", {"stats_polling_interval_s": 0})
        check("statistics cannot be switched off after boot", status == 400 and
              "Cannot enable/disable" in body.get("fault_message", ""), "%d %s" % (status, body))
        status, _ = vm.call("PATCH", "/balloon/statistics", {"stats_polling_interval_s": 2})
        check("the statistics interval can change after boot", status == 204, str(status))
    finally:
        vm.stop()


def inflate_scenario():
    vm = Vm("inflate", {"amount_mib": 0, "deflate_on_oom": True, "stats_polling_interval_s": 1})
    try:
        vm.run(FILL)
        full = vm.ram_resident()
        vm.run(FREE)
        time.sleep(5)
        kept = vm.ram_resident()
        check("without reporting, freed guest memory stays resident", full - kept < 64 * MIB,
              "resident %d MiB after the fill, %d MiB after freeing" % (full >> 20, kept >> 20))
        vm.call("PATCH", "/balloon", {"amount_mib": 300}, 204)
        vm.wait_actual(300)
        after = vm.wait_resident_below(kept - 250 * MIB, 30)
        print("     guest RAM resident: %d MiB after the fill, %d MiB after freeing, %d MiB "
              "after the inflate" % (full >> 20, kept >> 20, after >> 20), flush=True)
        check("inflating 300 MiB returns the freed memory to the host", kept - after >= 250 * MIB,
              "resident %d MiB before the inflate, %d MiB after" % (kept >> 20, after >> 20))
    finally:
        vm.stop()


def read_kb(path, field):
    with open(path) as status:
        for line in status:
            words = line.split()
            if len(words) >= 2 and words[0].rstrip(":") == field:
                return int(words[1])
    return 0


def sharing_scenario():
    """Two identical guests with page sharing: KSM merges their pages, so the pair's PSS falls
    below the sum of their resident sizes (what two lone guests would take)."""
    try:
        with open("/sys/kernel/mm/ksm/run") as run:
            state = run.read().strip()
    except OSError:
        state = "missing"
    if state != "1":
        print("skip page sharing: KSM is not running on this host (/sys/kernel/mm/ksm/run: %s)"
              % state, flush=True)
        return
    vms = []
    try:
        for name in ("share-a", "share-b"):
            vm = Vm(name, {"amount_mib": 0, "deflate_on_oom": False}, page_sharing=True)
            vms.append(vm)
        deadline = time.time() + 120
        merged = 0
        while time.time() < deadline:
            merged = min(read_kb("/proc/%d/ksm_stat" % vm.process.pid, "ksm_merging_pages")
                         if os.path.exists("/proc/%d/ksm_stat" % vm.process.pid) else 0
                         for vm in vms)
            if merged > 0:
                break
            time.sleep(2)
        check("KSM merges pages of both guests", merged > 0, "ksm_merging_pages %d" % merged)
        pss = sum(read_kb("/proc/%d/smaps_rollup" % vm.process.pid, "Pss") for vm in vms)
        rss = sum(read_kb("/proc/%d/smaps_rollup" % vm.process.pid, "Rss") for vm in vms)
        print("     pair PSS %d MiB, resident %d MiB" % (pss >> 10, rss >> 10), flush=True)
        check("the pair's PSS is below two lone guests' resident memory", pss < rss,
              "PSS %d kB, RSS %d kB" % (pss, rss))
        status, metrics = vms[0].call("GET", "/machine-config")
        check("machine-config shows vessel_page_sharing", metrics.get("vessel_page_sharing"),
              str(metrics))
    finally:
        for vm in vms:
            vm.stop()


for scenario in (reporting_scenario, inflate_scenario, sharing_scenario):
    try:
        scenario()
    except Exception as error:  # a hang or a crash is a failure of the scenario, not the runner
        check(scenario.__name__, False, str(error))
sys.exit(0 if all(results) else 1)
