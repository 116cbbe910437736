// The machine configuration as a snapshot section.
#include "vm/snapshot/machine_config_state.hpp"

namespace vessel::snapshot {
namespace {

template <typename Archive> void persist_disk(Archive& archive, DiskConfig& disk) {
    archive(disk.path, disk.read_only, disk.id, disk.engine, disk.cache, disk.root);
}

template <typename Archive> void persist_network(Archive& archive, NetworkConfig& network) {
    archive(network.kind);
    std::uint32_t forwards = static_cast<std::uint32_t>(network.host_forwards.size());
    archive(forwards);
    if constexpr (!Archive::saving) {
        archive.check(forwards <= 256, "host forward count");
        if (!archive.ok()) return;
        network.host_forwards.resize(forwards);
    }
    for (HostForward& forward : network.host_forwards)
        archive(forward.protocol, forward.host_address.s_addr, forward.host_port,
                forward.guest_address.s_addr, forward.guest_port);
    archive(network.tap_name, network.mac.bytes);
}

template <typename Archive> void persist_balloon(Archive& archive, MachineConfig& config) {
    bool balloon = config.balloon.has_value();
    archive(balloon);
    if (balloon) {
        if constexpr (!Archive::saving) config.balloon.emplace();
        archive(config.balloon->target_mib, config.balloon->deflate_on_oom,
                config.balloon->stats_interval_s, config.balloon->free_page_reporting);
    }
    archive(config.page_sharing);
}

template <typename Archive>
void persist_machine(Archive& archive, MachineSection& machine, std::uint32_t version) {
    MachineConfig& config = machine.config;
    archive(machine.engine, config.kernel_path, config.initrd_path, config.command_line,
            config.memory_size, config.cpu_count, config.engine, config.console);
    std::uint32_t disks = static_cast<std::uint32_t>(config.disks.size());
    std::uint32_t networks = static_cast<std::uint32_t>(config.networks.size());
    archive(disks, networks);
    if constexpr (!Archive::saving) {
        archive.check(disks <= 64 && networks <= 64, "device count");
        if (!archive.ok()) return;
        config.disks.resize(disks);
        config.networks.resize(networks);
    }
    for (DiskConfig& disk : config.disks)
        persist_disk(archive, disk);
    for (NetworkConfig& network : config.networks)
        persist_network(archive, network);
    bool vsock = config.vsock.has_value();
    archive(vsock);
    if (vsock) {
        if constexpr (!Archive::saving) config.vsock.emplace();
        archive(config.vsock->guest_cid, config.vsock->uds_path);
    }
    if (version >= 2) persist_balloon(archive, config);
}

} // namespace

std::vector<std::uint8_t> encode_machine(const MachineSection& machine) {
    StateWriter writer;
    MachineSection copy = machine;
    persist_machine(writer, copy, machine_section_version);
    return writer.take();
}

Result<MachineSection> decode_machine(std::span<const std::uint8_t> bytes, std::uint32_t version) {
    if (version == 0 || version > machine_section_version)
        return make_error("section 'machine' has version {}, this Vessel reads versions 1 to {}",
                          version, machine_section_version);
    StateReader reader(bytes);
    MachineSection machine;
    persist_machine(reader, machine, version);
    if (reader.ok()) {
        const MachineConfig& config = machine.config;
        reader.check(machine.engine == EngineKind::Soft || machine.engine == EngineKind::Kvm,
                     "engine");
        reader.check(static_cast<unsigned>(config.engine) <=
                         static_cast<unsigned>(EngineChoice::SoftInterpreter),
                     "engine choice");
        reader.check(config.console == ConsoleChoice::Serial ||
                         config.console == ConsoleChoice::Virtio,
                     "console");
        reader.check(config.cpu_count >= 1 && config.cpu_count <= 255, "vCPU count");
        for (const DiskConfig& disk : config.disks)
            reader.check(
                static_cast<unsigned>(disk.engine) <= static_cast<unsigned>(BlockEngine::sync) &&
                    static_cast<unsigned>(disk.cache) <= static_cast<unsigned>(BlockCache::unsafe),
                "disk back-end");
        for (const NetworkConfig& network : config.networks)
            reader.check(static_cast<unsigned>(network.kind) <=
                             static_cast<unsigned>(NetworkConfig::Kind::tap),
                         "network kind");
        if (config.balloon)
            reader.check((std::uint64_t{config.balloon->target_mib} << 20) <= config.memory_size,
                         "balloon target");
    }
    TRY(reader.finish("section 'machine'"));
    return machine;
}

} // namespace vessel::snapshot
