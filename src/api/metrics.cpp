// Metrics: request counters and the JSON line format.
#include "api/metrics.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>

#include "vm/page_sharing.hpp"

namespace vessel::api {

Result<void> Metrics::open(const std::string& path) {
    std::lock_guard lock(m_mutex);
    if (m_fd.valid()) return make_error("metrics: reinitialization of metrics is not allowed");
    // O_NONBLOCK: a named pipe nobody reads must not block Vessel (Firecracker does the same).
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644));
    if (!fd.valid())
        return make_error("metrics: metrics_path '{}' cannot be opened: {}", path, strerror(errno));
    m_fd = std::move(fd);
    m_path = path;
    return {};
}

bool Metrics::configured() const {
    std::lock_guard lock(m_mutex);
    return m_fd.valid();
}

std::optional<std::string> Metrics::path() const {
    std::lock_guard lock(m_mutex);
    if (!m_fd.valid()) return std::nullopt;
    return m_path;
}

void Metrics::count_request(std::string_view method, std::string_view resource, bool failed) {
    std::string group = fmt::format("{}_api_requests", method == "GET"   ? "get"
                                                       : method == "PUT" ? "put"
                                                                         : "patch");
    std::lock_guard lock(m_mutex);
    auto& counters = m_requests[group];
    ++counters[fmt::format("{}_count", resource)];
    if (failed) ++counters[fmt::format("{}_fails", resource)];
}

nlohmann::json Metrics::snapshot(const VmController& vm) {
    VmCounters counters = vm.counters();
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto uptime = std::chrono::steady_clock::now() - m_started;
    nlohmann::json line = {
        {"utc_timestamp_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()},
        {"vmm",
         {{"state", vm_state_name(vm.state())},
          {"uptime_ms", std::chrono::duration_cast<std::chrono::milliseconds>(uptime).count()},
          {"metrics_flushes", ++m_flushes}}},
        // Firecracker logs its boot timer; here it is the GuestSignal boot-complete time.
        {"boot_time_ms", counters.boot_milliseconds < 0
                             ? nlohmann::json()
                             : nlohmann::json(counters.boot_milliseconds)},
        // Firecracker's uart.write_count counts bytes the guest wrote to the transmitter.
        {"uart",
         {{"write_count", counters.serial_transmitted_bytes - m_last.serial_transmitted_bytes},
          {"total_write_count", counters.serial_transmitted_bytes}}},
        // Firecracker's vcpu exit counters; on the software engine the same guest accesses.
        {"vcpu",
         {{"exit_io_in", counters.io_reads - m_last.io_reads},
          {"exit_io_out", counters.io_writes - m_last.io_writes},
          {"exit_mmio_read", counters.mmio_reads - m_last.mmio_reads},
          {"exit_mmio_write", counters.mmio_writes - m_last.mmio_writes}}},
        // Vessel's own: device work KVM's ioeventfd and irqfd kept off the vCPU threads (a
        // notify counted here is no exit_mmio_write). Always 0 on the software engine.
        {"kvm_fast_path",
         {{"ioeventfd_notifications", counters.doorbell_rings - m_last.doorbell_rings},
          {"irqfd_interrupts", counters.routed_msis - m_last.routed_msis}}},
        // Vessel's own: the last snapshot this VM saved (sizes, PUT /snapshot/create time) and
        // the restore it came from (PUT /snapshot/load until its vCPUs started); 0 for none.
        {"snapshot",
         {{"state_bytes", counters.snapshot_state_bytes},
          {"memory_bytes", counters.snapshot_memory_bytes},
          {"create_ms", counters.snapshot_create_milliseconds},
          {"restore_ms", counters.snapshot_restore_milliseconds}}},
        // Vessel's own: the last live migration this VM sent (PUT /vm.send-migration).
        {"migration",
         {{"rounds", counters.migration_rounds},
          {"bytes_sent", counters.migration_bytes_sent},
          {"downtime_ms", counters.migration_downtime_milliseconds},
          {"total_ms", counters.migration_total_milliseconds}}},
    };
    // Firecracker's balloon group (inflate_count, deflate_count, stats_updates_count: deltas)
    // plus Vessel's: pages returned through free page reporting and guest input ignored.
    line["balloon"] = {
        {"inflate_count", counters.balloon_inflated_pages - m_last.balloon_inflated_pages},
        {"deflate_count", counters.balloon_deflated_pages - m_last.balloon_deflated_pages},
        {"stats_updates_count", counters.balloon_stats_updates - m_last.balloon_stats_updates},
        {"free_page_report_count", counters.balloon_reported_pages - m_last.balloon_reported_pages},
        {"invalid_pfn_count", counters.balloon_invalid_pfns - m_last.balloon_invalid_pfns},
        {"duplicate_pfn_count", counters.balloon_duplicate_pfns - m_last.balloon_duplicate_pfns},
        {"malformed_buffer_count",
         counters.balloon_malformed_buffers - m_last.balloon_malformed_buffers}};
    // Vessel's: the host's KSM figures (levels, not deltas) for page sharing.
    const KsmCounters ksm = read_ksm_counters();
    line["page_sharing"] = {{"ksm_running", ksm.running},
                            {"host_pages_shared", ksm.pages_shared},
                            {"host_pages_sharing", ksm.pages_sharing},
                            {"host_pages_unshared", ksm.pages_unshared},
                            {"host_full_scans", ksm.full_scans},
                            {"process_merging_pages",
                             ksm.process_merging_pages ? nlohmann::json(*ksm.process_merging_pages)
                                                       : nlohmann::json()}};
    m_last = counters;
    for (auto& [group, values] : m_requests)
        line[group] = values;
    m_requests.clear();
    return line;
}

Result<void> Metrics::flush(const VmController& vm) {
    std::lock_guard lock(m_mutex);
    if (!m_fd.valid())
        return make_error("FlushMetrics: the metrics system is not initialized "
                          "(PUT /metrics first)");
    std::string text = snapshot(vm).dump() + "\n";
    ssize_t written = ::write(m_fd.get(), text.data(), text.size());
    if (written != static_cast<ssize_t>(text.size()))
        return make_error("FlushMetrics: writing to '{}' failed: {}", m_path,
                          written < 0 ? strerror(errno) : "short write");
    return {};
}

} // namespace vessel::api
