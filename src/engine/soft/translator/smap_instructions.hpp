// stac and clac (SMAP) in translated code: with SMAP, Linux brackets every user copy with them,
// so they run inline instead of calling the interpreter twice per system call.
#pragma once

#include <cstdint>

#include <Zydis/Zydis.h>

namespace Xbyak {
class CodeGenerator;
class Label;
} // namespace Xbyak

namespace vessel::soft {

struct JitLayout;

/// Whether instruction `mnemonic` is stac or clac and runs as translated code in a block made
/// for `context` (CpuCore::fetch_context: mode, and CPL in bits 15:8) under a CPU model with
/// `isa_features` (isa:: bits): only at CPL 0 and with SMAP in the model. Anywhere else the
/// interpreter takes it and raises #UD (Intel SDM Vol. 2, STAC/CLAC).
bool translates_alignment_check_flag(ZydisMnemonic mnemonic, std::uint32_t context,
                                     std::uint32_t isa_features);

/// Emits stac (`set`) or clac: sets or clears AC in CpuCore::rflags, the guest's RFLAGS (never
/// in the host's: with CR0.AM=1 the host kernel would check the alignment of the host process's
/// own user-mode accesses). Clobbers the host flags: the caller saved the guest's first.
///
/// Supervisor TLB entries of user pages that SMAP allowed because AC was set must go when AC is
/// cleared (CpuCore::close_user_windows): clac jumps to `windows_open` when some are open, a
/// path that must close them (the interpreter's clac does) and come back after the instruction.
void emit_alignment_check_flag(Xbyak::CodeGenerator& code, const JitLayout& layout, bool set,
                               Xbyak::Label& windows_open);

} // namespace vessel::soft
