import { describe, expect, it } from 'vitest';
import { parseTopology, serializeTopology, TopologyError } from '../../../services/topology/topology.js';

const valid = { version: 7, workers: [{ id: 'w1', url: 'http://127.0.0.1:3601' }, { id: 'w2', url: 'http://127.0.0.1:3602/' }] };

function rejects(doc: unknown): string {
  try {
    parseTopology(typeof doc === 'string' ? doc : JSON.stringify(doc));
  } catch (error) {
    expect(error).toBeInstanceOf(TopologyError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected the topology to be rejected');
}

describe('parseTopology', () => {
  it('accepts the contract format and normalizes urls to their origin', () => {
    expect(parseTopology(JSON.stringify(valid))).toEqual({
      version: 7,
      workers: [{ id: 'w1', url: 'http://127.0.0.1:3601' }, { id: 'w2', url: 'http://127.0.0.1:3602' }],
    });
  });

  it('round-trips through serializeTopology', () => {
    const topology = parseTopology(JSON.stringify(valid));
    expect(parseTopology(serializeTopology(topology))).toEqual(topology);
  });

  it.each([
    ['text that is not JSON', '{"version": 1,', /not valid JSON/],
    ['an array', [], /JSON object/],
    ['a missing version', { workers: valid.workers }, /"version"/],
    ['a negative version', { ...valid, version: -1 }, /"version"/],
    ['a fractional version', { ...valid, version: 1.5 }, /"version"/],
    ['no workers', { version: 1, workers: [] }, /non-empty array/],
    ['a worker that is not an object', { version: 1, workers: ['w1'] }, /workers\[0\] must be an object/],
    ['a bad worker id', { version: 1, workers: [{ id: 'w 1', url: 'http://127.0.0.1:1' }] }, /workers\[0\]\.id/],
    ['a duplicate id', { version: 1, workers: [{ id: 'w1', url: 'http://127.0.0.1:1' }, { id: 'w1', url: 'http://127.0.0.1:2' }] }, /listed twice/],
    ['a duplicate url', { version: 1, workers: [{ id: 'w1', url: 'http://127.0.0.1:1' }, { id: 'w2', url: 'http://127.0.0.1:1/' }] }, /listed twice/],
    ['a url that is not a URL', { version: 1, workers: [{ id: 'w1', url: 'localhost:1' }] }, /http/],
    ['a non-http url', { version: 1, workers: [{ id: 'w1', url: 'ftp://127.0.0.1:1' }] }, /http:\/\//],
    ['a url with a path', { version: 1, workers: [{ id: 'w1', url: 'http://127.0.0.1:1/api' }] }, /path, query or fragment/],
  ])('rejects %s with one clear line', (_name, doc, pattern) => {
    expect(rejects(doc)).toMatch(pattern);
  });
});
