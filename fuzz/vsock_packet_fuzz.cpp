// libFuzzer target: hostile virtio-vsock packets from a guest driver. The input is a stream of
// packets (44-byte header, then up to 255 payload bytes); each goes through the packet checks
// and the host side (VsockMuxer with real Unix sockets, one listening guest-reachable port), and
// the packets for the guest are drained. Nothing may crash, hang or block.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "devices/virtio/vsock/vsock_muxer.hpp"
#include "devices/virtio/vsock/vsock_packet.hpp"

namespace {

using namespace vessel;
using namespace vessel::virtio::vsock;

constexpr std::uint64_t guest_cid = 3;
constexpr std::uint32_t listening_port = 7; ///< `<uds_path>_7` accepts (and never reads)

struct Harness {
    std::string path;
    std::unique_ptr<VsockMuxer> muxer;
    UniqueFd listener;
    std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(max_payload);
};

Harness& harness() {
    static Harness instance = [] {
        log::initialize("off");
        Harness h;
        h.path = "/tmp/vessel-vsock-fuzz-" + std::to_string(getpid());
        ::unlink(h.path.c_str());
        h.muxer = VsockMuxer::create(h.path, guest_cid).value();
        const std::string port_path = h.path + "_" + std::to_string(listening_port);
        ::unlink(port_path.c_str());
        h.listener = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, port_path.data(), port_path.size());
        if (::bind(h.listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
            ::listen(h.listener.get(), 64) != 0)
            __builtin_trap();
        // The muxer removes its own socket when destroyed; the port's listener is ours.
        static std::string listener_path;
        listener_path = port_path;
        std::atexit([] { ::unlink(listener_path.c_str()); });
        return h;
    }();
    return instance;
}

void drain(Harness& h) {
    for (int i = 0; i < 64 && h.muxer->has_rx(); ++i)
        if (!h.muxer->next_rx(h.buffer)) break;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Harness& h = harness();
    std::size_t at = 0;
    while (size - at >= header_bytes + 1) {
        std::array<std::uint8_t, header_bytes> bytes{};
        std::memcpy(bytes.data(), data + at, header_bytes);
        const std::size_t payload_size =
            std::min<std::size_t>(data[at + header_bytes], size - at - header_bytes - 1);
        at += header_bytes + 1;
        PacketHeader header = decode_header(bytes);
        // Keep the CIDs mostly right so the state machine, not only the checks, is reached.
        if ((header.flags & 0x80000000u) == 0) {
            header.src_cid = guest_cid;
            header.dst_cid = host_cid;
            header.type = type_stream;
        }
        const std::span<const std::uint8_t> payload(data + at, payload_size);
        at += payload_size;
        if (check_guest_packet(header, payload.size(), guest_cid))
            h.muxer->on_guest_packet(header, payload.first(header.length));
        else if (header.operation() != Op::rst)
            h.muxer->queue_reset(reset_reply(header));
        drain(h);
    }
    h.muxer->reset();
    // Take the connections the listener queued, so its backlog never fills across inputs.
    while (true) {
        const int accepted = ::accept(h.listener.get(), nullptr, nullptr);
        if (accepted < 0) break;
        ::close(accepted);
    }
    return 0;
}
