// weft benchmarks — the figure groups, each appending its figures.
#pragma once

#include "harness.hpp"

#include <vector>

namespace weft::bench {

void figures_core(const Config& cfg, std::vector<Figure>& out);
void figures_more(const Config& cfg, std::vector<Figure>& out);

}  // namespace weft::bench
