import { describe, expect, it } from 'vitest';
import { parseRouterArgs } from '../../../services/cli/router-command.js';
import { CliError } from '../../../services/cli/command.js';
import { DEFAULT_ROUTER_OPTIONS } from '../../../router/router-options.js';

describe('pinbase router flags', () => {
  it('uses the documented defaults', () => {
    const { options, processes } = parseRouterArgs(['--topology', 't.json']);
    expect(processes).toBe(1);
    expect(options).toEqual({ ...DEFAULT_ROUTER_OPTIONS, topologyPath: 't.json' });
    expect(options).toMatchObject({ port: 8080, bodyLimitBytes: 1048576, probeIntervalMs: 500, probeTimeoutMs: 1000, fall: 2, rise: 2 });
    expect(options).toMatchObject({
      maxStreamsPerWorker: 4096, maxStreamsPerUser: 16, maxStreamsPerClient: 64, maxConnections: 10_000, maxConnectionsPerClient: 256,
      clientRequestTimeoutMs: 30_000, clientHeadersTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000,
    });
  });

  it('reads every option', () => {
    const { options, processes } = parseRouterArgs([
      '--topology', 't.json', '--port', '9000', '--processes', '2', '--body-limit', '2048', '--max-in-flight-per-worker', '10',
      '--max-in-flight-per-user', '3', '--probe-interval', '100', '--probe-timeout', '50', '--fall', '3', '--rise', '4',
      '--connect-timeout', '200', '--upstream-timeout', '5000', '--max-attempts', '2', '--max-streams-per-worker', '100',
      '--max-streams-per-user', '4', '--max-streams-per-client', '8', '--max-connections', '500', '--max-connections-per-client', '20',
      '--request-timeout', '20000', '--headers-timeout', '4000', '--keep-alive-timeout', '2000',
      '--cors-origin', 'https://app.example.com,http://localhost:5173', '--cors-origin', 'https://app.example.com',
    ]);
    expect(processes).toBe(2);
    expect(options).toMatchObject({
      port: 9000, bodyLimitBytes: 2048, maxInFlightPerWorker: 10, maxInFlightPerUser: 3, probeIntervalMs: 100,
      probeTimeoutMs: 50, fall: 3, rise: 4, connectTimeoutMs: 200, headersTimeoutMs: 5000, maxAttempts: 2,
      maxStreamsPerWorker: 100, maxStreamsPerUser: 4, maxStreamsPerClient: 8, maxConnections: 500, maxConnectionsPerClient: 20,
      clientRequestTimeoutMs: 20000, clientHeadersTimeoutMs: 4000, keepAliveTimeoutMs: 2000,
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
    });
  });

  it.each([
    [[], /--topology FILE is required/],
    [['--topology', 't', '--port', 'x'], /--port must be an integer/],
    [['--topology', 't', '--processes', '0'], /--processes must be between 1 and 64/],
    [['--topology', 't', '--bogus'], /Unknown option '--bogus'/],
    [['--topology', 't', '--log-level', 'loud'], /--log-level must be one of/],
    [['--topology', 't', '--headers-timeout', '20000', '--request-timeout', '10000'], /--headers-timeout \(20000\) must not exceed --request-timeout/],
    [['--topology', 't', '--max-streams-per-user', '0'], /--max-streams-per-user must be between 1 and/],
    [['--topology', 't', '--cors-origin', 'https://app.example.com/'], /--cors-origin "https:\/\/app.example.com\/" is not an origin/],
  ])('refuses %j with one clear line', (argv, message) => {
    let error: unknown;
    try {
      parseRouterArgs(argv);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});
