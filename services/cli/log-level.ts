import { CliError } from './command.js';

/** The levels `--log-level` takes (pino's, most severe first), for every subcommand. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** The `--log-level` value, or the default when absent; a CliError names the accepted levels. */
export function parseLogLevel(value: string | undefined): LogLevel {
  if (value === undefined) return DEFAULT_LOG_LEVEL;
  const level = LOG_LEVELS.find((known) => known === value);
  if (level === undefined) throw new CliError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
  return level;
}
