// stac and clac in translated code (smap_instructions.hpp).
#include "engine/soft/translator/smap_instructions.hpp"

#include <xbyak/xbyak.h>

#include "arch/x86/cpu_state.hpp"
#include "engine/soft/cpu_model.hpp"
#include "engine/soft/translator/jit_runtime.hpp"

namespace vessel::soft {

using namespace Xbyak::util;

bool translates_alignment_check_flag(ZydisMnemonic mnemonic, std::uint32_t context,
                                     std::uint32_t isa_features) {
    if (mnemonic != ZYDIS_MNEMONIC_STAC && mnemonic != ZYDIS_MNEMONIC_CLAC) return false;
    const std::uint32_t cpl = (context >> 8) & 0xff;
    return cpl == 0 && (isa_features & isa::smap) != 0;
}

void emit_alignment_check_flag(Xbyak::CodeGenerator& code, const JitLayout& layout, bool set,
                               Xbyak::Label& windows_open) {
    static_assert(x86::rflags::ac < (std::uint64_t{1} << 31), "AC is in the low dword");
    const auto flags = code.dword[r15 + layout.rflags];
    if (set) {
        code.or_(flags, static_cast<std::uint32_t>(x86::rflags::ac));
        return;
    }
    code.and_(flags, ~static_cast<std::uint32_t>(x86::rflags::ac));
    code.cmp(code.dword[r15 + layout.user_window_count], 0);
    code.jne(windows_open, Xbyak::CodeGenerator::T_NEAR);
}

} // namespace vessel::soft
