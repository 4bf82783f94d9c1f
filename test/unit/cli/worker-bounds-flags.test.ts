import { describe, expect, it } from 'vitest';
import { parseWorkerArgs } from '../../../services/cli/worker-command.js';
import { WORKER_DEFAULTS } from '../../../services/worker/worker-config.js';

const base = ['--id', 'w1', '--port', '1', '--data', '/tmp/d'];

describe('`pinbase worker` bounds flags', () => {
  it('default to the documented values', () => {
    const config = parseWorkerArgs(base);
    expect(config).toMatchObject({
      maxStreams: 4096,
      maxStreamsPerUser: 64,
      maxUserBytes: 1024 * 1024 * 1024,
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      maxTransactionBytes: 2 * WORKER_DEFAULTS.bodyLimit,
      maxPageBytes: 4 * 1024 * 1024,
      socketAuthTimeoutMs: 5000,
      objectCacheBytes: 32 * 1024 * 1024,
    });
  });

  it('take the stream caps, the quota (0: none), the object cache (0: none), the timeouts (the WebSocket auth window too), and a transaction budget of twice the body limit', () => {
    const config = parseWorkerArgs([
      ...base,
      '--max-streams', '10',
      '--max-streams-per-user', '2',
      '--max-user-bytes', '0',
      '--request-timeout', '5s',
      '--headers-timeout', '2s',
      '--body-limit', '65536',
      '--socket-auth-timeout', '750ms',
      '--object-cache', '0',
    ]);
    expect(config).toMatchObject({
      maxStreams: 10,
      maxStreamsPerUser: 2,
      maxUserBytes: 0,
      requestTimeoutMs: 5000,
      headersTimeoutMs: 2000,
      maxTransactionBytes: 131072,
      socketAuthTimeoutMs: 750,
      objectCacheBytes: 0,
    });
  });

  it('refuses a bad value with one line', () => {
    expect(() => parseWorkerArgs([...base, '--max-streams', '0'])).toThrow(/--max-streams/);
    expect(() => parseWorkerArgs([...base, '--request-timeout', 'soon'])).toThrow(/--request-timeout/);
    expect(() => parseWorkerArgs([...base, '--max-user-bytes', '-1'])).toThrow(/--max-user-bytes/);
    expect(() => parseWorkerArgs([...base, '--socket-auth-timeout', '10ms'])).toThrow(/--socket-auth-timeout/);
    expect(() => parseWorkerArgs([...base, '--object-cache', '32MiB'])).toThrow(/--object-cache/);
    expect(() => parseWorkerArgs([...base, '--request-timeout', '5s', '--headers-timeout', '6s'])).toThrow(/--headers-timeout/);
    expect(parseWorkerArgs([...base, '--request-timeout', '5s']).headersTimeoutMs).toBe(5000);
  });
});
