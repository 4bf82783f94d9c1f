import { describe, expect, it } from 'vitest';
import { FLAGS as routerFlags, usage as routerUsage } from '../../../services/cli/router-command.js';
import { OPTIONS as workerFlags, usage as workerUsage } from '../../../services/cli/worker-command.js';

const commands = [
  { name: 'router', usage: routerUsage, flags: routerFlags },
  { name: 'worker', usage: workerUsage, flags: workerFlags },
];

describe('a service\'s --help', () => {
  for (const { name, usage, flags } of commands) {
    it(`of pinbase ${name} lists every flag it takes, each once`, () => {
      for (const flag of Object.keys(flags)) {
        const lines = usage.split('\n').filter((line) => new RegExp(`^\\s+(-\\w, )?--${flag}(\\s|$)`).test(line));
        expect(lines, `--${flag}`).toHaveLength(1);
      }
    });

    it(`of pinbase ${name} has only lines of help in it`, () => {
      expect(usage).not.toMatch(/^(<{7}|={7}|>{7})/m);
    });
  }
});
