// CpuCore: the software CPU's architectural state and its memory, port and flag primitives.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "arch/x86/cpu_state.hpp"
#include "arch/x86/cpuid_policy.hpp"
#include "arch/x86/descriptors.hpp"
#include "arch/x86/exceptions.hpp"
#include "devices/bus.hpp"
#include "engine/soft/code_pages.hpp"
#include "engine/soft/cpu_model.hpp"
#include "engine/soft/decoded_op.hpp"
#include "engine/soft/fpu_state.hpp"
#include "engine/soft/guest_fault.hpp"
#include "engine/soft/lazy_flags.hpp"
#include "engine/soft/page_aliases.hpp"
#include "engine/soft/soft_tlb.hpp"
#include "engine/soft/translator/jit_context.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::soft {

class SoftPlatform;
class SoftDebugger;

/// Decoding and addressing mode, derived from CR0, EFER and CS.
enum class CpuMode : std::uint8_t { Real, Protected16, Protected32, Long64, Compat16, Compat32 };

class CpuCore {
  public:
    CpuCore(GuestMemory& memory, Bus& io_bus, Bus& mmio_bus, SoftPlatform* platform,
            CodePages& code_pages, std::uint32_t index);

    /// A CpuCore is large (over 1 MiB, mostly the translator's TLB and jump cache, all written
    /// by the constructor), so it lives in memory the kernel may back with transparent huge
    /// pages: building a vCPU (a boot, a restore, a migration's destination) then takes a few
    /// page faults instead of hundreds (cpu_core_allocation.cpp).
    static void* operator new(std::size_t size);
    static void operator delete(void* pointer, std::size_t size);

    // ---- architectural state (public: the instruction handlers are free functions) ----
    std::uint64_t gpr[16]{};
    std::uint64_t rip{0};
    std::uint64_t rflags{x86::rflags::fixed1}; ///< arithmetic bits stale while lazy.op != None
    LazyFlags lazy;
    x86::SegmentRegister segments[6];
    x86::SegmentRegister tr, ldt;
    x86::DescriptorTable gdt, idt;
    std::uint64_t cr0{x86::cr0::et}, cr2{0}, cr3{0}, cr4{0}, cr8{0}, efer{0};
    std::uint64_t dr[8]{0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400};
    std::uint64_t star{0}, lstar{0}, cstar{0}, sfmask{0}, kernel_gs_base{0}, tsc_aux{0};
    std::uint64_t sysenter_cs{0}, sysenter_esp{0}, sysenter_eip{0};
    std::uint64_t pat{0x0007040600070406}, misc_enable{1}, mtrr_def_type{0};
    std::uint64_t spec_ctrl{0}; ///< IBRS, STIBP, SSBD: stored, no effect (nothing speculates)
    /// Machine-check architecture (model_specific_registers.cpp): IA32_MCG_STATUS, IA32_MCG_CTL
    /// and each bank's CTL, STATUS, ADDR, MISC. Nothing ever reports an error in them.
    static constexpr unsigned machine_check_banks = 10;
    std::uint64_t mcg_status{0}, mcg_ctl{~std::uint64_t{0}};
    std::uint64_t machine_check_bank[machine_check_banks][4]{};
    std::int64_t tsc_offset{0}; ///< also IA32_TSC_ADJUST: both start at 0, move together
    /// PKRU: access-disable and write-disable bits per protection key (Intel SDM Vol. 3, 4.6.2).
    /// Not an XSAVE component here (XCR0 bit 9 stays unsupported).
    std::uint32_t pkru{0};
    FpuState fpu;
    /// XCR0, the state components XSAVE manages and AVX needs enabled (xsave_state.hpp).
    std::uint64_t xcr0{1};
    std::uint32_t cpu_count{1}; ///< vCPUs in the VM (CPUID topology): set_cpu_count()

