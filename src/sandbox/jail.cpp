// Jail: builds <base>/<exec name>/<id>/root with only the VM's files, applies cgroups and
// resource limits, enters new mount (and PID, network) namespaces, pivots into the root,
// drops to the given uid/gid and execs Vessel, the order Firecracker's jailer uses.
#include "sandbox/jail.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <grp.h>
#include <link.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.hpp"

namespace vessel::sandbox {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t max_id_length = 64;                 // Firecracker's limit
constexpr const char* api_socket_directory = "run";       // writable by the jailed uid
constexpr const char* proc_options = "hidepid=invisible"; // other users' processes hidden

Result<void> check_id(const std::string& id) {
    if (id.empty() || id.size() > max_id_length)
        return make_error("--id '{}': 1 to {} characters", id, max_id_length);
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
            return make_error("--id '{}': only letters, digits and '-' (it names a directory "
                              "and a cgroup)",
                              id);
    return {};
}

// Hard link when the file system allows it (Firecracker's way), else a copy.
Result<void> place_file(const fs::path& source, const fs::path& target) {
    std::error_code error;
    fs::create_directories(target.parent_path(), error);
    if (error) return make_error("jail: {}: {}", target.parent_path().string(), error.message());
    fs::remove(target, error);
    fs::create_hard_link(source, target, error);
    if (!error) return {};
    fs::copy_file(source, target, fs::copy_options::overwrite_existing, error);
    if (error)
        return make_error("jail: cannot link or copy {} to {}: {}", source.string(),
                          target.string(), error.message());
    return {};
}

// A VM file the jailed uid must own: a hard link when the host file is the uid's already,
// else a copy given to it (a hard link would share, and so change, the original's owner).
Result<void> place_owned_file(const fs::path& source, const fs::path& target, uid_t uid,
                              gid_t gid) {
    struct stat host {};
    if (::stat(source.c_str(), &host) != 0)
        return make_error("--file {}: {}", source.string(), std::strerror(errno));
    if (host.st_uid == uid && host.st_gid == gid) return place_file(source, target);
    std::error_code error;
    fs::create_directories(target.parent_path(), error);
    fs::remove(target, error);
    fs::copy_file(source, target, error);
    if (error)
        return make_error("jail: cannot copy {} to {}: {}", source.string(), target.string(),
                          error.message());
    if (::chown(target.c_str(), uid, gid) != 0)
        return make_error("jail: chown {}: {}", target.string(), std::strerror(errno));
    return {};
}

// The shared libraries (and the dynamic loader) this process has loaded: the jailed Vessel is
// the same binary and needs the same ones inside the chroot.
int collect_library(dl_phdr_info* info, std::size_t, void* data) {
    auto* libraries = static_cast<std::vector<std::string>*>(data);
    if (info->dlpi_name && info->dlpi_name[0] == '/') libraries->emplace_back(info->dlpi_name);
    return 0;
}

Result<void> place_libraries(const fs::path& root) {
    std::vector<std::string> libraries;
    dl_iterate_phdr(collect_library, &libraries);
    for (const auto& library : libraries) {
        std::error_code error;
        const fs::path resolved = fs::canonical(library, error);
        if (error) continue;
        TRY(place_file(resolved, root / fs::path(library).relative_path()));
    }
    return {};
}

// Device nodes the VM may need, made as the host has them (KVM, TAP, /dev/null, urandom).
Result<void> make_devices(const fs::path& root, uid_t uid, gid_t gid) {
    for (const char* device : {"/dev/kvm", "/dev/net/tun", "/dev/null", "/dev/urandom"}) {
        struct stat host {};
        if (::stat(device, &host) != 0) continue; // not on this host: not in the jail either
        const fs::path node = root / fs::path(device).relative_path();
        std::error_code error;
        fs::create_directories(node.parent_path(), error);
        fs::remove(node, error);
        if (::mknod(node.c_str(), S_IFCHR | 0660, host.st_rdev) != 0)
            return make_error("jail: mknod {}: {}", node.string(), std::strerror(errno));
        if (::chown(node.c_str(), uid, gid) != 0)
            return make_error("jail: chown {}: {}", node.string(), std::strerror(errno));
    }
    return {};
}

Result<void> prepare_root(const JailConfig& config, const fs::path& root) {
    std::error_code error;
    fs::create_directories(root, error);
    if (error) return make_error("jail: {}: {}", root.string(), error.message());
    const fs::path exec_target = root / fs::path(config.exec_file).filename();
    TRY(place_file(config.exec_file, exec_target));
    TRY(place_libraries(root));
    for (const auto& file : config.files)
        TRY(place_owned_file(file.host_path, root / fs::path(file.jail_path).relative_path(),
                             config.uid, config.gid));
    TRY(make_devices(root, config.uid, config.gid));
    fs::create_directories(root / "proc", error);
    const fs::path run = root / api_socket_directory;
    fs::create_directories(run, error);
    if (error || ::chown(run.c_str(), config.uid, config.gid) != 0)
        return make_error("jail: cannot make {} for the API socket", run.string());
    return {};
}

// Makes root the file system root of this mount namespace; the host's tree is gone from it.
Result<void> pivot_into(const fs::path& root, bool mount_proc) {
    if (::mount(root.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
        return make_error("jail: bind-mount {}: {}", root.string(), std::strerror(errno));
    if (::chdir(root.c_str()) != 0)
        return make_error("jail: chdir {}: {}", root.string(), std::strerror(errno));
    ::mkdir("old_root", 0700);
    if (::syscall(SYS_pivot_root, ".", "old_root") != 0)
        return make_error("jail: pivot_root {}: {}", root.string(), std::strerror(errno));
    if (::chdir("/") != 0 || ::umount2("/old_root", MNT_DETACH) != 0)
        return make_error("jail: detaching the host's root: {}", std::strerror(errno));
    ::rmdir("/old_root");
    if (mount_proc) {
        const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
        if (::mount("proc", "/proc", "proc", flags, proc_options) != 0 &&
            ::mount("proc", "/proc", "proc", flags, nullptr) != 0)
            return make_error("jail: mounting /proc: {}", std::strerror(errno));
    }
    return {};
}

Result<void> drop_privileges(uid_t uid, gid_t gid) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)
        return make_error("jail: dropping to uid {} gid {}: {}", uid, gid, std::strerror(errno));
    if (uid != 0 && ::setuid(0) == 0) return make_error("jail: uid {} could regain root", uid);
    return {};
}

void detach_from_terminal() {
    ::setsid();
    const int null = ::open("/dev/null", O_RDWR);
    if (null < 0) return;
    for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO})
        ::dup2(null, fd);
    if (null > STDERR_FILENO) ::close(null);
}

