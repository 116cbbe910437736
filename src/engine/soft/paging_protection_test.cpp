// Paging protections a strict guest checks (issue 16): reserved bits in paging entries (#PF with
// RSVD), Accessed bits only for accesses that succeed, SMEP, SMAP (stac/clac, implicit accesses,
// translated code), UMIP, protection keys, and the max model's rdrand, rdseed, rdpid, clflushopt
// and clwb. Every test runs on the interpreter and on the translation tier.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include <functional>

#include "engine/soft/cpuid_policy.hpp"
#include "engine/soft/protection_bits.hpp"
#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uint64_t page_tables = 0x20000;             ///< PML4; PDPT, PD and PT follow
constexpr std::uint64_t page_table = page_tables + 0x3000; ///< 4 KiB pages for 0-2 MiB
constexpr std::uint64_t handler_address = 0x3000;
constexpr std::uint64_t data_page = 0x100000;
constexpr std::uint64_t present = 0x1, writable = 0x2, user = 0x4, accessed = 0x20, dirty = 0x40;
constexpr std::uint32_t error_present = 1, error_write = 2, error_reserved = 8, error_fetch = 0x10,
                        error_key = 0x20;

/// A 64-bit CPL 0 machine of the max model with 4 KiB supervisor identity pages over the first
/// 2 MiB and a 2 MiB page above; #PF, #GP and #UD go to a hlt, so a run ends with the fault's
/// frame on the stack.
struct PagingMachine : SoftTestMachine {
    explicit PagingMachine(SoftTier tier, soft::CpuModel model = soft::CpuModel::Max)
        : SoftTestMachine(tier) {
        soft_vcpu().core().set_cpu_model(model);
        install_gdt();
        write_entry(page_tables, (page_tables + 0x1000) | 7);
        write_entry(page_tables + 0x1000, (page_tables + 0x2000) | 7);
        write_entry(page_tables + 0x2000, page_table | 7);
        write_entry(page_tables + 0x2008, (1u << 21) | 0x83);
        for (std::uint64_t page = 0; page < 512; ++page)
            map(page << 12, page << 12);
        state.cs = x86::flat_segment(0x18, 0xb, true);
        state.cr0 |= x86::cr0::pg | x86::cr0::wp;
        state.cr3 = page_tables;
        state.cr4 |= x86::cr4::pae | x86::cr4::osfxsr;
        state.efer = x86::efer::lme | x86::efer::lma;
        for (unsigned vector : {6u, 13u, 14u})
            set_idt_gate(vector, handler_address, true, 0x18);
        load(handler_address, {0xf4}); // hlt
    }

    void write_entry(std::uint64_t address, std::uint64_t value) {
        EXPECT_TRUE(memory.write<std::uint64_t>(address, value));
    }
    std::uint64_t entry(std::uint64_t address) {
        return memory.read<std::uint64_t>(address).value();
    }
    static std::uint64_t pte_address(std::uint64_t linear) {
        return page_table + 8 * (linear >> 12);
    }
    void map(std::uint64_t linear, std::uint64_t physical,
             std::uint64_t flags = present | writable) {
        write_entry(pte_address(linear), physical | flags);
    }

    /// Assembles guest code with Xbyak at the code address.
    void assemble(const std::function<void(Xbyak::CodeGenerator&)>& body) {
        Xbyak::CodeGenerator code(1 << 16);
        code.setDefaultJmpNEAR(true);
        body(code);
        load(code_address,
             std::vector<std::uint8_t>(code.getCode(), code.getCode() + code.getSize()));
    }

    /// Runs to the hlt of the fault handler (or of the program).
    void run_halted() {
        const VcpuExit exit = run();
        EXPECT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    }
    /// The error code and the return rip of the fault frame the handler halted on.
    std::uint64_t frame_error() { return memory.read<std::uint64_t>(reg(x86::rsp)).value(); }
    std::uint64_t frame_rip() { return memory.read<std::uint64_t>(reg(x86::rsp) + 8).value(); }
    bool faulted() { return state.rip == handler_address + 1; }
    std::uint64_t translated_blocks() {
        soft::Translator* translator = soft_vcpu().translator();
        return translator != nullptr ? translator->stats().blocks_translated : 0;
    }
};