    // ---- derived and interpreter state ----
    std::uint8_t cpl{0};
    CpuMode mode{CpuMode::Real};
    std::uint64_t segment_base[6]{};  ///< effective bases (0 for es/cs/ss/ds in 64-bit mode)
    std::uint64_t instruction_rip{0}; ///< start of the instruction being executed
    bool interrupt_shadow{false};     ///< sti / mov ss: no interrupt before the next instruction
    /// The next block ends after one instruction: the one in the shadow, so that interrupts are
    /// looked at on the boundary right after it (sti; nop; cli opens a real window).
    bool single_instruction{false};
    bool exit_block{false}; ///< stop the current block after this instruction
    bool halted{false};
    /// An NMI handler runs: further NMIs stay pending until the next iret (Intel SDM Vol. 3,
    /// 6.7.1).
    bool nmi_blocked{false};
    /// Counts interrupt and exception deliveries (deliver()): a single-stepped instruction
    /// that delivered one (int n, a fault) takes no single-step trap after it.
    std::uint64_t deliveries{0};
    bool pending_shutdown{false};
    /// The interpreter's jump cache (linear address -> block) is valid while these match:
    /// fetch_epoch is bumped by every TLB flush, global_fetch_epoch only by flushes that drop
    /// global pages too (entries for global pages check that one), and fetch_context is the
    /// decoding mode and CPL.
    std::uint64_t fetch_epoch{0};
    std::uint64_t global_fetch_epoch{0};
    std::uint32_t fetch_context{0};
    /// State shared with translated code (its TLB, flag hand-over slots, budget).
    JitContext jit;
    /// A debugger's read/access watchpoints: while set, no data translation stays in the TLB, so
    /// every load and store takes the slow path, which reports it here. Null otherwise.
    SoftDebugger* access_watcher{nullptr};
    // ---- guest breakpoints (debug_breakpoints.cpp; Intel SDM Vol. 3, 18.2-18.3) ----
    /// DR7's enabled data breakpoints (bit i: DRi watches writes, or reads and writes): while
    /// nonzero no data translation stays in the TLB, so every load and store reaches
    /// note_data_access. Set by update_breakpoints().
    std::uint8_t data_breakpoints{0};
    /// DR6 B0-B3 bits of the data breakpoints the current instruction hit.
    std::uint8_t data_breakpoint_hits{0};
    /// Set by mov ss / pop ss: the debug traps of that instruction wait until the next one has
    /// run (Intel SDM Vol. 3, 6.8.3). Looked at only while the vCPU runs traced.
    bool ss_shadow{false};
    /// DR6 bits of debug traps a mov ss / pop ss held back.
    std::uint64_t pending_debug_traps{0};
    /// Whether the next instruction must run alone in the interpreter with the debug checks:
    /// an enabled DR0-DR3 breakpoint, TF or RF set, or a held-back trap.
    bool debug_traced() const {
        return (dr[7] & 0xff) != 0 || (rflags & (x86::rflags::tf | x86::rflags::rf)) != 0 ||
               pending_debug_traps != 0;
    }
    /// Recomputes data_breakpoints from DR7 (after a mov to DR7 or a restore).
    void update_breakpoints();
    /// DR6 B0-B3 bits of the enabled instruction breakpoints at linear address `address`.
    std::uint64_t instruction_breakpoint_hits(std::uint64_t address) const;
    /// A load or store of `size` bytes at linear `address` (memory slow path).
    void note_data_access(std::uint64_t address, unsigned size, bool write);
    /// What CPUID returns on this vCPU: the soft engine's leaves under Vessel's CPUID policy.
    std::vector<x86::CpuidEntry> cpuid_table;
    /// The CPU model (cpu_model.hpp) and its extensions (isa:: bits), which CPUID advertises and
    /// the handlers of those extensions check (#UD when absent): set_cpu_model().
    CpuModel cpu_model{CpuModel::Baseline};
    std::uint32_t isa_features{0};
    /// MAXPHYADDR, from CPUID 0x80000008: paging-entry address bits at or above it are reserved.
    unsigned physical_address_bits{40};

    /// What an INIT changes beyond the registers load_state() sets (Intel SDM Vol. 3, table
    /// 10-1 "IA-32 and Intel 64 Processor States Following Power-up, Reset, or INIT"): XCR0 = 1
    /// (x87 only, Vol. 1 13.3), DR0-DR3 = 0, DR6 = 0xffff0ff0, DR7 = 0x400; x87/SSE state,
    /// MSRs and caches are kept.
    void init_reset();
    /// A power-on reset (what S3 does to a CPU): init_reset() plus the x87, SSE and AVX state,
    /// the system-call, PAT and machine-check MSRs and PKRU at their power-up values. The TSC
    /// keeps counting (the platform's time line is the guest's).
    void power_on_reset();
    /// Sets the VM's vCPU count, which CPUID reports.
    void set_cpu_count(std::uint32_t count);
    /// Sets the CPU model (CPUID and instruction availability); the constructor picks
    /// default_cpu_model().
    void set_cpu_model(CpuModel model);
    bool has_feature(std::uint32_t feature) const { return (isa_features & feature) != 0; }
    /// #UD unless the model holds `feature` (an instruction of an extension not advertised).
    void require_feature(std::uint32_t feature) {
        if (!has_feature(feature)) raise(x86::vector::invalid_opcode);
    }
    std::uint32_t index() const { return m_index; }
    SoftPlatform* platform() const { return m_platform; }
    GuestMemory& memory() const { return m_memory; }
    CodePages& code_pages() const { return m_code_pages; }

