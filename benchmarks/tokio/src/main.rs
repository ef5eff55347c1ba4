//! weft-bench-tokio: the tokio peers of weft-bench (docs/benchmarks.md). Each run produces
//! one figure's samples for one round and prints them one number per line; weft-bench runs it
//! in its rounds, interleaved with the other contenders, as it runs weft-bench-go. Built
//! offline from Debian's crates (tokio 1.24, tokio-util 0.7).
//!
//!   weft-bench-tokio cancel-same-thread N   ns per cancel (current_thread runtime)
//!   weft-bench-tokio cancel-cross-thread N  ns per cancel from a std::thread
//!   weft-bench-tokio fanout N               ns per task (current_thread runtime)
//!   weft-bench-tokio recv-memory N          KiB of RSS per task blocked in TcpStream::read
//!   weft-bench-tokio sleep-memory N         KiB of RSS per task blocked in time::sleep
//!   weft-bench-tokio chan-pingpong BATCHES PER_BATCH CAP
//!                                           ns per round trip of a token between two tasks
//!                                           through two mpsc channels of capacity CAP (>= 1),
//!                                           per batch of PER_BATCH (current_thread runtime)
//!   weft-bench-tokio chan-stream SAMPLES MS CAP
//!                                           messages/s, one task sending into one mpsc
//!                                           channel of capacity CAP, one receiving
//!   weft-bench-tokio mutex SAMPLES MS TASKS THREADS
//!                                           acquisitions/s of one contended
//!                                           tokio::sync::Mutex (THREADS 1: current_thread;
//!                                           more: multi_thread with THREADS workers)
//!   weft-bench-tokio serve-echo [THREADS]   an echo server, a task per connection
//!                                           (THREADS 1, the default: current_thread; more:
//!                                           multi_thread): its port on the first line,
//!                                           served until standard input closes
//!   weft-bench-tokio version                the tokio and tokio-util releases it was built with

use std::fmt::Display;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// Pause between cross-thread samples, as in weft-bench (kIdleGap): the reader's side idles.
const IDLE_GAP: Duration = Duration::from_micros(50);

/// A wake-up that has not come after this long never will: the run fails rather than hang.
const STUCK_NS: i64 = 10_000_000_000;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// The monotonic clock (vDSO clock_gettime), in ns.
fn nanotime() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64
}

fn fail(msg: impl Display) -> ! {
    eprintln!("weft-bench-tokio: {}", msg);
    std::process::exit(1)
}

/// The soft limit on open files raised to the hard one (fiber_memory opens 8,000 sockets).
fn raise_nofile() {
    unsafe {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
}

fn current_thread() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {}", e)))
}

/// current_thread for one thread, multi_thread with `threads` workers for more.
fn runtime(threads: usize) -> Runtime {
    if threads <= 1 {
        return current_thread();
    }
    Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {}", e)))
}

async fn listen() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| fail(format!("listen: {}", e)))
}

/// A connection to `ln`: its accepted end and its connecting end, TCP_NODELAY on both.
async fn connect(ln: &TcpListener) -> (TcpStream, TcpStream) {
    let addr = ln.local_addr().unwrap_or_else(|e| fail(e));
    let c = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| fail(format!("connect: {}", e)));
    let (a, _) = ln
        .accept()
        .await
        .unwrap_or_else(|e| fail(format!("accept: {}", e)));
    let _ = a.set_nodelay(true);
    let _ = c.set_nodelay(true);
    (a, c)
}

/// The token a cancel is aimed at. A CancellationToken stays cancelled, so the reader puts a
/// fresh one here each time it is woken, before it reports the wake-up: the canceller's next
/// token is then always one the reader has not seen cancelled.
type Slot = Arc<Mutex<CancellationToken>>;

fn token_of(slot: &Slot) -> CancellationToken {
    slot.lock().unwrap().clone()
}

