// `vessel jail`: parses the jailer's options into a JailConfig and runs it.
#include "cli/jail_command.hpp"

#include "base/exit_request.hpp"
#include "base/log.hpp"
#include "sandbox/jail.hpp"

namespace vessel {

CLI::App* add_jail_command(CLI::App& app, JailOptions& options) {
    auto* command = app.add_subcommand(
        "jail", "Run Vessel jailed, as Firecracker's jailer does: a chroot holding only the "
                "VM's files, new mount (and PID, network) namespaces, cgroups, resource limits, "
                "an unprivileged uid/gid. Vessel's own arguments follow `--`");
    command->add_option("--id", options.id, "Jail id: letters, digits, '-' (at most 64)")
        ->required();
    command->add_option("--exec-file", options.exec_file, "The Vessel binary to run")->required();
    command->add_option("--uid", options.uid, "User id Vessel runs as")->required();
    command->add_option("--gid", options.gid, "Group id Vessel runs as")->required();
    command
        ->add_option("--chroot-base-dir", options.chroot_base_dir,
                     "The jail is BASE/<exec file name>/<id>/root")
        ->capture_default_str();
    command->add_option("--netns", options.netns,
                        "Network namespace to join (a file, e.g. "
                        "/var/run/netns/NAME)");
    command->add_flag("--daemonize", options.daemonize,
                      "Detach: new session, standard streams to /dev/null");
    command->add_flag("--new-pid-ns", options.new_pid_ns, "Run in a new PID namespace");
    command->add_option("--cgroup", options.cgroups,
                        "FILE=VALUE in the VM's cgroup, e.g. cpu.weight=300 (v2), cpu.shares=1024 "
                        "(v1), memory.max=512M; repeatable");
    command
        ->add_option("--cgroup-version", options.cgroup_version,
                     "1, 2, or auto: as the host mounts /sys/fs/cgroup")
        ->check(CLI::IsMember({"1", "2", "auto"}))
        ->capture_default_str();
    command->add_option("--resource-limit", options.resource_limits,
                        "NAME=VALUE: fsize, no-file, nproc, memlock, as, core; repeatable");
    command->add_option("--file", options.files,
                        "HOST_PATH[:/PATH/IN/JAIL]: a file the VM needs (kernel, initrd, disk), "
                        "owned by --uid/--gid inside: hard-linked when the host file is theirs "
                        "already, else copied; repeatable");
    command->footer("Inside the jail: the exec file at /, the files at their paths, /dev/kvm, "
                    "/dev/net/tun, /dev/null and /dev/urandom as the host has them, /proc, and "
                    "/run writable for the API socket. Vessel's own arguments follow `--` (e.g. -- "
                    "--api-sock /run/api.sock) and get `--id ID` in front.");
    return command;
}

namespace {

Result<sandbox::JailConfig> jail_config(const JailOptions& options) {
    sandbox::JailConfig config;
    config.id = options.id;
    config.exec_file = options.exec_file;
    config.uid = options.uid;
    config.gid = options.gid;
    config.chroot_base_dir = options.chroot_base_dir;
    config.netns = options.netns;
    config.daemonize = options.daemonize;
    config.new_pid_ns = options.new_pid_ns;
    if (options.cgroup_version == "1") config.cgroup_version = sandbox::CgroupVersion::V1;
    if (options.cgroup_version == "2") config.cgroup_version = sandbox::CgroupVersion::V2;
    for (const auto& text : options.cgroups)
        config.cgroups.push_back(TRY(sandbox::parse_cgroup_setting(text)));
    for (const auto& text : options.resource_limits)
        config.resource_limits.push_back(TRY(sandbox::parse_resource_limit(text)));
    for (const auto& text : options.files)
        config.files.push_back(TRY(sandbox::parse_jail_file(text)));
    config.exec_arguments = options.vessel_arguments;
    return config;
}

} // namespace

int run_jail_command(const JailOptions& options) {
    auto config = jail_config(options);
    if (!config) {
        log::error("{}", config.error().message);
        return exit_status::usage;
    }
    auto status = sandbox::run_jail(*config);
    if (!status) {
        log::error("{}", status.error().message);
        return exit_status::usage;
    }
    return *status;
}

} // namespace vessel
