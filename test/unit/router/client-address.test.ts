import { describe, expect, it } from 'vitest';
import { clientKey } from '../../../router/client-address.js';

describe('clientKey', () => {
  it('keys an IPv4 client by its address, mapped or not', () => {
    expect(clientKey('10.1.2.3')).toBe('10.1.2.3');
    expect(clientKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(clientKey(undefined)).toBe('');
  });

  it('keys an IPv6 client by its /64 prefix, however the address is written', () => {
    const key = '2001:db8:0:1::/64';
    for (const address of ['2001:db8:0:1::1', '2001:0db8:0000:0001:ffff:0:0:2', '2001:DB8:0:1:1:2:3:4', '2001:db8:0:1::1%eth0']) {
      expect(clientKey(address), address).toBe(key);
    }
    expect(clientKey('2001:db8:0:2::1')).not.toBe(key);
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('fe80::1')).toBe('fe80:0:0:0::/64');
    expect(clientKey('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(clientKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });
});
