// Open-loop HTTP/1.1 load at a fixed request rate, for the p99 rows of bench/ingest-bench.ts.
// wrk is closed loop (a stalled server slows it down and hides the stall) and Debian has no
// wrk2; `hopper bench --rate` is open loop but, being Node, its own jitter and per-request cost
// set a floor that a slow machine puts above the figure being measured. This is the same
// schedule in C: request k is due at t0 + k/rate, sent on the first idle keep-alive connection,
// and its latency runs from when it was due (not when it went out) to the end of its answer.
//
// usage: open-loop HOST PORT PATH BODY_FILE RATE CONNECTIONS WARMUP_S DURATION_S
// The first WARMUP_S seconds run at the same rate but are not counted: new connections are
// handed to the server's worker and its code paths warm up (wrk2 likewise calibrates first).
// Prints one JSON object: sent, completed, non2xx, errors, achieved rate, latency percentiles (us).
// Built by the bench with `cc -O2`; only for bench use, never part of the package.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "latency-histogram.h"

// Answers still missing this long after the last send are counted as errors.
#define DRAIN_TIMEOUT_NS 5000000000LL
#define READ_BUFFER_BYTES 65536

typedef struct {
  int fd;
  int busy;
  int64_t due_ns; // when the request in flight was due
  int counted;    // due after the warm-up
  char buf[READ_BUFFER_BYTES];
  size_t len;
} conn_t;

static int64_t sent, counted_sent, completed, non2xx, errors;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "open-loop: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int open_conn(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "open-loop: HOST must be an IPv4 address, got %s\n", host);
    exit(2);
  }
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

/** Replaces a broken connection with a new one under the same id (its place in the idle ring is the caller's). */
static void reconnect(int ep, conn_t *c, int id, const char *host, int port) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->len = 0;
  c->fd = open_conn(host, port);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)id};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl");
}

