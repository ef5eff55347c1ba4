// 1,000 concurrent connections echoing through one runtime.
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace weft;
using weft::test::run_in_fiber;

TEST(EchoMany, AThousandConnectionsEchoThroughOneRuntime) {
  constexpr int kConnections = 1000, kMessages = 20;
  int verified = 0;
  RuntimeOptions options;
  options.stack_size = 32 * 1024;
  run_in_fiber(
      [&] {
        auto l = socket(AF_INET, SOCK_STREAM);
        ASSERT_TRUE(bind(*l, Address::loopback_v4(0)).ok());
        ASSERT_TRUE(listen(*l, 1024).ok());
        Address addr = *local_address(*l);
        std::vector<FiberId> servers;
        auto acceptor = spawn([&] {
          for (int i = 0; i < kConnections; ++i) {
            auto c = accept(*l);
            ASSERT_TRUE(c.ok()) << c.error().message();
            servers.push_back(*spawn([c = *c] {
              char buf[256];
              for (;;) {
                auto n = recv(c, buf, sizeof buf);
                if (!n.ok() || *n == 0) break;
                if (!send(c, buf, *n).ok()) break;
              }
              (void)close(c);
            }));
          }
        });
        std::vector<FiberId> clients;
        for (int i = 0; i < kConnections; ++i) {
          clients.push_back(*spawn([&, i] {
            auto s = socket(AF_INET, SOCK_STREAM);
            ASSERT_TRUE(s.ok());
            ASSERT_TRUE(connect(*s, addr).ok());
            for (int m = 0; m < kMessages; ++m) {
              std::string msg = "conn " + std::to_string(i) + " msg " + std::to_string(m);
              ASSERT_TRUE(send(*s, msg.data(), msg.size()).ok());
              std::string back(msg.size(), '\0');
              ASSERT_TRUE(recv_exact(*s, back.data(), back.size()).ok());
              ASSERT_EQ(back, msg);
            }
            ++verified;
            ASSERT_TRUE(close(*s).ok());
          }));
        }
        for (FiberId c : clients) ASSERT_TRUE(join(c).ok());
        ASSERT_TRUE(join(*acceptor).ok());
        for (FiberId s : servers) ASSERT_TRUE(join(s).ok());
        EXPECT_EQ(Runtime::current()->stats().sockets_open, 1u);
        ASSERT_TRUE(close(*l).ok());
      },
      options);
  EXPECT_EQ(verified, kConnections);
}

}  // namespace
