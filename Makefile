# Vessel: `make run` boots the default guest, `make test` builds and runs every test.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: fuzz fuzz-asan-libraries fuzz-isolation-targets all deps guest build vessel run test unit-test cli-test guest-test api-test linux-test vsock-test snapshot-test balloon-test gdb-test asan clean format migration-test \
	difftest difftest-long sandbox-test fuzz-smoke

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The default guest: Debian's stock cloud kernel and a busybox initramfs (cached in $(BUILD)/guest).
guest: deps
	scripts/build-default-guest.sh $(BUILD)/guest

# Only what `vessel run` needs: the test binaries and guests are built by `make build` / `make test`.
vessel: deps $(BUILD)/CMakeCache.txt
	@[ -x $(BUILD)/vessel ] || echo "vessel: first build of $(BUILD)/vessel: about 4 minutes on 2 cores (later builds compile only what changed)"
	cmake --build $(BUILD) -j $(JOBS) --target vessel

# The guest download runs beside the compiler (two jobs), then the VM boots.
run: deps
	@$(MAKE) --no-print-directory -j2 vessel guest
	$(BUILD)/vessel run

# ctest runs each test in a process of its own; the second run puts them all in one process in
# a random order, so a test that passes only after, or only without, another one fails here.
# UNIT_TEST_SEED=N repeats an order.
ifndef UNIT_TEST_SEED
UNIT_TEST_SEED := $(shell shuf -i 1-99999 -n 1)
endif
unit-test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@echo "vessel_tests in one process, shuffled with UNIT_TEST_SEED=$(UNIT_TEST_SEED)"
	$(BUILD)/vessel_tests --gtest_shuffle --gtest_random_seed=$(UNIT_TEST_SEED) --gtest_brief=1

guest-test: build
	tests/run_guest_tests.sh $(BUILD)
	ENGINES=interp GUESTS="hello long_mode paging exceptions user_mode virtio_rng" tests/run_guest_tests.sh $(BUILD)

# Debian's stock kernel booted on the software engine (downloads the default guest once).
linux-test: build guest
	tests/linux/run_linux_tests.sh $(BUILD)

# virtio-vsock end to end: host- and guest-initiated streams with Firecracker's Unix-socket host
# side, 100 MB each way checked by sha256 and 16 connections at once (gcc builds the guest side).
vsock-test: build guest
	tests/vsock/run_vsock_tests.sh $(BUILD)

# virtio-balloon end to end on the default guest: free page reporting returns 300+ MiB of freed
# guest memory to the host, inflate/deflate through the API, statistics against /proc/meminfo.
balloon-test: build guest
	tests/balloon/run_balloon_tests.sh $(BUILD)
# The GDB stub with Debian's gdb in batch mode: a test guest on the software engine (and KVM
# where it can run guests) and Debian's kernel on two vCPUs.
gdb-test: build guest
	tests/gdb/run_gdb_tests.sh $(BUILD)

cli-test: build guest
	tests/cli/run_cli_tests.sh $(BUILD)

# The Firecracker-compatible API driven over its socket by a live vessel process, on both
# engines (the KVM run skips its boot cases with the reason when /dev/kvm cannot run the guests).
api-test: build
	ENGINE=soft tests/api/run_api_tests.sh $(BUILD)
	ENGINE=kvm tests/api/run_api_tests.sh $(BUILD)

# Snapshots on the software engine: the ticker guest saved through the API and restored in new
# processes (twice), damaged snapshots refused, the CLI, and a Linux guest counting to its
# console and its virtio-blk disk across a snapshot (docs/SNAPSHOT_FORMAT.md).
snapshot-test: build guest
	tests/snapshot/run_snapshot_tests.sh $(BUILD)

# Live migration between Vessel processes on this machine (software engine): the ticker over a
# Unix socket (CLI) and loopback TCP (API), a cut stream, bad streams and URLs, and a Linux guest
# writing memory and counting to its console across two hops (docs/SNAPSHOT_FORMAT.md).
migration-test: build guest
	tests/migration/run_migration_tests.sh $(BUILD)

# Isolation: every thread of a running VM under its seccomp filter (run and API mode), and
# `vessel jail` running the default guest as nobody in a chroot with new PID and mount
# namespaces and a cgroup (the jail cases need root and are skipped without it).
sandbox-test: build guest
	tests/sandbox/run_sandbox_tests.sh $(BUILD)

# The software CPU's models (--cpu-model) on Debian's kernel: CPUID in /proc/cpuinfo, and an
# x86-64-v2 (+BMI/LZCNT/MOVBE) program built by the host's gcc gives the host's output.
.PHONY: cpu-model-test
cpu-model-test: build guest
	tests/linux/run_cpu_model_tests.sh $(BUILD)

# ACPI S3: the default guest suspends to RAM and wakes by RTC alarm and by console input.
.PHONY: sleep-test
sleep-test: build guest
	tests/linux/run_sleep_tests.sh $(BUILD)

test: unit-test cli-test guest-test api-test linux-test vsock-test snapshot-test balloon-test gdb-test asan migration-test sandbox-test fuzz-smoke cpu-model-test sleep-test

# The software CPU against the host CPU on generated instruction sequences (tools/difftest).
# unit-test already runs the CI size through ctest; these run it alone and at length.
DIFFTEST_SEED ?= 1
difftest: build
	$(BUILD)/vessel_difftest --seed $(DIFFTEST_SEED) --count 20000

