// weft-bench-go: the Go peers of weft-bench (docs/benchmarks.md). Each run produces one
// figure's samples for one round and prints them one number per line; weft-bench runs it in
// its rounds, interleaved with the other contenders. Standard library only (Debian's
// golang-go), so building it downloads nothing.
//
//	weft-bench-go cancel-same-thread N     ns per cancel (GOMAXPROCS=1)
//	weft-bench-go cancel-cross-thread N wait|spin
//	                                        ns per cancel from another goroutine
//	weft-bench-go fanout N                 ns per goroutine (GOMAXPROCS=1)
//	weft-bench-go recv-memory N            KiB of RSS per goroutine blocked in conn.Read
//	weft-bench-go sleep-memory N           KiB of RSS per goroutine blocked in time.Sleep
//	weft-bench-go chan-pingpong BATCHES PER_BATCH CAP PROCS [locked]
//	                                        ns per round trip of a token between two
//	                                        goroutines through two chans of capacity CAP
//	                                        (GOMAXPROCS=PROCS), per batch of PER_BATCH;
//	                                        locked: each on an OS thread of its own
//	weft-bench-go chan-stream SAMPLES MS CAP PRODUCERS CONSUMERS PROCS
//	                                        messages/s through one chan of capacity CAP
//	weft-bench-go mutex SAMPLES MS GOROUTINES PROCS
//	                                        acquisitions/s of one contended sync.Mutex
//	weft-bench-go version                  the Go release it was built with
//	weft-bench-go serve-echo [THREADS]     an echo server (GOMAXPROCS=THREADS, 1 by default):
//	                                        its port on the first line, served until
//	                                        standard input closes
//	weft-bench-go serve-tls-echo CERT KEY  the same over crypto/tls (GOMAXPROCS=1), with the
//	                                        PEM certificate and key weft-bench made
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname
)

// The runtime's monotonic clock (vDSO clock_gettime), without time.Now's wall-clock read.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// A deadline already in the past: setting it wakes a blocked Read at once with
// os.ErrDeadlineExceeded, Go's way of cancelling a blocked socket call.
var past = time.Unix(1, 0)

// Pause between cross-thread samples, as in weft-bench (kIdleGap): the reader's side idles.
const idleGap = 50 * time.Microsecond

// A wake-up that has not come after this long never will: the run fails rather than hang.
const stuck = 10 * time.Second

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "weft-bench-go: "+format+"\n", args...)
	os.Exit(1)
}

// A TCP listener on a free loopback port.
func listen() net.Listener {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	return ln
}

// A connection to ln: its accepted end and its connecting end. Go sets TCP_NODELAY on both.
func connect(ln net.Listener) (net.Conn, net.Conn) {
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		fail("dial: %v", err)
	}
	a, err := ln.Accept()
	if err != nil {
		fail("accept: %v", err)
	}
	return a, c
}

// A connected loopback TCP pair.
func pair() (net.Conn, net.Conn) {
	ln := listen()
	defer ln.Close()
	return connect(ln)
}

// Reads from c until it is closed. Every Read that a past deadline interrupts takes the
// time at once, clears the deadline, and only then calls woke(at) — so that the canceller's
// next deadline can never be cleared by this one's clean-up — and blocks again.
func reader(c net.Conn, woke func(at int64)) {
	buf := make([]byte, 1)
	for {
		_, err := c.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			at := nanotime()
			c.SetReadDeadline(time.Time{})
			woke(at)
			continue
		}
		if err != nil {
			return
		}
	}
}

// A goroutine blocked in conn.Read on an idle connection; another goroutine on the same
// (only) P sets a past read deadline and yields: from the deadline call to the reader running.
func cancelSameThread(n int) {
	runtime.GOMAXPROCS(1)
	a, b := pair()
	defer b.Close()
	var woke int64
	go reader(a, func(at int64) { woke = at })
	time.Sleep(10 * time.Millisecond) // the reader is blocked
	out := make([]int64, 0, n)
	for i := 0; i < n; i++ {
		woke = 0
		t0 := nanotime()
		a.SetReadDeadline(past)
		// The woken reader runs, then blocks in Read again. (One yield in 61 finds the
		// canceller first in line: the scheduler's fairness turn for its global queue.)
		for woke == 0 {
			runtime.Gosched()
		}
		out = append(out, woke-t0)
	}
	a.Close()
	printSamples(out)
}

