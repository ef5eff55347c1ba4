// weft benchmarks — the table of figures, and the run that makes them.
#include "figures.hpp"

#include <cstdio>
#include <cstdlib>

namespace weft::bench {

const std::vector<FigureEntry>& figure_table() {
  static const std::vector<FigureEntry> table = {
      {"fiber_switch", figure_fiber_switch},
      {"wake", figure_wake},
      {"cancel_same_thread", figure_cancel_same_thread},
      {"cancel_cross_thread", figure_cancel_cross_thread},
      {"cancel_fanout", figure_cancel_fanout},
      {"cancel_channel_recv", figure_cancel_channel_recv},
      {"channel_pingpong", figure_channel_pingpong},
      {"channel_cross_runtime", figure_channel_cross_runtime},
      {"channel_stream", figure_channel_stream},
      {"mutex_contended", figure_mutex_contended},
      {"recv_ready", figure_recv_ready},
      {"echo", figure_echo},
      {"echo_1conn_64B", figure_echo_1conn_64B},
      {"echo_100conn_4KiB", figure_echo_100conn_4KiB},
      {"echo_1conn_4KiB", figure_echo_1conn_4KiB},
      {"echo_threads", figure_echo_threads},
      {"c10k", figure_c10k},
      {"tls_echo", figure_tls_echo},
      {"tls_handshake", figure_tls_handshake},
      {"file_read", figure_file_read},
      {"offload", figure_offload},
      {"fiber_memory", figure_fiber_memory},
      {"scale", figure_scale},
  };
  return table;
}

std::vector<Figure> make_figures(const Config& cfg) {
  std::vector<Figure> out;
  for (const FigureEntry& entry : figure_table()) {
    if (!cfg.wants(entry.name)) continue;
    out.push_back(entry.make(cfg));
    // --only selects by the entry's name and the JSON is keyed by the figure's: a make
    // function that names its figure otherwise would make --only miss it.
    if (out.back().name != entry.name) {
      std::fprintf(stderr, "weft-bench: the figure entry %s made a figure named %s\n", entry.name,
                   out.back().name.c_str());
      std::abort();
    }
  }
  return out;
}

}  // namespace weft::bench