/// Raw instruction bytes (stac, clac, wrpkru, rdpkru and rdpid have no Xbyak mnemonic here).
void emit(Xbyak::CodeGenerator& code, std::initializer_list<std::uint8_t> bytes) {
    for (std::uint8_t byte : bytes)
        code.db(byte);
}

std::string tier_name(const ::testing::TestParamInfo<SoftTier>& parameter) {
    return parameter.param == SoftTier::Interpreter ? "Interpreter" : "Translator";
}

using namespace Xbyak::util;

class PagingProtection : public ::testing::TestWithParam<SoftTier> {};

INSTANTIATE_TEST_SUITE_P(Tiers, PagingProtection,
                         ::testing::Values(SoftTier::Interpreter, SoftTier::Translator), tier_name);

/// mov eax, [data_page] (or a store) and hlt; returns the offset of the access.
std::uint64_t access_data_page(PagingMachine& machine, bool store) {
    std::uint64_t offset = 0;
    machine.assemble([store, &offset](Xbyak::CodeGenerator& c) {
        c.mov(rsi, data_page);
        offset = c.getSize();
        if (store)
            c.mov(dword[rsi], eax);
        else
            c.mov(eax, dword[rsi]);
        c.hlt();
    });
    return offset;
}

TEST_P(PagingProtection, AddressBitAtMaxphyaddrIsReservedAndLeavesAccessedClear) {
    for (bool store : {false, true}) {
        PagingMachine machine(GetParam());
        // MAXPHYADDR is 40 (CPUID 0x80000008): bit 40 of an address field is reserved.
        machine.map(data_page, data_page | (std::uint64_t{1} << 40));
        const std::uint64_t offset = access_data_page(machine, store);
        machine.run_halted();
        ASSERT_TRUE(machine.faulted());
        EXPECT_EQ(machine.frame_error(),
                  error_present | error_reserved | (store ? error_write : 0u));
        EXPECT_EQ(machine.state.cr2, data_page);
        EXPECT_EQ(machine.frame_rip(), SoftTestMachine::code_address + offset);
        EXPECT_EQ(machine.entry(PagingMachine::pte_address(data_page)) & (accessed | dirty), 0u)
            << "a faulting access set Accessed or Dirty";
    }
}

TEST_P(PagingProtection, LargePageAndUpperLevelReservedBits) {
    struct Case {
        const char* what;
        std::uint64_t entry_address, entry, linear;
    };
    const Case cases[] = {
        {"2 MiB PDE bit 13", page_tables + 0x2008, (1u << 21) | 0x83 | (1u << 13), 0x200000},
        {"1 GiB PDPTE bit 29", page_tables + 0x1008, (1u << 30) | 0x83 | (1u << 29), 1u << 30},
        {"PML4E with PS", page_tables + 8, (page_tables + 0x1000) | 0x83, std::uint64_t{1} << 39},
        {"XD without EFER.NXE", PagingMachine::pte_address(data_page),
         data_page | 3 | (std::uint64_t{1} << 63), data_page},
    };
    for (const Case& test : cases) {
        SCOPED_TRACE(test.what);
        PagingMachine machine(GetParam());
        machine.write_entry(test.entry_address, test.entry);
        machine.assemble([&test](Xbyak::CodeGenerator& c) {
            c.mov(rsi, test.linear);
            c.mov(eax, dword[rsi]);
            c.hlt();
        });
        machine.run_halted();
        ASSERT_TRUE(machine.faulted());
        EXPECT_EQ(machine.frame_error(), error_present | error_reserved);
        EXPECT_EQ(machine.state.cr2, test.linear);
    }
    // Bit 12 of a 2 MiB page is PAT, not reserved.
    PagingMachine machine(GetParam());
    machine.write_entry(page_tables + 0x2008, (1u << 21) | 0x83 | (1u << 12));
    machine.assemble([](Xbyak::CodeGenerator& c) {
        c.mov(rsi, 0x200000);
        c.mov(eax, dword[rsi]);
        c.hlt();
    });
    machine.run_halted();
    EXPECT_FALSE(machine.faulted());
}

