// weft benchmarks — the figures: one table of every figure, and the families of figures that
// make them, a file each.
#pragma once

#include "harness.hpp"
#include "peers.hpp"

#include <string>
#include <vector>

namespace weft::bench {

// One figure: its name (what --only takes, and its key in the table and the JSON) and the
// function that measures it, which makes a figure of that name.
struct FigureEntry {
  const char* name;
  Figure (*make)(const Config& cfg);
};

// Every figure, in the order a run makes them (figures.cpp): the run order, the names --only
// takes and the list printed for a name that is no figure all come from this table. A new
// figure is a make function in its family's file, declared below, and one entry there.
const std::vector<FigureEntry>& figure_table();

// Makes, in the table's order, the figures cfg.only names (all of them when it is empty).
// The make function of a figure left out is not called: nothing of it runs.
std::vector<Figure> make_figures(const Config& cfg);

// figures_switch.cpp: switching and waking.
Figure figure_fiber_switch(const Config& cfg);
Figure figure_wake(const Config& cfg);
// Their floors, which the cancel and coordination figures are measured against too.
std::vector<double> fcontext_roundtrip(const Config& cfg);
std::vector<double> weft_yield_roundtrip(const Config& cfg);
std::vector<double> raw_eventfd_wake(const Config& cfg, Placement placement);
// A token passed back and forth between two threads asleep in epoll_wait, by eventfd: ns
// per round trip (cross_pingpong_samples of them).
std::vector<double> raw_eventfd_roundtrip(const Config& cfg, Placement placement);

// figures_cancel.cpp: cancellation of blocking calls.
Figure figure_cancel_same_thread(const Config& cfg);
Figure figure_cancel_cross_thread(const Config& cfg);
Figure figure_cancel_fanout(const Config& cfg);
Figure figure_cancel_channel_recv(const Config& cfg);

// figures_coordination.cpp: channels and mutexes between fibers, on one runtime and on two.
Figure figure_channel_pingpong(const Config& cfg);
Figure figure_channel_cross_runtime(const Config& cfg);
Figure figure_channel_stream(const Config& cfg);
Figure figure_mutex_contended(const Config& cfg);

// figures_fast_path.cpp: socket calls that need not wait.
Figure figure_recv_ready(const Config& cfg);
// --fast-path NAME BATCHES: BATCHES batches of 1,000 calls of one recv_ready contender
// (syscall_recv, weft_recv, syscall_send, weft_send), alone in this process: for counting
// its instructions per call under cachegrind (benchmarks/instructions.py).
int run_fast_path(const std::string& name, const std::string& batches);

// figures_echo.cpp: echo servers' throughput.
Figure figure_echo(const Config& cfg);
Figure figure_echo_1conn_64B(const Config& cfg);
Figure figure_echo_100conn_4KiB(const Config& cfg);
Figure figure_echo_1conn_4KiB(const Config& cfg);
Figure figure_echo_threads(const Config& cfg);

// figures_c10k.cpp: 10,000 connections pinged once a second each, the server a process of its
// own.
Figure figure_c10k(const Config& cfg);

// figures_tls.cpp: TLS echo throughput and full handshakes, against the plain-OpenSSL floor.
Figure figure_tls_echo(const Config& cfg);
Figure figure_tls_handshake(const Config& cfg);

// figures_pool.cpp: files and offload on libuv's thread pool, against libuv's own requests.
Figure figure_file_read(const Config& cfg);
Figure figure_offload(const Config& cfg);
// --pool NAME OPS: OPS operations (a multiple of 100) of one of their contenders
// (weft_offload, libuv_offload, weft_file_read, libuv_file_read), alone in this process: for
// counting its instructions per operation under cachegrind (benchmarks/instructions.py).
int run_pool(const std::string& name, const std::string& ops);

// figures_memory.cpp: memory per fiber, and the most fibers at once.
Figure figure_fiber_memory(const Config& cfg);
Figure figure_scale(const Config& cfg);
// --sample NAME: one memory sample, run in a process of its own; prints its numbers.
int run_sample(const std::string& name);

}  // namespace weft::bench
