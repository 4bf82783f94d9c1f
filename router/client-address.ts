/**
 * The key the router counts a client's connections and streams under: its
 * IPv4 address, or the /64 prefix of its IPv6 address (one host usually
 * holds a whole /64, so counting single IPv6 addresses would let it open as
 * many as it likes). An IPv4-mapped IPv6 address counts as the IPv4 one.
 * Behind a proxy every client has the proxy's address: the per-client caps
 * then apply to all of them together.
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined) return '';
  if (!address.includes(':')) return address;
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  return `${ipv6Prefix64(address)}::/64`;
}

/** The first four groups of an IPv6 address, without leading zeros. */
function ipv6Prefix64(address: string): string {
  const zone = address.indexOf('%');
  const bare = (zone < 0 ? address : address.slice(0, zone)).toLowerCase();
  const gap = bare.indexOf('::');
  let groups: string[];
  if (gap < 0) {
    groups = bare.split(':');
  } else {
    const head = gap === 0 ? [] : bare.slice(0, gap).split(':');
    const tail = gap + 2 >= bare.length ? [] : bare.slice(gap + 2).split(':');
    const tailGroups = tail.reduce((n, group) => n + (group.includes('.') ? 2 : 1), 0);
    groups = [...head, ...new Array<string>(Math.max(0, 8 - head.length - tailGroups)).fill('0'), ...tail];
  }
  return groups
    .slice(0, 4)
    .map((group) => (parseInt(group, 16) || 0).toString(16))
    .join(':');
}
