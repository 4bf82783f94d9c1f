/**
 * Where and how Pinbase's processes log. pino writes JSON lines (one object
 * per event: `time` in epoch ms, numeric `level`, `name` = the process, e.g.
 * `w1` or `router`); on a terminal, the same events are printed as one
 * readable line each instead:
 *
 *   12:04:05.123 INFO  w1      worker listening at http://127.0.0.1:3601  durability=pipelined
 *
 * `--log-format auto` (the default) picks by whether stdout is a terminal,
 * `json` and `pretty` force one. `pinbase up` reads its processes' JSON
 * and prints it the way its own stdout wants (formatLogLine).
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { CliError } from './command.js';
import type { LogLevel } from './log-level.js';

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function parseLogFormat(value: string | undefined): LogFormat {
  if (value === undefined) return 'auto';
  const format = LOG_FORMATS.find((known) => known === value);
  if (format === undefined) throw new CliError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, got "${value}"`);
  return format;
}

/** Whether `format` prints readable lines on this process's stdout. */
export function isPretty(format: LogFormat, stream: { isTTY?: boolean } = process.stdout): boolean {
  return format === 'pretty' || (format === 'auto' && stream.isTTY === true);
}

/** A pino logger for the process `name` (`w1`, `router`), JSON or readable per `format`. */
export function createLogger(name: string, level: LogLevel, format: LogFormat, options: LoggerOptions = {}): Logger {
  const settings: LoggerOptions = { ...options, name, level, base: { pid: process.pid, ...options.base } };
  if (!isPretty(format)) return pino(settings);
  const colors = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  const destination: DestinationStream = {
    write(line: string) {
      process.stdout.write(`${formatLogText(line, colors)}\n`);
    },
  };
  return pino(settings, destination);
}

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: 'TRACE', color: '90' },
  20: { label: 'DEBUG', color: '36' },
  30: { label: 'INFO ', color: '32' },
  40: { label: 'WARN ', color: '33' },
  50: { label: 'ERROR', color: '31' },
  60: { label: 'FATAL', color: '35' },
};

/** Fields every line has, shown in the line's head rather than as key=value. */
const HEAD_FIELDS = new Set(['time', 'level', 'name', 'msg', 'pid', 'hostname', 'v']);

/**
 * One JSON log line as readable text; a line that is not a JSON object is
 * returned as it is, behind `fallbackName` when given (the process it came
 * from).
 */
export function formatLogText(line: string, colors = false, fallbackName?: string): string {
  let entry: Record<string, unknown> | undefined;
  if (line.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) entry = parsed as Record<string, unknown>;
    } catch {
      // not JSON: printed as it is
    }
  }
  if (entry === undefined) return fallbackName === undefined ? line : `${clock(Date.now())} ${'     '} ${fallbackName.padEnd(7)} ${line}`;
  return formatLogLine(entry, colors);
}

/** A pino log object as one readable line (and an error's stack on the lines after it). */
export function formatLogLine(entry: Record<string, unknown>, colors = false): string {
  const level = LEVELS[Number(entry.level)] ?? { label: String(entry.level).toUpperCase().padEnd(5).slice(0, 5), color: '0' };
  const paint = (code: string, text: string) => (colors ? `\u001b[${code}m${text}\u001b[0m` : text);
  const time = typeof entry.time === 'number' ? entry.time : Date.now();
  const name = typeof entry.name === 'string' ? entry.name : '';
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [key, value] of Object.entries(entry)) {
    if (HEAD_FIELDS.has(key) || value === undefined || (key === 'worker' && value === name)) continue;
    if (key === 'err' && value !== null && typeof value === 'object') {
      const error = value as { type?: string; message?: string; stack?: string; code?: string };
      fields.push(`err=${JSON.stringify(`${error.type ?? 'Error'}: ${error.message ?? ''}`)}`);
      if (error.code !== undefined) fields.push(`code=${error.code}`);
      stack = error.stack;
      continue;
    }
    fields.push(`${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`);
  }
  const message = typeof entry.msg === 'string' ? entry.msg : '';
  const head = `${paint('90', clock(time))} ${paint(level.color, level.label)} ${paint('1', name.padEnd(7))} ${message}`;
  const line = fields.length === 0 ? head : `${head}  ${paint('90', fields.join(' '))}`;
  return stack === undefined ? line : `${line}\n${stack.replace(/^/gm, '    ')}`;
}

function clock(epochMs: number): string {
  const date = new Date(epochMs);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
