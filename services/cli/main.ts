#!/usr/bin/env node
/**
 * `pinbase <command>`: one module per subcommand, loaded on demand so that
 * `pinbase status` does not load SQLite and `pinbase worker` does not load
 * the router.
 */
import { CliError, type Command } from './command.js';
import { holdStartupSignals } from './startup-signals.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  up: { summary: 'run a local cluster: router + N workers (what `npm start` runs)', load: () => import('./up-command.js') },
  worker: { summary: 'run one worker that serves users\' SQLite partitions', load: () => import('./worker-command.js') },
  router: { summary: 'run the path-hashing router in front of the workers', load: () => import('./router-command.js') },
  status: { summary: 'print the cluster as a table, from the router\'s admin API', load: () => import('./status-command.js') },
  users: { summary: 'list the tenants on storage: owner, size, last seq, last write (paginated)', load: () => import('./users-command.js') },
  token: { summary: 'print a bearer token (JWT) for a user, signed with the cluster\'s secret', load: () => import('./token-command.js') },
  export: { summary: 'write one tenant\'s export (NDJSON or SQLite) to stdout or a file', load: () => import('./export-command.js') },
  import: { summary: 'import an export file into one tenant', load: () => import('./import-command.js') },
  backup: { summary: 'back up every tenant (--all) into a directory, resumable', load: () => import('./backup-command.js') },
  restore: { summary: 'import every tenant of a backup directory (--all)', load: () => import('./restore-command.js') },
};

/** The commands that run until they are stopped: their signals are held while they start. */
const SERVICES = new Set(['worker', 'router']);

/** Printed under every command's help. */
const CONFIGURATION_NOTE = `Durations: 500ms, 30s, 5m, 24h, 7d (a bare number is milliseconds).
Every flag can also be set in the environment: --max-open is PINBASE_MAX_OPEN, --cors-origin a comma list
in PINBASE_CORS_ORIGIN, a switch PINBASE_INSECURE=true. The command line wins over the environment,
which wins over the default.`;

function mainUsage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ['Usage: pinbase <command> [options]', '', 'Commands:', ...lines, '', 'Run `pinbase <command> --help` or `pinbase help <command>` for its options.', '', CONFIGURATION_NOTE].join('\n');
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest[0] !== undefined && !rest[0].startsWith('-')) {
    // `pinbase help <command>` is `pinbase <command> --help`.
    return main([rest[0], '--help']);
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainUsage()}\n`);
    return;
  }
  if (name === '--version' || name === '-v') {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) throw new CliError(`unknown command "${name}"; run \`pinbase --help\``);
  const help = rest.includes('--help') || rest.includes('-h');
  // A service's reload or stop signal while it loads and starts is held, not fatal (startup-signals.ts).
  if (SERVICES.has(name) && !help) holdStartupSignals();
  const command = await entry.load();
  if (help) {
    process.stdout.write(`${command.usage.replace(/\n\nDurations: [^\n]*$/, '')}\n\n${CONFIGURATION_NOTE}\n`);
    return;
  }
  await command.run(rest);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof CliError) {
    process.stderr.write(`pinbase: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`pinbase: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
