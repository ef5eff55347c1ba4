// Figures of libuv's thread pool: 4 KiB preads of a cached file from 100 fibers, and the
// round trip of an empty offload, each against libuv's own requests on the same pool (one
// pool per process, so the same threads serve both); and --pool, one of their contenders
// alone in a process.
#include "figures.hpp"

#include "harness.hpp"

#include <weft/fiber.hpp>
#include <weft/fs.hpp>
#include <weft/offload.hpp>
#include <weft/runtime.hpp>

#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

namespace weft::bench {
namespace {

constexpr std::size_t kBlock = 4096;
constexpr std::size_t kReaders = 100;
constexpr std::size_t kReadSamples = 3;
constexpr std::size_t kFileBytes = std::size_t{64} << 20;
// The file of --pool: how many blocks it has does not change what a read costs in user space.
constexpr std::size_t kCountFileBytes = std::size_t{4} << 20;

// The threads of libuv's pool, as libuv 1.44 sizes it at its first use: UV_THREADPOOL_SIZE
// from 1 to 1024, else 4.
std::size_t pool_threads() {
  const char* env = std::getenv("UV_THREADPOOL_SIZE");
  if (!env || !*env) return 4;
  long n = std::strtol(env, nullptr, 10);
  return static_cast<std::size_t>(std::clamp(n, 1L, 1024L));
}

// The placement line of both figures.
std::string pool_placement() {
  return "loop on one thread; libuv's pool of " + std::to_string(pool_threads()) +
         " threads (UV_THREADPOOL_SIZE), the same threads for every contender";
}

// A file of `bytes` under TMPDIR (or /tmp): written, flushed to the disk and read once, so
// that every block a figure reads is in the page cache and no write-back runs beside the
// reads. Removed with the object.
class CachedFile {
 public:
  explicit CachedFile(std::size_t bytes) : blocks_(bytes / kBlock) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/weft-bench-file-read.XXXXXX";
    int fd = ::mkstemp(path_.data());
    if (fd < 0) {
      std::perror("weft-bench: cannot make the file of file_read");
      std::abort();
    }
    std::vector<char> chunk(std::size_t{1} << 20);
    for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>('a' + i % 26);
    for (std::size_t done = 0; done < blocks_ * kBlock;) {
      ssize_t n = ::write(fd, chunk.data(), std::min(chunk.size(), blocks_ * kBlock - done));
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) std::abort();
    while (::read(fd, chunk.data(), chunk.size()) > 0) {}
    ::close(fd);
  }
  ~CachedFile() { ::unlink(path_.c_str()); }
  CachedFile(const CachedFile&) = delete;
  CachedFile& operator=(const CachedFile&) = delete;

  const std::string& path() const { return path_; }
  std::size_t blocks() const { return blocks_; }

 private:
  std::string path_;
  std::size_t blocks_;
};

// The offsets one reader reads, the same for every contender: blocks of the file picked by
// a xorshift sequence seeded with the reader's index.
class BlockSequence {
 public:
  BlockSequence(std::size_t reader, std::size_t blocks)
      : x_(0x9e3779b97f4a7c15ULL * (reader + 1)), blocks_(blocks) {}
  std::uint64_t next_offset() noexcept {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 7;
    x_ ^= x_ << 17;
    return (x_ % blocks_) * kBlock;
  }

