// The CR4 bits the software CPU implements per CPU model, and their names.
#include "engine/soft/cr4_bits.hpp"

#include <array>
#include <bit>

#include <fmt/format.h>

#include "arch/x86/cpu_state.hpp"
#include "engine/soft/cpu_model.hpp"
#include "engine/soft/protection_bits.hpp"
#include "engine/soft/xsave_state.hpp"

namespace vessel::soft {

std::uint64_t cr4_bits_offered(std::uint32_t isa_features) {
    using namespace x86::cr4;
    std::uint64_t bits = vme | pvi | tsd | de | pse | pae | mce | pge | pce | osfxsr | osxmmexcpt;
    // CR4.OSXSAVE only on a model with XSAVE (Intel SDM Vol. 3A, 2.5); UMIP, SMEP, SMAP and PKE
    // likewise only where the model offers them.
    if (isa_features & isa::xsave) bits |= xsave::cr4_osxsave;
    if (isa_features & isa::umip) bits |= protection::cr4_umip;
    if (isa_features & isa::smep) bits |= protection::cr4_smep;
    if (isa_features & isa::smap) bits |= protection::cr4_smap;
    if (isa_features & isa::pku) bits |= protection::cr4_pke;
    return bits;
}

std::string cr4_bit_names(std::uint64_t bits) {
    // Intel SDM Vol. 3A, Figure 2-7 "Control Registers"; "" for reserved bits.
    static constexpr std::array<const char*, 26> names = {
        "VME",     "PVI",        "TSD",  "DE",   "PSE",  "PAE",  "MCE", "PGE",      "PCE",
        "OSFXSR",  "OSXMMEXCPT", "UMIP", "LA57", "VMXE", "SMXE", "",    "FSGSBASE", "PCIDE",
        "OSXSAVE", "KL",         "SMEP", "SMAP", "PKE",  "CET",  "PKS", "UINTR"};
    std::string text;
    while (bits != 0) {
        const unsigned bit = static_cast<unsigned>(std::countr_zero(bits));
        bits &= bits - 1;
        if (!text.empty()) text += ", ";
        const char* name = bit < names.size() ? names[bit] : "";
        text += *name ? fmt::format("{} (bit {})", name, bit) : fmt::format("bit {}", bit);
    }
    return text;
}

} // namespace vessel::soft
