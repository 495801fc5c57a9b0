// The `noop` sink: accepts every batch without looking at it. It measures the
// runtime's own cost (`npm run bench:work`) and drains a stream on purpose.

import { defineProcessor, type SinkFactory } from '../work/types.js';

const noopSink: SinkFactory = () =>
  defineProcessor({
    process() {
      return undefined;
    },
  });

export default noopSink;
