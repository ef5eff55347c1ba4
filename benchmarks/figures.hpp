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

}  // namespace weft::bench
