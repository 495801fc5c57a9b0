// A plain node:http target for the bench tests: answers every request 202 `{}` once its body is read,
// on a free loopback port, and is closed with its connections when the test ends.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts the server; `onRequest` runs for each request before it is answered. Returns its base URL. */
export async function acceptingServer(t: { after: (fn: () => Promise<void>) => void }, onRequest: () => void = () => undefined): Promise<string> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      onRequest();
      res.writeHead(202, { 'content-length': '2' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
