// BlockTable: the owning store of a vCPU's decoded blocks, an open-addressing hash table.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace vessel::soft {

/// Maps a 64-bit key to an owned T (a slot without an object is empty, whatever its key), with
/// linear probing in a power-of-two table kept at most half full: a lookup hashes by one
/// multiplication and compares keys in the slots themselves (std::unordered_map took a division by
/// a prime and a pointer chase per node, most of the interpreter's block lookup in a boot). Entries
/// are never erased one by one; an entry's object keeps its address until clear() (the jump caches
/// hold pointers).
template <typename T> class BlockTable {
  public:
    BlockTable() { reset(initial_capacity); }

    /// The object stored for `key`, or nullptr.
    T* find(std::uint64_t key) const {
        for (std::size_t i = home(key);; i = (i + 1) & m_mask) {
            const Slot& slot = m_slots[i];
            if (slot.key == key) return slot.value.get();
            if (slot.value == nullptr) return nullptr;
        }
    }

    /// The slot for `key`: empty (nullptr) when absent, for the caller to fill.
    std::unique_ptr<T>& operator[](std::uint64_t key) {
        if (2 * (m_size + 1) > m_slots.size()) grow();
        for (std::size_t i = home(key);; i = (i + 1) & m_mask) {
            Slot& slot = m_slots[i];
            if (slot.key == key && slot.value != nullptr) return slot.value;
            if (slot.value == nullptr) {
                slot.key = key;
                ++m_size; // counted now: the caller fills it (an empty fill is a bug there)
                return slot.value;
            }
        }
    }

    std::size_t size() const { return m_size; }

    /// Frees every object and shrinks the table back to its first size.
    void clear() { reset(initial_capacity); }

  private:
    static constexpr std::size_t initial_capacity = 1024;
    struct Slot {
        std::uint64_t key{0};
        std::unique_ptr<T> value;
    };

    std::size_t home(std::uint64_t key) const {
        // Fibonacci hashing: the product's high bits mix every bit of the key.
        return static_cast<std::size_t>((key * 0x9e3779b97f4a7c15ull) >> m_shift);
    }
    void reset(std::size_t capacity) {
        std::vector<Slot>(capacity).swap(m_slots);
        m_mask = capacity - 1;
        m_shift = 64 - static_cast<unsigned>(__builtin_ctzll(capacity));
        m_size = 0;
    }
    void grow() {
        std::vector<Slot> old = std::move(m_slots);
        const std::size_t size = m_size;
        reset(old.size() * 2);
        for (Slot& slot : old) {
            if (slot.value == nullptr) continue;
            std::size_t i = home(slot.key);
            while (m_slots[i].value != nullptr)
                i = (i + 1) & m_mask;
            m_slots[i] = std::move(slot);
        }
        m_size = size;
    }

    std::vector<Slot> m_slots;
    std::size_t m_mask{0};
    unsigned m_shift{64};
    std::size_t m_size{0};
};

} // namespace vessel::soft
