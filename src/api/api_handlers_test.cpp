// Tests for ApiHandlers: routing, validation and lifecycle rules, without starting a VM.
#include "api/api_handlers.hpp"

#include <cstdio>
#include <gtest/gtest.h>
#include <tuple>
#include <unistd.h>

#include "backends/net/tap_test_support.hpp"

namespace vessel::api {
namespace {

class ApiHandlersTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto created = VmController::create([](std::span<const std::uint8_t>) {});
        ASSERT_TRUE(created);
        m_vm = std::move(*created);
        m_handlers =
            std::make_unique<ApiHandlers>(ApiHandlers::Options{"test-id"}, *m_vm, m_metrics);
    }

    HttpResponse request(std::string method, std::string path, std::string body = {}) {
        HttpRequest request;
        request.method = std::move(method);
        request.path = std::move(path);
        request.body = std::move(body);
        return m_handlers->handle(request);
    }

    static nlohmann::json json_of(const HttpResponse& response) {
        return nlohmann::json::parse(response.body);
    }

    std::unique_ptr<VmController> m_vm;
    Metrics m_metrics;
    std::unique_ptr<ApiHandlers> m_handlers;
};

TEST_F(ApiHandlersTest, DescribesTheInstance) {
    auto response = request("GET", "/");
    ASSERT_EQ(response.status, 200);
    auto info = json_of(response);
    EXPECT_EQ(info["id"], "test-id");
    EXPECT_EQ(info["state"], "Not started");
    EXPECT_EQ(json_of(request("GET", "/version"))["firecracker_version"], vessel_version);
}

TEST_F(ApiHandlersTest, MachineConfigPutPatchGet) {
    EXPECT_EQ(json_of(request("GET", "/machine-config"))["mem_size_mib"], 128);
    EXPECT_EQ(request("PUT", "/machine-config", R"({"vcpu_count": 4, "mem_size_mib": 512})").status,
              204);
    EXPECT_EQ(request("PATCH", "/machine-config", R"({"vcpu_count": 2})").status, 204);
    auto config = json_of(request("GET", "/machine-config"));
    EXPECT_EQ(config["vcpu_count"], 2);
    EXPECT_EQ(config["mem_size_mib"], 512);
}

TEST_F(ApiHandlersTest, RefusesUnsupportedMachineOptionsByName) {
    struct Case {
        const char* body;
        const char* field;
    } cases[] = {
        {R"({"vcpu_count": 1, "mem_size_mib": 64, "smt": true})", "smt"},
        {R"({"vcpu_count": 1, "mem_size_mib": 64, "track_dirty_pages": true})",
         "track_dirty_pages"},
        {R"({"vcpu_count": 1, "mem_size_mib": 64, "cpu_template": "C3"})", "cpu_template"},
        {R"({"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "Transparent"})", "huge_pages"},
        {R"({"vcpu_count": 1.0, "mem_size_mib": 64})", "vcpu_count"},
        {R"({"vcpu_count": 1, "mem_size_mib": 64, "extra": 1})", "extra"},
        {R"({"vcpu_count": 1})", "mem_size_mib"},
        {R"([1])", "object"},
    };
    for (const auto& test : cases) {
        auto response = request("PUT", "/machine-config", test.body);
        EXPECT_EQ(response.status, 400) << test.body;
        std::string message = json_of(response)["fault_message"];
        EXPECT_NE(message.find(test.field), std::string::npos) << message;
    }
    EXPECT_EQ(json_of(request("GET", "/machine-config"))["mem_size_mib"], 128); // unchanged
}

