// Logging: WEFT_LOG sets the default level, set_logger routes weft's own events (runtime run,
// stop and return; stack-limit fallback; serve's listeners) to the application's logger.
#include <weft/weft.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <cstdlib>
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
}

}  // namespace
}  // namespace weft
