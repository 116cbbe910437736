#!/usr/bin/env bash
# Builds Vessel's libFuzzer targets under ASan/UBSan with gcc's trace-pc coverage, linked against
# clang's libFuzzer runtime (see gcc_coverage_shim.cpp): virtqueue, balloon, vsock packets, GDB
# stub packets, snapshot state files, the HTTP parser, the API's route handlers, kernel loaders,
# MSI-X tables, and the JSON/API readers, PCI configuration space and BARs, virtio devices (rng,
# console, net, blk), the software CPU on random code and the migration stream reader.
# Usage: fuzz/build.sh OUT_DIR [TARGET...] (default: all). Each source is compiled once per run.
# pci_config, virtio_device and soft_cpu instrument for coverage the code they exercise and take
# the rest of their layers (still under ASan/UBSan) from the static libraries of an ASan build:
# ASAN_BUILD (default OUT_DIR/../build-asan, as `make asan` makes it; `make fuzz` builds them).
set -euo pipefail
out=${1:-build-fuzz}
only=("${@:2}")
root=$(cd "$(dirname "$0")/.." && pwd)
libfuzzer=$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$libfuzzer" ]; then
  echo "fuzz: libFuzzer runtime missing; install clang (apt-get install clang)" >&2
  exit 1
fi
mkdir -p "$out"
# libFuzzer's own __sanitizer_cov_trace_pc only aborts ("unsupported"); weaken it so the shim's wins.
objcopy --weaken-symbol=__sanitizer_cov_trace_pc "$libfuzzer" "$out/libfuzzer.a"
flags=(-std=gnu++23 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined
       -fno-sanitize-recover=undefined -I"$root/src" $(pkg-config --cflags spdlog)
       $(pkg-config --cflags-only-I slirp liburing | sed 's/-I/-isystem /g')
       -Wall -Wextra -Wshadow -Werror)
