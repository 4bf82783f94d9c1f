import { describe, expect, it } from 'vitest';
import { formatLogLine, formatLogText, isPretty } from '../../../services/cli/log-output.js';

const at = new Date(2026, 11, 1, 12, 4, 5, 123).getTime();

describe('readable log lines', () => {
  it('print time, level, process name and message, then the other fields as key=value', () => {
    const line = formatLogLine({ level: 30, time: at, pid: 7, name: 'w1', worker: 'w1', method: 'GET', path: '/api/users/bob/notes/x', status: 404, ms: 1.2, msg: 'request' });
    expect(line).toBe('12:04:05.123 INFO  w1      request  method=GET path=/api/users/bob/notes/x status=404 ms=1.2');
  });

  it('quote values with spaces, show an error\'s type and message, and its stack indented below', () => {
    const line = formatLogLine({ level: 50, time: at, name: 'router', msg: 'probe failed', reason: 'connect refused', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' } });
    expect(line.split('\n')).toEqual(['12:04:05.123 ERROR router  probe failed  reason="connect refused" err="Error: boom"', '    Error: boom', '        at x']);
  });

  it('leave a line that is not a JSON log line as it is, behind the process that printed it', () => {
    expect(formatLogText('pinbase: cannot listen on 127.0.0.1:3601: EADDRINUSE', false, 'w2')).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {7}w2 {6}pinbase: cannot listen/);
    expect(formatLogText('{"level":40,"time":' + at + ',"name":"w2","msg":"lease lost"}')).toBe('12:04:05.123 WARN  w2      lease lost');
  });

  it('are chosen on a terminal (auto) or when asked (pretty), JSON otherwise', () => {
    expect(isPretty('auto', { isTTY: true })).toBe(true);
    expect(isPretty('auto', { isTTY: false })).toBe(false);
    expect(isPretty('json', { isTTY: true })).toBe(false);
    expect(isPretty('pretty', { isTTY: false })).toBe(true);
  });
});
