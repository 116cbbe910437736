// Machine::save_snapshot and Machine::restore: which section holds what, in which order.
#include <chrono>

#include "base/log.hpp"
#include "base/thread_cpu_time.hpp"
#include "memory/host_memory.hpp"
#include "vm/machine.hpp"
#include "vm/snapshot/machine_config_state.hpp"
#include "vm/snapshot/memory_file.hpp"
#include "vm/snapshot/snapshot_file.hpp"

namespace vessel {
namespace {

using snapshot::SnapshotFile;

/// Every section but `machine` (snapshot::machine_section_version) is version 1 of its layout.
constexpr std::uint32_t section_version = 1;
/// machine, platform, uart, i8042, rtc, fw_cfg, acpi, pci, pci-host; then cpu.N and virtio.N.
constexpr std::size_t fixed_sections = 9;

double milliseconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

template <typename Saver> void add_section(SnapshotFile& file, std::string tag, Saver&& save) {
    StateWriter writer;
    save(writer);
    file.add(std::move(tag), section_version, writer.take());
}

/// Loads section `tag` through `load` (a function of StateReader&), which must consume it.
template <typename Loader>
Result<void> load_section(const SnapshotFile& file, const std::string& tag, Loader&& load) {
    auto bytes = TRY(file.payload(tag, section_version));
    StateReader reader(bytes);
    load(reader);
    return reader.finish(fmt::format("section '{}'", tag));
}

} // namespace

Result<void> Machine::save_snapshot(const std::string& state_path, const std::string& memory_path) {
    return save_snapshot_files(state_path, memory_path, false);
}

Result<void> Machine::save_diff_snapshot(const std::string& state_path,
                                         const std::string& memory_path) {
    return save_snapshot_files(state_path, memory_path, true);
}

Result<void> Machine::check_snapshot_allowed() const {
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping) return make_error("the VM is shutting down");
        if (m_suspended)
            return make_error("the guest is suspended to RAM (ACPI S3), which snapshots do not "
                              "record: wake it first (PUT /vessel/wake)");
    }
    if (m_vm->kind() != EngineKind::Soft)
        return make_error("the {} engine cannot save its state yet: snapshots need the software "
                          "engine (--engine soft)",
                          engine_name(m_vm->kind()));
    for (const auto& device : m_virtio_devices)
        if (std::string obstacle = device->snapshot_obstacle(); !obstacle.empty())
            return make_error("cannot snapshot this VM: {}", obstacle);
    return {};
}

void Machine::quiesce_devices() {
    // A paused VM does no I/O: back-ends finish what the guest had asked for, so no ring has a
    // request popped and not yet completed, and nothing writes guest memory while it is saved.
    for (const auto& device : m_virtio_devices)
        device->quiesce();
}

void Machine::resume_devices() {
    for (const auto& device : m_virtio_devices)
        device->resume_io();
}

Result<void> Machine::encode_state(snapshot::SnapshotFile& file) {
    snapshot::MachineSection machine{m_config, m_vm->kind()};
    file.add("machine", snapshot::machine_section_version, snapshot::encode_machine(machine));
    for (auto& vcpu : m_vcpus) {
        StateWriter writer;
        TRY_CONTEXT(vcpu->save_snapshot(writer), fmt::format("vCPU {}", vcpu->index()));
        file.add(fmt::format("cpu.{}", vcpu->index()), section_version, writer.take());
    }
    {
        StateWriter writer;
        TRY(m_vm->save_snapshot(writer));
        file.add("platform", section_version, writer.take());
    }
    add_section(file, "uart", [&](StateWriter& writer) { m_serial->save_state(writer); });
    add_section(file, "i8042", [&](StateWriter& writer) { m_i8042->save_state(writer); });
    add_section(file, "rtc", [&](StateWriter& writer) { m_rtc->save_state(writer); });
    add_section(file, "fw_cfg", [&](StateWriter& writer) { m_fw_cfg->save_state(writer); });
    add_section(file, "acpi", [&](StateWriter& writer) { m_acpi_power->save_state(writer); });
    add_section(file, "pci", [&](StateWriter& writer) { m_pci_bus->save_state(writer); });
    add_section(file, "pci-host",
                [&](StateWriter& writer) { m_host_bridge->save_config_state(writer); });
    for (std::size_t index = 0; index < m_virtio_transports.size(); ++index)
        add_section(file, fmt::format("virtio.{}", index),
                    [&](StateWriter& writer) { m_virtio_transports[index]->save_state(writer); });
    return {};
}

Result<void> Machine::save_snapshot_files(const std::string& state_path,
                                          const std::string& memory_path, bool diff) {
    const auto start = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping) return make_error("the VM is shutting down");
        if (!m_paused) return make_error("the VM must be paused to take a snapshot");
    }
    TRY(check_snapshot_allowed());
    quiesce_devices();
    struct ResumeIo {
        Machine& machine;
        ~ResumeIo() { machine.resume_devices(); }
    } resume_io{*this};

    SnapshotFile file;
    TRY(encode_state(file));
    const std::vector<std::uint8_t> encoded = file.encode();
    TRY(file.write(state_path));
    // The vCPUs are parked (they drop their TLB write entries before running again) and the
    // devices quiesced: the log holds every page written since the last snapshot, and this
    // snapshot becomes the base of the next Diff. A failed write puts the pages back.
    DirtyBitmap& dirty = m_memory.dirty_pages();
    const std::vector<std::uint64_t> written = dirty.take();
    auto memory_bytes = diff ? snapshot::write_diff_memory_file(m_memory, written, memory_path)
                             : snapshot::write_memory_file(m_memory, memory_path);
    if (!memory_bytes) {
        dirty.restore(written);
        return std::unexpected(memory_bytes.error());
    }
    m_snapshot_statistics.state_bytes = encoded.size();
    m_snapshot_statistics.memory_bytes = *memory_bytes;
    m_snapshot_statistics.create_milliseconds = milliseconds_since(start);
    log::info("{} snapshot: state {} ({} bytes), memory {} ({} MiB of RAM, {} bytes {}), "
              "{:.1f} ms",
              diff ? "diff" : "full", state_path, encoded.size(), memory_path,
              m_memory.size() >> 20, *memory_bytes,
              diff ? "in pages written since the last snapshot" : "not zero",
              m_snapshot_statistics.create_milliseconds);
    return {};
}

