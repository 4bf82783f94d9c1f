import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatDuration, parseDuration } from '../worker/durations.js';

/** A subcommand module: `export const usage` and `export async function run`. */
export interface Command {
  readonly usage: string;
  run(argv: string[]): Promise<void>;
}

/** A configuration or usage error: printed as one line, exit code 2, no stack. */
export class CliError extends Error {
  override name = 'CliError';
}

type Options = NonNullable<ParseArgsConfig['options']>;
/** What parseArgs answers for `options` (spelled out so that the build can emit declarations). */
type ParsedCommandLine<T extends Options, P extends boolean> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: P }>>;

/** The environment variable of a flag: `--max-open` is `PINBASE_MAX_OPEN`. */
export function envName(flag: string): string {
  return `PINBASE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * The command line with every flag it does not give taken from the
 * environment: precedence is the command line, then `PINBASE_<FLAG>`, then
 * the default. A boolean variable is `true`/`1`/`yes` or `false`/`0`/`no`
 * (false leaves the flag off); a repeatable flag's variable is a comma list.
 */
export function withEnvironment(argv: readonly string[], options: Options, env: NodeJS.ProcessEnv = process.env): string[] {
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const given = new Set(tokens.filter((token) => token.kind === 'option').map((token) => token.name));
  const fromEnv: string[] = [];
  for (const [flag, option] of Object.entries(options)) {
    const value = env[envName(flag)];
    if (value === undefined || value === '' || given.has(flag) || flag === 'help') continue;
    if (option.type === 'boolean') {
      if (/^(true|1|yes)$/i.test(value)) fromEnv.push(`--${flag}`);
      else if (!/^(false|0|no)$/i.test(value)) throw new CliError(`${envName(flag)} must be true or false, got "${value}"`);
    } else if (option.multiple === true) {
      for (const item of value.split(',')) if (item.trim() !== '') fromEnv.push(`--${flag}=${item.trim()}`);
    } else {
      fromEnv.push(`--${flag}=${value}`);
    }
  }
  // Before the command line's own arguments, so that a `--` there still ends the options.
  return [...fromEnv, ...argv];
}

/** parseArgs with strict checking (flags from the environment too), turning its errors into one-line CliErrors. */
export function parseCommandArgs<T extends Options>(argv: string[], options: T): ParsedCommandLine<T, false>['values'] {
  try {
    return parseArgs({ args: withEnvironment(argv, options), options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

/** Like parseCommandArgs, for a command that also takes positional arguments. */
export function parseCommandLine<T extends Options>(argv: string[], options: T): ParsedCommandLine<T, true> {
  try {
    return parseArgs({ args: withEnvironment(argv, options), options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

/** Parses an integer option within [min, max]; `name` is the flag for messages. */
export function integerOption(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new CliError(`--${name} must be an integer, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new CliError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/**
 * Parses a duration option ("500ms", "30s", "5m", "24h", "7d", or a bare
 * number of milliseconds) within [min, max] ms; `name` is the flag for messages.
 */
export function durationOption(value: string | undefined, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined) throw new CliError(`--${name} must be a duration like 500ms, 30s, 5m or 24h, got "${value}"`);
  if (ms < min || ms > max) throw new CliError(`--${name} must be between ${formatDuration(min)} and ${formatDuration(max)}, got ${value}`);
  return ms;
}
