// Logging: WEFT_LOG sets the default level, set_logger routes weft's own events (runtime run,
// stop and return; stack-limit fallback; serve's listeners) to the application's logger.
#include <weft/weft.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <sstream>

namespace weft {
namespace {

using namespace std::chrono_literals;

TEST(Log, TheDefaultLoggerTakesItsLevelFromWeftLog) {
  // meson runs this test with WEFT_LOG=debug (tests/unit/meson.build).
  ASSERT_STREQ(std::getenv("WEFT_LOG"), "debug");
  auto l = get_logger();
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->name(), "weft");
  EXPECT_EQ(l->level(), spdlog::level::debug);
}

TEST(Log, AnApplicationLoggerReceivesTheRuntimesOwnEvents) {
  std::ostringstream out;
  auto mine = std::make_shared<spdlog::logger>(
      "app", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
  mine->set_level(spdlog::level::debug);
  set_logger(mine);
  EXPECT_EQ(get_logger(), mine);
  {
    RuntimeOptions o;
    o.guarded_stack_limit = 1;  // the second fiber's stack falls back to an unguarded slab
    Runtime rt(o);
    (void)rt.spawn([&] {
      auto sleeper = spawn([] { (void)this_fiber::sleep_for(1h); });
      ASSERT_TRUE(sleeper.ok());
      this_fiber::yield();
      Runtime::current()->stop();
    });
    ASSERT_TRUE(rt.run().ok());
  }
  {
    // A reset a cancel caused (portable mode), a fiber that ends holding a mutex, and the
    // debug listener's start and end: each line names the runtime and the fiber.
    RuntimeOptions o;
    o.portable_mode = true;
    Runtime rt(o);
    (void)rt.spawn(
        [&] {
          CancelSource stop;
          ASSERT_TRUE(debug::serve(Address::loopback_v4(0), stop.token()).ok());
          auto l = socket(AF_INET, SOCK_STREAM);
          ASSERT_TRUE(l.ok());
          ASSERT_TRUE(bind(*l, Address::loopback_v4(0)).ok());
          ASSERT_TRUE(listen(*l, 4).ok());
          auto c = socket(AF_INET, SOCK_STREAM);
          ASSERT_TRUE(connect(*c, *local_address(*l)).ok());
          auto reader = spawn([&] {
            char b[4];
            EXPECT_EQ(recv(*c, b, sizeof b).error(), wsa::eintr);
          });
          this_fiber::yield();
          ASSERT_TRUE(cancel_blocking_call(*reader).ok());
          ASSERT_TRUE(join(*reader).ok());
          Mutex m;
          auto holder = spawn([&] { ASSERT_TRUE(m.lock().ok()); }, SpawnOptions{.name = "holder"});
          ASSERT_TRUE(join(*holder).ok());
          (void)close(*c);
          (void)close(*l);
          stop.cancel();
        },
        SpawnOptions{.name = "logging"});
    ASSERT_TRUE(rt.run().ok());
  }
  {
    RuntimeGroup group(1);
    ASSERT_TRUE(group.serve(Address::loopback_v4(0), [](UniqueSocket) {}).ok());
    group.finish();
    ASSERT_TRUE(group.run().ok());
  }
  set_logger(nullptr);  // back to the default logger
  EXPECT_NE(get_logger(), mine);
  EXPECT_EQ(get_logger()->name(), "weft");

  std::string log = out.str();
  EXPECT_NE(log.find(": run"), std::string::npos) << log;
  EXPECT_NE(log.find("stopping; fibers alive: 1"), std::string::npos) << log;
  EXPECT_NE(log.find("run returned (stopped)"), std::string::npos) << log;
  EXPECT_NE(log.find("further stacks come from unguarded slabs"), std::string::npos) << log;
  EXPECT_NE(log.find("serve: listening on 127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find("accepting ended"), std::string::npos) << log;
  EXPECT_TRUE(
      std::regex_search(log, std::regex(R"(runtime [0-9]+: fiber [0-9]+ \(operator\(\)\): )"
                                        R"(socket [0-9]+ reset after its recv was cancelled)")))
      << log;
  EXPECT_TRUE(std::regex_search(
      log, std::regex(R"(runtime [0-9]+: fiber [0-9]+ \(holder\): ended holding 1 mutex)")))
      << log;
  EXPECT_TRUE(std::regex_search(
      log, std::regex(R"(runtime [0-9]+: debug listener on 127\.0\.0\.1:[0-9]+)")))
      << log;
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(runtime [0-9]+: debug listener ended)"))) << log;
  // Every line about a fiber names its runtime first.
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("fiber ") == std::string::npos ||
        line.find("fiber stacks") != std::string::npos) {
      continue;
    }
    EXPECT_TRUE(std::regex_search(line, std::regex(R"(runtime [0-9]+: fiber [0-9]+ \()"))) << line;
  }
}

}  // namespace
}  // namespace weft
