// Logs example: of the log lines services post, forwards those at `minLevel` or
// above (error and fatal by default) to an HTTP endpoint through the built-in
// http sink (keep-alive pool, retries on 5xx and 429, dead letters on 4xx). The
// files pipeline of the same stream keeps every line; this one only alerts.
// Levels are names (trace, debug, info, warn, error, fatal; also warning, err,
// critical, crit) or pino/bunyan numbers (10 to 60).
//
// `../../src/index.js` is the package's entry: in your own project, import the same names from 'hopper'.

import { defineProcessor, httpForwardSink, rethrowBatchSplit, type BatchItem, type ProcessResult, type SinkContext } from '../../src/index.js';

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, warning: 40, error: 50, err: 50, fatal: 60, critical: 60, crit: 60 };

/** The level of a log event as a pino number, or 0 when it has none. */
export function levelOf(event: unknown): number {
  if (typeof event !== 'object' || event === null) return 0;
  const level = (event as Record<string, unknown>).level ?? (event as Record<string, unknown>).severity;
  if (typeof level === 'number') return level;
  if (typeof level === 'string') return LEVELS[level.toLowerCase()] ?? 0;
  return 0;
}

/** {"text": "..."}: what Slack-compatible incoming webhooks take. */
function chatMessage(event: Record<string, unknown>): { text: string } {
  const name = Object.entries(LEVELS).find(([, n]) => n === levelOf(event))?.[0] ?? String(event.level);
  const msg = event.msg ?? event.message ?? JSON.stringify(event);
  return { text: `${String(event.service ?? event.name ?? 'service')} ${name.toUpperCase()}: ${String(msg)}` };
}

export default function errorForwarder(options: Record<string, unknown>, context: SinkContext) {
  const { minLevel = 'error', asChatMessage = false, ...httpOptions } = options;
  const threshold = typeof minLevel === 'number' ? minLevel : LEVELS[String(minLevel).toLowerCase()];
  if (threshold === undefined) throw new Error(`logs example: minLevel ${JSON.stringify(minLevel)} is not a level`);
  const sink = httpForwardSink(asChatMessage === true ? { format: 'single', ...httpOptions } : httpOptions, context);
  // One view per record, kept across retries of its batch: the http sink knows the records it
  // already delivered by identity, and skips them on a retry only if it is shown the same object.
  const views = new WeakMap<BatchItem, BatchItem>();

  return defineProcessor({
    async process(batch, ctx) {
      const failed: NonNullable<ProcessResult['failed']> = [];
      // Each record with alerts is shown to the sink with only those events; its failures map back to the record.
      const alerts = new Map<BatchItem, BatchItem>();
      for (const item of batch.items) {
        let events: unknown[];
        try {
          events = item.events();
        } catch (err) {
          rethrowBatchSplit(err);
          failed.push({ item, reason: (err as Error).message });
          continue;
        }
        const selected = events.filter((e) => levelOf(e) >= threshold);
        if (selected.length === 0) continue;
        const out = asChatMessage === true ? selected.map((e) => chatMessage(e as Record<string, unknown>)) : selected;
        let view = views.get(item);
        if (view === undefined) {
          view = Object.create(item, { events: { value: () => out } }) as BatchItem;
          views.set(item, view);
        }
        alerts.set(view, item);
      }
      if (alerts.size > 0) {
        const result = await sink.process({ ...batch, items: [...alerts.keys()] }, ctx);
        for (const f of result?.failed ?? []) failed.push({ item: alerts.get(f.item) ?? f.item, reason: f.reason });
      }
      return { failed };
    },
    stop: (ctx) => sink.stop?.(ctx),
  });
}