// The same, the deadline set from another goroutine while the reader's side idles (Go's
// default GOMAXPROCS: a P per core). `wait`: the canceller then waits for the reader on a
// channel — Go's fastest shape, since its scheduler puts the woken reader in the canceller's
// P's runnext slot and runs it on the canceller's own thread once that waits. `spin`: the
// canceller, locked to its OS thread like weft-bench's foreign thread, spins until the reader
// has run, so another thread must take the reader from the canceller's P.
func cancelCrossThread(n int, spin bool) {
	if spin {
		runtime.LockOSThread()
	}
	a, b := pair()
	defer b.Close()
	var at int64
	var flag int32
	done := make(chan struct{}, 1)
	go reader(a, func(t int64) {
		atomic.StoreInt64(&at, t)
		if spin {
			atomic.StoreInt32(&flag, 1)
		} else {
			done <- struct{}{}
		}
	})
	time.Sleep(10 * time.Millisecond)
	out := make([]int64, 0, n)
	for i := 0; i < n; i++ {
		time.Sleep(idleGap)
		atomic.StoreInt32(&flag, 0)
		t0 := nanotime()
		a.SetReadDeadline(past)
		if spin {
			for k := 0; atomic.LoadInt32(&flag) == 0; k++ {
				if k%1024 == 0 && nanotime()-t0 > int64(stuck) {
					fail("the reader did not run within %v", stuck)
				}
			}
		} else {
			select {
			case <-done:
			case <-time.After(stuck):
				fail("the reader did not run within %v", stuck)
			}
		}
		out = append(out, atomic.LoadInt64(&at)-t0)
	}
	a.Close()
	printSamples(out)
}

// n goroutines blocked in a 24-hour sleep under one context (Go's shared cancellation
// token: each selects on ctx.Done() and its own timer); one cancel; until the last has
// resumed, per goroutine. After resuming each waits on a gate channel, as weft's fibers join
// a gate fiber, so that the time is the cancel's and not n goroutines ending.
func fanout(n int) {
	runtime.GOMAXPROCS(1)
	ctx, cancel := context.WithCancel(context.Background())
	gate := make(chan struct{})
	done := make(chan struct{})
	var resumed int64
	var t1 int64
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			t := time.NewTimer(24 * time.Hour)
			started.Done()
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			if atomic.AddInt64(&resumed, 1) == int64(n) {
				t1 = nanotime()
				close(done)
			}
			<-gate
		}()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // every goroutine is blocked in its select
	t0 := nanotime()
	cancel()
	<-done
	close(gate)
	printSamples([]int64{(t1 - t0) / int64(n)})
}

// Resident set size of this process, in KiB.
func rssKiB() float64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fail("statm: %v", err)
	}
	var size, resident int64
	fmt.Sscan(string(data), &size, &resident)
	return float64(resident*int64(os.Getpagesize())) / 1024
}

// RSS growth per goroutine blocked in conn.Read on an accepted loopback connection, both
// ends in this process (as weft's and Asio's samples).
func recvMemory(n int) {
	ln := listen()
	before := rssKiB()
	conns := make([]net.Conn, 0, 2*n)
	var blocked sync.WaitGroup
	blocked.Add(n)
	for i := 0; i < n; i++ {
		a, c := connect(ln)
		conns = append(conns, c, a)
		go func(a net.Conn) {
			var buf [64]byte
			blocked.Done()
			a.Read(buf[:])
		}(a)
	}
	blocked.Wait()
	time.Sleep(50 * time.Millisecond) // every goroutine is parked in Read
	per := (rssKiB() - before) / float64(n)
	for _, c := range conns {
		c.Close()
	}
	fmt.Printf("%.6g\n", per)
}

// RSS growth per goroutine blocked in time.Sleep.
func sleepMemory(n int) {
	before := rssKiB()
	var blocked sync.WaitGroup
	blocked.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			blocked.Done()
			time.Sleep(24 * time.Hour)
		}()
	}
	blocked.Wait()
	time.Sleep(50 * time.Millisecond)
	fmt.Printf("%.6g\n", (rssKiB()-before)/float64(n))
}