TEST_P(PagingProtection, AccessedAndDirtyOnlyAfterTheWalkSucceeds) {
    PagingMachine machine(GetParam());
    machine.map(data_page, data_page, present); // read-only, CR0.WP set
    access_data_page(machine, true);
    machine.run_halted();
    ASSERT_TRUE(machine.faulted());
    EXPECT_EQ(machine.frame_error(), error_present | error_write);
    EXPECT_EQ(machine.entry(PagingMachine::pte_address(data_page)) & (accessed | dirty), 0u)
        << "the refused write set Accessed or Dirty";

    PagingMachine reader(GetParam());
    reader.map(data_page, data_page, present | writable);
    access_data_page(reader, false);
    reader.run_halted();
    EXPECT_FALSE(reader.faulted());
    EXPECT_EQ(reader.entry(PagingMachine::pte_address(data_page)) & (accessed | dirty), accessed);
}

TEST_P(PagingProtection, SmepRefusesSupervisorFetchesFromUserPages) {
    PagingMachine machine(GetParam());
    machine.state.cr4 |= soft::protection::cr4_smep;
    machine.map(0x4000, 0x4000, present | writable | user);
    machine.load(0x4000, {0xf4});
    machine.assemble([](Xbyak::CodeGenerator& c) {
        c.mov(eax, 0x4000);
        c.jmp(rax);
    });
    machine.run_halted();
    ASSERT_TRUE(machine.faulted());
    EXPECT_EQ(machine.frame_error(), error_present | error_fetch);
    EXPECT_EQ(machine.state.cr2, 0x4000u);
}

TEST_P(PagingProtection, SmapHonoursStacAndClac) {
    PagingMachine machine(GetParam());
    machine.state.cr4 |= soft::protection::cr4_smap;
    machine.map(data_page, data_page, present | writable | user);
    ASSERT_TRUE(machine.memory.write<std::uint32_t>(data_page, 0x1234));
    std::uint64_t faulting = 0;
    machine.assemble([&faulting](Xbyak::CodeGenerator& c) {
        c.mov(rsi, data_page);
        c.stac();
        c.mov(ecx, dword[rsi]);
        c.mov(dword[rsi + 4], ecx);
        emit(c, {0x0f, 0x01, 0xca}); // clac
        faulting = c.getSize();
        c.mov(edx, dword[rsi]);
        c.hlt();
    });
    machine.run_halted();
    ASSERT_TRUE(machine.faulted());
    EXPECT_EQ(machine.reg(x86::rcx), 0x1234u);
    EXPECT_EQ(machine.memory.read<std::uint32_t>(data_page + 4).value(), 0x1234u);
    EXPECT_EQ(machine.frame_error(), error_present);
    EXPECT_EQ(machine.frame_rip(), SoftTestMachine::code_address + faulting);
    EXPECT_EQ(machine.state.cr2, data_page);
}

