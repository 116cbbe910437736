// Memory size parsing.
#include "cli/size_option.hpp"

#include <cctype>
#include <string>

namespace vessel {

Result<std::uint64_t> parse_memory_size(std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
        ++digits;
    if (digits == 0)
        return make_error("memory size '{}': expected a number with an optional K/M/G/T suffix",
                          text);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < digits; ++i) {
        std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return make_error("memory size '{}' is too large", text);
        value = value * 10 + digit;
    }
    std::string suffix(text.substr(digits));
    for (auto& c : suffix)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (suffix.ends_with("IB"))
        suffix.resize(suffix.size() - 2);
    else if (suffix.size() == 2 && suffix[1] == 'B')
        suffix.resize(1);
    int shift;
    if (suffix.empty() || suffix == "M")
        shift = 20;
    else if (suffix == "K")
        shift = 10;
    else if (suffix == "G")
        shift = 30;
    else if (suffix == "T")
        shift = 40;
    else if (suffix == "B")
        shift = 0;
    else
        return make_error("memory size '{}': unknown unit '{}' (use K, M, G or T)", text,
                          text.substr(digits));
    if (value > (UINT64_MAX >> shift)) return make_error("memory size '{}' is too large", text);
    return value << shift;
}

} // namespace vessel
