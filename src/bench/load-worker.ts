// Entry point of one load thread (worker_threads): runs a LoadLoop on its share
// of the connections and reports to the coordinator (load-run.ts). Several
// threads keep the generator from being the bottleneck on a multi-core machine.

import { parentPort, workerData } from 'node:worker_threads';
import { LoadLoop } from './load-loop.js';
import type { FromThread, LoadThreadPlan, ToThread } from './load-protocol.js';

const port = parentPort;
if (!port) throw new Error('load-worker.ts runs only as a worker thread');

const loop = new LoadLoop(workerData as LoadThreadPlan, (msg: FromThread) => {
  if (msg.type === 'done') {
    const transfer: ArrayBuffer[] = [];
    if (msg.result.acknowledged) {
      // Send only the bytes in use, as their own buffer, so the transfer does not carry the spare capacity.
      msg.result.acknowledged = msg.result.acknowledged.slice();
      transfer.push(msg.result.acknowledged.buffer as ArrayBuffer);
    }
    port.postMessage(msg, transfer);
    port.close();
    return;
  }
  port.postMessage(msg);
});
port.on('message', (msg: ToThread) => {
  if (msg.type === 'stop') loop.stop();
});
loop.start();