TEST(PagingProtectionTranslator, SmapViolationInATranslatedBlockAfterClac) {
    // The block that loads from the user page runs hot with AC set (its TLB entries filled
    // then); on the 40th round stac is skipped, and the same translated load must fault.
    PagingMachine machine(SoftTier::Translator);
    machine.state.cr4 |= soft::protection::cr4_smap;
    machine.map(data_page, data_page, present | writable | user);
    machine.assemble([](Xbyak::CodeGenerator& c) {
        Xbyak::Label loop, access, missed;
        c.mov(rsi, data_page);
        c.xor_(ebx, ebx);
        c.L(loop);
        c.inc(rbx);
        c.cmp(rbx, 50);
        c.je(missed); // the refused load did not fault: stop without a fault frame
        c.cmp(rbx, 40);
        c.je(access);
        c.stac();
        c.jmp(access); // every round enters the block below by a jump: one translation
        c.L(access);
        c.mov(eax, dword[rsi]);
        c.add(dword[rsi + 8], 1);
        emit(c, {0x0f, 0x01, 0xca}); // clac
        c.jmp(loop);
        c.L(missed);
        c.hlt();
    });
    machine.run_halted();
    ASSERT_TRUE(machine.faulted());
    EXPECT_EQ(machine.reg(x86::rbx), 40u);
    EXPECT_EQ(machine.frame_error(), error_present);
    EXPECT_EQ(machine.memory.read<std::uint32_t>(data_page + 8).value(), 39u);
    EXPECT_GT(machine.translated_blocks(), 0u);
}

TEST_P(PagingProtection, SmapRefusesImplicitAccessesWhateverAcSays) {
    for (bool smap : {false, true}) {
        PagingMachine machine(GetParam());
        if (smap) machine.state.cr4 |= soft::protection::cr4_smap;
        // The GDT moves to a user page: loading DS reads it implicitly.
        machine.map(0x5000, 0x5000, present | writable | user);
        std::vector<std::uint8_t> gdt(0x30);
        ASSERT_TRUE(machine.memory.read_bytes(SoftTestMachine::gdt_address, gdt));
        machine.load(0x5000, gdt);
        machine.state.gdt.base = 0x5000;
        machine.assemble([](Xbyak::CodeGenerator& c) {
            c.stac();
            c.mov(eax, 0x10);
            c.mov(ds, eax);
            c.hlt();
        });
        const VcpuExit exit = machine.run();
        // With SMAP the descriptor read faults, and so does the #PF's own read of its code
        // segment descriptor: a double fault, then shutdown.
        EXPECT_EQ(exit.kind, smap ? VcpuExit::Kind::Shutdown : VcpuExit::Kind::Halted)
            << "SMAP " << smap;
    }
}

TEST_P(PagingProtection, ProtectionKeysOfUserPages) {
    PagingMachine machine(GetParam());
    machine.state.cr4 |= soft::protection::cr4_pke;
    const std::uint64_t key1 = std::uint64_t{1} << soft::protection::protection_key_shift;
    machine.map(data_page, data_page | key1, present | writable | user);
    machine.map(data_page + 0x1000, data_page + 0x1000, present | writable | user); // key 0
    ASSERT_TRUE(machine.memory.write<std::uint32_t>(data_page, 77));
    std::uint64_t faulting = 0;
    machine.assemble([&faulting](Xbyak::CodeGenerator& c) {
        c.mov(rsi, data_page);
        c.xor_(ecx, ecx);
        c.xor_(edx, edx);
        c.mov(eax, 8);               // key 1: write-disable
        emit(c, {0x0f, 0x01, 0xef}); // wrpkru
        c.xor_(eax, eax);
        emit(c, {0x0f, 0x01, 0xee}); // rdpkru
        c.mov(r8, rax);
        c.mov(r9d, dword[rsi]);          // reads are allowed
        c.mov(dword[rsi + 0x1000], r9d); // key 0 is unrestricted
        c.mov(eax, 4);                   // key 1: access-disable
        emit(c, {0x0f, 0x01, 0xef});     // wrpkru
        faulting = c.getSize();
        c.mov(r10d, dword[rsi]);
        c.hlt();
    });
    machine.run_halted();
    ASSERT_TRUE(machine.faulted());
    EXPECT_EQ(machine.reg(8), 8u);
    EXPECT_EQ(machine.reg(9), 77u);
    EXPECT_EQ(machine.memory.read<std::uint32_t>(data_page + 0x1000).value(), 77u);
    EXPECT_EQ(machine.frame_error(), error_present | error_key);
    EXPECT_EQ(machine.frame_rip(), SoftTestMachine::code_address + faulting);

    PagingMachine writer(GetParam());
    writer.state.cr4 |= soft::protection::cr4_pke;
    writer.map(data_page, data_page | key1, present | writable | user);
    writer.assemble([](Xbyak::CodeGenerator& c) {
        c.mov(rsi, data_page);
        c.xor_(ecx, ecx);
        c.xor_(edx, edx);
        c.mov(eax, 8);
        emit(c, {0x0f, 0x01, 0xef}); // wrpkru
        c.mov(dword[rsi], eax);      // write-disabled (CR0.WP is set)
        c.hlt();
    });
    writer.run_halted();
    ASSERT_TRUE(writer.faulted());
    EXPECT_EQ(writer.frame_error(), error_present | error_write | error_key);
}

