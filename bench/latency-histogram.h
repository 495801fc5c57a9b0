// Exact latency counting for the C load tools of the benches (open-loop.c, group-commit-floor.c):
// one counter per microsecond up to MAX_LATENCY_US (40 MB), percentiles by rank, the maximum kept apart.
// Each tool is one translation unit, so the definitions live here as statics.

#ifndef HOPPER_LATENCY_HISTOGRAM_H
#define HOPPER_LATENCY_HISTOGRAM_H

#include <stdint.h>
#include <stdlib.h>

#define MAX_LATENCY_US 10000000

static uint32_t *histogram;
static int64_t max_latency_us;

/** Allocates the counters (histogram stays NULL when out of memory: the caller checks). */
static void histogram_init(void) {
  histogram = calloc(MAX_LATENCY_US, sizeof *histogram);
}

static void record(int64_t latency_ns) {
  int64_t us = latency_ns / 1000;
  if (us < 0) us = 0;
  if (us > max_latency_us) max_latency_us = us;
  histogram[us < MAX_LATENCY_US ? us : MAX_LATENCY_US - 1]++;
}

static int64_t percentile(double p) {
  int64_t total = 0;
  for (int64_t i = 0; i < MAX_LATENCY_US; i++) total += histogram[i];
  if (total == 0) return 0;
  int64_t rank = (int64_t)(p / 100.0 * (double)total + 0.999999);
  if (rank < 1) rank = 1;
  int64_t seen = 0;
  for (int64_t i = 0; i < MAX_LATENCY_US; i++) {
    seen += histogram[i];
    if (seen >= rank) return i;
  }
  return MAX_LATENCY_US - 1;
}

#endif
