import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { redactAccessToken, redactTokens, TOKEN_SAFE_LOGGING } from '../../../services/auth/token-redaction.js';

describe('token redaction', () => {
  it('replaces the access_token query parameter wherever it is, however its name is encoded', () => {
    expect(redactAccessToken('/api/users/a/_changes?access_token=eyJ.x.y&since=3')).toBe('/api/users/a/_changes?access_token=REDACTED&since=3');
    expect(redactAccessToken('/x?since=3&access_token=eyJ.x.y')).toBe('/x?since=3&access_token=REDACTED');
    expect(redactAccessToken('/x?access%5Ftoken=abc&ACCESS_TOKEN=def')).toBe('/x?access%5Ftoken=REDACTED&ACCESS_TOKEN=REDACTED');
    expect(redactAccessToken('/x?access_token=a&access_token=b')).toBe('/x?access_token=REDACTED&access_token=REDACTED');
    expect(redactAccessToken('GET /x?access_token=abc HTTP/1.1')).toBe('GET /x?access_token=REDACTED HTTP/1.1');
  });

  it('leaves other parameters and URLs without a query alone', () => {
    for (const url of ['/api/users/a/notes/n1', '/x?since=1&limit=2', '/x?my_access_token_note=1', '/x?%zz=1']) expect(redactAccessToken(url)).toBe(url);
  });

  it('replaces a credential after "Bearer" in any text', () => {
    expect(redactTokens('authorization: Bearer eyJhbGciOi.eyJzdWIi.sig-nat_ure and more')).toBe('authorization: Bearer REDACTED and more');
  });

  it('keeps tokens out of what a pino logger with these options writes', () => {
    let out = '';
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => ((out += chunk.toString()), done()) });
    const log = pino({ level: 'trace', ...TOKEN_SAFE_LOGGING }, sink);
    const parseError = Object.assign(new Error('Parse Error: Invalid header token'), {
      code: 'HPE_INVALID_HEADER_TOKEN',
      rawPacket: Buffer.from('GET /x?access_token=SECRET1 HTTP/1.1\r\n'),
    });
    log.trace({ err: parseError }, 'client error');
    log.info({ req: { method: 'GET', url: '/x?access_token=SECRET2', headers: { authorization: 'Bearer SECRET3' } } }, 'incoming');
    log.info('Route GET:/x?access_token=SECRET4 not found');
    log.child({ reqId: 1 }).warn({ err: new Error('failed for /x?access_token=SECRET5') }, 'Bearer SECRET6 rejected');
    expect(out).toContain('HPE_INVALID_HEADER_TOKEN');
    expect(out).toContain('access_token=REDACTED');
    expect(out).not.toMatch(/SECRET\d/);
    expect(out).not.toContain('rawPacket');
  });
});