// Length of the first complete answer in c->buf (head + Content-Length body), 0 if incomplete, -1 if not HTTP.
static long answer_bytes(conn_t *c, int *status) {
  if (c->len < 12) return 0;
  if (memcmp(c->buf, "HTTP/1.", 7) != 0) return -1;
  char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if (!end) return c->len >= READ_BUFFER_BYTES ? -1 : 0;
  *status = atoi(c->buf + 9);
  long body = 0;
  for (char *line = memchr(c->buf, '\n', end - c->buf); line && line < end; line = memchr(line + 1, '\n', end - line)) {
    if (strncasecmp(line + 1, "content-length:", 15) == 0) body = atol(line + 16);
  }
  long total = (end + 4 - c->buf) + body;
  if (total > READ_BUFFER_BYTES) return -1;
  return (long)c->len >= total ? total : 0;
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: open-loop HOST PORT PATH BODY_FILE RATE CONNECTIONS WARMUP_S DURATION_S\n");
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  double rate = atof(argv[5]);
  int nconns = atoi(argv[6]);
  double warmup_s = atof(argv[7]);
  double duration_s = atof(argv[8]);
  if (port <= 0 || rate <= 0 || nconns <= 0 || warmup_s < 0 || duration_s <= 0) {
    fprintf(stderr, "open-loop: PORT, RATE, CONNECTIONS and DURATION_S must be positive, WARMUP_S not negative\n");
    return 2;
  }

  FILE *f = fopen(argv[4], "rb");
  if (!f) die(argv[4]);
  static char body[1 << 20];
  size_t body_len = fread(body, 1, sizeof body, f);
  fclose(f);
  while (body_len > 0 && (body[body_len - 1] == '\n' || body[body_len - 1] == '\r')) body_len--;
  static char request[(1 << 20) + 4096];
  int head = snprintf(request, 4096, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      argv[3], host, port, body_len);
  if (head < 0 || head >= 4096) {
    fprintf(stderr, "open-loop: PATH is too long\n");
    return 2;
  }
  memcpy(request + head, body, body_len);
  size_t request_len = head + body_len;

  histogram_init();
  conn_t *conns = calloc(nconns, sizeof *conns);
  // Idle connections in a ring, oldest first: every connection keeps being used, so none sits idle long
  // enough for the server's keep-alive timeout to close it under the generator.
  int *idle = malloc(nconns * sizeof *idle);
  if (!histogram || !conns || !idle) die("calloc");
  int idle_head = 0, nidle = 0;
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  for (int i = 0; i < nconns; i++) {
    conns[i].fd = open_conn(host, port);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0) die("epoll_ctl");
    idle[(idle_head + nidle++) % nconns] = i;
  }

  const int64_t interval_ns = (int64_t)(1e9 / rate);
  const int64_t t0 = now_ns();
  const int64_t measure_from = t0 + (int64_t)(warmup_s * 1e9);
  const int64_t stop_sending = measure_from + (int64_t)(duration_s * 1e9);
  // Every request due before stop_sending is sent, even late: the ones a stall held back carry its worst latencies.
  const int64_t total = (stop_sending - t0 + interval_ns - 1) / interval_ns;
  int in_flight = 0;
  struct epoll_event events[256];

  for (;;) {
    int64_t now = now_ns();
    // Send every request that is due, as long as a connection is free; the rest wait (their clock runs).
    while (nidle > 0 && sent < total && t0 + sent * interval_ns <= now) {
      int id = idle[idle_head];
      idle_head = (idle_head + 1) % nconns;
      nidle--;
      conn_t *c = &conns[id];
      c->due_ns = t0 + sent * interval_ns;
      c->counted = c->due_ns >= measure_from;
      counted_sent += c->counted;
      sent++;
      ssize_t w = send(c->fd, request, request_len, MSG_NOSIGNAL);
      if (w != (ssize_t)request_len) {
        // A 251-byte request fits any socket buffer: a short write means the connection is broken.
        if (c->counted) errors++;
        reconnect(ep, c, id, host, port);
        idle[(idle_head + nidle++) % nconns] = id;
        continue;
      }
      c->busy = 1;
      in_flight++;
    }
    if (sent >= total && (in_flight == 0 || now - stop_sending > DRAIN_TIMEOUT_NS)) break;
    if (sent < total && now - stop_sending > DRAIN_TIMEOUT_NS) break; // no connection came free for the rest

    // Spin (timeout 0) when the next request is due within a millisecond: a timed wait would send late.
    int64_t wait_ns = t0 + sent * interval_ns - now;
    int timeout_ms = (nidle == 0 || sent >= total) ? 10 : wait_ns > 1000000 ? (int)(wait_ns / 1000000) - 1 : 0;
    int n = epoll_wait(ep, events, 256, timeout_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < n; e++) {
      int id = (int)events[e].data.u32;
      conn_t *c = &conns[id];
      ssize_t r = read(c->fd, c->buf + c->len, READ_BUFFER_BYTES - c->len);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        // The server closed: the request in flight (if any) failed; reconnect. An idle connection is in the ring already.
        int was_busy = c->busy;
        if (was_busy) {
          if (c->counted) errors++;
          in_flight--;
          c->busy = 0;
        }
        reconnect(ep, c, id, host, port);
        if (was_busy) idle[(idle_head + nidle++) % nconns] = id;
        continue;
      }
      c->len += r;
      int status = 0;
      long used = answer_bytes(c, &status);
      if (used < 0) {
        fprintf(stderr, "open-loop: the server's answer is not HTTP/1.1 with Content-Length\n");
        return 1;
      }
      if (used == 0) continue;
      int64_t done = now_ns();
      if (c->busy) {
        if (c->counted) {
          record(done - c->due_ns);
          completed++;
          if (status < 200 || status > 299) non2xx++;
        }
        c->busy = 0;
        in_flight--;
        idle[(idle_head + nidle++) % nconns] = id;
      }
      memmove(c->buf, c->buf + used, c->len - used);
      c->len -= used;
    }
  }
  errors += total - sent; // due, never sent: no connection came free before the drain timeout
  for (int i = 0; i < nconns; i++) errors += conns[i].busy && conns[i].counted; // never answered
  printf("{\"sent\":%lld,\"completed\":%lld,\"non2xx\":%lld,\"errors\":%lld,\"ratePerSec\":%.1f,\"askedRatePerSec\":%.1f,"
         "\"latencyUs\":{\"p50\":%lld,\"p90\":%lld,\"p99\":%lld,\"p99.9\":%lld,\"max\":%lld}}\n",
         (long long)counted_sent, (long long)completed, (long long)non2xx, (long long)errors,
         (double)completed / duration_s, rate,
         (long long)percentile(50), (long long)percentile(90), (long long)percentile(99), (long long)percentile(99.9),
         (long long)max_latency_us);
  return 0;
}
