import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../support/temp-dir.js';
import { buildTestApp, type TestApp } from '../../support/test-store.js';

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  example?: unknown;
}
interface OpenApi {
  info: { title: string; description: string };
  paths: Record<string, Record<string, { parameters?: Parameter[] }>>;
}

/** The logo @fastify/swagger-ui shows unless told otherwise (fastify's), as its initializer script embeds it. */
const pluginDir = dirname(createRequire(import.meta.url).resolve('@fastify/swagger-ui'));
const DEFAULT_LOGO = readFileSync(join(pluginDir, 'static', 'logo.svg')).toString('base64');

describe('the OpenAPI document and Swagger UI at /docs', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let fixture: TestApp;
  let spec: OpenApi;
  beforeAll(async () => {
    dir = makeTempDir();
    fixture = await buildTestApp(dir.path, { docs: true });
    spec = (await fixture.app.inject({ url: '/docs/json' })).json();
  });
  afterAll(async () => {
    await fixture.close();
    dir.remove();
  });

  it('has Pinbase\'s title, and a description whose paths and placeholders are code (no "//" left by a swallowed <id>)', () => {
    expect(spec.info.title).toBe('Pinbase API');
    const prose = spec.info.description.replace(/`[^`]*`/g, '');
    expect(prose).not.toMatch(/[<>{}]/);
    expect(spec.info.description).not.toMatch(/\/\//);
    expect(spec.info.description).toContain('`/api/users/{userId}/`');
    expect(spec.info.description).toContain('router\'s own `/docs`');
  });

  it('sends the docs under a strict policy, and only the docs: an API answer carries none (the hook costs the data path nothing)', async () => {
    const page = await fixture.app.inject({ url: '/docs/' });
    const policy = String(page.headers['content-security-policy']);
    expect(policy).toMatch(/(^|; )script-src 'self'( 'sha256-[A-Za-z0-9+/]+=*')*(;|$)/);
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("style-src 'self' 'unsafe-inline'");
    expect(policy).not.toContain('upgrade-insecure-requests');
    expect(policy).not.toContain('validator.swagger.io');
    expect(policy).not.toContain('https:');
    const answer = await fixture.app.inject({ url: '/api/users/alice/notes' });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-security-policy']).toBeUndefined();
  });

  it('documents the JSON-pointer route with a named, described path parameter, and no {*}', () => {
    expect(Object.keys(spec.paths).filter((path) => path.includes('{*}'))).toEqual([]);
    const parameters = spec.paths['/api/users/{userId}/{collection}/{id}/{pointer}']?.get?.parameters ?? [];
    expect(parameters.find((p) => p.in === 'path' && p.name === 'pointer')).toMatchObject({
      required: true,
      example: 'address/city',
      description: expect.stringContaining('JSON pointer'),
    });
    expect(parameters.map((p) => p.name)).not.toContain('*');
  });

  it('serves the pointer route as documented: the pointer as path segments or percent-encoded', async () => {
    await fixture.app.inject({ method: 'PUT', url: '/api/users/alice/notes/n1', payload: { address: { city: 'Oslo' } } });
    for (const pointer of ['address/city', 'address%2Fcity']) {
      const res = await fixture.app.inject({ url: `/api/users/alice/notes/n1/${pointer}` });
      expect(res.body, pointer).toBe('"Oslo"');
    }
  });

  it('shows Swagger UI with Pinbase\'s title, icon and logo instead of fastify\'s', async () => {
    const page = await fixture.app.inject({ url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<title>Pinbase API</title>');
    expect(page.body).toContain('favicon.svg');
    expect(page.body).not.toContain('favicon-32x32.png');
    const init = await fixture.app.inject({ url: '/docs/static/swagger-initializer.js' });
    expect(init.statusCode).toBe(200);
    expect(init.body).toContain('data:image/svg+xml;base64,');
    expect(init.body).not.toContain(DEFAULT_LOGO);
    const logo = /data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)/.exec(init.body)![1]!;
    expect(Buffer.from(logo, 'base64').toString()).toContain('Pinbase');
    expect((await fixture.app.inject({ url: '/docs/static/theme/favicon.svg' })).statusCode).toBe(200);
  });
});