/// Reads from `a` until `quit`, in select! with the slot's token. Every read that the token
/// interrupts takes the time at once, installs a fresh token, then stores the time in `woke`
/// and blocks again.
async fn reader(mut a: TcpStream, slot: Slot, woke: Arc<AtomicI64>, quit: Arc<AtomicBool>) {
    let mut buf = [0u8; 1];
    loop {
        let token = token_of(&slot);
        tokio::select! {
            biased;
            _ = token.cancelled() => {
                let at = nanotime();
                *slot.lock().unwrap() = CancellationToken::new();
                woke.store(at, Ordering::Release);
                if quit.load(Ordering::Acquire) {
                    return;
                }
            }
            r = a.read(&mut buf) => {
                match r {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        }
    }
}

/// A task blocked in TcpStream::read (in select! over a CancellationToken) on an idle
/// connection; another task of the same current_thread runtime cancels the token and yields:
/// from the cancel call to the reader running.
fn cancel_same_thread(n: usize) {
    let rt = current_thread();
    let out = rt.block_on(async move {
        let ln = listen().await;
        let (a, b) = connect(&ln).await;
        let slot: Slot = Arc::new(Mutex::new(CancellationToken::new()));
        let woke = Arc::new(AtomicI64::new(0));
        let quit = Arc::new(AtomicBool::new(false));
        let r = tokio::spawn(reader(a, slot.clone(), woke.clone(), quit.clone()));
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await; // the reader is blocked
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                woke.store(0, Ordering::Relaxed);
                let token = token_of(&slot);
                let t0 = nanotime();
                token.cancel();
                while woke.load(Ordering::Acquire) == 0 {
                    tokio::task::yield_now().await;
                }
                out.push(woke.load(Ordering::Relaxed) - t0);
            }
            quit.store(true, Ordering::Release);
            token_of(&slot).cancel();
            out
        });
        let out = canceller.await.unwrap_or_else(|e| fail(e));
        let _ = r.await;
        drop(b);
        out
    });
    print_ints(&out);
}

/// The same, the token cancelled from a std::thread while the runtime's thread sleeps in
/// epoll (an idle gap before each sample); the canceller then spins until the reader ran.
fn cancel_cross_thread(n: usize) {
    let rt = current_thread();
    let slot: Slot = Arc::new(Mutex::new(CancellationToken::new()));
    let woke = Arc::new(AtomicI64::new(0));
    let quit = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    let canceller = {
        let (slot, woke, quit, ready) = (slot.clone(), woke.clone(), quit.clone(), ready.clone());
        std::thread::spawn(move || {
            while !ready.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            std::thread::sleep(Duration::from_millis(10)); // the reader is blocked
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                std::thread::sleep(IDLE_GAP);
                woke.store(0, Ordering::Relaxed);
                let token = token_of(&slot);
                let t0 = nanotime();
                token.cancel();
                let mut k = 0u32;
                while woke.load(Ordering::Acquire) == 0 {
                    k = k.wrapping_add(1);
                    if k % 1024 == 0 && nanotime() - t0 > STUCK_NS {
                        fail("the reader did not run within 10 s");
                    }
                    std::hint::spin_loop();
                }
                out.push(woke.load(Ordering::Relaxed) - t0);
            }
            quit.store(true, Ordering::Release);
            token_of(&slot).cancel();
            out
        })
    };
    rt.block_on(async move {
        let ln = listen().await;
        let (a, b) = connect(&ln).await;
        ready.store(true, Ordering::Release);
        let _ = tokio::spawn(reader(a, slot, woke, quit)).await;
        drop(b);
    });
    let out = canceller
        .join()
        .unwrap_or_else(|_| fail("the canceller panicked"));
    print_ints(&out);
}