    void load_state(const x86::CpuState& state);
    x86::CpuState save_state();
    /// Recomputes mode, CPL and effective segment bases after CR0/EFER/CS changes.
    void update_mode();
    bool long_mode_active() const { return (efer & x86::efer::lma) != 0; }
    bool paging() const { return (cr0 & x86::cr0::pg) != 0; }
    bool protected_mode() const { return (cr0 & x86::cr0::pe) != 0; }
    unsigned code_size() const;  ///< default operand/address size in bytes
    unsigned stack_size() const; ///< 2, 4 or 8

    // ---- flags ----
    std::uint64_t flags() {
        if (lazy.op != FlagOp::None) {
            rflags = (rflags & ~arithmetic_flags) | lazy.compute();
            lazy.op = FlagOp::None;
        }
        return rflags;
    }
    /// Sets RFLAGS; the reserved bits (3, 5, 15, 22-63: Intel SDM Vol. 1, 3.4.3) read as 0
    /// whatever a popf, iret or sahf operand held, bit 1 as 1.
    void set_flags(std::uint64_t value) {
        constexpr std::uint64_t reserved_zero =
            (1u << 3) | (1u << 5) | (1u << 15) | ~std::uint64_t{0x3fffff};
        lazy.op = FlagOp::None;
        rflags = (value & ~reserved_zero) | x86::rflags::fixed1;
        if (m_user_window_count != 0 && !(rflags & x86::rflags::ac)) [[unlikely]]
            close_user_windows();
    }
    /// The count of user pages open to supervisor accesses through SMAP's AC window (see
    /// m_user_window_count): translated clac closes them only when there are some.
    const unsigned& user_window_count() const { return m_user_window_count; }
    bool carry() const {
        return lazy.op == FlagOp::None ? (rflags & x86::rflags::cf) != 0 : lazy.carry();
    }
    void set_lazy(FlagOp op, unsigned size, std::uint64_t dst, std::uint64_t src,
                  std::uint64_t result) {
        lazy.op = op;
        lazy.size = static_cast<std::uint8_t>(size);
        lazy.dst = dst;
        lazy.src = src;
        lazy.result = result;
    }
    /// PF ZF SF from `result`, CF and OF as given, AF clear; computed only when read.
    void set_explicit_flags(unsigned size, std::uint64_t result, bool carry, bool overflow) {
        set_lazy(FlagOp::Explicit, size, overflow, carry, result);
    }
    bool condition(unsigned code);

    // ---- registers ----
    template <unsigned S> std::uint64_t reg(unsigned index) const {
        return gpr[index] & size_mask(S);
    }
    template <unsigned S> void set_reg(unsigned index, std::uint64_t value) {
        if constexpr (S == 8)
            gpr[index] = value;
        else if constexpr (S == 4)
            gpr[index] = value & 0xffff'ffff;
        else
            gpr[index] = (gpr[index] & ~size_mask(S)) | (value & size_mask(S));
    }
    void set_reg_sized(unsigned size, unsigned index, std::uint64_t value);

