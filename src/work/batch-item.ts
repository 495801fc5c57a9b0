// The BatchItem a processor sees: a thin view over a LogRecord that decodes its
// body only when events() is first called, and remembers the outcome (events or
// the DecodeError) so the runtime can tell decoding failures from processing ones.

import type { LogRecord } from '../log/types.js';
import type { BatchItem } from './types.js';
import { DecodeBudgetExceeded, decodeRecord, type DecodeBudget, type DecodeSettings } from './decode/decode-record.js';
import { DecodeError } from './decode/decode-error.js';

export class RecordItem implements BatchItem {
  private decoded: unknown[] | null = null;
  /** Set when events() failed: the record goes to the dead-letter stream whatever the processor did. */
  decodeError: DecodeError | null = null;
  /** The decode budget of the processor call this item is in (set by the executor before each call). */
  budget: DecodeBudget | undefined = undefined;
  /** events() found the call's decode budget spent: the batch is split, this record is not at fault. */
  overBudget = false;
  private eventCount = 0;
  /** Processor calls whose batch held this item, and failures among them (for the dead-letter metadata). */
  calls = 0;
  failures = 0;
  firstFailureAtMs = 0;
  lastFailureAtMs = 0;
  lastError = '';
  /** The item that took this one's place after a call on it timed out (see fork). */
  private successor: RecordItem | null = null;
  /** The processor's copy of the body (see body). */
  private bodyCopy: Buffer | null = null;

  constructor(
    readonly record: LogRecord,
    private readonly settings: DecodeSettings,
  ) {}

  get stream(): string {
    return this.record.stream;
  }
  get partition(): number {
    return this.record.partition;
  }
  get offset(): number {
    return this.record.offset;
  }
  get receivedAtUs(): number {
    return this.record.receivedAtUs;
  }
  get receivedAt(): Date {
    return new Date(Math.floor(this.record.receivedAtUs / 1000));
  }
  get contentType(): string {
    return this.record.contentType;
  }
  get contentEncoding(): string {
    return this.record.contentEncoding;
  }
  get remoteAddress(): string {
    return this.record.remoteAddress;
  }
  get requestId(): string {
    return this.record.requestId;
  }
  get idempotencyKey(): string {
    return this.record.idempotencyKey;
  }
  /**
   * The processor's copy of the body, made at its first use: a processor that changed the bytes in place (a
   * decryption, a fill) changed the record itself, and its dead letter then carried the changed bytes, not those
   * received. Decoding and dead letters read record.body. Most processors read events() and never pay the copy.
   */
  get body(): Buffer {
    return (this.bodyCopy ??= Buffer.from(this.record.body));
  }

  /** Events this record decoded to (0 while events() was never called, or failed); its successor's once forked. */
  get decodedEvents(): number {
    return this.successor !== null ? this.successor.decodedEvents : this.eventCount;
  }

  events(): unknown[] {
    if (this.decoded) return this.decoded;
    if (this.decodeError) throw this.decodeError;
    try {
      this.decoded = decodeRecord(this.record, this.settings, this.budget);
      this.eventCount = this.decoded.length;
      return this.decoded;
    } catch (err) {
      if (err instanceof DecodeBudgetExceeded) {
        this.overBudget = true;
        throw err;
      }
      this.decodeError =
        err instanceof DecodeError ? err : new DecodeError('HOPPER_DECODE_FAILED', `decoding failed: ${(err as Error).message}`, { cause: err });
      throw this.decodeError;
    }
  }

  /**
   * Drops the decoded events (decoded again if asked again): a batch split for its decode budget frees them,
   * and a retry starts from the body again (the failed call may have changed the events in place).
   */
  releaseEvents(): void {
    this.decoded = null;
    this.overBudget = false;
  }

  /**
   * A fresh item for the same record, with this one's failure history, for the calls after one that timed out:
   * the abandoned call still holds this one and may go on calling events() (changing the cached events in place,
   * spending the call's decode budget), which must not reach the calls that retry the record.
   */
  fork(): RecordItem {
    const next = new RecordItem(this.record, this.settings);
    next.calls = this.calls;
    next.failures = this.failures;
    next.firstFailureAtMs = this.firstFailureAtMs;
    next.lastFailureAtMs = this.lastFailureAtMs;
    next.lastError = this.lastError;
    this.successor = next;
    return next;
  }

  noteFailure(nowMs: number, message: string): void {
    this.failures++;
    if (this.firstFailureAtMs === 0) this.firstFailureAtMs = nowMs;
    this.lastFailureAtMs = nowMs;
    this.lastError = message;
  }
}
