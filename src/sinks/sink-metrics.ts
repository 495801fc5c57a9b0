// The metrics every built-in sink reports through the pipeline's MetricsHandle,
// under the same names so one dashboard fits all sinks (label `sink`):
//   sink_events_written_total   events the destination accepted
//   sink_batches_total          batches handled (written, possibly with some dead letters)
//   sink_failed_events_total    events sent back as dead letters (rejected for good)
//   sink_errors_total           transient failures (batch thrown back for a retry)
//   sink_write_seconds          time to write one batch (histogram)

import type { MetricsHandle } from '../work/types.js';

export class SinkMetrics {
  private readonly labels: Record<string, string>;

  constructor(sink: string) {
    this.labels = { sink };
  }

  written(metrics: MetricsHandle, events: number, failedEvents: number, startedAtMs: number): void {
    metrics.increment('sink_batches_total', 1, this.labels);
    if (events > 0) metrics.increment('sink_events_written_total', events, this.labels);
    if (failedEvents > 0) metrics.increment('sink_failed_events_total', failedEvents, this.labels);
    metrics.observe('sink_write_seconds', (performance.now() - startedAtMs) / 1000, this.labels);
  }

  transientError(metrics: MetricsHandle): void {
    metrics.increment('sink_errors_total', 1, this.labels);
  }
}
