/**
 * The Ansible deployment scenarios, which run the playbooks for real
 * (minutes each): ansible-deploy.suite.ts (deploy, scale out and in, rolling
 * restart, secret rotation) and then ansible-glusterfs.suite.ts (the storage
 * role on a GlusterFS volume). One test file, so that vitest runs them one
 * after the other in one worker: two playbook runs at once on a 2-core machine
 * slow each other down, and in one file they never meet while the other worker
 * runs the rest of the suite beside them (vitest.config.ts starts this file
 * first). `npm test` runs part of each sequence, PINBASE_DEPLOY_SCENARIOS=all
 * all of it (ansible-runner.ts). One scenario alone:
 * `PINBASE_DEPLOY_SCENARIOS=all npx vitest run test/system/deploy/ansible-playbooks.test.ts -t glusterfs`.
 */
import './ansible-deploy.suite.js';
import './ansible-glusterfs.suite.js';
