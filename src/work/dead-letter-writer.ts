// Appends dead letters to {stream}.dlq, durably (the source position is committed
// right after). The .dlq stream is created on first use, keeps its letters
// forever unless streams["{stream}.dlq"] sets a retention, and grows a partition
// when another worker process already writes the existing ones (embedded log).

import type { HopperConfig } from '../config/schema.js';
import type { Log, RecordInput, StreamOptions } from '../log/types.js';
import { appendWithFallback } from './append-with-fallback.js';
import { deadLetterStream } from './dead-letter.js';

export class DeadLetterWriter {
  private readonly preferred = new Map<string, number>();
  private readonly ensured = new Set<string>();

  constructor(
    private readonly log: Log,
    private readonly config: HopperConfig,
  ) {}

  private options(dlq: string): StreamOptions {
    const configured = this.config.streams[dlq];
    return { partitions: 1, retentionMaxAgeMs: configured?.retentionMaxAgeMs ?? 0, retentionMaxBytes: configured?.retentionMaxBytes ?? 0 };
  }

  async write(stream: string, letters: RecordInput[]): Promise<void> {
    if (letters.length === 0) return;
    const dlq = deadLetterStream(stream);
    const options = this.options(dlq);
    if (!this.ensured.has(dlq)) {
      await this.log.ensureStream(dlq, options);
      this.ensured.add(dlq);
    }
    const result = await appendWithFallback(this.log, dlq, letters, { preferred: this.preferred.get(dlq) ?? 0, ack: 'durable', grow: options });
    this.preferred.set(dlq, result.partition);
  }
}
