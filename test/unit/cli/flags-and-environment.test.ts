import { afterEach, describe, expect, it } from 'vitest';
import { durationOption, envName, withEnvironment } from '../../../services/cli/command.js';
import { parseRouterArgs } from '../../../services/cli/router-command.js';
import { parseWorkerArgs } from '../../../services/cli/worker-command.js';
import { formatDuration } from '../../../services/worker/durations.js';

const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (key.startsWith('PINBASE_') && !(key in saved)) delete process.env[key];
});

describe('flags from the environment', () => {
  it('names a flag\'s variable PINBASE_ and the flag in capitals with underscores', () => {
    expect(envName('max-open')).toBe('PINBASE_MAX_OPEN');
    expect(envName('port')).toBe('PINBASE_PORT');
  });

  it('takes a flag the command line does not give from the environment, and the command line wins', () => {
    process.env.PINBASE_PORT = '3700';
    process.env.PINBASE_MAX_OPEN = '123';
    process.env.PINBASE_IDLE_CLOSE = '2m';
    const config = parseWorkerArgs(['--id', 'w1', '--data', '/tmp/x', '--max-open', '50']);
    expect(config.port).toBe(3700);
    expect(config.maxOpen).toBe(50);
    expect(config.idleCloseMs).toBe(120_000);
  });

  it('reads a switch as true/1/yes or false/0/no, a repeatable flag as a comma list, and refuses anything else', () => {
    const options = { insecure: { type: 'boolean' }, 'cors-origin': { type: 'string', multiple: true } } as const;
    expect(withEnvironment([], options, { PINBASE_INSECURE: 'yes', PINBASE_CORS_ORIGIN: 'http://a.test, http://b.test' })).toEqual([
      '--insecure',
      '--cors-origin=http://a.test',
      '--cors-origin=http://b.test',
    ]);
    expect(withEnvironment([], options, { PINBASE_INSECURE: 'false' })).toEqual([]);
    expect(() => withEnvironment([], options, { PINBASE_INSECURE: 'maybe' })).toThrow('PINBASE_INSECURE must be true or false, got "maybe"');
    // Given on the command line (even by its short name): the variable is not read.
    expect(withEnvironment(['--cors-origin', 'http://c.test'], options, { PINBASE_CORS_ORIGIN: 'http://a.test' })).toEqual(['--cors-origin', 'http://c.test']);
  });

  it('accepts the short flags of the common options', () => {
    const { options } = parseRouterArgs(['-t', '/tmp/topology.json', '-p', '9090']);
    expect(options).toMatchObject({ topologyPath: '/tmp/topology.json', port: 9090 });
    expect(parseWorkerArgs(['--id', 'w1', '-d', '/tmp/y', '-p', '3601']).port).toBe(3601);
  });
});

describe('one duration syntax everywhere', () => {
  it('reads 500ms, 30s, 5m and a bare number of milliseconds, within bounds', () => {
    expect(durationOption('500ms', 'x', 0, 0)).toBe(500);
    expect(durationOption('30s', 'x', 0, 0)).toBe(30_000);
    expect(durationOption('5m', 'x', 0, 0)).toBe(300_000);
    expect(durationOption('250', 'x', 0, 0)).toBe(250);
    expect(() => durationOption('soon', 'probe-interval', 0, 0)).toThrow('--probe-interval must be a duration like 500ms, 30s, 5m or 24h, got "soon"');
    expect(() => durationOption('10ms', 'probe-interval', 0, 50, 600_000)).toThrow('--probe-interval must be between 50ms and 10m, got 10ms');
  });

  it('takes the router\'s timeouts as durations, as the worker does', () => {
    const { options } = parseRouterArgs(['--topology', '/tmp/t.json', '--request-timeout', '45s', '--probe-interval', '250ms', '--upstream-timeout', '1m']);
    expect(options).toMatchObject({ clientRequestTimeoutMs: 45_000, probeIntervalMs: 250, headersTimeoutMs: 60_000 });
    expect(parseWorkerArgs(['--id', 'w1', '--port', '3601', '--data', '/tmp/z', '--request-timeout', '45s']).requestTimeoutMs).toBe(45_000);
  });

  it('prints durations the way they are read back', () => {
    expect([30_000, 1500, 300_000, 86_400_000, 0].map(formatDuration)).toEqual(['30s', '1500ms', '5m', '1d', '0ms']);
  });
});