TEST_P(PagingProtection, Cr4ProtectionBitsNeedAModelThatOffersThem) {
    for (soft::CpuModel model : {soft::CpuModel::V3, soft::CpuModel::Max}) {
        PagingMachine machine(GetParam(), model);
        machine.assemble([](Xbyak::CodeGenerator& c) {
            emit(c, {0x0f, 0x20, 0xe0}); // mov rax, cr4
            c.or_(eax, (1u << 20) | (1u << 21) | (1u << 11) | (1u << 22));
            emit(c, {0x0f, 0x22, 0xe0}); // mov cr4, rax
            c.hlt();
        });
        machine.run_halted();
        EXPECT_EQ(machine.faulted(), model == soft::CpuModel::V3);
        if (model == soft::CpuModel::Max) {
            EXPECT_TRUE(machine.state.cr4 & soft::protection::cr4_smap);
        }
    }
}

TEST(PagingProtectionUmip, DescriptorTableStoresAreGpAboveCpl0) {
    // sgdt [0x7000], sidt [0x7000], sldt eax, str eax, smsw eax at CPL 3 in flat 32-bit mode.
    const std::vector<std::vector<std::uint8_t>> instructions = {
        {0x0f, 0x01, 0x05, 0x00, 0x70, 0x00, 0x00},
        {0x0f, 0x01, 0x0d, 0x00, 0x70, 0x00, 0x00},
        {0x0f, 0x00, 0xc0},
        {0x0f, 0x00, 0xc8},
        {0x0f, 0x01, 0xe0}};
    for (const auto& instruction : instructions) {
        for (bool umip : {false, true}) {
            SoftTestMachine machine(SoftTier::Interpreter);
            machine.soft_vcpu().core().set_cpu_model(soft::CpuModel::Max);
            machine.install_gdt();
            machine.state.cs = x86::flat_segment(0x23, 0xb, false);
            machine.state.cs.dpl = 3;
            machine.state.ss = machine.state.ds = machine.state.es =
                x86::flat_segment(0x2b, 0x3, false);
            machine.state.ss.dpl = machine.state.ds.dpl = machine.state.es.dpl = 3;
            if (umip) machine.state.cr4 |= soft::protection::cr4_umip;
            std::vector<std::uint8_t> code = instruction;
            code.push_back(0xf4); // hlt: #GP at CPL 3 as well, one instruction later
            machine.load(SoftTestMachine::code_address, code);
            const VcpuExit exit = machine.run(); // no IDT: the #GP ends in a triple fault
            EXPECT_EQ(exit.kind, VcpuExit::Kind::Shutdown);
            EXPECT_EQ(machine.state.rip,
                      SoftTestMachine::code_address + (umip ? 0 : instruction.size()))
                << "opcode " << int{instruction[1]} << " UMIP " << umip;
        }
    }
}

