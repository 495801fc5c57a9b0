// The disk's floor under the p99 of a `durable` ack, for bench/ingest-bench.ts: an ideal group
// commit with no HTTP, no parsing and no event loop. Records "arrive" on the open-loop schedule
// of the HTTP runs (record k is due at t0 + k/rate); one thread writes every record that is due
// in one write(2) and fdatasyncs, starting fsyncs at least MIN_INTERVAL_US apart as Hopper's
// log.embedded.minFsyncIntervalMs does; a record's latency runs from when it was due to the end
// of the fdatasync that covered it. Run pinned to the server's CPU, on the disk of Hopper's data
// directory, right after a Hopper run at the same rate, it shows what the disk alone put into
// the tail at that moment (a virtual disk's flush stalls come and go within minutes).
//
// usage: group-commit-floor FILE RATE RECORD_BYTES MIN_INTERVAL_US WARMUP_S DURATION_S
// Prints one JSON object: records, syncs, latency percentiles (us). Built by the bench with
// `cc -O2`; only for bench use, never part of the package.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "latency-histogram.h"

// The largest write of one group: a stall longer than this many records' worth is cut into several writes.
#define MAX_GROUP_BYTES (8 << 20)


static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(int64_t ns) {
  if (ns <= 0) return;
  struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
  nanosleep(&ts, NULL);
}

static void die(const char *what) {
  fprintf(stderr, "group-commit-floor: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: group-commit-floor FILE RATE RECORD_BYTES MIN_INTERVAL_US WARMUP_S DURATION_S\n");
    return 2;
  }
  double rate = atof(argv[2]);
  long record_bytes = atol(argv[3]);
  int64_t min_interval_ns = atoll(argv[4]) * 1000;
  double warmup_s = atof(argv[5]);
  double duration_s = atof(argv[6]);
  if (rate <= 0 || record_bytes <= 0 || record_bytes > MAX_GROUP_BYTES || min_interval_ns < 0 || warmup_s < 0 || duration_s <= 0) {
    fprintf(stderr, "group-commit-floor: RATE, RECORD_BYTES (<= 8 MiB) and DURATION_S must be positive, MIN_INTERVAL_US and WARMUP_S not negative\n");
    return 2;
  }
  histogram_init();
  char *group = malloc(MAX_GROUP_BYTES);
  if (!histogram || !group) die("calloc");
  memset(group, 'x', MAX_GROUP_BYTES);
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die(argv[1]);

  int64_t total = (int64_t)(rate * (warmup_s + duration_s));
  int64_t counted_from = (int64_t)(rate * warmup_s);
  int64_t max_group = MAX_GROUP_BYTES / record_bytes;
  int64_t t0 = now_ns();
  int64_t done = 0, syncs = 0, last_sync_ns = INT64_MIN / 2;
  off_t position = 0;
  while (done < total) {
    sleep_ns(last_sync_ns + min_interval_ns - now_ns());
    int64_t due = (int64_t)((double)(now_ns() - t0) / 1e9 * rate) + 1;
    if (due > total) due = total;
    if (due <= done) {
      sleep_ns(t0 + (int64_t)((double)done / rate * 1e9) - now_ns());
      continue;
    }
    for (int64_t from = done; from < due; from += max_group) {
      int64_t n = due - from < max_group ? due - from : max_group;
      if (pwrite(fd, group, (size_t)(n * record_bytes), position) != n * record_bytes) die("pwrite");
      position += n * record_bytes;
    }
    last_sync_ns = now_ns();
    if (fdatasync(fd) != 0) die("fdatasync");
    syncs++;
    int64_t end = now_ns();
    for (int64_t k = done; k < due; k++) {
      if (k >= counted_from) record(end - (t0 + (int64_t)((double)k / rate * 1e9)));
    }
    done = due;
  }
  close(fd);
  unlink(argv[1]);
  printf("{\"records\":%lld,\"syncs\":%lld,\"latencyUs\":{\"p50\":%lld,\"p99\":%lld,\"p999\":%lld,\"max\":%lld}}\n", (long long)(total - counted_from), (long long)syncs,
         (long long)percentile(50), (long long)percentile(99), (long long)percentile(99.9), (long long)max_latency_us);
  return 0;
}
