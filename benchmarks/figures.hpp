// weft benchmarks — the figure groups, each appending its figures.
#pragma once

#include "harness.hpp"

#include <string>
#include <vector>

namespace weft::bench {

void figures_core(const Config& cfg, std::vector<Figure>& out);
void figures_more(const Config& cfg, std::vector<Figure>& out);
// --sample NAME: one memory sample, run in a process of its own; prints its numbers.
int run_sample(const std::string& name);

}  // namespace weft::bench
