// BootSource: parsing, file checks and the JSON form of GET /vm/config.
#include "api/boot_source.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

#include "api/json_fields.hpp"
#include "base/log.hpp"
#include "base/unique_fd.hpp"

namespace vessel::api {

namespace {
Result<void> check_readable_file(std::string_view field, const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
        return make_error("boot-source: {} '{}' cannot be opened: {}", field, path,
                          strerror(errno));
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0 || !S_ISREG(status.st_mode))
        return make_error("boot-source: {} '{}' is not a regular file", field, path);
    return {};
}
} // namespace

Result<BootSource> BootSource::from_json(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "boot-source"));
    BootSource source;
    source.kernel_image_path = TRY(fields.string("kernel_image_path"));
    source.initrd_path = TRY(fields.optional_string("initrd_path"));
    source.boot_args = TRY(fields.optional_string("boot_args"));
    TRY(fields.finish());
    TRY(check_readable_file("kernel_image_path", source.kernel_image_path));
    if (source.initrd_path) TRY(check_readable_file("initrd_path", *source.initrd_path));
    return source;
}

nlohmann::json BootSource::to_json() const {
    nlohmann::json json = {{"kernel_image_path", kernel_image_path}};
    json["initrd_path"] = initrd_path ? nlohmann::json(*initrd_path) : nlohmann::json();
    json["boot_args"] = boot_args ? nlohmann::json(*boot_args) : nlohmann::json();
    return json;
}

std::string BootSource::guest_command_line() const {
    if (!boot_args) return {};
    std::string result;
    bool dropped = false;
    std::size_t position = 0;
    while (position < boot_args->size()) {
        const std::size_t start = boot_args->find_first_not_of(' ', position);
        if (start == std::string::npos) break;
        std::size_t end = boot_args->find(' ', start);
        if (end == std::string::npos) end = boot_args->size();
        const std::string_view word(boot_args->data() + start, end - start);
        if (word == "pci=off") {
            dropped = true;
        } else {
            if (!result.empty()) result += ' ';
            result += word;
        }
        position = end;
    }
    if (dropped)
        log::info("boot-source: dropping pci=off from boot_args: Vessel's virtio devices are on "
                  "PCI");
    return result;
}

} // namespace vessel::api