[[noreturn]] void exec_vessel(const JailConfig& config) {
    const std::string name = fs::path(config.exec_file).filename().string();
    std::vector<std::string> arguments{name, "--id", config.id};
    arguments.insert(arguments.end(), config.exec_arguments.begin(), config.exec_arguments.end());
    std::vector<char*> argv;
    for (auto& argument : arguments)
        argv.push_back(argument.data());
    argv.push_back(nullptr);
    ::execv(("/" + name).c_str(), argv.data());
    log::error("jail: exec /{} in {}: {}", name, jail_root(config), std::strerror(errno));
    ::_exit(2);
}

// The jailed process: pivot, drop privileges, exec. Never returns.
[[noreturn]] void enter_and_exec(const JailConfig& config) {
    auto entered = [&]() -> Result<void> {
        TRY(pivot_into(jail_root(config), true));
        if (config.daemonize) detach_from_terminal();
        TRY(drop_privileges(config.uid, config.gid));
        return {};
    }();
    if (!entered) {
        log::error("{}", entered.error().message);
        ::_exit(2);
    }
    exec_vessel(config);
}

std::atomic<pid_t> forward_to{0};
extern "C" void forward_signal(int signal_number) {
    if (const pid_t child = forward_to.load(); child > 0) ::kill(child, signal_number);
}

// Waits for child, passing quit signals on to it (a PID namespace's init ignores signals it
// has no handler for, so the jailer relays them), and returns its exit status.
int wait_forwarding(pid_t child) {
    forward_to.store(child);
    struct sigaction action {};
    action.sa_handler = forward_signal;
    sigemptyset(&action.sa_mask);
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2})
        ::sigaction(signal_number, &action, nullptr);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

} // namespace

Result<ResourceLimit> parse_resource_limit(std::string_view text) {
    const auto equals = text.find('=');
    if (equals == std::string_view::npos)
        return make_error("--resource-limit {}: expected NAME=VALUE (fsize, no-file, nproc, "
                          "memlock, as)",
                          text);
    const std::string_view name = text.substr(0, equals);
    const std::string value(text.substr(equals + 1));
    int resource = -1;
    if (name == "fsize")
        resource = RLIMIT_FSIZE;
    else if (name == "no-file")
        resource = RLIMIT_NOFILE;
    else if (name == "nproc")
        resource = RLIMIT_NPROC;
    else if (name == "memlock")
        resource = RLIMIT_MEMLOCK;
    else if (name == "as")
        resource = RLIMIT_AS;
    else if (name == "core")
        resource = RLIMIT_CORE;
    if (resource < 0)
        return make_error("--resource-limit {}: unknown limit '{}' (fsize, no-file, nproc, "
                          "memlock, as, core)",
                          text, name);
    char* end = nullptr;
    errno = 0;
    const unsigned long long number = std::strtoull(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno != 0 || value.front() == '-')
        return make_error("--resource-limit {}: '{}' is not a number", text, value);
    return ResourceLimit{resource, static_cast<rlim_t>(number)};
}