// An echo server with a goroutine per connection on `threads` Ps (the other servers of the
// echo figures run on one thread; echo_threads compares one and two).
func serveEcho(threads int) {
	runtime.GOMAXPROCS(threads)
	ln := listen()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 8192)
				for {
					k, err := c.Read(buf)
					if k > 0 {
						if _, werr := c.Write(buf[:k]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}(c)
		}
	}()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	io.Copy(io.Discard, os.Stdin)
}

// A TLS echo server with a goroutine per connection on one P, as the TLS figures' other
// servers: per connection the handshake, records echoed until the client's close_notify
// (io.EOF), then Close, which answers with Go's own close_notify.
func serveTLSEcho(certFile, keyFile string) {
	runtime.GOMAXPROCS(1)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		fail("certificate: %v", err)
	}
	config := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	ln := listen()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c *tls.Conn) {
				defer c.Close()
				if c.Handshake() != nil {
					return
				}
				buf := make([]byte, 8192)
				for {
					k, err := c.Read(buf)
					if k > 0 {
						if _, werr := c.Write(buf[:k]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}(tls.Server(c, config))
		}
	}()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	io.Copy(io.Discard, os.Stdin)
}

// Two goroutines pass a token back and forth through two channels of the given capacity:
// ns per round trip, each of `batches` samples the mean of `perBatch` round trips (1: each
// round trip timed on its own). The partner sends back what it receives until `there` closes.
// `locked`: each goroutine is locked to an OS thread of its own (runtime.LockOSThread), so
// that every hand-off crosses threads; otherwise Go runs a goroutine it readies on the
// readier's own P next, and with nothing else to run both stay on one thread.
func chanPingPong(batches, perBatch, capacity, procs int, locked bool) {
	runtime.GOMAXPROCS(procs)
	if locked {
		runtime.LockOSThread()
	}
	there := make(chan int, capacity)
	back := make(chan int, capacity)
	go func() {
		if locked {
			runtime.LockOSThread()
		}
		for v := range there {
			back <- v
		}
	}()
	for i := 0; i < 1000; i++ { // warm-up
		there <- i
		<-back
	}
	out := make([]float64, 0, batches)
	for b := 0; b < batches; b++ {
		t0 := nanotime()
		for i := 0; i < perBatch; i++ {
			there <- i
			<-back
		}
		out = append(out, float64(nanotime()-t0)/float64(perBatch))
	}
	close(there)
	printFloats(out)
}

// One sample of a throughput, as weft-bench's FlowSample: every worker calls start before
// its first operation and finish at its end; the sample is the operations done from the
// first start to the last finish, per second.
type flowSample struct {
	stop        atomic.Bool
	first, last atomic.Int64
	done        atomic.Int64
}

func (f *flowSample) start() {
	if f.first.Load() == 0 {
		f.first.CompareAndSwap(0, nanotime())
	}
}

func (f *flowSample) finish(ops int64) {
	f.done.Add(ops)
	t := nanotime()
	for {
		last := f.last.Load()
		if t <= last || f.last.CompareAndSwap(last, t) {
			return
		}
	}
}

func (f *flowSample) perSecond() float64 {
	return float64(f.done.Load()) * 1e9 / float64(f.last.Load()-f.first.Load())
}

// Runs `samples` samples of body, each stopped after `window`: the operations per second.
func flowSamples(samples int, window time.Duration, body func(f *flowSample)) {
	out := make([]float64, 0, samples)
	for s := 0; s < samples; s++ {
		f := &flowSample{}
		go func() {
			time.Sleep(window)
			f.stop.Store(true)
		}()
		body(f)
		out = append(out, f.perSecond())
	}
	printFloats(out)
}

// `producers` goroutines send ints into one chan of capacity `capacity` until the window
// ends; the last to stop closes it; `consumers` goroutines receive until it is drained.
func chanStream(samples int, window time.Duration, capacity, producers, consumers, procs int) {
	runtime.GOMAXPROCS(procs)
	flowSamples(samples, window, func(f *flowSample) {
		ch := make(chan int, capacity)
		var producing sync.WaitGroup
		var consuming sync.WaitGroup
		producing.Add(producers)
		consuming.Add(consumers)
		for i := 0; i < producers; i++ {
			go func() {
				defer producing.Done()
				f.start()
				for v := 0; !f.stop.Load(); v++ {
					ch <- v
				}
			}()
		}
		for i := 0; i < consumers; i++ {
			go func() {
				defer consuming.Done()
				var n int64
				for range ch {
					n++
				}
				f.finish(n)
			}()
		}
		producing.Wait()
		close(ch)
		consuming.Wait()
	})
}

