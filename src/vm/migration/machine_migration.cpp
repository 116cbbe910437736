// Machine::send_migration and Machine::receive_migration: pre-copy live migration over a stream.
#include <chrono>
#include <cstring>
#include <thread>

#include "base/log.hpp"
#include "memory/host_memory.hpp"
#include "vm/machine.hpp"
#include "vm/migration/migration_stream.hpp"
#include "vm/migration/migration_url.hpp"
#include "vm/snapshot/machine_config_state.hpp"
#include "vm/snapshot/snapshot_file.hpp"

namespace vessel {
namespace {

using migration::RecordType;
using Clock = std::chrono::steady_clock;

/// Pre-copy stops when what is left would take at most this long to send (QEMU and Cloud
/// Hypervisor aim at 300 ms of downtime; the stop-and-copy also sends the device state and
/// waits for the destination to build the VM).
constexpr double target_copy_milliseconds = 20;
/// Rounds of pre-copy before the stop-and-copy is forced (the downtime then grows).
constexpr unsigned max_rounds = 30;
/// Throttling: the share of each period the vCPUs are parked, raised in steps while rounds do
/// not shrink (QEMU's auto-converge does the same with vCPU sleeps).
constexpr unsigned throttle_step_percent = 20;
constexpr unsigned max_throttle_percent = 95;
constexpr auto throttle_period = std::chrono::milliseconds(10);

double milliseconds_between(Clock::time_point start, Clock::time_point end) {
    return std::chrono::duration<double, std::milli>(end - start).count();
}

bool zero_page(const std::uint8_t* page) {
    static const std::uint8_t zeros[4096] = {};
    return std::memcmp(page, zeros, sizeof(zeros)) == 0;
}

bool page_set(const std::vector<std::uint64_t>& words, std::uint64_t page) {
    return page / 64 < words.size() && ((words[page / 64] >> (page % 64)) & 1);
}

} // namespace

std::vector<std::uint64_t> Machine::take_dirty_pages(bool vcpus_running) {
    // Parked vCPUs drop their TLB write entries (follow_dirty_log) before they run again, so a
    // store after take() always marks its page in the new log.
    if (vcpus_running) pause();
    auto words = m_memory.dirty_pages().take();
    if (vcpus_running) resume();
    return words;
}

/// Sends the pages set in `pages` (all of them for a first round with `skip_zero`: the
/// destination's RAM starts zeroed). Zero pages go as Zeros records. Calls `between` between
/// records (throttling). Returns the pages sent.
Result<std::uint64_t> Machine::send_pages(migration::StreamWriter& stream,
                                          const std::vector<std::uint64_t>& pages, bool skip_zero,
                                          const std::function<void()>& between) {
    const std::uint8_t* base = m_memory.host_base();
    const std::uint64_t page_count = m_memory.size() / GuestMemory::page_size;
    std::uint64_t sent = 0;
    for (std::uint64_t page = 0; page < page_count;) {
        if (!page_set(pages, page)) {
            page += (pages[page / 64] == 0) ? 64 - page % 64 : 1;
            continue;
        }
        const bool zero = zero_page(base + page * 4096);
        std::uint64_t end = page + 1;
        while (end < page_count && end - page < migration::max_pages_per_record &&
               page_set(pages, end) && zero_page(base + end * 4096) == zero)
            ++end;
        if (!zero)
            TRY(stream.pages(page, end - page, base + page * 4096));
        else if (!skip_zero)
            TRY(stream.zeros(page, end - page));
        if (!zero || !skip_zero) sent += end - page;
        page = end;
        if (between) between();
    }
    return sent;
}

Result<Machine::MigrationStatistics> Machine::send_migration(const std::string& url_text) {
    const auto start = Clock::now();
    TRY(check_snapshot_allowed());
    for (const auto& device : m_virtio_devices)
        if (std::string obstacle = device->migration_obstacle(); !obstacle.empty())
            return make_error("cannot migrate this VM: {}", obstacle);
    const migration::MigrationUrl url = TRY(migration::parse_migration_url(url_text));
    UniqueFd connection = TRY(migration::connect_migration(url));
    const bool vcpus_running = !paused();
    migration::StreamWriter stream(connection.get());
    MigrationStatistics statistics;
    auto fail = [&](const Error& error) -> Result<MigrationStatistics> {
        log::warn("migration to {} failed, the VM runs on here: {}", url.text, error.message);
        return make_error("migration to {}: {}", url.text, error.message);
    };

    // Throttle: while rounds do not shrink, park the vCPUs for part of every period.
    unsigned throttle_percent = 0;
    auto period_start = Clock::now();
    auto throttle = [&] {
        if (throttle_percent == 0 || !vcpus_running) return;
        const auto now = Clock::now();
        if (now - period_start < throttle_period) return;
        pause();
        std::this_thread::sleep_for(throttle_period * throttle_percent / 100);
        resume();
        period_start = Clock::now();
    };

    snapshot::MachineSection machine{m_config, m_vm->kind()};
    if (auto sent = stream.header(); !sent) return fail(sent.error());
    if (auto sent = stream.record(RecordType::Machine, snapshot::encode_machine(machine)); !sent)
        return fail(sent.error());
    // Round 0: all of RAM (zero pages skipped), with the log restarted first.
    (void)take_dirty_pages(vcpus_running);
    std::vector<std::uint64_t> all((m_memory.size() / GuestMemory::page_size + 63) / 64,
                                   ~std::uint64_t{0});
    auto sent_pages = send_pages(stream, all, true, throttle);
    if (!sent_pages) return fail(sent_pages.error());
    statistics.rounds = 1;
    statistics.pages_sent = *sent_pages;
    std::uint64_t previous = ~std::uint64_t{0};
    std::vector<std::uint64_t> dirty;
    while (true) {
        const double bytes_per_ms = static_cast<double>(stream.bytes_sent()) /
                                    std::max(0.001, milliseconds_between(start, Clock::now()));
        dirty = take_dirty_pages(vcpus_running);
        const std::uint64_t count = DirtyBitmap::count(dirty);
        const double copy_ms = static_cast<double>(count * 4096) / std::max(1.0, bytes_per_ms);
        log::debug("migration: round {} leaves {} dirty pages (~{:.1f} ms to send), throttle {}%",
                   statistics.rounds, count, copy_ms, throttle_percent);
        if (copy_ms <= target_copy_milliseconds || statistics.rounds >= max_rounds) break;
        if (count * 10 >= previous * 9 && throttle_percent < max_throttle_percent)
            throttle_percent =
                std::min(max_throttle_percent, throttle_percent + throttle_step_percent);
        previous = count;
        sent_pages = send_pages(stream, dirty, false, throttle);
        if (!sent_pages) return fail(sent_pages.error());
        ++statistics.rounds;
        statistics.pages_sent += *sent_pages;
    }

    // The destination is behind by what the socket buffers hold (megabytes, each page a fresh
    // page fault there): let it catch up while the guest still runs, so the downtime below
    // covers only the last pages and the state.
    if (auto sent = stream.record(RecordType::Sync, {}); !sent) return fail(sent.error());
    if (auto synced = migration::receive_result(connection.get(), url.text); !synced)
        return fail(synced.error());

    // Stop and copy: vCPUs parked, devices quiet, the last dirty pages and the device state.
    const auto downtime_start = Clock::now();
    if (vcpus_running) pause();
    quiesce_devices();
    // Disk images are the same files at the destination, which opens (and locks) them while
    // building the VM: written data is made durable and the locks are let go here.
    for (const auto& device : m_virtio_devices)
        device->release_host_locks();
    auto carry_on = [&](const Error& error) {
        m_memory.dirty_pages().mark_all(); // a later Diff cannot trust the log now
        for (const auto& device : m_virtio_devices)
            if (auto locked = device->retake_host_locks(); !locked)
                log::warn("after the failed migration: {}", locked.error().message);
        resume_devices();
        if (vcpus_running) resume();
        return fail(error);
    };
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping) return carry_on(Error{"the VM stopped while it was being sent"});
    }
    const auto parked = Clock::now();
    auto last = m_memory.dirty_pages().take();
    for (std::size_t i = 0; i < last.size() && i < dirty.size(); ++i)
        last[i] |= dirty[i];
    sent_pages = send_pages(stream, last, false, {});
    if (!sent_pages) return carry_on(sent_pages.error());
    statistics.pages_sent += *sent_pages;
    const std::uint64_t last_pages = *sent_pages;
    const auto pages_sent = Clock::now();
    snapshot::SnapshotFile state;
    if (auto encoded = encode_state(state); !encoded) return carry_on(encoded.error());
    if (auto sent = stream.record(RecordType::State, state.encode()); !sent)
        return carry_on(sent.error());
    if (auto sent = stream.record(RecordType::End, {}); !sent) return carry_on(sent.error());
    const auto state_sent = Clock::now();
    if (auto answer = migration::receive_result(connection.get(), url.text); !answer)
        return carry_on(answer.error());
    const auto end = Clock::now();
    statistics.rounds += 1; // the stop-and-copy round
    statistics.bytes_sent = stream.bytes_sent();
    statistics.downtime_milliseconds = milliseconds_between(downtime_start, end);
    statistics.total_milliseconds = milliseconds_between(start, end);
    statistics.throttle_percent = throttle_percent;
    m_migration_statistics = statistics;
    log::info("migrated to {}: {} rounds, {} pages, {} bytes, downtime {:.1f} ms, total {:.1f} "
              "ms, throttle {}%",
              url.text, statistics.rounds, statistics.pages_sent, statistics.bytes_sent,
              statistics.downtime_milliseconds, statistics.total_milliseconds, throttle_percent);
    log::info("migration downtime: {:.1f} ms parking the vCPUs and quiescing devices, {:.1f} ms "
              "for the last {} pages, {:.1f} ms for the device state, {:.1f} ms until the "
              "destination ran the VM",
              milliseconds_between(downtime_start, parked),
              milliseconds_between(parked, pages_sent), last_pages,
              milliseconds_between(pages_sent, state_sent), milliseconds_between(state_sent, end));
    // The destination runs the VM now; this one must never run again (its disks and network
    // belong to the destination). Devices stay quiesced and the vCPUs parked until the exit.
    request_exit({ExitRequest::Kind::UserQuit, exit_status::clean,
                  fmt::format("the VM migrated to {} (downtime {:.1f} ms)", url.text,
                              statistics.downtime_milliseconds)});
    return statistics;
}

