// CodeCache: one vCPU's executable memory for translated blocks, filled front to back and
// flushed whole when full.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/result.hpp"

namespace vessel::soft {

class CodeCache {
  public:
    static constexpr std::size_t default_size = 32u << 20;

    static Result<CodeCache> create(std::size_t size = default_size);
    CodeCache(CodeCache&& other) noexcept;
    CodeCache& operator=(CodeCache&&) = delete;
    CodeCache(const CodeCache&) = delete;
    ~CodeCache();

    std::uint8_t* current() const { return m_base + m_used; }
    std::size_t available() const { return m_size - m_used; }
    /// Marks `bytes` from current() as used.
    void commit(std::size_t bytes) { m_used += bytes; }
    /// Everything after the first `keep` bytes (the runtime's entry and exit code) is free again.
    void reset(std::size_t keep) { m_used = keep; }
    /// Gives the pages after the first `keep` bytes back to the host (they read as zero when
    /// used again); everything there must be free (after reset).
    void release(std::size_t keep);
    std::size_t used() const { return m_used; }
    std::size_t size() const { return m_size; }

  private:
    CodeCache(std::uint8_t* base, std::size_t size) : m_base(base), m_size(size) {}

    std::uint8_t* m_base;
    std::size_t m_size;
    std::size_t m_used{0};
};

} // namespace vessel::soft