 private:
  std::uint64_t x_;
  std::uint64_t blocks_;
};

// --- file_read ----------------------------------------------------------------------------

// `reads` preads of kBlock bytes (a multiple of kReaders), kReaders fibers of one runtime on
// this thread each making its share in turn: reads per second from the first read to the last
// one's end. Each read's time, from the call to its return, is appended to `latencies`.
double weft_file_reads(const CachedFile& file, std::size_t reads, std::vector<double>& latencies) {
  const std::size_t per_reader = reads / kReaders;
  std::vector<char> buffers(kReaders * kBlock);
  latencies.reserve(latencies.size() + reads);
  double per_second = 0;
  Runtime rt;
  (void)rt.spawn([&] {
    auto f = fs::File::open(file.path(), O_RDONLY);
    if (!f.ok()) std::abort();
    std::vector<FiberId> readers;
    const std::int64_t t0 = now_ns();
    for (std::size_t r = 0; r < kReaders; ++r) {
      readers.push_back(*spawn([&, r] {
        char* buf = buffers.data() + r * kBlock;
        BlockSequence blocks(r, file.blocks());
        for (std::size_t i = 0; i < per_reader; ++i) {
          const std::int64_t at = now_ns();
          auto n = f->pread(buf, kBlock, blocks.next_offset());
          if (!n.ok() || *n != kBlock) std::abort();
          latencies.push_back(static_cast<double>(now_ns() - at));
        }
      }));
    }
    for (FiberId id : readers) (void)join(id);
    per_second =
        static_cast<double>(per_reader * kReaders) * 1e9 / static_cast<double>(now_ns() - t0);
    (void)f->close();
  });
  (void)rt.run();
  return per_second;
}

// One of libuv's kReaders requests in flight: its read, its buffer and its share of reads.
struct LibuvReader {
  uv_fs_t req;  // first: a LibuvReader* is its uv_fs_t*
  uv_loop_t* loop;
  uv_buf_t buf;
  BlockSequence blocks;
  std::size_t left;
  int fd;
  std::int64_t sent_at;
  std::vector<double>* latencies;
};

void libuv_read_next(LibuvReader* r) {
  r->sent_at = now_ns();
  auto offset = static_cast<std::int64_t>(r->blocks.next_offset());
  int rc = uv_fs_read(r->loop, &r->req, r->fd, &r->buf, 1, offset, [](uv_fs_t* req) {
    auto* reader = reinterpret_cast<LibuvReader*>(req);
    if (req->result != static_cast<ssize_t>(kBlock)) std::abort();
    reader->latencies->push_back(static_cast<double>(now_ns() - reader->sent_at));
    uv_fs_req_cleanup(req);
    if (--reader->left > 0) libuv_read_next(reader);
  });
  if (rc != 0) std::abort();
}

// The same reads as weft_file_reads with uv_fs_read and callbacks on a loop on this thread:
// kReaders requests in flight, each callback making its reader's next request.
double libuv_file_reads(const CachedFile& file, std::size_t reads, std::vector<double>& latencies) {
  const std::size_t per_reader = reads / kReaders;
  std::vector<char> buffers(kReaders * kBlock);
  latencies.reserve(latencies.size() + reads);
  int fd = ::open(file.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) std::abort();
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<LibuvReader> readers;
  readers.reserve(kReaders);
  for (std::size_t r = 0; r < kReaders; ++r) {
    readers.push_back({{},
                       &loop,
                       uv_buf_init(buffers.data() + r * kBlock, kBlock),
                       BlockSequence(r, file.blocks()),
                       per_reader,
                       fd,
                       0,
                       &latencies});
  }
  const std::int64_t t0 = now_ns();
  for (LibuvReader& r : readers) libuv_read_next(&r);
  uv_run(&loop, UV_RUN_DEFAULT);
  const double per_second =
      static_cast<double>(per_reader * kReaders) * 1e9 / static_cast<double>(now_ns() - t0);
  uv_loop_close(&loop);
  ::close(fd);
  return per_second;
}

// The CPU time this process has used so far, every thread's (ns).
std::int64_t process_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The reads of one round: kReadSamples samples of reads per second, each of
// cfg.samples(20,000) reads (a multiple of kReaders); every read's time goes to `latencies`,
// and the round's CPU time per read, the loop's and the pool's threads' (ns), to `cpu`.
template <class Reads>
std::vector<double> read_samples(const Config& cfg, const CachedFile& file, Reads&& reads,
                                 std::vector<double>& latencies, std::vector<double>& cpu) {
  const std::size_t n = cfg.samples(20'000) / kReaders * kReaders;
  std::vector<double> out;
  const std::int64_t before = process_cpu_ns();
  for (std::size_t i = 0; i < kReadSamples; ++i) out.push_back(reads(file, n, latencies));
  cpu.push_back(static_cast<double>(process_cpu_ns() - before) /
                static_cast<double>(n * kReadSamples));
  return out;
}

// The CPU figures of file_read: each contender's median over rounds as a value, and weft's
// per round over libuv's as a ratio (median, min, max, as the harness's ratios). The first
// round of each, the discarded warm-up, is left out.
void add_cpu(Figure& f, std::map<std::string, std::vector<double>>& cpu) {
  for (auto& [name, rounds] : cpu) {
    if (!rounds.empty()) rounds.erase(rounds.begin());
    if (!rounds.empty()) f.values[name + "_cpu_ns_per_read"] = summarize(rounds).p50;
  }
  const auto& weft = cpu["weft"];
  const auto& libuv = cpu["libuv"];
  std::vector<double> v;
  for (std::size_t i = 0; i < std::min(weft.size(), libuv.size()); ++i) {
    if (libuv[i] > 0) v.push_back(weft[i] / libuv[i]);
  }
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  RatioStat r;
  r.min = v.front();
  r.max = v.back();
  r.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  f.ratios["weft_cpu_over_libuv_cpu"] = r;
}

// --- offload ------------------------------------------------------------------------------

// `n` round trips of an empty function through the pool from one fiber, one after the other:
// each from the call to offload's return (ns).
std::vector<double> weft_offload_roundtrips(std::size_t n) {
  std::vector<double> out;
  out.reserve(n);
  Runtime rt;
  (void)rt.spawn([&] {
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t t0 = now_ns();
      if (!offload([] {}).ok()) std::abort();
      out.push_back(static_cast<double>(now_ns() - t0));
    }
  });
  (void)rt.run();
  return out;
}

// libuv's request for the same: one uv_work_t whose after-work callback queues it again.
struct LibuvWork {
  uv_work_t req;  // first: a LibuvWork* is its uv_work_t*
  uv_loop_t* loop;
  std::size_t left;
  std::int64_t sent_at;
  std::vector<double>* out;
};

void libuv_queue_next(LibuvWork* w) {
  w->sent_at = now_ns();
  int rc = uv_queue_work(
      w->loop, &w->req, [](uv_work_t*) {},
      [](uv_work_t* req, int status) {
        auto* work = reinterpret_cast<LibuvWork*>(req);
        work->out->push_back(static_cast<double>(now_ns() - work->sent_at));
        if (status != 0) std::abort();
        if (--work->left > 0) libuv_queue_next(work);
      });
  if (rc != 0) std::abort();
}

// `n` round trips of an empty uv_queue_work on a loop on this thread: each from the queueing
// to its after-work callback (ns).
std::vector<double> libuv_offload_roundtrips(std::size_t n) {
  std::vector<double> out;
  out.reserve(n);
  uv_loop_t loop;
  uv_loop_init(&loop);
  LibuvWork work{{}, &loop, n, 0, &out};
  libuv_queue_next(&work);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return out;
}

}  // namespace