/// n tasks in select! over one CancellationToken and a 24-hour sleep; one cancel; until the
/// last has resumed, per task. After resuming each waits on a gate token, so that the time is
/// the cancel's and not n tasks ending.
fn fanout(n: usize) {
    let rt = current_thread();
    let per = rt.block_on(async move {
        let token = CancellationToken::new();
        let gate = CancellationToken::new();
        let resumed = Arc::new(AtomicUsize::new(0));
        let t1 = Arc::new(AtomicI64::new(0));
        let done = Arc::new(Notify::new());
        for _ in 0..n {
            let (token, gate) = (token.clone(), gate.clone());
            let (resumed, t1, done) = (resumed.clone(), t1.clone(), done.clone());
            tokio::spawn(async move {
                tokio::select! {
                    biased;
                    _ = token.cancelled() => {}
                    _ = tokio::time::sleep(DAY) => {}
                }
                if resumed.fetch_add(1, Ordering::Relaxed) + 1 == n {
                    t1.store(nanotime(), Ordering::Relaxed);
                    done.notify_one();
                }
                gate.cancelled().await;
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await; // every task is in its select!
        let t0 = nanotime();
        token.cancel();
        done.notified().await;
        gate.cancel();
        (t1.load(Ordering::Relaxed) - t0) / n as i64
    });
    print_ints(&[per]);
    std::process::exit(0); // the n tasks' teardown is no part of the figure
}

/// Resident set size of this process, in KiB.
fn rss_kib() -> f64 {
    let text = std::fs::read_to_string("/proc/self/statm")
        .unwrap_or_else(|e| fail(format!("statm: {}", e)));
    let resident: f64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fail("statm: no resident size"));
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64;
    resident * page / 1024.0
}

/// RSS growth per task blocked in TcpStream::read on an accepted loopback connection, both
/// ends in this process (as weft's and the other peers' samples).
fn recv_memory(n: usize) {
    let rt = current_thread();
    let per = rt.block_on(async move {
        let ln = listen().await;
        let before = rss_kib();
        let blocked = Arc::new(AtomicUsize::new(0));
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            let (mut a, c) = connect(&ln).await;
            conns.push(c);
            let blocked = blocked.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                blocked.fetch_add(1, Ordering::Relaxed);
                let _ = a.read(&mut buf).await;
            });
        }
        while blocked.load(Ordering::Relaxed) < n {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // every task is parked in read
        (rss_kib() - before) / n as f64
    });
    println!("{:.6}", per);
    std::process::exit(0);
}

