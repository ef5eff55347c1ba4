// weft benchmarks — the harness: contenders interleaved round by round in one run, every
// sample kept, percentiles per contender, ratios per round (median, min, max).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace weft::bench {

struct Config {
  bool quick = false;
  std::set<std::string> only;  // figures to run; empty: all
  bool wants(const std::string& figure) const { return only.empty() || only.count(figure) != 0; }
  int rounds = 7;
  // For a figure whose round takes seconds (fresh processes, 100,000 fibers, one connection's
  // ping-pong with each server started afresh): --quick runs one round of it after the
  // warm-up instead of `rounds`, so that the whole quick run stays under two minutes.
  Config costly() const {
    Config c = *this;
    if (quick) c.rounds = 1;
    return c;
  }
  // Scales sample counts: 1.0 in a full run, smaller in --quick.
  double scale = 1.0;
  std::size_t samples(std::size_t full) const {
    auto n = static_cast<std::size_t>(static_cast<double>(full) * scale);
    return n < 50 ? 50 : n;
  }
};

struct Summary {
  std::size_t n = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, min = 0, mean = 0;
};
Summary summarize(std::vector<double> samples);

// Says on stderr that `figure` starts, with the seconds since the program started: a full
// run takes minutes, and a run that stalls then shows where.
void announce(const std::string& figure);

struct RatioStat {
  double median = 0, min = 0, max = 0;
};
// The median, min and max of per-round ratios `v` (in any order) into *out; false for none.
bool ratio_of_rounds(std::vector<double> v, RatioStat* out);
// Per round i, a[i] / b[i] where both are positive (rounds of values a figure keeps itself:
// CPU, memory), summarized as a ratio; false if no round has both.
bool ratio_of_rounds(const std::vector<double>& a, const std::vector<double>& b, RatioStat* out);

// One contender: each call runs one round and returns its samples (in the figure's unit).
struct Contender {
  std::string name;
  std::function<std::vector<double>(const Config&)> round;
  std::string note;  // e.g. "batch of 100000, divided"
};

struct Figure {
  std::string name;
  std::string unit;
  std::string what;
  std::string placement;
  std::map<std::string, Summary> contenders;              // every round's samples pooled
  std::map<std::string, std::vector<Summary>> per_round;  // one Summary per round
  std::map<std::string, std::string> notes;
  std::map<std::string, RatioStat> ratios;
  std::map<std::string, double> values;
  std::map<std::string, std::vector<double>> raw;  // pooled samples, for plots
  // Goals: ratio name -> (limit, true if the ratio must be <= limit, false if >=).
  std::map<std::string, std::pair<double, bool>> goals;
};

// Runs every contender once per round, in order A B C A B C ..., for config.rounds rounds.
Figure run_interleaved(std::string name, std::string unit, std::string what, std::string placement,
                       std::vector<Contender> contenders, const Config& config);

enum class Stat { p50, p90, p99, mean };
// ratio = stat(a) / stat(b), taken per round; median, min and max over rounds.
void add_ratio(Figure& f, const std::string& ratio, const std::string& a, const std::string& b,
               Stat stat = Stat::p50);
void add_goal(Figure& f, const std::string& ratio, double limit, bool at_most = true);
// A goal on a value (values and ratios share the goal table: their names differ).
inline void add_value_goal(Figure& f, const std::string& value, double limit, bool at_most = true) {
  add_goal(f, value, limit, at_most);
}
// True if the goal named `name` is met by `x`.
bool goal_met(const Figure& f, const std::string& name, double x);

// Steady-clock nanoseconds.
std::int64_t now_ns() noexcept;

// The time-stamp counter, for single events shorter than a read of the steady clock, which
// costs several times what reading the counter does. ticks_to_ns converts a difference (calibrated
// once against the steady clock).
inline std::uint64_t ticks() noexcept { return __builtin_ia32_rdtsc(); }
double ticks_to_ns(std::uint64_t ticks) noexcept;

// Runs `argv` (argv[0] a path) as a child process and returns the numbers it printed on its
// standard output, whitespace-separated; empty if it could not run or printed none.
std::vector<double> run_for_numbers(const std::vector<std::string>& argv);

void print_table(const std::vector<Figure>& figures);
std::string to_json(const std::vector<Figure>& figures,
                    const std::map<std::string, std::string>& environment);
std::map<std::string, std::string> environment();

}  // namespace weft::bench
