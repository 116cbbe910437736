// JsonFields: strict field access with messages naming the object and the field.
#include "api/json_fields.hpp"

namespace vessel::api {

Result<nlohmann::json> parse_json(std::string_view text, std::string_view what) {
    if (text.empty())
        return make_error("{}: the request body is empty; a JSON object is required", what);
    // nlohmann reports positions only through its exception; it never leaves this function.
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& error) {
        return make_error("{}: invalid JSON: {}", what, error.what());
    }
}

std::string_view json_type_name(const nlohmann::json& value) {
    if (value.is_number_unsigned()) return "non-negative integer";
    if (value.is_number_integer()) return "negative integer";
    if (value.is_number_float()) return "floating-point number";
    return value.type_name();
}

Result<JsonFields> JsonFields::of(const nlohmann::json& value, std::string what) {
    if (!value.is_object())
        return make_error("{}: expected a JSON object, got {}", what, json_type_name(value));
    return JsonFields(value, std::move(what));
}

bool JsonFields::has(std::string_view name) const {
    return m_value->find(name) != m_value->end();
}

const nlohmann::json* JsonFields::find(std::string_view name) {
    m_read.emplace(name);
    auto found = m_value->find(name);
    // null is "absent", as for Firecracker's optional fields (GET /vm/config emits nulls).
    if (found == m_value->end() || found->is_null()) return nullptr;
    return &*found;
}

Result<std::optional<std::string>> JsonFields::optional_string(std::string_view name) {
    const nlohmann::json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_string())
        return make_error("{}: field '{}' must be a string, got {}", m_what, name,
                          json_type_name(*value));
    return value->get<std::string>();
}

Result<std::string> JsonFields::string(std::string_view name) {
    auto value = TRY(optional_string(name));
    if (!value) return make_error("{}: missing required field '{}'", m_what, name);
    return *value;
}

Result<std::optional<bool>> JsonFields::optional_bool(std::string_view name) {
    const nlohmann::json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_boolean())
        return make_error("{}: field '{}' must be a boolean, got {}", m_what, name,
                          json_type_name(*value));
    return value->get<bool>();
}

Result<std::optional<std::uint64_t>> JsonFields::optional_unsigned(std::string_view name,
                                                                   std::uint64_t maximum) {
    const nlohmann::json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_number_unsigned())
        return make_error("{}: field '{}' must be a non-negative integer, got {}", m_what, name,
                          json_type_name(*value));
    auto number = value->get<std::uint64_t>();
    if (number > maximum)
        return make_error("{}: field '{}' is {}, the maximum is {}", m_what, name, number, maximum);
    return number;
}

Result<std::uint64_t> JsonFields::unsigned_integer(std::string_view name, std::uint64_t maximum) {
    auto value = TRY(optional_unsigned(name, maximum));
    if (!value) return make_error("{}: missing required field '{}'", m_what, name);
    return *value;
}

Result<std::optional<nlohmann::json>> JsonFields::optional_object(std::string_view name) {
    const nlohmann::json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_object())
        return make_error("{}: field '{}' must be an object, got {}", m_what, name,
                          json_type_name(*value));
    return *value;
}

Result<void> JsonFields::finish() const {
    for (const auto& [name, value] : m_value->items()) {
        if (!m_read.contains(name)) return make_error("{}: unknown field '{}'", m_what, name);
    }
    return {};
}

} // namespace vessel::api
