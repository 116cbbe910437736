#!/usr/bin/env bash
# Builds fuzz/virtqueue_fuzz, fuzz/balloon_fuzz, fuzz/vsock_packet_fuzz, fuzz/snapshot_file_fuzz
# and fuzz/gdb_packet_fuzz: Vessel's virtqueue, balloon, vsock packet and GDB stub packet handling
# and its snapshot state-file reader under ASan/UBSan with gcc's trace-pc coverage, linked
# against clang's libFuzzer runtime (see gcc_coverage_shim.cpp); also the HTTP parser, kernel
# loader and MSI-X table targets. Usage: fuzz/build.sh OUT_DIR [TARGET...] (default: all)
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
       -fno-sanitize-recover=undefined -I"$root/src" -Wall -Wextra -Wshadow -Werror)
g++ "${flags[@]}" -c "$root/fuzz/gcc_coverage_shim.cpp" -o "$out/gcc_coverage_shim.o"
# build_target NAME SOURCES...: one fuzz target, its sources instrumented for coverage.
build_target() {
  local name=$1 objects=() source object
  shift
  if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then return 0; fi
  for source in "$@"; do
    object="$out/$(basename "${source%.cpp}").o"
    objects+=("$object")
    g++ "${flags[@]}" -fsanitize-coverage=trace-pc -c "$root/$source" -o "$object"
  done
  g++ -fsanitize=address,undefined -o "$out/$name" "${objects[@]}" "$out/gcc_coverage_shim.o" \
    "$out/libfuzzer.a" $(pkg-config --libs spdlog fmt) -lpthread -ldl
  echo "$out/$name"
}
build_target virtqueue_fuzz fuzz/virtqueue_fuzz.cpp src/devices/virtio/virtqueue.cpp \
  src/memory/guest_memory.cpp src/base/mapped_region.cpp src/base/log.cpp src/base/log_sink.cpp
build_target balloon_fuzz fuzz/balloon_fuzz.cpp src/devices/virtio/balloon/virtio_balloon.cpp \
  src/devices/virtio/balloon/balloon_statistics.cpp src/devices/virtio/virtqueue.cpp \
  src/memory/guest_memory.cpp src/base/mapped_region.cpp src/base/log.cpp src/base/log_sink.cpp
build_target vsock_packet_fuzz fuzz/vsock_packet_fuzz.cpp \
  src/devices/virtio/vsock/vsock_packet.cpp src/devices/virtio/vsock/vsock_connection.cpp \
  src/devices/virtio/vsock/vsock_muxer.cpp src/base/log.cpp src/base/log_sink.cpp
build_target snapshot_file_fuzz fuzz/snapshot_file_fuzz.cpp src/vm/snapshot/snapshot_file.cpp \
  src/vm/snapshot/machine_config_state.cpp src/backends/net/mac_address.cpp src/base/log.cpp \
  src/base/log_sink.cpp
build_target gdb_packet_fuzz fuzz/gdb_packet_fuzz.cpp src/gdb/gdb_packet.cpp \
  src/gdb/gdb_session.cpp src/gdb/debug_points.cpp src/gdb/debug_memory.cpp \
  src/gdb/target_description.cpp src/arch/x86/page_walk.cpp src/memory/guest_memory.cpp \
  src/base/mapped_region.cpp src/base/log.cpp src/base/log_sink.cpp
build_target http_parser_fuzz fuzz/http_parser_fuzz.cpp src/api/http_parser.cpp
build_target kernel_loader_fuzz fuzz/kernel_loader_fuzz.cpp src/arch/x86/bzimage_loader.cpp \
  src/arch/x86/multiboot_loader.cpp src/arch/x86/elf_image.cpp src/arch/x86/boot_gdt.cpp \
  src/arch/x86/boot_page_tables.cpp src/arch/x86/boot_placement.cpp src/arch/x86/e820.cpp \
  src/memory/guest_memory.cpp src/base/mapped_region.cpp src/base/log.cpp src/base/log_sink.cpp
build_target msix_table_fuzz fuzz/msix_table_fuzz.cpp src/devices/pci/msix_table.cpp \
  src/base/log.cpp src/base/log_sink.cpp