TEST_F(ApiHandlersTest, DrivesAreAttachedAndListed) {
    char name[] = "/tmp/vessel-api-drive-XXXXXX";
    const int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
    close(fd);
    const std::string path = name;
    auto drive = request("PUT", "/drives/root",
                         R"({"drive_id": "root", "is_root_device": true, "path_on_host": ")" +
                             path + R"("})");
    EXPECT_EQ(drive.status, 204) << drive.body;
    auto config = json_of(request("GET", "/vm/config"));
    ASSERT_EQ(config["drives"].size(), 1u);
    EXPECT_EQ(config["drives"][0]["path_on_host"], path);
    EXPECT_EQ(config["drives"][0]["is_root_device"], true);
    auto second_root = request(
        "PUT", "/drives/other",
        R"({"drive_id": "other", "is_root_device": true, "path_on_host": ")" + path + R"("})");
    EXPECT_NE(second_root.body.find("root block device already exists"), std::string::npos);
    auto missing = request(
        "PUT", "/drives/data",
        R"({"drive_id": "data", "is_root_device": false, "path_on_host": "/nonexistent.img"})");
    EXPECT_EQ(missing.status, 400);
    EXPECT_NE(missing.body.find("/nonexistent.img"), std::string::npos);
    auto no_path =
        request("PUT", "/drives/data", R"({"drive_id": "data", "is_root_device": false})");
    EXPECT_NE(no_path.body.find("path_on_host"), std::string::npos);
    auto socket = request("PUT", "/drives/data",
                          R"({"drive_id": "data", "is_root_device": false, "socket": "/s"})");
    EXPECT_NE(socket.body.find("socket"), std::string::npos);
    EXPECT_EQ(json_of(request("GET", "/vm/config"))["drives"].size(), 1u); // nothing else added
    ::unlink(name);
}

TEST_F(ApiHandlersTest, DriveFieldsOfTheWrongTypeAreNamed) {
    auto wrong_type =
        request("PUT", "/drives/root", R"({"drive_id": "root", "is_root_device": 1})");
    EXPECT_EQ(wrong_type.status, 400);
    EXPECT_NE(wrong_type.body.find("is_root_device"), std::string::npos);
}

TEST_F(ApiHandlersTest, NetworkInterfacesAttachToTapAndAreListed) {
    // Checks that need no TAP interface: each names the field.
    auto bad_mac = request("PUT", "/network-interfaces/eth0",
                           R"({"iface_id": "eth0", "host_dev_name": "vt0", "guest_mac": "zz"})");
    EXPECT_EQ(bad_mac.status, 400);
    EXPECT_NE(bad_mac.body.find("guest_mac"), std::string::npos) << bad_mac.body;
    auto limited = request("PUT", "/network-interfaces/eth0",
                           R"({"iface_id": "eth0", "host_dev_name": "vt0",
                               "rx_rate_limiter": {"ops": {"size": 1, "refill_time": 1}}})");
    EXPECT_NE(limited.body.find("rx_rate_limiter"), std::string::npos) << limited.body;
    auto mismatch = request("PUT", "/network-interfaces/eth0",
                            R"({"iface_id": "eth1", "host_dev_name": "vt0"})");
    EXPECT_NE(mismatch.body.find("does not match"), std::string::npos) << mismatch.body;
    auto long_name = request("PUT", "/network-interfaces/eth0",
                             R"({"iface_id": "eth0", "host_dev_name": "a-very-long-tap-name"})");
    EXPECT_EQ(long_name.status, 400);
    EXPECT_NE(long_name.body.find("a-very-long-tap-name"), std::string::npos);
    EXPECT_EQ(json_of(request("GET", "/vm/config"))["network-interfaces"].size(), 0u);

    // A TAP interface that does not exist is refused, not created.
    const std::string tap_name = fmt::format("vtest{}", ::getpid());
    auto missing =
        request("PUT", "/network-interfaces/eth0",
                fmt::format(R"({{"iface_id": "eth0", "host_dev_name": "{}"}})", tap_name));
    EXPECT_EQ(missing.status, 400);
    EXPECT_NE(missing.body.find("does not exist"), std::string::npos) << missing.body;

    // Attaching needs an existing TAP: creating one for the test needs /dev/net/tun and
    // CAP_NET_ADMIN (Firecracker opens the TAP at PUT too).
    testing::ScopedTapInterface tap(tap_name);
    if (!tap.created()) GTEST_SKIP() << "cannot create a TAP interface here";
    auto attached = request("PUT", "/network-interfaces/eth0",
                            fmt::format(R"({{"iface_id": "eth0", "host_dev_name": "{}", )"
                                        R"("guest_mac": "06:00:ac:10:00:02"}})",
                                        tap_name));
    ASSERT_EQ(attached.status, 204) << attached.body;
    auto listed = json_of(request("GET", "/vm/config"))["network-interfaces"];
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0]["host_dev_name"], tap_name);
    EXPECT_EQ(listed[0]["guest_mac"], "06:00:ac:10:00:02");
    auto taken = request("PUT", "/network-interfaces/eth1",
                         fmt::format(R"({{"iface_id": "eth1", "host_dev_name": "{}"}})", tap_name));
    EXPECT_NE(taken.body.find("already used by eth0"), std::string::npos) << taken.body;
    auto patch = request("PATCH", "/network-interfaces/eth0", R"({"iface_id": "eth0"})");
    EXPECT_EQ(patch.status, 400);
}

