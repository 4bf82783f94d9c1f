import { describe, expect, it } from 'vitest';
import { isRoutineProbe } from '../../../services/worker/worker-server.js';

describe('the request log', () => {
  it('leaves out probes and scrapes that found the worker well', () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect(isRoutineProbe(path, 200)).toBe(true);
      expect(isRoutineProbe(path, 304)).toBe(true);
    }
  });

  it('keeps a probe that failed, and every other request', () => {
    expect(isRoutineProbe('/readyz', 503)).toBe(false);
    expect(isRoutineProbe('/metrics', 401)).toBe(false);
    expect(isRoutineProbe('/healthz', 500)).toBe(false);
    expect(isRoutineProbe('/api/users/readyz/notes', 200)).toBe(false);
    expect(isRoutineProbe('/readyz/extra', 200)).toBe(false);
    expect(isRoutineProbe('/', 200)).toBe(false);
  });
});
