// The runtime's timer heap (runtime/timer_heap.hpp): order, FIFO among equal due times, lazy
// removal and the rebuild that clears removed entries, checked against a reference model.
#include "timer_heap.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <utility>
#include <vector>

namespace {

using weft::detail::TimerHeap;
using weft::detail::TimerNode;

// Pops every timer, returning their positions in `nodes`.
std::vector<std::size_t> drain(TimerHeap& heap, const std::vector<TimerNode>& nodes) {
  std::vector<std::size_t> order;
  while (TimerNode* n = heap.pop()) {
    EXPECT_FALSE(n->armed());
    order.push_back(static_cast<std::size_t>(n - nodes.data()));
  }
  return order;
}

TEST(TimerHeap, PopsInDueOrderAndEqualDueTimesInArmingOrder) {
  std::vector<TimerNode> nodes(6);
  const std::int64_t due[] = {30, 10, 20, 10, 30, 10};
  TimerHeap heap;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].due = due[i];
    heap.push(&nodes[i]);
  }
  EXPECT_EQ(heap.size(), 6u);
  EXPECT_EQ(drain(heap, nodes), (std::vector<std::size_t>{1, 3, 5, 2, 0, 4}));
  EXPECT_TRUE(heap.empty());
}

TEST(TimerHeap, AnErasedTimerNeverComesOutAndErasingTwiceIsHarmless) {
  std::vector<TimerNode> nodes(4);
  TimerHeap heap;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].due = static_cast<std::int64_t>(i);
    heap.push(&nodes[i]);
  }
  heap.erase(&nodes[0]);  // the top
  heap.erase(&nodes[2]);  // inside
  heap.erase(&nodes[2]);
  EXPECT_FALSE(nodes[0].armed());
  EXPECT_EQ(heap.size(), 2u);
  EXPECT_EQ(heap.top(), &nodes[1]);
  EXPECT_EQ(drain(heap, nodes), (std::vector<std::size_t>{1, 3}));
}

TEST(TimerHeap, ManyErasedThenAPushRebuildsAndEveryLiveTimerStaysReachable) {
  constexpr std::size_t kCount = 10'000;
  std::vector<TimerNode> nodes(kCount);
  TimerHeap heap;
  for (std::size_t i = 0; i < kCount; ++i) {
    nodes[i].due = static_cast<std::int64_t>(kCount - i);
    heap.push(&nodes[i]);
  }
  // Erase all but every tenth (as a token cancelling most of a runtime's sleeps does).
  for (std::size_t i = 0; i < kCount; ++i) {
    if (i % 10 != 0) heap.erase(&nodes[i]);
  }
  EXPECT_EQ(heap.size(), kCount / 10);
  TimerNode extra;
  extra.due = 0;
  heap.push(&extra);  // removed entries outnumber live ones: this push rebuilds
  // Erasing after the rebuild must find each node where the rebuild put it.
  heap.erase(&nodes[10]);
  heap.erase(&extra);
  std::vector<std::size_t> expected;
  for (std::size_t i = kCount; i-- > 0;) {
    if (i % 10 == 0 && i != 10) expected.push_back(i);
  }
  EXPECT_EQ(drain(heap, nodes), expected);
}

// Random pushes, re-arms, erases and pops against a multimap keyed by (due, arming order).
TEST(TimerHeap, AgreesWithAReferenceModelUnderRandomOperations) {
  constexpr std::size_t kNodes = 512;
  std::vector<TimerNode> nodes(kNodes);
  TimerHeap heap;
  std::map<std::pair<std::int64_t, std::uint64_t>, std::size_t> model;
  std::vector<std::pair<std::int64_t, std::uint64_t>> key(kNodes);
  std::uint64_t seq = 0;
  std::mt19937_64 rng(42);
  for (int step = 0; step < 200'000; ++step) {
    std::size_t i = rng() % kNodes;
    switch (rng() % 4) {
      case 0:
      case 1:  // arm or re-arm, due times from a small range so that ties are common
        if (nodes[i].armed()) {
          heap.erase(&nodes[i]);
          model.erase(key[i]);
        }
        nodes[i].due = static_cast<std::int64_t>(rng() % 64);
        heap.push(&nodes[i]);
        key[i] = {nodes[i].due, seq++};
        model[key[i]] = i;
        break;
      case 2:
        if (nodes[i].armed()) model.erase(key[i]);
        heap.erase(&nodes[i]);
        break;
      case 3: {
        TimerNode* n = heap.pop();
        if (model.empty()) {
          ASSERT_EQ(n, nullptr);
        } else {
          ASSERT_NE(n, nullptr);
          ASSERT_EQ(static_cast<std::size_t>(n - nodes.data()), model.begin()->second);
          model.erase(model.begin());
        }
        break;
      }
    }
    ASSERT_EQ(heap.size(), model.size());
    for (std::size_t k = 0; k < kNodes; k += 97) {
      ASSERT_EQ(nodes[k].armed(), model.count(key[k]) > 0 && model[key[k]] == k);
    }
  }
}

}  // namespace
