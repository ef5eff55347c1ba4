#include "harness.hpp"

#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>
#include <thread>

#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

namespace weft::bench {

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<double> run_for_numbers(const std::vector<std::string>& argv) {
  if (argv.empty()) return {};
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int p[2];
  if (::pipe(p) != 0) return {};
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(p[1], 1);
    ::close(p[0]);
    ::close(p[1]);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(p[1]);
  if (pid < 0) {
    ::close(p[0]);
    return {};
  }
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::vector<double> out;
  std::istringstream in(text);
  for (double v; in >> v;) out.push_back(v);
  return out;
}

namespace {
const std::int64_t program_start_ns = now_ns();
}

void announce(const std::string& figure) {
  std::fprintf(stderr, "weft-bench: %7.1f s  %s\n",
               static_cast<double>(now_ns() - program_start_ns) / 1e9, figure.c_str());
}

double ticks_to_ns(std::uint64_t t) noexcept {
  static const double ns_per_tick = [] {
    auto c0 = now_ns();
    auto t0 = ticks();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto c1 = now_ns();
    auto t1 = ticks();
    return static_cast<double>(c1 - c0) / static_cast<double>(t1 - t0);
  }();
  return static_cast<double>(t) * ns_per_tick;
}

Summary summarize(std::vector<double> s) {
  Summary r;
  r.n = s.size();
  if (s.empty()) return r;
  std::sort(s.begin(), s.end());
  auto at = [&](double q) {
    std::size_t i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(s.size())));
    i = i == 0 ? 0 : i - 1;
    return s[std::min(i, s.size() - 1)];
  };
  r.p50 = at(0.50);
  r.p90 = at(0.90);
  r.p99 = at(0.99);
  r.p999 = at(0.999);
  r.min = s.front();
  r.max = s.back();
  r.mean = std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(s.size());
  return r;
}

Figure run_interleaved(std::string name, std::string unit, std::string what, std::string placement,
                       std::vector<Contender> contenders, const Config& config) {
  announce(name);
  Figure f;
  f.name = std::move(name);
  f.unit = std::move(unit);
  f.what = std::move(what);
  f.placement = std::move(placement);
  // One discarded round first: page faults, lazy binding and CPU frequency settle there.
  for (auto& c : contenders) (void)c.round(config);
  for (int round = 0; round < config.rounds; ++round) {
    for (auto& c : contenders) {
      std::vector<double> s = c.round(config);
      f.per_round[c.name].push_back(summarize(s));
      auto& pool = f.raw[c.name];
      pool.insert(pool.end(), s.begin(), s.end());
    }
  }
  for (auto& c : contenders) {
    f.contenders[c.name] = summarize(f.raw[c.name]);
    if (!c.note.empty()) f.notes[c.name] = c.note;
  }
  return f;
}

static double pick(const Summary& s, Stat stat) {
  switch (stat) {
    case Stat::p50: return s.p50;
    case Stat::p90: return s.p90;
    case Stat::p99: return s.p99;
    case Stat::mean: return s.mean;
  }
  return s.p50;
}

void add_ratio(Figure& f, const std::string& ratio, const std::string& a, const std::string& b,
               Stat stat) {
  const auto& ra = f.per_round[a];
  const auto& rb = f.per_round[b];
  std::vector<double> v;
  for (std::size_t i = 0; i < std::min(ra.size(), rb.size()); ++i) {
    double den = pick(rb[i], stat);
    if (den > 0) v.push_back(pick(ra[i], stat) / den);
  }
  RatioStat r;
  if (ratio_of_rounds(std::move(v), &r)) f.ratios[ratio] = r;
}

bool ratio_of_rounds(std::vector<double> v, RatioStat* out) {
  if (v.empty()) return false;
  std::sort(v.begin(), v.end());
  out->min = v.front();
  out->max = v.back();
  out->median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return true;
}

bool ratio_of_rounds(const std::vector<double>& a, const std::vector<double>& b, RatioStat* out) {
  std::vector<double> v;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] > 0 && b[i] > 0) v.push_back(a[i] / b[i]);
  }
  return ratio_of_rounds(std::move(v), out);
}

void add_goal(Figure& f, const std::string& ratio, double limit, bool at_most) {
  f.goals[ratio] = {limit, at_most};
}

static std::string fmt(double v) {
  char buf[32];
  if (v >= 100000) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  } else if (v >= 100) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  }
  return buf;
}

// A ratio whose rounds fall on both sides of its goal: its spread across rounds exceeds its
// margin (the median's distance from the goal), so the verdict is the host's noise as much
// as weft's. The report marks it; the median still decides met or not.
static bool unsettled(const RatioStat& r, double goal) { return r.min < goal && goal < r.max; }

bool goal_met(const Figure& f, const std::string& name, double x) {
  auto g = f.goals.find(name);
  if (g == f.goals.end()) return true;
  return g->second.second ? x <= g->second.first : x >= g->second.first;
}

