import { constants } from 'node:os';

/**
 * Signals that reach a long-running command (`pinbase worker`, `pinbase
 * router`) while it starts. Node's default for SIGHUP, SIGTERM and SIGINT is
 * to die at once, and a service installs its own handlers only once it
 * listens, a few hundred milliseconds after its process began: a topology
 * reload sent to every pidfile just after a restart (the Ansible topology
 * role, `systemctl reload`) killed a starting worker with exit 129.
 *
 * From before the command's modules load until the service has installed its
 * own handlers, these signals are held instead: a reload is done once the
 * service has started (the topology it read may already be out of date), a
 * stop signal stops it as soon as it has started (gracefully: nothing is in
 * flight yet), and a second stop signal exits at once (128 + its number, as
 * the default would have).
 */
interface HeldSignals {
  /** The first SIGTERM or SIGINT that arrived while starting. */
  stop?: NodeJS.Signals;
  /** Whether a SIGHUP arrived while starting. */
  reload: boolean;
}

interface Holding {
  held: HeldSignals;
  onStop: (signal: NodeJS.Signals) => void;
  onReload: () => void;
}

let holding: Holding | undefined;

/** Starts holding SIGHUP, SIGTERM and SIGINT; a no-op while already holding. */
export function holdStartupSignals(): void {
  if (holding !== undefined) return;
  const held: HeldSignals = { reload: false };
  const onStop = (signal: NodeJS.Signals) => {
    if (held.stop !== undefined) process.exit(128 + constants.signals[signal]);
    held.stop = signal;
  };
  const onReload = () => {
    held.reload = true;
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onReload);
  holding = { held, onStop, onReload };
}

/** What a started service does with a signal held while it started; an absent one is ignored. */
export interface StartedService {
  reload?: () => void;
  stop?: (signal: NodeJS.Signals) => void;
  log: { info: (fields: object, message: string) => void };
}

/**
 * Stops holding and does what arrived meanwhile: a SIGHUP's reload, then a
 * stop signal's stop (nothing when nothing was held, as for a service started
 * in-process). Call it in the same turn of the event loop as installing the
 * service's own handlers, so that no signal falls between the two.
 */
export function handOverStartupSignals(service: StartedService): void {
  if (holding === undefined) return;
  const { held, onStop, onReload } = holding;
  holding = undefined;
  process.off('SIGTERM', onStop);
  process.off('SIGINT', onStop);
  process.off('SIGHUP', onReload);
  if (held.reload && service.reload !== undefined) {
    service.log.info({ signal: 'SIGHUP' }, 'SIGHUP received while starting: topology reloaded');
    service.reload();
  }
  if (held.stop !== undefined) service.stop?.(held.stop);
}
