// `vessel run`: option parsing, console wiring and exit-status reporting.
#include "cli/run_command.hpp"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "base/log.hpp"
#include "base/thread_role.hpp"
#include "cli/balloon_option.hpp"
#include "cli/default_guest.hpp"
#include "cli/disk_option.hpp"
#include "cli/size_option.hpp"
#include "cli/terminal.hpp"
#include "cli/vsock_option.hpp"
#include "gdb/gdb_server.hpp"
#include "memory/host_memory.hpp"
#include "vm/engine_selection.hpp"
#include "vm/kernel_loading.hpp"
#include "vm/machine.hpp"
#include "vm/root_initramfs.hpp"

namespace vessel {

CLI::App* add_run_command(CLI::App& app, RunOptions& options) {
    auto* run = app.add_subcommand("run", "Boot a guest; its console is this terminal");
    run->footer(
        "Exit status: the guest's debug-exit status (odd), 0 on guest reset, power-off, "
        "halt with\ninterrupts disabled or Ctrl-A x, 2 for bad options or inputs, 4 on triple "
        "fault, 6 on engine\nerror, 8 on a guest kernel panic, 130 on "
        "SIGINT/TERM/HUP/QUIT/USR1/USR2;"
        "\nwith --exec, the command's status. Console: Ctrl-A x quits, Ctrl-A Ctrl-A sends "
        "Ctrl-A.");
    run->add_option("-k,--kernel", options.config.kernel_path,
                    "Kernel to boot: Linux bzImage or Multiboot v1 ELF (default: the Debian "
                    "guest built by `make guest`)")
        ->type_name("FILE");
    run->add_option("-i,--initrd", options.config.initrd_path,
                    "Initial ramdisk (Linux) or first module (Multiboot)")
        ->type_name("FILE");
    run->add_option("-c,--cmdline", options.config.command_line,
                    "Kernel command line (Linux default: console=ttyS0, or console=hvc0 with "
                    "--console virtio)")
        ->type_name("STR");
    run->add_option("--restore", options.restore_dir,
                    "Resume the VM saved in snapshot directory DIR (by `vessel snapshot`): its "
                    "configuration comes from the snapshot, so options describing the machine "
                    "do not apply")
        ->type_name("DIR");
    run->add_option("--incoming", options.incoming_url,
                    "Wait at URL for a VM that `vessel migrate` (or PUT /vm.send-migration) "
                    "sends, then run it here; like --restore, the machine comes from the source")
        ->type_name("unix:PATH|tcp:HOST:PORT");
    run->add_option("-e,--exec", options.exec_command,
                    "Run CMD in the default guest instead of a shell; exit with its status")
        ->type_name("CMD");
    run->add_option("-m,--memory", options.memory_text,
                    "Guest RAM, e.g. 512M or 2G (a bare number is MiB)")
        ->type_name("SIZE")
        ->capture_default_str();
    run->add_option("--cpus", options.config.cpu_count, "Number of vCPUs")
        ->type_name("N")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    run->add_option("--engine", options.engine_text,
                    "CPU engine: kvm (hardware), soft (Vessel's own x86 CPU: binary translation "
                    "with an interpreter for cold code), interp (the soft CPU's interpreter "
                    "alone) or auto")
        ->type_name("auto|kvm|soft|interp")
        ->check(CLI::IsMember({"auto", "kvm", "soft", "interp"}))
        ->capture_default_str();
    run->add_option("--cpu-model", options.config.cpu_model,
                    "The software CPU's model: baseline (x86-64), x86-64-v2 (+ SSE3-SSE4.2, "
                    "POPCNT), x86-64-v3 (+ AVX, AVX2, FMA, F16C, XSAVE, LZCNT, MOVBE, BMI1/2) "
                    "or max (+ RDTSCP); CPUID and the instructions follow it. Default: "
                    "x86-64-v3 where the host has AVX2, else the highest it can run")
        ->type_name("NAME");
    run->add_option("--disk", options.disk_texts,
                    "Raw disk image as virtio-blk (vda, vdb, ... in order); ',readonly' makes "
                    "the guest's writes fail; ',root' boots the file system on it (it becomes "
                    "vda and root=; without --initrd through Vessel's initramfs)")
        ->type_name("PATH[,readonly][,root]")
        ->expected(1)
        ->take_all();
    run->add_option("--console", options.console_text,
                    "Guest console device: serial (COM1, ttyS0) or virtio (virtio-console, "
                    "hvc0); terminal input goes to it")
        ->type_name("serial|virtio")
        ->check(CLI::IsMember({"serial", "virtio"}))
        ->capture_default_str();
    run->add_option("--net", options.net_texts,
                    "Network interface (repeatable): user[,hostfwd=tcp:127.0.0.1:2222-:22][,mac="
                    "52:54:00:12:34:56] (NAT, the default), tap=NAME[,mac=...], or none")
        ->type_name("SPEC");
    run->add_option("--vsock", options.vsock_text,
                    "virtio-vsock with Firecracker's host side: the guest's CID (default 3) and "
                    "a Unix socket to create; host clients write 'CONNECT <port>\\n' to it, "
                    "guest connections to port P reach PATH_P")
        ->type_name("[CID:]PATH");
    run->add_option("--balloon", options.balloon_text,
                    "virtio-balloon: 'none', or a target size the balloon takes from the guest "
                    "(e.g. 128M) with any of deflate-on-oom, stats=SECONDS, reporting, "
                    "no-reporting, comma-separated. The default guest gets one with free page "
                    "reporting (freed guest memory goes back to the host) unless 'none'")
        ->type_name("SPEC");
    run->add_flag("--page-sharing", options.page_sharing,
                  "Offer guest RAM to the host's KSM, which shares identical pages copy-on-write "
                  "(within and across VMs; needs /sys/kernel/mm/ksm/run = 1)");
    run->add_option("--gdb", options.gdb_text,
                    "GDB remote stub on a TCP port or a Unix socket (`target remote` there); the "
                    "guest waits for the debugger before its first instruction")
        ->type_name("tcp:HOST:PORT|unix:PATH");
    run->add_flag("--gdb-no-wait", options.gdb_no_wait,
                  "With --gdb: boot at once; a debugger may attach (and stop the guest) later");
    return run;
}

namespace {
EngineChoice parse_engine(const std::string& text) {
    if (text == "kvm") return EngineChoice::Kvm;
    if (text == "soft") return EngineChoice::Soft;
    if (text == "interp") return EngineChoice::SoftInterpreter;
    return EngineChoice::Auto;
}

/// The --net values as configs: one user network when none is given, nothing for "none".
Result<std::vector<NetworkConfig>> parse_networks(const std::vector<std::string>& texts) {
    if (texts.empty()) return std::vector<NetworkConfig>{NetworkConfig{}};
    std::vector<NetworkConfig> networks;
    for (const std::string& text : texts) {
        NetworkConfig network = TRY(NetworkConfig::parse(text));
        if (network.kind == NetworkConfig::Kind::none) {
            if (texts.size() > 1) return make_error("--net none cannot be combined with --net");
            return std::vector<NetworkConfig>{};
        }
        // NICs left at the default MAC get distinct ones (...:56, ...:57, as QEMU numbers them).
        if (network.mac == MacAddress::default_guest())
            network.mac.bytes[5] =
                static_cast<std::uint8_t>(network.mac.bytes[5] + networks.size());
        networks.push_back(std::move(network));
    }
    return networks;
}

// `--disk PATH,root`: that disk becomes vda and the root file system. With no --kernel the
// default guest's kernel boots it, with no --initrd the default guest's initramfs mounts it
// (Debian's virtio_blk is a module) and switch_roots to its init.
Result<void> use_root_disk(RunOptions& options) {
    auto& disks = options.config.disks;
    const auto root = std::find_if(disks.begin(), disks.end(), [](auto& d) { return d.root; });
    if (root == disks.end()) return {};
    if (std::count_if(disks.begin(), disks.end(), [](auto& d) { return d.root; }) > 1)
        return make_error("--disk: only one disk can be the root file system");
    if (!options.exec_command.empty())
        return make_error("--exec runs in the default guest's own initramfs and cannot be "
                          "combined with a root disk (--disk {},root)",
                          root->path);
    std::rotate(disks.begin(), root, root + 1);
    const std::string root_words =
        fmt::format("root=/dev/vda {}", disks.front().read_only ? "ro" : "rw");
    MachineConfig& config = options.config;
    if (config.kernel_path.empty()) {
        TRY(use_default_guest(config, ""));
    } else {
        if (config.command_line.empty())
            config.command_line = std::string(linux_console_arguments(config.console));
        use_root_initramfs(config.initrd_path);
    }
    config.command_line += " " + root_words;
    return {};
}
// Runs a built VM with this terminal as its console until it ends; returns the exit status.
int run_to_end(Machine& vm, Terminal& terminal, bool exec, gdb::GdbServer* gdb_server = nullptr,
               bool wait_for_debugger = false) {
    // Piped input to --exec waits until the guest set its console up for it (else the serial
    // driver drops what arrives early), and its end becomes the tty's EOF key.
    const bool piped_exec = exec && !terminal.interactive();
    if (piped_exec)
        terminal.set_end_of_input({default_guest_eof_key},
                                  {default_guest_eof_key, default_guest_eof_key});
    terminal.start(
        [&vm, piped_exec](std::span<const std::uint8_t> bytes) -> std::size_t {
            if (piped_exec && !vm.guest_input_ready()) return 0;
            return vm.enqueue_console_input(bytes);
        },
        [&vm](int status, std::string reason) {
            vm.request_exit({ExitRequest::Kind::UserQuit, status, std::move(reason)});
        });
    if (gdb_server) gdb_server->start(vm, wait_for_debugger);
    // The VM is built: from here the main thread is the VMM (its seccomp filter; the vCPU
    // threads Machine::run starts add their own under it).
    enter_thread_role(ThreadRole::Vmm);
    ExitRequest result = vm.run();
    if (gdb_server) gdb_server->finish(result.status);
    terminal.stop();
    switch (result.kind) {
    case ExitRequest::Kind::DebugExit:
        log::debug("{}", result.message);
        break;
    case ExitRequest::Kind::Reset:
    case ExitRequest::Kind::PowerOff:
    case ExitRequest::Kind::UserQuit:
        log::info("{}", result.message);
        break;
    case ExitRequest::Kind::Halted:
        log::warn("{}", result.message);
        break;
    default:
        log::error("{}", result.message);
        break;
    }
    return result.status;
}

// `vessel run --restore DIR`: the machine comes from DIR's snapshot, not from options.
int restore_vm(const RunOptions& options) {
    auto terminal = Terminal::open();
    if (!terminal) {
        log::error("console: {}", terminal.error().message);
        return exit_status::usage;
    }
    auto machine = Machine::restore(options.restore_dir + "/" + snapshot_state_file,
                                    options.restore_dir + "/" + snapshot_memory_file,
                                    &Terminal::write_output, false);
    if (!machine) {
        (*terminal)->stop();
        log::error("--restore {}: {}", options.restore_dir, machine.error().message);
        return exit_status::usage;
    }
    return run_to_end(**machine, **terminal, false);
}

// `vessel run --incoming URL`: the machine comes from a migration stream.
int incoming_vm(const RunOptions& options) {
    auto terminal = Terminal::open();
    if (!terminal) {
        log::error("console: {}", terminal.error().message);
        return exit_status::usage;
    }
    log::info("waiting for a migrating VM at {}", options.incoming_url);
    auto machine = Machine::receive_migration(options.incoming_url, &Terminal::write_output, false);
    if (!machine) {
        (*terminal)->stop();
        log::error("--incoming {}: {}", options.incoming_url, machine.error().message);
        return exit_status::usage;
    }
    return run_to_end(**machine, **terminal, false);
}

} // namespace

int run_vm(RunOptions& options) {
    if (!options.restore_dir.empty()) return restore_vm(options);
    if (!options.incoming_url.empty()) return incoming_vm(options);
    auto memory = parse_memory_size(options.memory_text);
    if (!memory) {
        log::error("--memory: {}", memory.error().message);
        return exit_status::usage;
    }
    if (auto fits = check_guest_memory_on_host(*memory); !fits) {
        log::error("--memory {}: {}", options.memory_text, fits.error().message);
        return exit_status::usage;
    }
    options.config.memory_size = *memory;
    options.config.engine = parse_engine(options.engine_text);
    if (auto model = check_cpu_model(options.config.cpu_model); !model) {
        log::error("{}", model.error().message);
        return exit_status::usage;
    }
    for (const auto& text : options.disk_texts) {
        auto disk = parse_disk_option(text);
        if (!disk) {
            log::error("{}", disk.error().message);
            return exit_status::usage;
        }
        options.config.disks.push_back(std::move(*disk));
    }
    options.config.console =
        options.console_text == "virtio" ? ConsoleChoice::Virtio : ConsoleChoice::Serial;
    auto networks = parse_networks(options.net_texts);
    if (!networks) {
        log::error("{}", networks.error().message);
        return exit_status::usage;
    }
    options.config.networks = std::move(*networks);
    if (!options.vsock_text.empty()) {
        auto vsock = parse_vsock_option(options.vsock_text);
        if (!vsock) {
            log::error("{}", vsock.error().message);
            return exit_status::usage;
        }
        options.config.vsock = std::move(*vsock);
    }
    // The default guest (no --kernel) has a balloon with free page reporting unless told
    // otherwise; another kernel only with --balloon.
    const std::string balloon_text = !options.balloon_text.empty()        ? options.balloon_text
                                     : options.config.kernel_path.empty() ? "reporting"
                                                                          : "none";
    auto balloon = parse_balloon_option(balloon_text, options.config.memory_size);
    if (!balloon) {
        log::error("{}", balloon.error().message);
        return exit_status::usage;
    }
    options.config.balloon = *balloon;
    options.config.page_sharing = options.page_sharing;
    if (auto root = use_root_disk(options); !root) {
        log::error("{}", root.error().message);
        return exit_status::usage;
    }
    if (options.config.kernel_path.empty()) {
        const bool piped_input = !options.exec_command.empty() && ::isatty(STDIN_FILENO) != 1;
        if (auto result = use_default_guest(options.config, options.exec_command, piped_input);
            !result) {
            log::error("{}", result.error().message);
            return exit_status::usage;
        }
    } else if (!options.exec_command.empty()) {
        log::error("--exec works with the default guest only (drop --kernel)");
        return exit_status::usage;
    }

    std::unique_ptr<gdb::GdbServer> gdb_server;
    if (!options.gdb_text.empty()) {
        auto address = gdb::parse_gdb_address(options.gdb_text);
        if (!address) {
            log::error("{}", address.error().message);
            return exit_status::usage;
        }
        auto server = gdb::GdbServer::create(*address);
        if (!server) {
            log::error("{}", server.error().message);
            return exit_status::usage;
        }
        gdb_server = std::move(*server);
    } else if (options.gdb_no_wait) {
        log::error("--gdb-no-wait needs --gdb");
        return exit_status::usage;
    }

    auto terminal = Terminal::open();
    if (!terminal) {
        log::error("console: {}", terminal.error().message);
        return exit_status::usage;
    }
    auto machine = Machine::create(options.config, &Terminal::write_output);
    if (!machine) {
        (*terminal)->stop();
        log::error("{}", machine.error().message);
        return exit_status::usage;
    }
    return run_to_end(**machine, **terminal, !options.exec_command.empty(), gdb_server.get(),
                      !options.gdb_no_wait);
}

} // namespace vessel
