// What a log backend started before close() and must see settle before close() goes on: the first appends
// of a partition waiting for its stream's lookup, publishes waiting for their answers. Shared by the Redis
// and NATS backends, which tracked them by hand the same way.

export class SettleTracker {
  private readonly pending = new Set<Promise<void>>();

  /** Tracks `p` until it settles, fulfilled or rejected (the caller handles its outcome); returns `p`. */
  track<T>(p: Promise<T>): Promise<T> {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
    return p;
  }

  /** Resolves once everything tracked has settled, including what was tracked while it waited. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
