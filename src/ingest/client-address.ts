// The client address stored with a record: the socket's peer, or, behind trusted
// proxies (ingest.trustProxy), the hop they report in X-Forwarded-For.
// trustProxy true trusts every hop (leftmost entry); a number N trusts the N
// proxies closest to us, so the address N hops from the socket is the client.
// Some proxies (Azure Application Gateway) report a hop with its port
// ("203.0.113.9:53124", "[2001:db8::1]:53124"): the port is dropped, as the
// socket's peer is stored without one, and rate limits per client address would
// otherwise count each connection of a client on a bucket of its own.

export type TrustProxy = boolean | number;

/** An X-Forwarded-For entry without the port or brackets some proxies add; others as they are. */
function addressOf(entry: string): string {
  if (entry.charCodeAt(0) === 0x5b /* [ */) {
    const end = entry.indexOf(']');
    return end > 1 ? entry.slice(1, end) : entry;
  }
  // An IPv6 address has two colons or more; one colon after an IPv4 address or a name starts a port.
  const colon = entry.indexOf(':');
  if (colon > 0 && entry.indexOf(':', colon + 1) === -1) return entry.slice(0, colon);
  return entry;
}

export function clientAddress(socketAddress: string | undefined, forwardedFor: string | undefined, trustProxy: TrustProxy): string {
  const peer = socketAddress ?? '';
  if (trustProxy === false || trustProxy === 0 || forwardedFor === undefined || forwardedFor === '') return peer;
  const hops = forwardedFor.split(',');
  if (trustProxy === true) return addressOf(hops[0]!.trim()) || peer;
  // Chain as seen from here: [...forwardedFor, peer]; the client sits trustProxy entries left of the peer.
  const index = hops.length - trustProxy;
  return addressOf(hops[index < 0 ? 0 : index]!.trim()) || peer;
}