    // ---- memory ----
    /// Effective address of the op's memory operand, without segment base.
    [[gnu::always_inline]] std::uint64_t effective_address(const DecodedOp& op) const {
        const MemoryOperand& m = op.memory;
        std::uint64_t address = static_cast<std::uint64_t>(m.displacement);
        if (m.base != no_register) address += gpr[m.base];
        if (m.index != no_register) address += gpr[m.index] << m.scale_shift;
        if (m.rip_relative) address += rip;
        return address & size_mask(m.address_size);
    }
    std::uint64_t linear(unsigned segment, std::uint64_t offset) const {
        const std::uint64_t address = segment_base[segment] + offset;
        return mode == CpuMode::Long64 ? address : (address & 0xffff'ffff);
    }
    [[gnu::always_inline]] std::uint64_t linear_address(const DecodedOp& op) const {
        return linear(op.memory.segment, effective_address(op));
    }

    template <unsigned S> std::uint64_t read(std::uint64_t address) {
        return read_as<S>(address, m_user_access);
    }
    template <unsigned S> void write(std::uint64_t address, std::uint64_t value) {
        write_as<S>(address, value, m_user_access);
    }
    template <unsigned S>
    [[gnu::always_inline]] std::uint64_t read_as(std::uint64_t address, bool user) {
        const std::uint64_t page = address >> 12, offset = address & 0xfff;
        const TlbEntry& entry = m_tlb.entry(user, access_read, page);
        if (entry.tag == page && entry.host != nullptr && offset <= 4096 - S) [[likely]] {
            std::uint64_t value = 0;
            std::memcpy(&value, entry.host + offset, S); // little-endian host
            return value;
        }
        return read_slow(address, S, user);
    }
    template <unsigned S>
    [[gnu::always_inline]] void write_as(std::uint64_t address, std::uint64_t value, bool user) {
        const std::uint64_t page = address >> 12, offset = address & 0xfff;
        const TlbEntry& entry = m_tlb.entry(user, access_write, page);
        if (entry.tag == page && entry.host != nullptr && offset <= 4096 - S) [[likely]] {
            std::uint8_t* target = entry.host + offset;
            std::memcpy(target, &value, S);
            note_ram_write(target);
            return;
        }
        write_slow(address, S, value, user);
    }
    /// Supervisor-privilege accesses the CPU makes itself (descriptor tables, TSS, IDT): implicit
    /// supervisor-mode accesses, which SMAP refuses on user pages whatever RFLAGS.AC says.
    template <unsigned S> std::uint64_t read_system(std::uint64_t address) {
        const ImplicitAccess implicit(*this);
        return read_as<S>(address, false);
    }
    template <unsigned S> void write_system(std::uint64_t address, std::uint64_t value) {
        const ImplicitAccess implicit(*this);
        write_as<S>(address, value, false);
    }
    std::uint64_t read_sized(std::uint64_t address, unsigned size) {
        switch (size) {
        case 1:
            return read<1>(address);
        case 2:
            return read<2>(address);
        case 4:
            return read<4>(address);
        default:
            return read<8>(address);
        }
    }
    void write_sized(std::uint64_t address, unsigned size, std::uint64_t value) {
        switch (size) {
        case 1:
            return write<1>(address, value);
        case 2:
            return write<2>(address, value);
        case 4:
            return write<4>(address, value);
        default:
            return write<8>(address, value);
        }
    }
    void read_block(std::uint64_t address, void* out, unsigned length);
    void write_block(std::uint64_t address, const void* data, unsigned length);
    /// Host pointer for an atomic read-modify-write of `size` bytes, or nullptr (not RAM or
    /// crossing a page). Faults like a write would.
    std::uint8_t* writable_pointer(std::uint64_t address, unsigned size);
    /// Host pointer for reading `size` bytes within one page of RAM, or nullptr (not RAM or
    /// crossing a page). Faults like a read would.
    const std::uint8_t* readable_pointer(std::uint64_t address, unsigned size);
    /// A store reached RAM at host pointer `target`; invalidates decoded code on that page.
    void note_ram_write(const std::uint8_t* target) {
        const std::uint64_t page = static_cast<std::uint64_t>(target - m_ram_base) >> 12;
        if (m_code_pages.holds_code(page)) [[unlikely]] {
            m_code_pages.invalidate(page);
            exit_block = true;
        }
    }

    /// Translates a linear address for `kind` at the current privilege; raises #PF.
    std::uint64_t translate(std::uint64_t address, AccessKind kind, bool user);
    /// Host pointer of the RAM page holding linear `address` for instruction fetch, and its
    /// offset in the RAM mapping; raises #PF, fails with EngineFailure outside RAM.
    std::uint8_t* fetch_pointer(std::uint64_t address, std::uint64_t* ram_offset,
                                bool* global = nullptr);
    /// Host address for an access of `size` bytes by translated code, filling the JIT TLB; nullptr
    /// when the access must go through the interpreter instead (a fault, not RAM, crossing a
    /// page, or a store to a page holding decoded code). Never throws. With page aliases, a
    /// user access gets `address` itself, which gs:[r14d] finds at its page alias (as the
    /// aliased lookup's hits do), or nullptr when the page got no alias; with `own_mapping`,
    /// the address in RAM's own mapping, which no later fill moves.
    std::uint8_t* jit_host_address(std::uint64_t address, unsigned size, bool write, bool user,
                                   bool own_mapping = false) noexcept;
    void flush_tlb(bool include_global);
    void flush_tlb_page(std::uint64_t address);
    /// Called before running guest code: when guest RAM's dirty log was taken since the last
    /// call, drops every TLB write entry (interpreter and translated code), since each was
    /// installed after marking its page in the old log; the next store to a page marks it
    /// again (fill_tlb).
    void follow_dirty_log() {
        const std::uint64_t epoch = m_memory.dirty_pages().epoch();
        if (epoch != m_dirty_epoch) [[unlikely]] {
            m_dirty_epoch = epoch;
            m_tlb.flush_kind(access_write);
            jit.tlb.flush_writes();
        }
    }
    std::uint8_t* ram_base() const { return m_ram_base; }
    /// Gives translated user code its page aliases (null: none; the translator then emits the
    /// plain JIT TLB lookup). Drops the user JIT TLB entries made before.
    void set_page_aliases(std::unique_ptr<PageAliases> aliases);
    const PageAliases* page_aliases() const { return m_page_aliases.get(); }

    std::uint64_t physical_read(std::uint64_t address, unsigned size);
    void physical_write(std::uint64_t address, unsigned size, std::uint64_t value);

    // ---- stack ----
    void push(std::uint64_t value, unsigned size);
    std::uint64_t pop(unsigned size);
    std::uint64_t stack_pointer() const { return gpr[x86::rsp] & size_mask(stack_size()); }
    void set_stack_pointer(std::uint64_t value) { set_reg_sized(stack_size(), x86::rsp, value); }

    // ---- ports ----
    std::uint64_t port_in(std::uint16_t port, unsigned size);
    void port_out(std::uint16_t port, unsigned size, std::uint64_t value);
    /// #GP(0) for an access to `size` ports from `port` when CPL > IOPL and the TSS I/O
    /// permission bitmap does not allow every one of them.
    void check_io_privilege(std::uint16_t port, unsigned size);

    // ---- exceptions (implemented in interrupt_delivery.cpp) ----
    [[noreturn]] void raise(std::uint8_t vector_number) {
        throw GuestFault{vector_number, 0, false};
    }
    [[noreturn]] void raise(std::uint8_t vector_number, std::uint32_t error_code) {
        throw GuestFault{vector_number, error_code, true};
    }
    [[noreturn]] void fail(const std::string& message) { throw EngineFailure{message}; }
    /// Delivers an exception or interrupt through the IDT (IVT in real mode). `software` for
    /// int n / int3 / into (privilege check against the gate DPL, return address after).
    void deliver(std::uint8_t vector_number, bool has_error_code, std::uint32_t error_code,
                 bool software);
    /// Delivers a fault that happened while executing, escalating to #DF and triple fault.
    void deliver_fault(const GuestFault& fault);
    void interrupt_return(unsigned operand_size);

    // ---- segments (segment_loading.cpp), control registers (control_registers.cpp), MSRs
    // (model_specific_registers.cpp) ----
    /// Loads a data/stack segment register with a selector (mov/pop/lds), checking it.
    void load_segment(unsigned segment, std::uint16_t selector);
    /// Loads CS for a far transfer to `selector`; fills in the descriptor cache.
    void load_code_segment(std::uint16_t selector, unsigned new_cpl);
    x86::SegmentRegister read_descriptor(std::uint16_t selector, std::uint8_t error_vector);
    std::uint64_t descriptor_address(std::uint16_t selector, std::uint8_t error_vector);
    void set_cr0(std::uint64_t value);
    void set_cr3(std::uint64_t value);
    void set_cr4(std::uint64_t value);
    void set_efer(std::uint64_t value);
    bool read_msr(std::uint32_t number, std::uint64_t& value);
    bool write_msr(std::uint32_t number, std::uint64_t value);
    std::uint64_t tsc();
    /// A maskable interrupt waits for this CPU (whatever RFLAGS.IF says).
    bool interrupt_ready();

  private:
    /// Marks the accesses made during its lifetime as implicit supervisor-mode accesses; first
    /// drops the TLB entries RFLAGS.AC opened, which such accesses may not use.
    class ImplicitAccess {
      public:
        explicit ImplicitAccess(CpuCore& cpu) : m_cpu(cpu) {
            if (m_cpu.m_user_window_count != 0) [[unlikely]]
                m_cpu.close_user_windows();
            m_cpu.m_implicit_access = true;
        }
        ~ImplicitAccess() { m_cpu.m_implicit_access = false; }
        ImplicitAccess(const ImplicitAccess&) = delete;
        ImplicitAccess& operator=(const ImplicitAccess&) = delete;

      private:
        CpuCore& m_cpu;
    };
    /// Drops the supervisor TLB entries of user pages that SMAP allowed only because RFLAGS.AC
    /// was set (RFLAGS.AC was cleared, or an implicit access follows).
    void close_user_windows();
    /// Records user page `page`, which a supervisor access reached through SMAP's AC window.
    void open_user_window(std::uint64_t page);
    /// The permission checks of a walk that reached its leaf entry (cpu_memory.cpp).
    void check_permissions(std::uint64_t address, AccessKind kind, bool user, std::uint64_t leaf,
                           bool writable, bool user_page, bool no_execute, std::uint32_t error);

    /// An interrupt or exception on its way to its handler.
    struct InterruptEvent {
        std::uint8_t vector;
        bool has_error_code;
        std::uint32_t error_code;
        bool software; ///< int n / int3 / into
    };
    /// A protected-mode or long-mode handler: its IDT gate, code segment and privilege.
    struct InterruptHandler {
        x86::GateDescriptor gate;
        x86::SegmentRegister code;
        unsigned cpl;
    };
    /// The stack a handler's frame goes on.
    struct InterruptStack {
        x86::SegmentRegister segment;
        std::uint64_t pointer;
        unsigned width;     ///< stack pointer size: 2, 4 or 8
        unsigned push_size; ///< bytes per frame word
    };
    void deliver_real_mode(std::uint8_t vector_number);
    void deliver_protected_mode(const InterruptEvent& event);
    void deliver_long_mode(const InterruptEvent& event);
    /// Reads and checks the IDT gate of `event` and the code segment it names.
    InterruptHandler interrupt_handler(const InterruptEvent& event, bool long_mode);
    /// Pushes the interrupt frame (stack, when `with_stack`, flags, return address, error code)
    /// below `stack.pointer`, which it updates; registers are not touched yet.
    void push_interrupt_frame(const InterruptEvent& event, std::uint64_t old_flags, bool with_stack,
                              InterruptStack& stack, unsigned new_cpl);
    /// Commits the handler's stack, code segment, flags and rip.
    void enter_interrupt_handler(const InterruptHandler& handler, const InterruptStack& stack,
                                 std::uint64_t old_flags);

    std::uint64_t read_slow(std::uint64_t address, unsigned size, bool user);
    void write_slow(std::uint64_t address, unsigned size, std::uint64_t value, bool user);
    TlbEntry& fill_tlb(std::uint64_t address, AccessKind kind, bool user);
    /// The page alias way whose slot maps `host_page` (a page of guest RAM) at the position of
    /// linear page `page_address`, moving one there if none does; -1 if none can, or may yet
    /// (PageAliases::may_move).
    int alias_way(std::uint64_t page_address, std::uint8_t* host_page);
    /// Host pointer for `size` bytes within one RAM page at the current privilege, or nullptr.
    std::uint8_t* page_pointer(std::uint64_t address, unsigned size, AccessKind kind);
    std::uint64_t walk(std::uint64_t address, AccessKind kind, bool user, bool* global);
    [[noreturn]] void page_fault(std::uint64_t address, std::uint32_t error_code);
    std::uint8_t* ram_page(std::uint64_t physical_page);

    GuestMemory& m_memory;
    Bus& m_io_bus;
    Bus& m_mmio_bus;
    SoftPlatform* m_platform;
    CodePages& m_code_pages;
    std::uint32_t m_index;
    std::uint8_t* m_ram_base;
    /// Second mappings of the pages user JIT TLB entries name (translated user code), or null.
    std::unique_ptr<PageAliases> m_page_aliases;
    std::uint64_t m_dirty_epoch{0}; ///< the dirty log's epoch this CPU's write entries follow
    bool m_user_access{false};
    /// Set while the CPU accesses system structures (ImplicitAccess).
    bool m_implicit_access{false};
    /// User pages SMAP let supervisor data accesses reach because RFLAGS.AC was set: their TLB
    /// entries must go when AC is cleared (close_user_windows). A count above the array's size
    /// means some were not recorded, and the whole TLB goes.
    static constexpr unsigned max_user_windows = 16;
    std::uint64_t m_user_windows[max_user_windows]{};
    unsigned m_user_window_count{0};
    SoftTlb m_tlb;
};

} // namespace vessel::soft
