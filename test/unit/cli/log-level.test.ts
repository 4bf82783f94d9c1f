import { describe, expect, it } from 'vitest';
import { usage as routerUsage, parseRouterArgs } from '../../../services/cli/router-command.js';
import { LOG_LEVELS, parseLogLevel } from '../../../services/cli/log-level.js';
import { usage as workerUsage, parseWorkerArgs } from '../../../services/cli/worker-command.js';

describe('--log-level', () => {
  it('defaults to info and accepts every pino level', () => {
    expect(parseLogLevel(undefined)).toBe('info');
    for (const level of LOG_LEVELS) expect(parseLogLevel(level)).toBe(level);
  });

  it('is refused with one line naming every accepted level', () => {
    expect(() => parseLogLevel('verbose')).toThrow(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "verbose"`);
  });

  it('takes the same levels in `pinbase worker` and `pinbase router`, and both help texts list them all', () => {
    for (const level of LOG_LEVELS) {
      expect(parseWorkerArgs(['--id', 'w1', '--port', '1', '--data', '/tmp/d', '--log-level', level]).logLevel).toBe(level);
      expect(parseRouterArgs(['--topology', '/tmp/t.json', '--log-level', level]).logLevel).toBe(level);
    }
    for (const usage of [workerUsage, routerUsage]) expect(usage).toContain(LOG_LEVELS.join(', '));
  });
});
