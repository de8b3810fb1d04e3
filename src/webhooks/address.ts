import { isIP } from 'node:net';

/**
 * Which IP addresses a production webhook may reach: public unicast only. Everything else (this
 * machine, private and shared networks, link-local and cloud metadata, documentation and
 * benchmarking ranges, multicast, reserved space) is refused, including the same addresses
 * wrapped in IPv6 (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64
 * `64:ff9b::/96`, 6to4 `2002::/16`). Pure.
 */
export function isPublicAddress(address: string): boolean {
  const host = address.replace(/^\[|\]$/g, '');
  // A zone id (fe80::1%eth0) names an interface of this machine: never public.
  if (host.includes('%')) return false;
  const kind = isIP(host);
  if (kind === 4) return isPublicV4(v4Bytes(host));
  if (kind === 6) {
    const b = v6Bytes(host);
    return b !== null && isPublicV6(b);
  }
  return false;
}

/** [first address, prefix length] of the IPv4 ranges that are not public unicast. */
const V4_NOT_PUBLIC: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (carrier-grade NAT; some cloud metadata)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and broadcast
];

const V4_RANGES = V4_NOT_PUBLIC.map(([a, len]) => {
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { net: (toInt(v4Bytes(a)) & mask) >>> 0, mask };
});

function v4Bytes(s: string): number[] {
  return s.split('.').map(Number);
}

function toInt(b: readonly number[]): number {
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

function isPublicV4(b: readonly number[]): boolean {
  const n = toInt(b);
  return !V4_RANGES.some((r) => (n & r.mask) >>> 0 === r.net);
}

/** The 16 bytes of an IPv6 address that `isIP` accepted (with `::` and a dotted IPv4 tail). */
function v6Bytes(s: string): number[] | null {
  let text = s.toLowerCase();
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail.push(...v4Bytes(dotted[1]!));
    text = `${text.slice(0, dotted.index)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const words = (part: string) => (part ? part.split(':').map((w) => Number.parseInt(w, 16)) : []);
  const head = words(halves[0]!);
  const rest = halves.length === 2 ? words(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  const all = [...head, ...new Array<number>(Math.max(0, fill)).fill(0), ...rest];
  if (all.length !== 8 || all.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) return null;
  const bytes = all.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

const startsWith = (b: readonly number[], prefix: readonly number[]) => prefix.every((x, i) => b[i] === x);

function isPublicV6(b: readonly number[]): boolean {
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, includes :: and ::1): the IPv4 decides,
  // and the compatible form is deprecated and never routed: refused outright.
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return isPublicV4(b.slice(12));
  if (zeros(0, 12)) return false;
  // NAT64 (64:ff9b::/96 well-known, 64:ff9b:1::/48 local-use): the embedded IPv4 decides; the
  // local-use prefix is a private network of its own.
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b]) && zeros(4, 12)) return isPublicV4(b.slice(12));
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01])) return false;
  // 6to4 (2002::/16): the IPv4 in bytes 2..5 decides.
  if (b[0] === 0x20 && b[1] === 0x02) return isPublicV4(b.slice(2, 6));
  // Only global unicast (2000::/3) is public; that excludes fc00::/7 (unique local), fe80::/10
  // (link-local), fec0::/10, ff00::/8 (multicast) and the rest of the reserved space.
  if ((b[0]! & 0xe0) !== 0x20) return false;
  // Inside 2000::/3: Teredo 2001::/32, ORCHID 2001:10::/28 and 2001:20::/28, documentation
  // 2001:db8::/32 and 3fff::/20, and 2001::/23 IETF protocol assignments in general.
  if (b[0] === 0x20 && b[1] === 0x01 && (b[2]! & 0xfe) === 0x00) return false;
  if (startsWith(b, [0x20, 0x01, 0x0d, 0xb8])) return false;
  if (b[0] === 0x3f && b[1] === 0xff && (b[2]! & 0xf0) === 0x00) return false;
  return true;
}
