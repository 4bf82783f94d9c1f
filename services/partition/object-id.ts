import { randomBytes } from 'node:crypto';

const ENCODING = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32, as ULID

let lastTime = -1;
const lastRandom = new Uint8Array(10);

/**
 * A new object id: a ULID (26 chars, 48-bit millisecond time + 80 random
 * bits). Ids sort by creation time; within one millisecond this process
 * increments the random part, so ids it generates are strictly increasing.
 */
export function newObjectId(now = Date.now()): string {
  if (now <= lastTime) {
    incrementRandom();
    now = lastTime;
  } else {
    lastTime = now;
    lastRandom.set(randomBytes(10));
  }
  return encodeTime(now) + encodeRandom();
}

function incrementRandom(): void {
  for (let i = lastRandom.length - 1; i >= 0; i--) {
    if (lastRandom[i] !== 0xff) {
      lastRandom[i] = lastRandom[i]! + 1;
      return;
    }
    lastRandom[i] = 0;
  }
  // 80 bits overflowed within one millisecond: move to the next millisecond.
  lastTime += 1;
}

function encodeTime(time: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ENCODING[time % 32]! + out;
    time = Math.floor(time / 32);
  }
  return out;
}

function encodeRandom(): string {
  // 80 bits = 16 base32 characters, 5 bits each, most significant first.
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of lastRandom) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ENCODING[(buffer >>> bits) & 31]!;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}
