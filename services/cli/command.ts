import { parseArgs, type ParseArgsConfig } from 'node:util';

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

/** parseArgs with strict checking, turning its errors into one-line CliErrors. */
export function parseCommandArgs<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

/** Like parseCommandArgs, for a command that also takes positional arguments. */
export function parseCommandLine<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
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
