// weft benchmarks — the figure groups, each appending its figures.
#pragma once

#include "harness.hpp"

#include <string>
#include <vector>

namespace weft::bench {

// Every figure's name, in the order a run makes them (what --only accepts).
inline const std::vector<std::string>& figure_names() {
  static const std::vector<std::string> names = {
      "fiber_switch", "wake", "cancel_same_thread", "cancel_cross_thread", "cancel_fanout",
      "recv_ready", "echo", "echo_1conn_64B", "echo_100conn_4KiB", "echo_1conn_4KiB",
      "echo_threads", "fiber_memory", "scale"};
  return names;
}

void figures_core(const Config& cfg, std::vector<Figure>& out);
void figures_more(const Config& cfg, std::vector<Figure>& out);
// --sample NAME: one memory sample, run in a process of its own; prints its numbers.
int run_sample(const std::string& name);
// --fast-path NAME BATCHES: BATCHES batches of 1,000 calls of one recv_ready contender
// (syscall_recv, weft_recv, syscall_send, weft_send), alone in this process: for counting
// its instructions per call under cachegrind (benchmarks/instructions.py).
int run_fast_path(const std::string& name, const std::string& batches);

}  // namespace weft::bench
