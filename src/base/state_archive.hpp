// StateWriter / StateReader: the byte encoding of saved VM state (snapshots, migration).
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "base/result.hpp"

namespace vessel {

/// A piece of state that lists its fields once, for saving and loading alike:
/// `template <typename Archive> void persist(Archive& archive) { archive(a, b, c); }`.
template <typename T, typename Archive>
concept Persistable = requires(T& value, Archive& archive) {
    value.persist(archive);
};

/// Fields are little-endian and packed: integers and enums at their own width, bool as one
/// byte (0 or 1), long double as its 10-byte x87 extended form, containers as a u32 count and
/// then their elements, optionals as a presence byte and then the value. The encoding is
/// described in docs/SNAPSHOT_FORMAT.md; changing it means a new format version.
class StateWriter {
  public:
    static constexpr bool saving = true;

    template <typename... T> void operator()(const T&... values) { (put(values), ...); }

    std::vector<std::uint8_t>& bytes() { return m_bytes; }
    std::vector<std::uint8_t> take() { return std::move(m_bytes); }

    void raw(const void* data, std::size_t length) {
        const auto* bytes = static_cast<const std::uint8_t*>(data);
        m_bytes.insert(m_bytes.end(), bytes, bytes + length);
    }

  private:
    template <typename T> void put(const T& value) {
        if constexpr (std::is_same_v<T, bool>) {
            const std::uint8_t byte = value ? 1 : 0;
            raw(&byte, 1);
        } else if constexpr (std::is_enum_v<T>) {
            put(static_cast<std::underlying_type_t<T>>(value));
        } else if constexpr (std::is_same_v<T, long double>) {
            raw(&value, 10); // x86-64: the 80-bit extended value occupies the first 10 bytes
        } else if constexpr (std::is_integral_v<T> || std::is_floating_point_v<T>) {
            raw(&value, sizeof(T)); // little-endian host (x86-64 only)
        } else if constexpr (requires {
                                 std::declval<T&>().persist(std::declval<StateWriter&>());
                             }) {
            const_cast<T&>(value).persist(*this); // persist() only reads while saving
        } else {
            put_container(value);
        }
    }
    template <typename T, std::size_t N> void put_container(const std::array<T, N>& values) {
        for (const T& value : values)
            put(value);
    }
    template <typename T, std::size_t N> void put_container(const T (&values)[N]) {
        for (const T& value : values)
            put(value);
    }
    template <typename T> void put_container(const std::optional<T>& value) {
        put(value.has_value());
        if (value) put(*value);
    }
    template <typename C>
    requires requires(const C& c) {
        c.size();
        c.begin();
    }
    void put_container(const C& values) {
        put(static_cast<std::uint32_t>(values.size()));
        for (const auto& value : values)
            put(value);
    }
    template <typename K, typename V> void put_container(const std::pair<K, V>& pair) {
        put(pair.first);
        put(pair.second);
    }

    std::vector<std::uint8_t> m_bytes;
};

/// Reads what a StateWriter wrote. Errors are sticky: the first short read or bad value stops
/// every later read (fields read afterwards are left as they were) and error() names it, so
/// a persist() function needs no checks of its own; callers check ok() at the end.
class StateReader {
  public:
    static constexpr bool saving = false;
    /// Containers longer than this are refused (no huge allocation from a corrupt count).
    static constexpr std::uint32_t max_elements = 1u << 24;

    explicit StateReader(std::span<const std::uint8_t> bytes) : m_bytes(bytes) {}

    template <typename... T> void operator()(T&... values) { (get(values), ...); }

    bool ok() const { return !m_error; }
    /// The first problem met, e.g. "state ends at byte 12 where 8 more bytes were expected".
    const std::string& error() const { return *m_error; }
    /// Records a problem found by a persist() function (a value out of range).
    void fail(std::string problem) {
        if (!m_error) m_error = std::move(problem);
    }
    /// Fails unless `condition`; `what` names the field.
    void check(bool condition, std::string_view what) {
        if (!condition) fail(fmt::format("{} out of range (at byte {})", what, m_position));
    }
    std::size_t remaining() const { return m_bytes.size() - m_position; }
    /// Ok and every byte consumed; otherwise an error naming the problem.
    Result<void> finish(std::string_view what) {
        if (ok() && remaining() != 0)
            fail(fmt::format("{} bytes left over after the last field", remaining()));
        if (!ok()) return make_error("{}: {}", what, error());
        return {};
    }

    bool raw(void* out, std::size_t length) {
        if (!ok()) return false;
        if (remaining() < length) {
            fail(fmt::format("state ends at byte {} where {} more bytes were expected",
                             m_bytes.size(), length));
            return false;
        }
        std::memcpy(out, m_bytes.data() + m_position, length);
        m_position += length;
        return true;
    }

  private:
    template <typename T> void get(T& value) {
        if constexpr (std::is_same_v<T, bool>) {
            std::uint8_t byte = 0;
            if (raw(&byte, 1)) {
                check(byte <= 1, "boolean");
                value = byte == 1;
            }
        } else if constexpr (std::is_enum_v<T>) {
            std::underlying_type_t<T> underlying{};
            if (raw(&underlying, sizeof(underlying))) value = static_cast<T>(underlying);
        } else if constexpr (std::is_same_v<T, long double>) {
            long double loaded = 0;
            if (raw(&loaded, 10)) value = loaded;
        } else if constexpr (std::is_integral_v<T> || std::is_floating_point_v<T>) {
            raw(&value, sizeof(T));
        } else if constexpr (requires { value.persist(*this); }) {
            value.persist(*this);
        } else {
            get_container(value);
        }
    }
    template <typename T, std::size_t N> void get_container(std::array<T, N>& values) {
        for (T& value : values)
            get(value);
    }
    template <typename T, std::size_t N> void get_container(T (&values)[N]) {
        for (T& value : values)
            get(value);
    }
    template <typename T> void get_container(std::optional<T>& value) {
        bool present = false;
        get(present);
        if (!ok()) return;
        if (!present) {
            value.reset();
            return;
        }
        T loaded{};
        get(loaded);
        if (ok()) value = std::move(loaded);
    }
    std::uint32_t count() {
        std::uint32_t elements = 0;
        get(elements);
        check(elements <= max_elements && elements <= remaining(), "element count");
        return ok() ? elements : 0;
    }
    void get_container(std::string& value) {
        const std::uint32_t elements = count();
        value.assign(elements, '\0');
        if (elements != 0) raw(value.data(), elements);
    }
    template <typename T> void get_container(std::vector<T>& values) {
        const std::uint32_t elements = count();
        values.clear();
        for (std::uint32_t index = 0; index < elements && ok(); ++index)
            get(values.emplace_back());
    }
    template <typename T> void get_container(std::deque<T>& values) {
        const std::uint32_t elements = count();
        values.clear();
        for (std::uint32_t index = 0; index < elements && ok(); ++index)
            get(values.emplace_back());
    }
    template <typename K, typename V> void get_container(std::map<K, V>& values) {
        const std::uint32_t elements = count();
        values.clear();
        for (std::uint32_t index = 0; index < elements && ok(); ++index) {
            K key{};
            V value{};
            get(key);
            get(value);
            if (ok()) values.emplace(std::move(key), std::move(value));
        }
    }

    std::span<const std::uint8_t> m_bytes;
    std::size_t m_position{0};
    std::optional<std::string> m_error;
};

} // namespace vessel