Result<JailFile> parse_jail_file(std::string_view text) {
    const auto colon = text.find(':');
    std::string host(text.substr(0, colon));
    std::string inside = colon == std::string_view::npos ? "/" + fs::path(host).filename().string()
                                                         : std::string(text.substr(colon + 1));
    if (host.empty() || inside.empty() || inside.front() != '/' ||
        inside.find("..") != std::string::npos)
        return make_error("--file {}: expected HOST_PATH or HOST_PATH:/PATH/IN/JAIL (absolute, "
                          "no '..')",
                          text);
    return JailFile{std::move(host), std::move(inside)};
}

std::string jail_root(const JailConfig& config) {
    return (fs::path(config.chroot_base_dir) / fs::path(config.exec_file).filename() / config.id /
            "root")
        .string();
}

Result<void> check_jail_config(const JailConfig& config) {
    TRY(check_id(config.id));
    std::error_code error;
    if (!fs::is_regular_file(config.exec_file, error) || ::access(config.exec_file.c_str(), X_OK))
        return make_error("--exec-file {}: not an executable file", config.exec_file);
    for (const auto& file : config.files)
        if (!fs::is_regular_file(file.host_path, error))
            return make_error("--file {}: not a regular file", file.host_path);
    if (!config.netns.empty() && !fs::exists(config.netns, error))
        return make_error("--netns {}: no such file", config.netns);
    if (config.chroot_base_dir.empty() || config.chroot_base_dir.front() != '/')
        return make_error("--chroot-base-dir '{}': must be an absolute path",
                          config.chroot_base_dir);
    return {};
}

Result<int> run_jail(const JailConfig& config) {
    TRY(check_jail_config(config));
    if (::geteuid() != 0)
        return make_error("vessel jail must run as root (it makes namespaces, cgroups and device "
                          "nodes, then drops to --uid {})",
                          config.uid);
    const fs::path root = jail_root(config);
    TRY(prepare_root(config, root));
    const CgroupVersion version = config.cgroup_version.value_or(detect_cgroup_version());
    TRY(apply_cgroup(version, config.id, config.cgroups, ::getpid()));
    for (const auto& limit : config.resource_limits) {
        const rlimit value{limit.value, limit.value};
        if (::setrlimit(limit.resource, &value) != 0)
            return make_error("--resource-limit: setrlimit({}, {}): {}", limit.resource,
                              limit.value, std::strerror(errno));
    }
    if (!config.netns.empty()) {
        const int fd = ::open(config.netns.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0)
            return make_error("--netns {}: {}", config.netns, std::strerror(errno));
        ::close(fd);
    }
    if (::unshare(CLONE_NEWNS | (config.new_pid_ns ? CLONE_NEWPID : 0)) != 0)
        return make_error("jail: unshare (mount{} namespace): {}",
                          config.new_pid_ns ? " and PID" : "", std::strerror(errno));
    // Nothing mounted in the jail propagates back to the host.
    if (::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
        return make_error("jail: making / a slave mount: {}", std::strerror(errno));
    if (!config.new_pid_ns) enter_and_exec(config);
    // The first child is the PID namespace's init; it runs Vessel as its child so that quit
    // signals reach Vessel (relayed), and ends with its status.
    const pid_t init = ::fork();
    if (init < 0) return make_error("jail: fork: {}", std::strerror(errno));
    if (init == 0) {
        if (config.daemonize) detach_from_terminal(); // the init holds no terminal either
        const pid_t vessel = ::fork();
        if (vessel < 0) ::_exit(2);
        if (vessel == 0) {
            // /proc must be the new namespace's: mount it from inside (pivot_into).
            enter_and_exec(config);
        }
        ::_exit(wait_forwarding(vessel));
    }
    if (config.daemonize) {
        log::info("jail {}: running as pid {} (PID namespace init)", config.id, init);
        return 0;
    }
    return wait_forwarding(init);
}

} // namespace vessel::sandbox