TEST_F(ApiHandlersTest, LifecycleActionsNeedTheRightState) {
    EXPECT_NE(request("PUT", "/actions", R"({"action_type": "InstanceStart"})").body.find("kernel"),
              std::string::npos);
    EXPECT_NE(request("PATCH", "/vm", R"({"state": "Paused"})").body.find("before starting"),
              std::string::npos);
    EXPECT_EQ(request("PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})").status, 400);
    EXPECT_EQ(request("PUT", "/actions", R"({"action_type": "FlushMetrics"})").status, 400);
    EXPECT_EQ(m_vm->state(), VmState::NotStarted);
}

TEST_F(ApiHandlersTest, BootSourceChecksTheKernelFile) {
    auto response = request("PUT", "/boot-source", R"({"kernel_image_path": "/no/such/kernel"})");
    EXPECT_EQ(response.status, 400);
    EXPECT_NE(response.body.find("/no/such/kernel"), std::string::npos);
    EXPECT_TRUE(json_of(request("GET", "/vm/config"))["boot-source"].is_null());
}

TEST_F(ApiHandlersTest, MetricsFlushWritesOneJsonLinePerFlush) {
    std::string path = ::testing::TempDir() + "/vessel_api_metrics.json";
    std::remove(path.c_str());
    EXPECT_EQ(request("PUT", "/metrics", nlohmann::json{{"metrics_path", path}}.dump()).status,
              204);
    EXPECT_EQ(request("PUT", "/metrics", nlohmann::json{{"metrics_path", path}}.dump()).status,
              400);
    request("GET", "/machine-config");
    EXPECT_EQ(request("PUT", "/actions", R"({"action_type": "FlushMetrics"})").status, 204);
    EXPECT_EQ(request("PUT", "/actions", R"({"action_type": "FlushMetrics"})").status, 204);
    FILE* file = std::fopen(path.c_str(), "r");
    ASSERT_NE(file, nullptr);
    char line[4096];
    std::vector<nlohmann::json> lines;
    while (std::fgets(line, sizeof(line), file))
        lines.push_back(nlohmann::json::parse(line));
    std::fclose(file);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["get_api_requests"]["machine_cfg_count"], 1);
    EXPECT_EQ(lines[0]["vmm"]["state"], "Not started");
    EXPECT_EQ(lines[0]["kvm_fast_path"]["ioeventfd_notifications"], 0); // no VM yet
    EXPECT_EQ(lines[0]["kvm_fast_path"]["irqfd_interrupts"], 0);
    // Counters are deltas: the second line counts only the flush request before it.
    EXPECT_FALSE(lines[1].contains("get_api_requests"));
    EXPECT_EQ(lines[1]["put_api_requests"]["actions_count"], 1);
    std::remove(path.c_str());
}

TEST_F(ApiHandlersTest, UnknownAndUnsupportedPaths) {
    EXPECT_NE(request("GET", "/nope").body.find("Invalid request method and/or path"),
              std::string::npos);
    EXPECT_NE(request("DELETE", "/machine-config").body.find("Invalid request"), std::string::npos);
    EXPECT_NE(request("PUT", "/mmds", "{}").body.find("metadata service"), std::string::npos);
}

