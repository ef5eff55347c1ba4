// TLS under a stop (semantics.md §2, §9): a server runtime takes a flood of handshakes from
// many clients (another runtime, on its own thread) and is stopped from a third thread while
// handshakes, recvs and sends are under way. Every call the stop finds outstanding, and every
// call after it, returns WSAENETDOWN; run() returns; nothing leaks — no fiber, no socket, no
// descriptor.
#include "../support/peer.hpp"
#include "../support/process.hpp"
#include "../support/tls.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using test::TestCerts;

TEST(TlsStopFault, AHandshakeFloodStoppedMidwayEndsEveryCallWithWsaenetdownAndLeaksNothing) {
  ASSERT_FALSE(TestCerts::get().dir.empty());
  { Runtime first; }  // libuv's process-wide descriptors (its signal pipe) exist from here on
  const int before = test::open_descriptors();
  tls::Options so;
  so.certificate_chain_file = TestCerts::get().cert;
  so.private_key_file = TestCerts::get().key;
  auto server_ctx = tls::Context::server(so);
  ASSERT_TRUE(server_ctx.ok());
  tls::Options co;
  co.ca_file = TestCerts::get().ca;
  auto client_ctx = tls::Context::client(co);
  ASSERT_TRUE(client_ctx.ok());

  {  // the runtimes end before the descriptors are counted again
    Runtime server;
    std::atomic<std::uint16_t> port{0};
    std::atomic<int> served{0};      // connections whose handshake completed
    std::atomic<int> after_stop{0};  // calls made or ended after the stop
    std::mutex lock;
    std::map<std::string, int> endings;  // the server's calls that ended in an error, by error
    auto ended = [&](const std::error_code& ec) {
      std::lock_guard<std::mutex> hold(lock);
      ++endings[ec.message()];
    };
    ASSERT_TRUE(server
                    .spawn([&] {
                      auto l = socket(AF_INET, SOCK_STREAM);
                      ASSERT_TRUE(bind(*l, Address::loopback_v4(0)).ok());
                      ASSERT_TRUE(listen(*l, 1024).ok());
                      port = local_address(*l)->port();
                      FiberGroup conns;
                      for (;;) {
                        auto a = accept(*l);
                        if (!a.ok()) {
                          ended(a.error());
                          break;
                        }
                        const Socket accepted = *a;
                        auto member = conns.spawn([&, s = accepted] {
                          auto st = tls::Stream::server(*server_ctx, s);
                          if (!st.ok()) return (void)close(s);
                          Status h = st->handshake();
                          if (!h.ok()) return ended(h.error());
                          ++served;
                          char b[256];
                          for (;;) {  // echo until the client or the stop ends it
                            auto n = st->recv(b, sizeof b);
                            if (!n.ok()) return ended(n.error());
                            if (*n == 0) return;
                            Status sent = st->send(b, *n);
                            if (!sent.ok()) return ended(sent.error());
                          }
                        });
                        // At the stop a spawn fails: the connection is closed here then.
                        if (!member.ok()) (void)close(accepted);
                      }
                      (void)conns.join_all();
                      (void)close(*l);
                      ++after_stop;
                    })
                    .ok());
    std::thread server_thread([&] { EXPECT_TRUE(server.run().ok()); });
    while (port.load() == 0) std::this_thread::yield();

    // The flood: 200 client fibers, each connecting, handshaking and echoing in a loop until
    // the server goes away.
    Runtime clients;
    std::atomic<bool> server_gone{false};
    ASSERT_TRUE(clients
                    .spawn([&] {
                      FiberGroup group;
                      for (int i = 0; i < 200; ++i) {
                        (void)group.spawn([&] {
                          while (!server_gone.load()) {
                            auto s = socket(AF_INET, SOCK_STREAM);
                            if (!s.ok()) return;
                            // Bounded: once the server stops accepting, its full backlog drops
                            // SYNs, and the kernel's own connect timeout is minutes.
                            if (!connect(*s, Address::loopback_v4(port.load()), 200ms).ok()) {
                              (void)close(*s);
                              (void)this_fiber::sleep_for(1ms);
                              continue;
                            }
                            auto st = tls::Stream::client(*client_ctx, *s, "localhost");
                            if (!st.ok()) return (void)close(*s);
                            if (!st->handshake().ok()) continue;
                            char b[16];
                            if (st->send("ping", 4).ok()) (void)st->recv(b, sizeof b);
                            (void)st->close();
                          }
                        });
                      }
                      (void)group.join_all();
                    })
                    .ok());
    std::thread client_thread([&] { EXPECT_TRUE(clients.run().ok()); });

    // Stop mid-flood, once some handshakes completed (others are under way).
    // (A hang guard, not a timing assertion: a flood that never gets there fails the test.)
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (served.load() < 300 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(1ms);
    }
    EXPECT_GE(served.load(), 300);
    server.stop();
    server_thread.join();
    server_gone = true;
    client_thread.join();

    EXPECT_EQ(after_stop.load(), 1);
    {
      std::lock_guard<std::mutex> hold(lock);
      for (const auto& [message, count] : endings) {
        // At the stop: WSAENETDOWN. Before it, only what a client's own close or reset gives.
        EXPECT_TRUE(message == std::error_code(wsa::enetdown).message() ||
                    message == std::error_code(wsa::econnreset).message())
            << count << " calls: " << message;
      }
      EXPECT_GT(endings[std::error_code(wsa::enetdown).message()], 0);
    }
    EXPECT_EQ(server.stats().fibers_alive, 0u);
    EXPECT_EQ(server.stats().sockets_open, 0u);
    EXPECT_EQ(clients.stats().sockets_open, 0u);
  }
  EXPECT_EQ(test::open_descriptors(), before);
}

}  // namespace