TEST_P(PagingProtection, RdrandRdseedAndRdpid) {
    PagingMachine machine(GetParam());
    machine.assemble([](Xbyak::CodeGenerator& c) {
        c.mov(ecx, 0xc0000103); // IA32_TSC_AUX
        c.mov(eax, 0x77);
        c.xor_(edx, edx);
        c.wrmsr();
        c.xor_(eax, eax);
        c.rdrand(rax);
        c.pushfq();
        c.pop(r10);
        c.rdrand(rbx);
        c.rdseed(ecx);
        c.pushfq();
        c.pop(r11);
        emit(c, {0xf3, 0x41, 0x0f, 0xc7, 0xfc}); // rdpid r12
        c.hlt();
    });
    machine.run_halted();
    EXPECT_FALSE(machine.faulted());
    EXPECT_TRUE(machine.reg(10) & x86::rflags::cf);
    EXPECT_TRUE(machine.reg(11) & x86::rflags::cf);
    EXPECT_NE(machine.reg(x86::rax), machine.reg(x86::rbx)) << "two random 64-bit values agree";
    EXPECT_EQ(machine.reg(x86::rcx) >> 32, 0u);
    EXPECT_EQ(machine.reg(12), 0x77u);

    PagingMachine v3(GetParam(), soft::CpuModel::V3);
    v3.assemble([](Xbyak::CodeGenerator& c) {
        c.rdrand(rax);
        c.hlt();
    });
    v3.run_halted();
    ASSERT_TRUE(v3.faulted()) << "rdrand is not in x86-64-v3: #UD";
    EXPECT_EQ(v3.frame_error(), SoftTestMachine::code_address); // #UD has no error code
}

TEST_P(PagingProtection, CacheLineFlushesCheckTheirOperand) {
    PagingMachine machine(GetParam());
    machine.map(data_page, 0, 0);
    std::uint64_t faulting = 0;
    machine.assemble([&faulting](Xbyak::CodeGenerator& c) {
        c.mov(rsi, data_page);
        c.clflushopt(ptr[rsi - 64]);
        c.clwb(ptr[rsi - 8]);
        faulting = c.getSize();
        c.clwb(ptr[rsi]);
        c.hlt();
    });
    machine.run_halted();
    ASSERT_TRUE(machine.faulted());
    EXPECT_EQ(machine.frame_error(), 0u); // not present, read
    EXPECT_EQ(machine.frame_rip(), SoftTestMachine::code_address + faulting);
    EXPECT_EQ(machine.state.cr2, data_page);
}

TEST(PagingProtectionCpuid, MaxOffersTheProtectionsAndV3OnlySmepAndSmap) {
    auto leaf = [](soft::CpuModel model, std::uint32_t function) {
        return x86::find_cpuid_entry(soft::supported_cpuid(model), function, 0);
    };
    const std::uint32_t leaf7_ebx = (1u << 7) | (1u << 18) | (1u << 20) | (1u << 23) | (1u << 24);
    const std::uint32_t leaf7_ecx = (1u << 2) | (1u << 3) | (1u << 22);
    EXPECT_EQ(leaf(soft::CpuModel::Max, 7).ebx & leaf7_ebx, leaf7_ebx);
    EXPECT_EQ(leaf(soft::CpuModel::Max, 7).ecx & leaf7_ecx, leaf7_ecx);
    EXPECT_TRUE(leaf(soft::CpuModel::Max, 1).ecx & (1u << 30)); // rdrand
    // SMEP and SMAP are on every CPU of the x86-64-v3 level: the v3 model has them too.
    const std::uint32_t smep_smap = (1u << 7) | (1u << 20);
    EXPECT_EQ(leaf(soft::CpuModel::V3, 7).ebx & leaf7_ebx, smep_smap);
    EXPECT_EQ(leaf(soft::CpuModel::V2, 7).ebx & leaf7_ebx, 0u);
    EXPECT_EQ(leaf(soft::CpuModel::V3, 7).ecx & leaf7_ecx, 0u);
    EXPECT_FALSE(leaf(soft::CpuModel::V3, 1).ecx & (1u << 30));
}

} // namespace
