// The client address stored with a record: the socket's peer, or, behind trusted
// proxies (ingest.trustProxy), the hop they report in X-Forwarded-For.
// trustProxy true trusts every hop (leftmost entry); a number N trusts the N
// proxies closest to us, so the address N hops from the socket is the client.

export type TrustProxy = boolean | number;

export function clientAddress(socketAddress: string | undefined, forwardedFor: string | undefined, trustProxy: TrustProxy): string {
  const peer = socketAddress ?? '';
  if (trustProxy === false || trustProxy === 0 || forwardedFor === undefined || forwardedFor === '') return peer;
  const hops = forwardedFor.split(',');
  if (trustProxy === true) return hops[0]!.trim() || peer;
  // Chain as seen from here: [...forwardedFor, peer]; the client sits trustProxy entries left of the peer.
  const index = hops.length - trustProxy;
  return (hops[index < 0 ? 0 : index]!.trim() || peer);
}
