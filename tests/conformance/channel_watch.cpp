// The watch of a channel's full or empty buffer (semantics.md §8): a blocking send that finds
// a buffered channel full, or a blocking receive that finds it empty, while the other side was
// last seen on another thread, watches it for a while before it parks. What is checked here needs
// no timing: where nothing can fill or drain the buffer during a watch, every watch runs out; those
// are counted (RuntimeStats), and each that runs out makes the next ones on the channel be skipped,
// twice as many each time. Where the other side runs on the caller's own runtime, or the runtime
// never spins, nothing is watched. That values still arrive exactly once and in order with watches
// under way, across runtimes and threads, is the torture test's (stress/coordination_torture).
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;

// From a plain thread: until the fiber `id` is blocked in `call` (a fiber dump, which each
// runtime answers on its own thread); false after 20 s (a hang guard, not a timing
// assertion).
bool blocked_in(FiberId id, const std::string& call) {
  for (int i = 0; i < 20000; ++i) {
    for (const debug::RuntimeDump& d : debug::fibers()) {
      for (const debug::FiberInfo& f : d.fibers) {
        if (f.id == id && f.state == "blocked" && f.call == call) return true;
      }
    }
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

// Watches made by the k-th wait of a run of waits on one channel during which nothing fills
// or drains the buffer: the 1st watches and runs out, the next is skipped, the 3rd watches,
// the next 3 are skipped, the 7th watches... (1, 3, 7, 15, ...: each run-out doubles the
// skipping, plus one).
int watches_by_wait(int k) {
  int watches = 0;
  for (int w = 1; w <= k; w = 2 * w + 1) ++watches;
  return watches;
}

constexpr int kWaits = 20;

// A fiber of runtime `rt` sends 1..kWaits+1 into a channel of capacity 1; this thread takes
// each value only once the sender is blocked on the full buffer, so that no watch can see
// room. Checks the counters after each wait against `expected(k)`. (The first wait comes
// before any receive has found it waiting: nothing is known of the other side, and it does
// not watch.)
template <class Expected>
void sender_waits_on_a_full_buffer(const RuntimeOptions& options, Expected expected) {
  Channel<int> ch(1);
  std::atomic<int> sending{0};
  Runtime rt(options);
  auto sender = rt.spawn([&] {
    for (int v = 1; v <= kWaits + 1; ++v) {
      sending = v;
      ASSERT_TRUE(ch.send(int(v)).ok());
    }
  });
  ASSERT_OK(sender);
  std::thread runner([&] { EXPECT_TRUE(rt.run().ok()); });
  for (int k = 1; k <= kWaits; ++k) {
    // Wait k is the send of k + 1: the buffer holds k.
    while (sending.load() != k + 1) std::this_thread::yield();
    ASSERT_TRUE(blocked_in(*sender, "Channel::send")) << "wait " << k;
    const RuntimeStats st = rt.stats();
    EXPECT_EQ(st.channel_watches_timed_out, std::uint64_t(expected(k))) << "wait " << k;
    EXPECT_EQ(st.channel_watches, 0u) << "wait " << k;
    auto v = ch.recv();  // a plain thread: takes k, refills the buffer with k + 1
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, k);
  }
  auto last = ch.recv();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, kWaits + 1);
  runner.join();
}

TEST(ChannelWatch, ASendWatchesAFullBufferDrainedFromAnotherThreadAndBacksOffWhenItRunsOut) {
  sender_waits_on_a_full_buffer(RuntimeOptions{}, [](int k) { return watches_by_wait(k - 1); });
}

TEST(ChannelWatch, ARuntimeThatNeverSpinsNeverWatches) {
  RuntimeOptions options;
  options.spin_before_sleep = 0us;
  sender_waits_on_a_full_buffer(options, [](int) { return 0; });
}

TEST(ChannelWatch, AReceiveWatchesAnEmptyBufferFilledFromAnotherThread) {
  Channel<int> ch(4);
  std::atomic<int> receiving{0};
  Runtime rt;
  auto receiver = rt.spawn([&] {
    for (int v = 1; v <= kWaits; ++v) {
      receiving = v;
      auto got = ch.recv();
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(*got, v);
    }
  });
  ASSERT_OK(receiver);
  std::thread runner([&] { EXPECT_TRUE(rt.run().ok()); });
  for (int k = 1; k <= kWaits; ++k) {
    // Wait k is the receive of k. The first comes before any send: it does not watch.
    while (receiving.load() != k) std::this_thread::yield();
    ASSERT_TRUE(blocked_in(*receiver, "Channel::recv")) << "wait " << k;
    const RuntimeStats st = rt.stats();
    EXPECT_EQ(st.channel_watches_timed_out, std::uint64_t(watches_by_wait(k - 1))) << "wait " << k;
    EXPECT_EQ(st.channel_watches, 0u) << "wait " << k;
    ASSERT_TRUE(ch.send(int(k)).ok());  // handed to the waiting receiver
  }
  runner.join();
}

TEST(ChannelWatch, NothingIsWatchedWhenTheOtherSideRunsOnTheCallersRuntime) {
  Channel<int> ch(4);
  constexpr int kValues = 10000;
  Runtime rt;
  ASSERT_OK(rt.spawn([&] {
    FiberId consumer = *spawn([&] {
      for (int v = 0; v < kValues; ++v) {
        auto got = ch.recv();
        ASSERT_TRUE(got.ok());
        ASSERT_EQ(*got, v);
      }
    });
    for (int v = 0; v < kValues; ++v) ASSERT_TRUE(ch.send(int(v)).ok());
    ASSERT_TRUE(join(consumer).ok());
  }));
  ASSERT_TRUE(rt.run().ok());
  const RuntimeStats st = rt.stats();
  EXPECT_GT(st.calls_completed, 0u) << "neither side ever waited";
  EXPECT_EQ(st.channel_watches, 0u);
  EXPECT_EQ(st.channel_watches_timed_out, 0u);
}

}  // namespace