/// RSS growth per task blocked in tokio::time::sleep.
fn sleep_memory(n: usize) {
    let rt = current_thread();
    let per = rt.block_on(async move {
        let before = rss_kib();
        let blocked = Arc::new(AtomicUsize::new(0));
        for _ in 0..n {
            let blocked = blocked.clone();
            tokio::spawn(async move {
                blocked.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(DAY).await;
            });
        }
        while blocked.load(Ordering::Relaxed) < n {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        (rss_kib() - before) / n as f64
    });
    println!("{:.6}", per);
    std::process::exit(0);
}

/// An echo server with a task per connection, on a current_thread runtime (threads 1, as the
/// other servers of the echo figures) or a multi_thread one with `threads` workers.
fn serve_echo(threads: usize) {
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = runtime(threads);
        rt.block_on(async move {
            let ln = listen().await;
            let port = ln.local_addr().unwrap_or_else(|e| fail(e)).port();
            let _ = port_tx.send(port);
            loop {
                let (mut c, _) = match ln.accept().await {
                    Ok(x) => x,
                    Err(_) => return,
                };
                let _ = c.set_nodelay(true);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    loop {
                        let k = match c.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => k,
                        };
                        if c.write_all(&buf[..k]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    });
    let port = port_rx
        .recv()
        .unwrap_or_else(|_| fail("the server did not start"));
    println!("{}", port);
    let _ = std::io::stdout().flush();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    std::process::exit(0);
}

/// The partner of a ping-pong: sends back what it receives until `there` closes.
async fn echo_back(mut there: mpsc::Receiver<usize>, back: mpsc::Sender<usize>) {
    while let Some(v) = there.recv().await {
        if back.send(v).await.is_err() {
            return;
        }
    }
}

/// The pinger of a ping-pong: after a warm-up, `batches` samples, each the mean ns of
/// `per_batch` round trips. Dropping `there` at its end ends the partner.
async fn ping(
    there: mpsc::Sender<usize>,
    mut back: mpsc::Receiver<usize>,
    batches: usize,
    per_batch: usize,
) -> Vec<f64> {
    for i in 0..1000 {
        // warm-up
        let _ = there.send(i).await;
        let _ = back.recv().await;
    }
    let mut out = Vec::with_capacity(batches);
    for _ in 0..batches {
        let t0 = nanotime();
        for i in 0..per_batch {
            let _ = there.send(i).await;
            let _ = back.recv().await;
        }
        out.push((nanotime() - t0) as f64 / per_batch as f64);
    }
    out
}

/// Two channels of capacity `capacity` for a ping-pong: (there, back).
#[allow(clippy::type_complexity)]
fn pingpong_channels(
    capacity: usize,
) -> (
    (mpsc::Sender<usize>, mpsc::Receiver<usize>),
    (mpsc::Sender<usize>, mpsc::Receiver<usize>),
) {
    if capacity == 0 {
        fail("tokio's mpsc channels hold at least one value: CAP must be 1 or more");
    }
    (mpsc::channel::<usize>(capacity), mpsc::channel::<usize>(capacity))
}

/// Two tasks pass a token back and forth through two mpsc channels of capacity `capacity`:
/// ns per round trip, each of `batches` samples the mean of `per_batch` round trips.
/// `threads` 0: a current_thread runtime; more: a multi_thread runtime of that many workers,
/// whose scheduler places the two tasks (channel_cross_runtime's tokio row, every round trip
/// timed: per_batch 1).
fn chan_pingpong(batches: usize, per_batch: usize, capacity: usize, threads: usize) {
    let ((there_tx, there_rx), (back_tx, back_rx)) = pingpong_channels(capacity);
    let rt = if threads == 0 { current_thread() } else { runtime(threads) };
    let out = rt.block_on(async move {
        let partner = tokio::spawn(echo_back(there_rx, back_tx));
        let pinger = tokio::spawn(ping(there_tx, back_rx, batches, per_batch));
        let out = pinger.await.unwrap_or_else(|e| fail(e));
        let _ = partner.await;
        out
    });
    print_floats(&out);
}

/// As chan_pingpong, the two tasks on current_thread runtimes of their own, each on a thread
/// of its own, as weft's two runtimes are: every hand-off crosses threads (tokio's channels
/// wake a task of another runtime through that runtime's driver). Every round trip timed.
fn chan_pingpong_apart(samples: usize, capacity: usize) {
    let ((there_tx, there_rx), (back_tx, back_rx)) = pingpong_channels(capacity);
    let partner =
        std::thread::spawn(move || current_thread().block_on(echo_back(there_rx, back_tx)));
    let out = current_thread().block_on(ping(there_tx, back_rx, samples, 1));
    let _ = partner.join();
    print_floats(&out);
}

/// One sample of a throughput, as weft-bench's FlowSample: every worker calls start before
/// its first operation and finish at its end; the sample is the operations done from the
/// first start to the last finish, per second.
#[derive(Default)]
struct FlowSample {
    stop: AtomicBool,
    first: AtomicI64,
    last: AtomicI64,
    done: AtomicI64,
}

impl FlowSample {
    fn start(&self) {
        if self.first.load(Ordering::Relaxed) == 0 {
            let _ =
                self.first
                    .compare_exchange(0, nanotime(), Ordering::Relaxed, Ordering::Relaxed);
        }
    }
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
    fn finish(&self, ops: i64) {
        self.done.fetch_add(ops, Ordering::Relaxed);
        self.last.fetch_max(nanotime(), Ordering::Relaxed);
    }
    fn per_second(&self) -> f64 {
        let span = self.last.load(Ordering::Relaxed) - self.first.load(Ordering::Relaxed);
        if span <= 0 {
            return 0.0;
        }
        self.done.load(Ordering::Relaxed) as f64 * 1e9 / span as f64
    }
}

/// `samples` samples of body on `rt`, each stopped by a timer thread after `window`.
fn flow_samples<F, Fut>(rt: &Runtime, samples: usize, window: Duration, body: F)
where
    F: Fn(Arc<FlowSample>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let f = Arc::new(FlowSample::default());
        let timer = {
            let f = f.clone();
            std::thread::spawn(move || {
                std::thread::sleep(window);
                f.stop.store(true, Ordering::Relaxed);
            })
        };
        rt.block_on(body(f.clone()));
        let _ = timer.join();
        out.push(f.per_second());
    }
    print_floats(&out);
}

/// One task sends ints into one mpsc channel of capacity `capacity` until the window ends,
/// then drops its sender; one task receives until the channel is drained (current_thread).
fn chan_stream(samples: usize, window: Duration, capacity: usize) {
    let rt = current_thread();
    flow_samples(&rt, samples, window, |f| async move {
        let (tx, mut rx) = mpsc::channel::<usize>(capacity.max(1));
        let fp = f.clone();
        let producer = tokio::spawn(async move {
            fp.start();
            let mut v = 0usize;
            while !fp.stopped() {
                if tx.send(v).await.is_err() {
                    break;
                }
                v += 1;
            }
        });
        let consumer = tokio::spawn(async move {
            let mut n = 0i64;
            while rx.recv().await.is_some() {
                n += 1;
            }
            f.finish(n);
        });
        let _ = producer.await;
        let _ = consumer.await;
    });
}

/// `tasks` tasks take one tokio::sync::Mutex in turn until the window ends: lock, increment
/// the counter it guards, yield_now holding it, unlock.
fn mutex_contended(samples: usize, window: Duration, tasks: usize, threads: usize) {
    let rt = runtime(threads);
    flow_samples(&rt, samples, window, |f| async move {
        let mu = Arc::new(tokio::sync::Mutex::new(0u64));
        let mut handles = Vec::with_capacity(tasks);
        for _ in 0..tasks {
            let (mu, f) = (mu.clone(), f.clone());
            handles.push(tokio::spawn(async move {
                f.start();
                let mut mine = 0i64;
                loop {
                    let mut guard = mu.lock().await;
                    if f.stopped() {
                        break;
                    }
                    *guard += 1;
                    mine += 1;
                    tokio::task::yield_now().await;
                    drop(guard);
                }
                f.finish(mine);
            }));
        }
        for h in handles {
            let _ = h.await;
        }
    });
}

fn print_floats(values: &[f64]) {
    let mut s = String::new();
    for v in values {
        s.push_str(&format!("{:.6}\n", v));
    }
    print!("{}", s);
}

fn print_ints(values: &[i64]) {
    let mut s = String::new();
    for v in values {
        s.push_str(&format!("{}\n", v));
    }
    print!("{}", s);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        fail("usage: weft-bench-tokio cancel-same-thread|cancel-cross-thread|fanout|recv-memory|sleep-memory N | chan-pingpong|chan-pingpong-apart|chan-stream|mutex NUMBERS... | serve-echo [THREADS] | version");
    }
    raise_nofile();
    // The arguments after the mode, as numbers: exactly `want` of them.
    let numbers = |want: usize| -> Vec<usize> {
        if args.len() != want + 2 {
            fail(format!("{} takes {} number(s)", args[1], want));
        }
        args[2..]
            .iter()
            .map(|a| {
                a.parse::<usize>()
                    .unwrap_or_else(|_| fail(format!("bad number {:?}", a)))
            })
            .collect()
    };
    let count = || -> usize {
        let n = numbers(1)[0];
        if n == 0 {
            fail(format!("{} needs a count above 0", args[1]));
        }
        n
    };
    match args[1].as_str() {
        "cancel-same-thread" => cancel_same_thread(count()),
        "cancel-cross-thread" => cancel_cross_thread(count()),
        "fanout" => fanout(count()),
        "recv-memory" => recv_memory(count()),
        "sleep-memory" => sleep_memory(count()),
        "chan-pingpong" => {
            // BATCHES PER_BATCH CAP [THREADS]
            let n = numbers(if args.len() == 6 { 4 } else { 3 });
            chan_pingpong(n[0], n[1].max(1), n[2], n.get(3).copied().unwrap_or(0));
        }
        "chan-pingpong-apart" => {
            let n = numbers(2);
            chan_pingpong_apart(n[0], n[1]);
        }
        "chan-stream" => {
            let n = numbers(3);
            chan_stream(n[0], Duration::from_millis(n[1] as u64), n[2]);
        }
        "mutex" => {
            let n = numbers(4);
            mutex_contended(n[0], Duration::from_millis(n[1] as u64), n[2], n[3]);
        }
        "serve-echo" => {
            let threads = if args.len() > 2 { count() } else { 1 };
            serve_echo(threads);
        }
        "version" => println!(
            "tokio {}, tokio-util {}",
            env!("WEFT_TOKIO_VERSION"),
            env!("WEFT_TOKIO_UTIL_VERSION")
        ),
        other => fail(format!("unknown mode {:?}", other)),
    }
}