difftest-long: build
	$(BUILD)/vessel_difftest --seed $(DIFFTEST_SEED) --count 1000000 --max-reports 20

# The unit tests again under AddressSanitizer and UBSan (difftest, which runs generated code
# natively in child processes, runs in unit-test only; its binary is not built here).
asan: deps
	cmake -S . -B $(BUILD)-asan -DVESSEL_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD)-asan -j $(JOBS) --target vessel_tests
	cd $(BUILD)-asan && ctest --output-on-failure -j $(JOBS) -E "^difftest$$"

# libFuzzer on hostile virtqueues, balloon drivers, vsock packets, snapshot state files and GDB packets under ASan/UBSan (needs clang's libFuzzer
# runtime: `apt-get install clang`); FUZZ_RUNS iterations each, corpora kept in
# $(BUILD)-fuzz/corpus, $(BUILD)-fuzz/vsock-corpus and $(BUILD)-fuzz/gdb-corpus. Not part of `test`.
FUZZ_RUNS ?= 1000000
# The ASan build's layer libraries the pci_config, virtio_device and soft_cpu targets link
# (fuzz/build.sh); `make asan` builds them too, so this is quick after it.
FUZZ_ASAN_LIBRARIES := vessel_engine_soft vessel_devices vessel_backends vessel_arch vessel_memory vessel_base \
	vessel_vm vessel_gdb vessel_engine_kvm vessel_platform
fuzz-asan-libraries:
	cmake -S . -B $(BUILD)-asan -DVESSEL_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)-asan -j $(JOBS) $(foreach library,$(FUZZ_ASAN_LIBRARIES),--target $(library)) >/dev/null

fuzz: fuzz-asan-libraries
	@scripts/install-deps.sh fuzz
	ASAN_BUILD=$(BUILD)-asan fuzz/build.sh $(BUILD)-fuzz
	mkdir -p $(BUILD)-fuzz/corpus
	$(BUILD)-fuzz/virtqueue_fuzz -runs=$(FUZZ_RUNS) -max_len=16400 -print_final_stats=1 $(BUILD)-fuzz/corpus
	mkdir -p $(BUILD)-fuzz/balloon-corpus
	$(BUILD)-fuzz/balloon_fuzz -runs=$(FUZZ_RUNS) -max_len=16388 -print_final_stats=1 $(BUILD)-fuzz/balloon-corpus
	mkdir -p $(BUILD)-fuzz/vsock-corpus
	$(BUILD)-fuzz/vsock_packet_fuzz -runs=$(FUZZ_RUNS) -max_len=4096 -print_final_stats=1 $(BUILD)-fuzz/vsock-corpus
	mkdir -p $(BUILD)-fuzz/snapshot-corpus
	$(BUILD)-fuzz/snapshot_file_fuzz -runs=$(FUZZ_RUNS) -max_len=8192 -print_final_stats=1 $(BUILD)-fuzz/snapshot-corpus
	mkdir -p $(BUILD)-fuzz/gdb-corpus
	$(BUILD)-fuzz/gdb_packet_fuzz -runs=$(FUZZ_RUNS) -max_len=20000 -print_final_stats=1 $(BUILD)-fuzz/gdb-corpus
	@$(MAKE) --no-print-directory fuzz-isolation-targets FUZZ_RUNS=$(FUZZ_RUNS)

# The API's HTTP parser, the kernel loaders (bzImage, Multiboot ELF/a.out), MSI-X table
# accesses, the API's JSON readers, PCI configuration space and BARs, virtio-rng/console/net/blk
# requests, the software CPU on random code (interpreter and translator), the migration
# stream reader and the API's route handlers (api_handlers: a client's byte stream through the
# HTTP parser into every route, over a VmController whose VM never starts), each from its seed corpus in fuzz/corpus/NAME (copied into $(BUILD)-fuzz).
FUZZ_ISOLATION_TARGETS := http_parser:20000 kernel_loader:65536 msix_table:4096 api_config:8192 \
	pci_config:4096 virtio_device:20000 soft_cpu:16521 migration_stream:65536 api_handlers:20000
fuzz-isolation-targets:
	@for entry in $(FUZZ_ISOLATION_TARGETS); do \
	  name=$${entry%%:*}; max_len=$${entry#*:}; corpus=$(BUILD)-fuzz/$$name-corpus; \
	  mkdir -p $$corpus && { cp -n fuzz/corpus/$$name/* $$corpus/ 2>/dev/null || true; } && \
	  $(BUILD)-fuzz/$${name}_fuzz -runs=$(FUZZ_RUNS) -max_len=$$max_len -timeout=10 \
	    -print_final_stats=1 $$corpus || exit 1; \
	done

# A short run of each fuzz target above (part of `make test` when clang's libFuzzer runtime is
# installed, `scripts/install-deps.sh fuzz`; skipped with a note otherwise).
FUZZ_SMOKE_RUNS ?= 5000
fuzz-smoke:
	@if ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory fuzz-asan-libraries && \
	  ASAN_BUILD=$(BUILD)-asan fuzz/build.sh $(BUILD)-fuzz $(foreach entry,$(FUZZ_ISOLATION_TARGETS),$(firstword $(subst :, ,$(entry)))_fuzz) >/dev/null && \
	  $(MAKE) --no-print-directory fuzz-isolation-targets FUZZ_RUNS=$(FUZZ_SMOKE_RUNS); \
	else echo "fuzz-smoke: skipped (no libFuzzer runtime: scripts/install-deps.sh fuzz)"; fi

format:
	find src tests -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD)-asan