TEST_F(ApiHandlersTest, BalloonPutGetAndFirecrackersErrors) {
    auto missing = request("GET", "/balloon");
    EXPECT_EQ(missing.status, 400);
    EXPECT_NE(missing.body.find("No balloon device found."), std::string::npos);
    EXPECT_EQ(request("PUT", "/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 256})").status,
              204);
    struct Case {
        const char* body;
        const char* needle;
    } refused[] = {
        {R"({"amount_mib": 10})", "deflate_on_oom"},
        {R"({"deflate_on_oom": false})", "amount_mib"},
        {R"({"amount_mib": -5, "deflate_on_oom": false})", "amount_mib"},
        {R"({"amount_mib": 1.5, "deflate_on_oom": false})", "amount_mib"},
        {R"({"amount_mib": 257, "deflate_on_oom": false})",
         "Amount of pages requested is too large."},
        {R"({"amount_mib": 1, "deflate_on_oom": "yes"})", "deflate_on_oom"},
        {R"({"amount_mib": 1, "deflate_on_oom": true, "stats_polling_interval_s": 65536})",
         "stats_polling_interval_s"},
        {R"({"amount_mib": 1, "deflate_on_oom": true, "free_page_hinting": true})",
         "free_page_hinting"},
    };
    for (const Case& item : refused) {
        auto response = request("PUT", "/balloon", item.body);
        EXPECT_EQ(response.status, 400) << item.body;
        EXPECT_NE(response.body.find(item.needle), std::string::npos) << response.body;
    }
    EXPECT_EQ(
        request("PUT", "/balloon",
                R"({"amount_mib": 256, "deflate_on_oom": true, "stats_polling_interval_s": 5})")
            .status,
        204);
    auto balloon = json_of(request("GET", "/balloon"));
    EXPECT_EQ(balloon["amount_mib"], 256);
    EXPECT_EQ(balloon["deflate_on_oom"], true);
    EXPECT_EQ(balloon["stats_polling_interval_s"], 5);
    EXPECT_EQ(balloon["free_page_reporting"], false);
    EXPECT_EQ(json_of(request("GET", "/vm/config"))["balloon"]["amount_mib"], 256);
    // Runtime-only operations before the start.
    for (auto [method, path, body] :
         {std::tuple{"PATCH", "/balloon", R"({"amount_mib": 5})"},
          std::tuple{"GET", "/balloon/statistics", ""},
          std::tuple{"PATCH", "/balloon/statistics", R"({"stats_polling_interval_s": 1})"}}) {
        auto response = request(method, path, body);
        EXPECT_EQ(response.status, 400) << path;
        EXPECT_NE(response.body.find("not supported before starting"), std::string::npos)
            << response.body;
    }
    auto bad_patch = request("PATCH", "/balloon", R"({"amount_mib": 5, "deflate_on_oom": true})");
    EXPECT_NE(bad_patch.body.find("unknown field 'deflate_on_oom'"), std::string::npos);
}

TEST_F(ApiHandlersTest, PageSharingIsAMachineConfigExtension) {
    EXPECT_EQ(json_of(request("GET", "/machine-config"))["vessel_page_sharing"], false);
    EXPECT_EQ(request("PATCH", "/machine-config", R"({"vessel_page_sharing": true})").status, 204);
    EXPECT_EQ(json_of(request("GET", "/machine-config"))["vessel_page_sharing"], true);
    EXPECT_EQ(request("PATCH", "/machine-config", R"({"vessel_page_sharing": 1})").status, 400);
}

TEST_F(ApiHandlersTest, CpuModelIsAMachineConfigExtension) {
    EXPECT_FALSE(json_of(request("GET", "/machine-config")).contains("vessel_cpu_model"));
    EXPECT_EQ(request("PATCH", "/machine-config", R"({"vessel_cpu_model": "x86-64-v2"})").status,
              204);
    EXPECT_EQ(json_of(request("GET", "/machine-config"))["vessel_cpu_model"], "x86-64-v2");
    auto unknown = request("PATCH", "/machine-config", R"({"vessel_cpu_model": "pentium"})");
    EXPECT_EQ(unknown.status, 400);
    EXPECT_NE(unknown.body.find("pentium"), std::string::npos) << unknown.body;
}

