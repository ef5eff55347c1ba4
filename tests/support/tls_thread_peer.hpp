// Test helper: a TLS peer that is not weft and lives in the test's process — OpenSSL's own
// blocking I/O on a plain POSIX socket, on a thread of its own, given jobs one at a time. Where
// tests need hundreds of peers (the conformance matrix), it spares a process per peer; where
// they need a peer that decides byte by byte what goes on the wire, tls_peer.py serves.
#pragma once

#include "peer.hpp"
#include "tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include <csignal>

#include <sys/socket.h>

namespace weft::test {

class ThreadTlsPeer {
 public:
  // The server end of TLS on the accepted POSIX socket `fd`, with the test certificate.
  explicit ThreadTlsPeer(Fd fd) : fd_(std::move(fd)) {
    // OpenSSL writes with send(2) without MSG_NOSIGNAL: a write to a connection weft closed
    // must fail with EPIPE, not end the test program.
    ::signal(SIGPIPE, SIG_IGN);
    timeval tv{20, 0};  // no job waits forever
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx_, TestCerts::get().cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, TestCerts::get().key.c_str(), SSL_FILETYPE_PEM);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_.get());
    thread_ = std::thread([this] { work(); });
  }
  ~ThreadTlsPeer() {
    {
      std::lock_guard<std::mutex> hold(lock_);
      done_ = true;
    }
    ready_.notify_one();
    ::shutdown(fd_.get(), SHUT_RDWR);  // ends a job still reading
    thread_.join();
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  ThreadTlsPeer(const ThreadTlsPeer&) = delete;
  ThreadTlsPeer& operator=(const ThreadTlsPeer&) = delete;

  // Runs job(ssl, fd) on the peer's thread, after the jobs before it; its answer comes in the
  // future (wait for it with await()).
  std::future<std::string> run(std::function<std::string(SSL*, int)> job) {
    auto task = std::make_shared<std::packaged_task<std::string()>>(
        [this, job = std::move(job)] { return job(ssl_, fd_.get()); });
    std::future<std::string> f = task->get_future();
    {
      std::lock_guard<std::mutex> hold(lock_);
      jobs_.push_back([task] { (*task)(); });
    }
    ready_.notify_one();
    return f;
  }

  // The jobs.
  std::future<std::string> accept() {
    return run([](SSL* ssl, int) {
      ERR_clear_error();
      return SSL_accept(ssl) == 1 ? std::string("ok") : std::string("error");
    });
  }
  std::future<std::string> send(std::string data) {
    return run([data = std::move(data)](SSL* ssl, int) {
      return SSL_write(ssl, data.data(), static_cast<int>(data.size())) ==
                     static_cast<int>(data.size())
                 ? std::string("ok")
                 : std::string("error");
    });
  }
  // Exactly n bytes of plaintext, or fewer if the stream ends.
  std::future<std::string> recv(std::size_t n) {
    return run([n](SSL* ssl, int) {
      std::string out;
      std::string buf(65536, '\0');
      while (out.size() < n) {
        int r = SSL_read(ssl, buf.data(), static_cast<int>(std::min(buf.size(), n - out.size())));
        if (r <= 0) break;
        out.append(buf.data(), static_cast<std::size_t>(r));
      }
      return out;
    });
  }
  // Reads to the end: "HOW BYTES", HOW being close_notify+eof, close_notify+reset (what the
  // TCP stream did after the alert), eof (no close_notify), reset, or error; the plaintext
  // read is kept in data().
  std::future<std::string> read_to_end() {
    return run([this](SSL* ssl, int fd) {
      std::string buf(65536, '\0');
      for (;;) {
        ERR_clear_error();
        int r = SSL_read(ssl, buf.data(), static_cast<int>(buf.size()));
        if (r > 0) {
          data_.append(buf.data(), static_cast<std::size_t>(r));
          continue;
        }
        int e = SSL_get_error(ssl, r);
        std::string how;
        if (e == SSL_ERROR_ZERO_RETURN) {
          char b;
          ssize_t n = ::recv(fd, &b, 1, 0);
          how = n == 0                           ? "close_notify+eof"
                : (n < 0 && errno == ECONNRESET) ? "close_notify+reset"
                                                 : "close_notify+?";
        } else if (errno == ECONNRESET) {
          how = "reset";
        } else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL) {
          how = ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING ? "eof"
                                                                                       : "error";
        } else {
          how = "error";
        }
        return how + " " + std::to_string(data_.size());
      }
    });
  }
  const std::string& data() const { return data_; }  // after read_to_end's answer

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> hold(lock_);
        ready_.wait(hold, [this] { return done_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  Fd fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string data_;
  std::mutex lock_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  bool done_ = false;
  std::thread thread_;
};

// A job's answer, from a fiber: the runtime's loop runs while the peer works.
inline std::string await(std::future<std::string>& f, int timeout_ms = 30000) {
  for (int waited = 0; waited <= timeout_ms; ++waited) {
    if (f.wait_for(std::chrono::seconds(0)) == std::future_status::ready) return f.get();
    (void)this_fiber::sleep_for(std::chrono::milliseconds(1));
  }
  return "timeout";
}

}  // namespace weft::test
