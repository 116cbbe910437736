// x87 and SSE instruction handlers (to come); for now no float instruction is covered.
#include "engine/soft/handlers.hpp"

namespace vessel::soft {

OpHandler select_float_handler(const ZydisDecodedInstruction&, DecodedOp&) {
    return nullptr;
}

} // namespace vessel::soft