namespace {

/// Reads a Pages or Zeros record's range and checks it lies inside RAM.
Result<std::pair<std::uint64_t, std::uint64_t>> read_range(migration::StreamReader& stream,
                                                           const migration::RecordHeader& record,
                                                           std::uint64_t page_count) {
    if (record.length < 16)
        return make_error("migration stream from {}: page record of {} bytes", stream.source(),
                          record.length);
    std::uint64_t range[2];
    TRY(stream.read_exact(range, sizeof(range)));
    const auto [first, count] = std::pair{range[0], range[1]};
    if (count == 0 || count > migration::max_pages_per_record || first >= page_count ||
        count > page_count - first)
        return make_error("migration stream from {}: pages {}+{} are outside the VM's {} pages",
                          stream.source(), first, count, page_count);
    const std::uint64_t expected = record.type == RecordType::Pages ? 16 + count * 4096 : 16;
    if (record.length != expected)
        return make_error("migration stream from {}: page record of {} bytes for {} pages",
                          stream.source(), record.length, count);
    return std::pair{first, count};
}

} // namespace

Result<std::unique_ptr<Machine>>
Machine::receive_migration(const std::string& url_text, ConsoleOutput console_output, bool paused) {
    const migration::MigrationUrl url = TRY(migration::parse_migration_url(url_text));
    UniqueFd connection = TRY(migration::accept_migration(url));
    const auto start = Clock::now();
    migration::StreamReader stream(connection.get(), url.text);
    auto refuse = [&](const Error& error) -> Result<std::unique_ptr<Machine>> {
        (void)migration::send_result(connection.get(), 1, error.message);
        return std::unexpected(error);
    };
    if (auto header = stream.header(); !header) return refuse(header.error());
    auto first = stream.next();
    if (!first) return refuse(first.error());
    if (first->type != RecordType::Machine || first->length > (1u << 20))
        return refuse(Error{fmt::format("migration stream from {}: does not start with the "
                                        "machine record",
                                        url.text)});
    auto machine_bytes = stream.payload(first->length);
    if (!machine_bytes) return refuse(machine_bytes.error());
    // A version 1 stream carries a version 1 machine section; later ones the current layout.
    auto saved = snapshot::decode_machine(
        *machine_bytes, stream.version() == 1 ? 1 : snapshot::machine_section_version);
    if (!saved) return refuse(saved.error());
    if (saved->engine != EngineKind::Soft)
        return refuse(Error{fmt::format("migration from {}: the {} engine's VM cannot run here",
                                        url.text, engine_name(saved->engine))});
    if (saved->config.engine != EngineChoice::SoftInterpreter)
        saved->config.engine = EngineChoice::Soft;
    if (auto fits = check_guest_memory_on_host(saved->config.memory_size); !fits)
        return refuse(fits.error());
    auto memory = create_memory(saved->config, true); // the software engine runs it
    if (!memory) return refuse(memory.error());
    const std::uint64_t page_count = memory->size() / GuestMemory::page_size;
    std::uint8_t* base = memory->host_base();
    std::optional<snapshot::SnapshotFile> state;
    while (true) {
        auto record = stream.next();
        if (!record) return refuse(record.error());
        if (record->type == RecordType::End) break;
        if (record->type == RecordType::Sync) {
            if (record->length != 0)
                return refuse(Error{fmt::format("migration stream from {}: sync record of {} bytes",
                                                url.text, record->length)});
            if (auto answered = migration::send_result(connection.get(), 0, "synced"); !answered)
                return std::unexpected(answered.error());
            continue;
        }
        if (record->type == RecordType::Pages || record->type == RecordType::Zeros) {
            auto range = read_range(stream, *record, page_count);
            if (!range) return refuse(range.error());
            std::uint8_t* target = base + range->first * 4096;
            if (record->type == RecordType::Zeros) {
                std::memset(target, 0, range->second * 4096);
            } else if (auto read = stream.read_exact(target, range->second * 4096); !read) {
                return refuse(read.error());
            }
            continue;
        }
        if (record->type != RecordType::State)
            return refuse(Error{fmt::format("migration stream from {}: unexpected record type {}",
                                            url.text, static_cast<std::uint32_t>(record->type))});
        auto bytes = stream.payload(record->length);
        if (!bytes) return refuse(bytes.error());
        auto decoded = snapshot::SnapshotFile::decode(*bytes, "migration state from " + url.text);
        if (!decoded) return refuse(decoded.error());
        // The state must describe the machine the first record built RAM for.
        auto state_machine = decoded->find("machine");
        if (!state_machine || (*state_machine)->payload != *machine_bytes)
            return refuse(Error{fmt::format("migration stream from {}: the state's machine "
                                            "section differs from the machine record",
                                            url.text)});
        state = std::move(*decoded);
    }
    if (!state)
        return refuse(
            Error{fmt::format("migration stream from {}: ended without the VM's state", url.text)});
    const auto received = Clock::now();
    std::unique_ptr<Machine> machine(new Machine(saved->config, std::move(*memory)));
    machine->m_restored = true;
    machine->m_paused = paused;
    if (auto built = machine->build_restored(std::move(console_output), *state); !built)
        return refuse(Error{fmt::format("migration from {}: {}", url.text, built.error().message)});
    TRY_CONTEXT(migration::send_result(connection.get(), 0, "running"),
                fmt::format("migration from {}", url.text));
    log::info("received the VM from {}: {} bytes in {:.1f} ms, built in {:.2f} ms", url.text,
              stream.bytes_received(), milliseconds_between(start, received),
              milliseconds_between(received, Clock::now()));
    return machine;
}

} // namespace vessel