int run_pool(const std::string& name, const std::string& ops_arg) {
  char* end = nullptr;
  unsigned long ops = std::strtoul(ops_arg.c_str(), &end, 10);
  if (ops_arg.empty() || *end != '\0' || ops < kReaders || ops > 1'000'000 || ops % kReaders) {
    std::fprintf(stderr, "weft-bench: --pool takes a count of operations from 100 to 1000000, "
                         "a multiple of 100\n");
    return 2;
  }
  std::vector<double> latencies;
  if (name == "weft_offload") {
    latencies = weft_offload_roundtrips(ops);
  } else if (name == "libuv_offload") {
    latencies = libuv_offload_roundtrips(ops);
  } else if (name == "weft_file_read") {
    CachedFile file(kCountFileBytes);
    (void)weft_file_reads(file, ops, latencies);
  } else if (name == "libuv_file_read") {
    CachedFile file(kCountFileBytes);
    (void)libuv_file_reads(file, ops, latencies);
  } else {
    std::fprintf(stderr, "weft-bench: --pool takes weft_offload, libuv_offload, weft_file_read "
                         "or libuv_file_read\n");
    return 2;
  }
  if (latencies.size() != ops) {
    std::fprintf(stderr, "weft-bench: --pool made %zu operations, not %lu\n", latencies.size(),
                 ops);
    return 1;
  }
  return 0;
}

Figure figure_file_read(const Config& cfg) {
  CachedFile file(kFileBytes);
  std::map<std::string, std::vector<double>> lat, cpu;
  const std::string note = "reads/s per sample, 3 samples a round";
  std::vector<Contender> contenders = {
      {"weft",
       [&](const Config& c) {
         return read_samples(c, file, weft_file_reads, lat["weft"], cpu["weft"]);
       },
       note + "; fs::File::pread from 100 fibers"},
      {"libuv",
       [&](const Config& c) {
         return read_samples(c, file, libuv_file_reads, lat["libuv"], cpu["libuv"]);
       },
       note + "; uv_fs_read callbacks, 100 requests in flight"}};
  Figure f = run_interleaved("file_read", "reads/s",
                             "pread of 4 KiB blocks at random from a 64 MiB file in the page "
                             "cache, 100 reads in flight; higher is better",
                             pool_placement(), contenders, cfg);
  for (auto& [name, samples] : lat) {
    Summary s = summarize(samples);
    f.values[name + "_p50_ns"] = s.p50;
    f.values[name + "_p99_ns"] = s.p99;
  }
  f.values["pool_threads"] = static_cast<double>(pool_threads());
  add_cpu(f, cpu);
  add_ratio(f, "weft_over_libuv", "weft", "libuv");
  add_goal(f, "weft_over_libuv", 0.9, false);
  return f;
}

Figure figure_offload(const Config& cfg) {
  std::vector<Contender> contenders = {
      {"weft", [](const Config& c) { return weft_offload_roundtrips(c.samples(10'000)); },
       "weft::offload of an empty function from one fiber, per event"},
      {"libuv", [](const Config& c) { return libuv_offload_roundtrips(c.samples(10'000)); },
       "uv_queue_work of an empty function, the after-work callback queues the next, per "
       "event"}};
  Figure f = run_interleaved("offload", "ns",
                             "round trip of an empty function through libuv's pool, one at a "
                             "time: from the call to the caller running again",
                             pool_placement(), contenders, cfg);
  f.values["pool_threads"] = static_cast<double>(pool_threads());
  add_ratio(f, "weft_over_libuv", "weft", "libuv");
  add_ratio(f, "weft_p99_over_libuv_p99", "weft", "libuv", Stat::p99);
  add_goal(f, "weft_over_libuv", 1.2);
  return f;
}

}  // namespace weft::bench
