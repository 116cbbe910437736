// JsonFields: typed, strict reading of one JSON object from an API body or a config file.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace vessel::api {

/// Parses text as JSON; the error names what and where ("machine-config: invalid JSON at
/// byte 12: ...").
Result<nlohmann::json> parse_json(std::string_view text, std::string_view what);

/// Reads the fields of one object by name and type, like Firecracker's serde structs with
/// deny_unknown_fields: a field of the wrong type is an error, and finish() rejects every field
/// that was not read. Error messages name the object and the field.
class JsonFields {
  public:
    /// Fails unless value is an object.
    static Result<JsonFields> of(const nlohmann::json& value, std::string what);

    bool has(std::string_view name) const;
    Result<std::string> string(std::string_view name);
    Result<std::optional<std::string>> optional_string(std::string_view name);
    Result<std::optional<bool>> optional_bool(std::string_view name);
    /// A non-negative integer no larger than maximum.
    Result<std::optional<std::uint64_t>> optional_unsigned(std::string_view name,
                                                           std::uint64_t maximum);
    Result<std::uint64_t> unsigned_integer(std::string_view name, std::uint64_t maximum);
    /// A nested object, for reading with its own JsonFields.
    Result<std::optional<nlohmann::json>> optional_object(std::string_view name);
    /// The field as it is, marked as read; null when absent or JSON null.
    const nlohmann::json* raw(std::string_view name) { return find(name); }
    /// Fails naming the first field that was never read.
    Result<void> finish() const;

    const std::string& what() const { return m_what; }

  private:
    JsonFields(const nlohmann::json& value, std::string what)
        : m_value(&value), m_what(std::move(what)) {}
    const nlohmann::json* find(std::string_view name);

    const nlohmann::json* m_value;
    std::string m_what;
    std::set<std::string, std::less<>> m_read;
};

/// The JSON type name of a value, for messages ("string", "number", ...).
std::string_view json_type_name(const nlohmann::json& value);

} // namespace vessel::api
