// Forked by placement.test.ts: computes owners in a separate process.
import { Placement } from '../../../services/topology/placement.js';

const placement = new Placement(['w1', 'w2', 'w3']);
const owners = Array.from({ length: 1000 }, (_, i) => placement.owner(`user-${i}`)!);
process.send!(owners, () => process.disconnect());
