/** Ports for the processes tests start: below the kernel's ephemeral range (bench/support/free-port.ts). */
export { freePort, freePortRange } from '../../bench/support/free-port.js';