void print_table(const std::vector<Figure>& figures) {
  for (const Figure& f : figures) {
    std::printf("\n%s — %s [%s]\n", f.name.c_str(), f.what.c_str(), f.placement.c_str());
    std::printf("  %-34s %9s %9s %9s %9s %9s %8s\n", ("contender (" + f.unit + ")").c_str(), "p50",
                "p90", "p99", "p99.9", "max", "n");
    for (const auto& [name, s] : f.contenders) {
      std::printf("  %-34s %9s %9s %9s %9s %9s %8zu", name.c_str(), fmt(s.p50).c_str(),
                  fmt(s.p90).c_str(), fmt(s.p99).c_str(), fmt(s.p999).c_str(), fmt(s.max).c_str(),
                  s.n);
      auto note = f.notes.find(name);
      if (note != f.notes.end()) std::printf("  (%s)", note->second.c_str());
      std::printf("\n");
    }
    for (const auto& [name, r] : f.ratios) {
      std::printf("  ratio %-40s median %7.3f  [min %.3f, max %.3f]", name.c_str(), r.median, r.min,
                  r.max);
      auto g = f.goals.find(name);
      if (g != f.goals.end()) {
        bool met = g->second.second ? r.median <= g->second.first : r.median >= g->second.first;
        std::printf("  goal %s %.3g %s%s", g->second.second ? "<=" : ">=", g->second.first,
                    met ? "\u2713" : "\u2717",
                    unsettled(r, g->second.first) ? "  (unsettled: rounds on both sides)" : "");
      }
      std::printf("\n");
    }
    for (const auto& [name, v] : f.values) {
      std::printf("  value %-40s %s", name.c_str(), fmt(v).c_str());
      auto g = f.goals.find(name);
      if (g != f.goals.end()) {
        std::printf("  goal %s %.3g %s", g->second.second ? "<=" : ">=", g->second.first,
                    goal_met(f, name, v) ? "\u2713" : "\u2717");
      }
      std::printf("\n");
    }
  }
  std::fflush(stdout);
}

static std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

static std::string json_num(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream o;
  o.precision(6);
  o << v;
  return o.str();
}

std::string to_json(const std::vector<Figure>& figures,
                    const std::map<std::string, std::string>& env) {
  std::ostringstream o;
  o << "{\"environment\": {";
  bool first = true;
  for (const auto& [k, v] : env) {
    o << (first ? "" : ", ") << json_str(k) << ": " << json_str(v);
    first = false;
  }
  o << "}, \"figures\": {";
  bool ffirst = true;
  for (const Figure& f : figures) {
    o << (ffirst ? "" : ", ") << json_str(f.name) << ": {\"unit\": " << json_str(f.unit)
      << ", \"what\": " << json_str(f.what) << ", \"placement\": " << json_str(f.placement)
      << ", \"contenders\": {";
    ffirst = false;
    bool c1 = true;
    for (const auto& [name, s] : f.contenders) {
      o << (c1 ? "" : ", ") << json_str(name) << ": {\"p50\": " << json_num(s.p50)
        << ", \"p90\": " << json_num(s.p90) << ", \"p99\": " << json_num(s.p99)
        << ", \"p99.9\": " << json_num(s.p999) << ", \"max\": " << json_num(s.max)
        << ", \"min\": " << json_num(s.min) << ", \"mean\": " << json_num(s.mean)
        << ", \"n\": " << s.n;
      auto note = f.notes.find(name);
      if (note != f.notes.end()) o << ", \"note\": " << json_str(note->second);
      o << "}";
      c1 = false;
    }
    o << "}, \"ratios\": {";
    c1 = true;
    for (const auto& [name, r] : f.ratios) {
      o << (c1 ? "" : ", ") << json_str(name) << ": {\"median\": " << json_num(r.median)
        << ", \"min\": " << json_num(r.min) << ", \"max\": " << json_num(r.max);
      auto g = f.goals.find(name);
      if (g != f.goals.end()) {
        bool met = g->second.second ? r.median <= g->second.first : r.median >= g->second.first;
        o << ", \"goal\": " << json_num(g->second.first)
          << ", \"goal_is\": " << (g->second.second ? "\"at_most\"" : "\"at_least\"")
          << ", \"met\": " << (met ? "true" : "false")
          << ", \"unsettled\": " << (unsettled(r, g->second.first) ? "true" : "false");
      }
      o << "}";
      c1 = false;
    }
    o << "}, \"values\": {";
    c1 = true;
    for (const auto& [name, v] : f.values) {
      o << (c1 ? "" : ", ") << json_str(name) << ": " << json_num(v);
      c1 = false;
    }
    o << "}, \"value_goals\": {";
    c1 = true;
    for (const auto& [name, v] : f.values) {
      auto g = f.goals.find(name);
      if (g == f.goals.end()) continue;
      o << (c1 ? "" : ", ") << json_str(name) << ": {\"goal\": " << json_num(g->second.first)
        << ", \"goal_is\": " << (g->second.second ? "\"at_most\"" : "\"at_least\"")
        << ", \"met\": " << (goal_met(f, name, v) ? "true" : "false") << "}";
      c1 = false;
    }
    o << "}}";
  }
  o << "}}\n";
  return o.str();
}

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  env["libuv"] = uv_version_string();
  utsname u{};
  if (uname(&u) == 0) env["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  env["cores"] = std::to_string(std::thread::hardware_concurrency());
  std::ifstream maps("/proc/sys/vm/max_map_count");
  std::string m;
  if (maps >> m) env["vm.max_map_count"] = m;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) env["RLIMIT_NOFILE"] = std::to_string(rl.rlim_cur);
  std::ifstream cpu("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpu, line)) {
    if (line.rfind("model name", 0) == 0) {
      env["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  }
#if defined(__clang__)
  env["compiler"] = "clang " __clang_version__;
#elif defined(__GNUC__)
  env["compiler"] = "gcc " __VERSION__;
#endif
  return env;
}

}  // namespace weft::bench