TEST_F(ApiHandlersTest, VsockPutValidatesAndShowsInConfig) {
    const std::string path = ::testing::TempDir() + "vessel-api-vsock-" + std::to_string(getpid());
    EXPECT_EQ(request("PUT", "/vsock",
                      R"({"vsock_id": "vsock0", "guest_cid": 3, "uds_path": ")" + path + "\"}")
                  .status,
              204);
    auto config = json_of(request("GET", "/vm/config"));
    EXPECT_EQ(config["vsock"]["guest_cid"], 3);
    EXPECT_EQ(config["vsock"]["uds_path"], path);
    struct Case {
        std::string body;
        std::string expected;
    };
    const Case cases[] = {
        {R"({"guest_cid": 2, "uds_path": "/tmp/x.sock"})", "reserved"},
        {R"({"uds_path": "/tmp/x.sock"})", "guest_cid"},
        {R"({"guest_cid": 3})", "uds_path"},
        {R"({"guest_cid": 3, "uds_path": "/tmp/x.sock", "extra": 1})", "extra"},
        {R"({"guest_cid": 3, "uds_path": "/proc/self/exe"})", "Address in use"},
        {R"({"guest_cid": 3, "uds_path": "/no/such/dir/v.sock"})", "does not exist"},
        {R"({"guest_cid": "3", "uds_path": "/tmp/x.sock"})", "guest_cid"},
    };
    for (const Case& c : cases) {
        auto response = request("PUT", "/vsock", c.body);
        EXPECT_EQ(response.status, 400) << c.body;
        EXPECT_NE(response.body.find(c.expected), std::string::npos) << response.body;
    }
}

// The route table: ids take the rest of the path, and a known path with another method is an
// invalid request (counted under that path's resource), never a handler of another method.
TEST_F(ApiHandlersTest, RoutesMatchMethodAndPathPattern) {
    const std::string invalid = "Invalid request method and/or path";
    EXPECT_NE(request("GET", "/drives/root", "{}").body.find(invalid), std::string::npos);
    EXPECT_NE(request("PUT", "/drives/", "{}").body.find(invalid), std::string::npos);
    EXPECT_NE(request("PUT", "/drive/x", "{}").body.find(invalid), std::string::npos);
    EXPECT_NE(request("GET", "/version/").body.find(invalid), std::string::npos);
    EXPECT_NE(request("PUT", "/version", "{}").body.find(invalid), std::string::npos);
    // A slash in an id reaches the id check, which names it.
    EXPECT_NE(request("PUT", "/drives/a/b", "{}").body.find("invalid id 'a/b'"), std::string::npos);
    EXPECT_NE(request("PATCH", "/network-interfaces/eth0", "{}").body.find("no such interface"),
              std::string::npos);
    EXPECT_EQ(request("PATCH", "/vm", R"({"state": "Paused"})").status, 400); // not started
}

TEST_F(ApiHandlersTest, ConfigFileRefusesUnsupportedSections) {
    auto result = m_handlers->start_from_config_file(
        R"({"boot-source": {"kernel_image_path": "/no/kernel"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}})");
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("/no/kernel"), std::string::npos);
    result = m_handlers->start_from_config_file(
        R"({"machine-config": {"vcpu_count": 1, "mem_size_mib": 64}})");
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("boot-source"), std::string::npos);
    result = m_handlers->start_from_config_file(
        R"({"boot-source": {"kernel_image_path": "/proc/self/exe"}, "vsock": {"guest_cid": 1, "uds_path": "x"}})");
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("guest_cid"), std::string::npos);
    result = m_handlers->start_from_config_file(
        R"({"boot-source": {"kernel_image_path": "/proc/self/exe"}, "balloon": {"amount_mib": 1}})");
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("deflate_on_oom"), std::string::npos);
    EXPECT_EQ(m_vm->state(), VmState::NotStarted);
}

TEST_F(ApiHandlersTest, VesselWakeNeedsAStartedSuspendedGuestAndTakesNoFields) {
    auto before = request("PUT", "/vessel/wake", "");
    EXPECT_EQ(before.status, 400);
    EXPECT_NE(before.body.find("before starting"), std::string::npos) << before.body;
    auto field = request("PUT", "/vessel/wake", R"({"now": true})");
    EXPECT_EQ(field.status, 400);
    EXPECT_NE(field.body.find("now"), std::string::npos) << field.body;
    EXPECT_EQ(request("GET", "/vessel/wake", "").status, 400); // PUT only
}

} // namespace
} // namespace vessel::api
