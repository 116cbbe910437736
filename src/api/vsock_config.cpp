// Vsock validation per Firecracker's swagger definition.
#include "api/vsock_config.hpp"

#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "api/json_fields.hpp"

namespace vessel::api {

namespace {
constexpr std::uint64_t min_guest_cid = 3; // swagger Vsock.guest_cid minimum; 0-2 are reserved

Result<void> check_socket_path(const std::string& path) {
    constexpr std::size_t max_path = sizeof(sockaddr_un{}.sun_path) - 1;
    if (path.empty() || path.size() > max_path)
        return make_error("vsock: uds_path '{}' must be 1 to {} bytes long", path, max_path);
    struct stat existing {};
    if (::lstat(path.c_str(), &existing) == 0)
        return make_error("vsock: Cannot create backend for vsock device: uds_path '{}': "
                          "Address in use (the file exists)",
                          path);
    const std::size_t slash = path.rfind('/');
    const std::string directory =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    struct stat parent {};
    if (::stat(directory.c_str(), &parent) != 0 || !S_ISDIR(parent.st_mode))
        return make_error("vsock: Cannot create backend for vsock device: uds_path '{}': "
                          "directory '{}' does not exist",
                          path, directory);
    return {};
}
} // namespace

nlohmann::json VsockDeviceConfig::to_json() const {
    nlohmann::json json = {{"guest_cid", guest_cid}, {"uds_path", uds_path}};
    if (vsock_id) json["vsock_id"] = *vsock_id;
    return json;
}

Result<VsockDeviceConfig> parse_vsock(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "vsock"));
    VsockDeviceConfig config;
    config.vsock_id = TRY(fields.optional_string("vsock_id"));
    const std::uint64_t cid = TRY(fields.unsigned_integer("guest_cid", UINT32_MAX));
    if (cid < min_guest_cid)
        return make_error("vsock: field 'guest_cid' is {}; CIDs 0-2 are reserved (use 3 or more)",
                          cid);
    config.guest_cid = static_cast<std::uint32_t>(cid);
    config.uds_path = TRY(fields.string("uds_path"));
    TRY(fields.finish());
    TRY(check_socket_path(config.uds_path));
    return config;
}

} // namespace vessel::api