// `goroutines` goroutines take one sync.Mutex in turn until the window ends: lock, increment
// the counter it guards, yield (runtime.Gosched) holding it, unlock.
func mutexContended(samples int, window time.Duration, goroutines, procs int) {
	runtime.GOMAXPROCS(procs)
	flowSamples(samples, window, func(f *flowSample) {
		var mu sync.Mutex
		var counter int64
		var taking sync.WaitGroup
		taking.Add(goroutines)
		for i := 0; i < goroutines; i++ {
			go func() {
				defer taking.Done()
				f.start()
				var mine int64
				for {
					mu.Lock()
					if f.stop.Load() {
						mu.Unlock()
						break
					}
					counter++
					mine++
					runtime.Gosched()
					mu.Unlock()
				}
				f.finish(mine)
			}()
		}
		taking.Wait()
		_ = counter
	})
}

func printFloats(values []float64) {
	w := bufio.NewWriter(os.Stdout)
	for _, v := range values {
		fmt.Fprintf(w, "%.6g\n", v)
	}
	w.Flush()
}

func printSamples(values []int64) {
	w := bufio.NewWriter(os.Stdout)
	for _, v := range values {
		fmt.Fprintln(w, v)
	}
	w.Flush()
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: weft-bench-go cancel-same-thread|cancel-cross-thread|fanout|recv-memory|sleep-memory N | chan-pingpong|chan-stream|mutex NUMBERS... | serve-echo [THREADS] | serve-tls-echo CERT KEY | version")
	}
	count := func() int {
		if len(os.Args) < 3 {
			fail("%s needs a count", os.Args[1])
		}
		n, err := strconv.Atoi(os.Args[2])
		if err != nil || n <= 0 {
			fail("bad count %q", os.Args[2])
		}
		return n
	}
	// The arguments after the mode, as counts (a capacity may be 0): `want` words in all.
	counts := func(want int) []int {
		if len(os.Args) != want+1 {
			fail("%s takes %d numbers", os.Args[1], want-1)
		}
		out := make([]int, 0, want-1)
		for _, a := range os.Args[2:] {
			n, err := strconv.Atoi(a)
			if err != nil || n < 0 {
				fail("bad number %q", a)
			}
			out = append(out, n)
		}
		return out
	}
	switch os.Args[1] {
	case "cancel-same-thread":
		cancelSameThread(count())
	case "cancel-cross-thread":
		n := count()
		mode := ""
		if len(os.Args) > 3 {
			mode = os.Args[3]
		}
		if mode != "spin" && mode != "wait" {
			fail("cancel-cross-thread takes wait or spin")
		}
		cancelCrossThread(n, mode == "spin")
	case "fanout":
		fanout(count())
	case "recv-memory":
		recvMemory(count())
	case "sleep-memory":
		sleepMemory(count())
	case "chan-pingpong":
		locked := len(os.Args) == 7 && os.Args[6] == "locked"
		if locked {
			os.Args = os.Args[:6]
		}
		n := counts(5)
		chanPingPong(n[0], n[1], n[2], n[3], locked)
	case "chan-stream":
		n := counts(7)
		chanStream(n[0], time.Duration(n[1])*time.Millisecond, n[2], n[3], n[4], n[5])
	case "mutex":
		n := counts(5)
		mutexContended(n[0], time.Duration(n[1])*time.Millisecond, n[2], n[3])
	case "version":
		fmt.Println(runtime.Version())
	case "serve-echo":
		threads := 1
		if len(os.Args) > 2 {
			threads = count()
		}
		serveEcho(threads)
	case "serve-tls-echo":
		if len(os.Args) != 4 {
			fail("serve-tls-echo takes a certificate file and a key file")
		}
		serveTLSEcho(os.Args[2], os.Args[3])
	default:
		fail("unknown mode %q", os.Args[1])
	}
}
