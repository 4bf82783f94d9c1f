import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replyProblem } from '../../../router/problem-reply.js';
import { installProblemHandlers, sendProblem } from '../../../services/http/problem-reply.js';
import { ERROR_TABLE, retryAfterSeconds, type ErrorCode } from '../../../services/problem/error-table.js';
import { PinbaseError } from '../../../services/problem/pinbase-error.js';

const CODES = Object.keys(ERROR_TABLE) as ErrorCode[];

describe('Retry-After comes from the error table', () => {
  it('is set for every retryable code and for no other', () => {
    for (const code of CODES) {
      if (ERROR_TABLE[code].retryable) expect(retryAfterSeconds(code), code).toBeGreaterThanOrEqual(1);
      else expect(retryAfterSeconds(code), code).toBeUndefined();
    }
  });

  it('takes a row\'s own delay where it has one (a full disk waits longer)', () => {
    expect(retryAfterSeconds('insufficient_storage')).toBe(5);
    expect(retryAfterSeconds('partition_busy')).toBe(1);
  });
});

describe('the worker\'s and the router\'s problem writers agree on every code', () => {
  const app = Fastify({ logger: false });
  let raw: Server;
  let rawUrl = '';
  beforeAll(async () => {
    installProblemHandlers(app);
    app.get<{ Params: { code: ErrorCode } }>('/fastify/:code', async (request, reply) =>
      sendProblem(reply, new PinbaseError(request.params.code), request.url),
    );
    await app.ready();
    raw = createServer((req, res) => replyProblem(res, req.url!.slice(1) as ErrorCode, 'detail'));
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    rawUrl = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
    await new Promise((resolve) => raw.close(resolve));
  });

  it('sends the same status, code and Retry-After from fastify and from plain node:http', async () => {
    for (const code of CODES) {
      const viaFastify = await app.inject({ method: 'GET', url: `/fastify/${code}` });
      const viaRaw = await fetch(`${rawUrl}/${code}`);
      const expected = retryAfterSeconds(code);
      expect(viaFastify.statusCode, code).toBe(ERROR_TABLE[code].status);
      expect(viaRaw.status, code).toBe(ERROR_TABLE[code].status);
      expect(viaFastify.headers['content-type'], code).toMatch(/^application\/problem\+json/);
      expect(viaRaw.headers.get('content-type'), code).toMatch(/^application\/problem\+json/);
      expect(viaFastify.json().code, code).toBe(code);
      expect(((await viaRaw.json()) as { code: string }).code, code).toBe(code);
      expect(viaFastify.headers['retry-after'], code).toBe(expected === undefined ? undefined : String(expected));
      expect(viaRaw.headers.get('retry-after') ?? undefined, code).toBe(expected === undefined ? undefined : String(expected));
    }
  });
});
