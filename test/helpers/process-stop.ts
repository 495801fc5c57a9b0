// SIGSTOP that has taken effect: kill(2) only queues the signal, and a server thread
// running on the other core can still answer a request or two before it stops.

import { readdirSync, readFileSync } from 'node:fs';

function allThreadsStopped(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const state = stat[stat.lastIndexOf(')') + 2];
      return state === 'T' || state === 't';
    });
  } catch {
    return false;
  }
}

/** Sends SIGSTOP and resolves once every thread of `pid` is stopped (or after 2 s where /proc cannot tell). */
export async function stopProcess(pid: number, kill: (signal: NodeJS.Signals) => void): Promise<void> {
  kill('SIGSTOP');
  const deadline = Date.now() + 2000;
  while (!allThreadsStopped(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}