Result<std::unique_ptr<Machine>> Machine::restore(const std::string& state_path,
                                                  const std::string& memory_path,
                                                  ConsoleOutput console_output, bool paused) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = thread_cpu_milliseconds();
    const SnapshotFile file = TRY(SnapshotFile::read(state_path));
    const snapshot::Section* machine_section =
        TRY_CONTEXT(file.find("machine"), fmt::format("snapshot {}", state_path));
    snapshot::MachineSection saved =
        TRY_CONTEXT(snapshot::decode_machine(machine_section->payload, machine_section->version),
                    fmt::format("snapshot {}", state_path));
    if (saved.engine != EngineKind::Soft)
        return make_error("snapshot {}: saved by the {} engine, which cannot be restored here",
                          state_path, engine_name(saved.engine));
    // The software engine restores it (the tier as configured when it was the soft one).
    if (saved.config.engine != EngineChoice::SoftInterpreter)
        saved.config.engine = EngineChoice::Soft;
    TRY(check_guest_memory_on_host(saved.config.memory_size));
    // The vCPU threads start now and wait, running nothing, while the memory is mapped and
    // the machine built and loaded (on a second host CPU when there is one): start() then
    // only hands them their vCPUs. A failed restore dismisses them (nothing ran).
    const double checked = milliseconds_since(start);
    auto early_threads =
        std::make_unique<EarlyVcpuThreads>(saved.config.cpu_count, EarlyVcpuThreads::default_spin,
                                           EarlyVcpuThreads::spinners_for_this_host());
    const double threads_started = milliseconds_since(start);
    auto memory = TRY(snapshot::map_memory_file(memory_path, saved.config.memory_size));
    const double mapped = milliseconds_since(start);
    std::unique_ptr<Machine> machine(new Machine(saved.config, std::move(memory)));
    machine->m_restored = true;
    machine->m_restore_started = start;
    machine->m_paused = paused;
    machine->m_early_vcpu_threads = std::move(early_threads);
    TRY_CONTEXT(machine->build_restored(std::move(console_output), file),
                fmt::format("snapshot {}", state_path));
    machine->m_snapshot_statistics.restore_milliseconds = milliseconds_since(start);
    log::info("restored snapshot {} (memory {}) in {:.2f} ms", state_path, memory_path,
              machine->m_snapshot_statistics.restore_milliseconds);
    log::debug("restore: state file read and checked at {:.2f} ms, vCPU threads started at "
               "{:.2f} ms, memory mapped at {:.2f} ms, machine built and loaded at {:.2f} ms, "
               "using {:.2f} ms of CPU",
               checked, threads_started, mapped,
               machine->m_snapshot_statistics.restore_milliseconds,
               thread_cpu_milliseconds() - cpu_start);
    return machine;
}

Result<void> Machine::build_restored(ConsoleOutput console_output, const SnapshotFile& file) {
    const auto start = std::chrono::steady_clock::now();
    TRY(build(std::move(console_output)));
    log::debug("restore: devices and vCPUs built in {:.2f} ms", milliseconds_since(start));
    const std::size_t expected = fixed_sections + m_vcpus.size() + m_virtio_transports.size();
    if (file.sections().size() != expected)
        return make_error("{} sections where this machine has {} (another machine's snapshot?)",
                          file.sections().size(), expected);
    // The interrupt controllers first: loading a device never drives its IRQ line (the
    // controllers' state already holds the level), but an activated virtio device starts its
    // back-end at once, and an interrupt it raises must reach the restored controllers.
    {
        auto bytes = TRY(file.payload("platform", section_version));
        StateReader reader(bytes);
        TRY(m_vm->load_snapshot(reader));
        TRY(reader.finish("section 'platform'"));
    }
    TRY(load_section(file, "uart", [&](StateReader& reader) { m_serial->load_state(reader); }));
    TRY(load_section(file, "i8042", [&](StateReader& reader) { m_i8042->load_state(reader); }));
    TRY(load_section(file, "rtc", [&](StateReader& reader) { m_rtc->load_state(reader); }));
    TRY(load_section(file, "fw_cfg", [&](StateReader& reader) { m_fw_cfg->load_state(reader); }));
    TRY(load_section(file, "acpi", [&](StateReader& reader) { m_acpi_power->load_state(reader); }));
    TRY(load_section(file, "pci", [&](StateReader& reader) { m_pci_bus->load_state(reader); }));
    TRY(load_section(file, "pci-host",
                     [&](StateReader& reader) { m_host_bridge->load_config_state(reader); }));
    for (std::size_t index = 0; index < m_virtio_transports.size(); ++index)
        TRY(load_section(file, fmt::format("virtio.{}", index), [&](StateReader& reader) {
            m_virtio_transports[index]->load_state(reader);
        }));
    m_pci_bus->remap_all();
    for (auto& vcpu : m_vcpus) {
        const std::string tag = fmt::format("cpu.{}", vcpu->index());
        auto bytes = TRY(file.payload(tag, section_version));
        StateReader reader(bytes);
        TRY(vcpu->load_snapshot(reader));
        TRY(reader.finish(fmt::format("section '{}'", tag)));
    }
    return {};
}

} // namespace vessel