g++ "${flags[@]}" -c "$root/fuzz/gcc_coverage_shim.cpp" -o "$out/gcc_coverage_shim.o"
declare -A compiled=()
newest_header=$(find "$root/src" "$root/fuzz" -name '*.hpp' -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
# build_target NAME SOURCES...: one fuzz target, its sources instrumented for coverage; a
# source two targets share is compiled once. LINK_EXTRA: more libraries for the link.
build_target() {
  local name=$1 objects=() source object
  shift
  if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then return 0; fi
  local -A listed=()
  for source in "$@"; do
    object="$out/objects/${source%.cpp}.o"
    [ -n "${listed[$object]:-}" ] && continue
    listed[$object]=1
    objects+=("$object")
    [ -n "${compiled[$object]:-}" ] && continue
    compiled[$object]=1
    # An object newer than its source and every header is current (repeated builds of OUT_DIR).
    if [ "$object" -nt "$root/$source" ] && [ "$object" -nt "$newest_header" ]; then continue; fi
    mkdir -p "$(dirname "$object")"
    g++ "${flags[@]}" -fsanitize-coverage=trace-pc -c "$root/$source" -o "$object"
  done
  g++ -fsanitize=address,undefined -o "$out/$name" "${objects[@]}" "$out/gcc_coverage_shim.o" \
    "$out/libfuzzer.a" ${LINK_EXTRA:-} $(pkg-config --libs spdlog fmt) -lpthread -ldl
  echo "$out/$name"
}
# sources_in DIR...: the product sources (not the tests) directly in each folder.
sources_in() {
  local folder file
  for folder in "$@"; do
    for file in "$root/$folder"/*.cpp; do
      [[ $file == *_test.cpp ]] || echo "${file#$root/}"
    done
  done
}
base_sources="src/base/log.cpp src/base/log_sink.cpp src/base/log_rate_limiter.cpp"
memory_sources="$(sources_in src/memory) src/base/mapped_region.cpp"
build_target virtqueue_fuzz fuzz/virtqueue_fuzz.cpp src/devices/virtio/virtqueue.cpp \
  src/memory/guest_memory.cpp src/base/mapped_region.cpp src/base/log.cpp src/base/log_sink.cpp src/base/log_rate_limiter.cpp
build_target balloon_fuzz fuzz/balloon_fuzz.cpp src/devices/virtio/balloon/virtio_balloon.cpp \
  src/devices/virtio/balloon/balloon_statistics.cpp src/devices/virtio/virtqueue.cpp \
  src/memory/guest_memory.cpp src/base/mapped_region.cpp src/base/log.cpp src/base/log_sink.cpp src/base/log_rate_limiter.cpp
build_target vsock_packet_fuzz fuzz/vsock_packet_fuzz.cpp \
  src/devices/virtio/vsock/vsock_packet.cpp src/devices/virtio/vsock/vsock_connection.cpp \
  src/devices/virtio/vsock/vsock_muxer.cpp src/base/log.cpp src/base/log_sink.cpp src/base/log_rate_limiter.cpp
build_target snapshot_file_fuzz fuzz/snapshot_file_fuzz.cpp src/vm/snapshot/snapshot_file.cpp \
  src/vm/snapshot/machine_config_state.cpp src/backends/net/mac_address.cpp src/base/log.cpp \
  src/base/log_sink.cpp src/base/log_rate_limiter.cpp
build_target gdb_packet_fuzz fuzz/gdb_packet_fuzz.cpp src/gdb/gdb_packet.cpp \
  src/gdb/gdb_session.cpp src/gdb/debug_points.cpp src/gdb/debug_memory.cpp \
  src/gdb/target_description.cpp src/arch/x86/page_walk.cpp src/memory/guest_memory.cpp \
  src/base/mapped_region.cpp src/base/log.cpp src/base/log_sink.cpp src/base/log_rate_limiter.cpp
build_target http_parser_fuzz fuzz/http_parser_fuzz.cpp src/api/http_parser.cpp
build_target kernel_loader_fuzz fuzz/kernel_loader_fuzz.cpp src/arch/x86/bzimage_loader.cpp \
  src/arch/x86/multiboot_loader.cpp src/arch/x86/elf_image.cpp src/arch/x86/boot_gdt.cpp \
  src/arch/x86/boot_page_tables.cpp src/arch/x86/boot_placement.cpp src/arch/x86/e820.cpp \
  src/memory/guest_memory.cpp src/base/mapped_region.cpp src/base/log.cpp src/base/log_sink.cpp src/base/log_rate_limiter.cpp
build_target msix_table_fuzz fuzz/msix_table_fuzz.cpp src/devices/pci/msix_table.cpp \
  src/base/log.cpp src/base/log_sink.cpp src/base/log_rate_limiter.cpp
# The API's JSON readers: a whole config file and every request body.
LINK_EXTRA="$(pkg-config --libs liburing slirp)" build_target api_config_fuzz \
  fuzz/api_config_fuzz.cpp src/api/json_fields.cpp src/api/boot_source.cpp \
  src/api/machine_configuration.cpp src/api/device_config.cpp src/api/logger_config.cpp \
  src/api/vsock_config.cpp src/api/balloon_config.cpp src/api/snapshot_config.cpp \
  src/vm/host_resources.cpp src/vm/migration/migration_url.cpp \
  $(sources_in src/backends/block src/backends/net src/base src/memory) src/base/mapped_region.cpp
# The ASan build's layer libraries (see the usage note above), in link order.
asan_build=${ASAN_BUILD:-$(dirname "$out")/build-asan}
asan_libs() {
  local layer
  for layer in "$@"; do
    if [ ! -f "$asan_build/libvessel_$layer.a" ]; then
      echo "fuzz: $asan_build/libvessel_$layer.a missing: cmake -S . -B $asan_build -DVESSEL_SANITIZE=ON && cmake --build $asan_build --target vessel_$layer" >&2
      exit 1
    fi
    echo "$asan_build/libvessel_$layer.a"
  done
}
device_libs() {
  echo "$(asan_libs devices backends memory base) $(pkg-config --libs liburing slirp)"
}
wanted() { [ ${#only[@]} -eq 0 ] || [[ " ${only[*]} " == *" $1 "* ]]; }
if wanted pci_config_fuzz || wanted virtio_device_fuzz || wanted soft_cpu_fuzz; then
  asan_libs engine_soft devices backends arch memory base >/dev/null || exit 1
fi
if wanted api_handlers_fuzz; then
  asan_libs vm gdb engine_kvm engine_soft platform devices backends arch memory base >/dev/null || exit 1
fi
# PCI configuration space, BARs, MSI-X and the virtio PCI transport (over virtio-rng and console).
if wanted pci_config_fuzz; then
  LINK_EXTRA="$(device_libs)" build_target pci_config_fuzz fuzz/pci_config_fuzz.cpp \
    src/devices/pci/pci_bus.cpp src/devices/pci/pci_device.cpp src/devices/pci/msix_table.cpp \
    src/devices/virtio/virtio_pci_device.cpp src/devices/virtio/virtqueue.cpp \
    src/devices/virtio/virtio_rng.cpp src/devices/virtio/virtio_console.cpp
fi
# virtio-rng, console, net and blk request parsing over guest RAM and a block image.
if wanted virtio_device_fuzz; then
  LINK_EXTRA="$(device_libs)" build_target virtio_device_fuzz fuzz/virtio_device_fuzz.cpp \
    src/devices/virtio/virtqueue.cpp src/devices/virtio/virtio_block.cpp \
    src/devices/virtio/virtio_block_request.cpp src/devices/virtio/virtio_net.cpp \
    src/devices/virtio/virtio_rng.cpp src/devices/virtio/virtio_console.cpp
fi
# The software CPU: interpreter, translator, paging and interrupt delivery on random code.
if wanted soft_cpu_fuzz; then
  LINK_EXTRA="$(asan_libs engine_soft devices backends arch memory base) -lZydis -lZycore $(pkg-config --libs liburing slirp)" \
    build_target soft_cpu_fuzz fuzz/soft_cpu_fuzz.cpp
fi
build_target migration_stream_fuzz fuzz/migration_stream_fuzz.cpp \
  src/vm/migration/migration_stream.cpp src/vm/snapshot/snapshot_file.cpp \
  src/vm/snapshot/machine_config_state.cpp src/backends/net/mac_address.cpp \
  $(sources_in src/base) $memory_sources
# The API's route handlers over a real VmController (its VM never starts): the API layer is
# instrumented, the layers below it come from the ASan build.
if wanted api_handlers_fuzz; then
  LINK_EXTRA="$(asan_libs vm gdb engine_kvm engine_soft platform devices backends arch memory base) -lZydis -lZycore $(pkg-config --libs liburing slirp)" \
    build_target api_handlers_fuzz fuzz/api_handlers_fuzz.cpp $(sources_in src/api)
fi
