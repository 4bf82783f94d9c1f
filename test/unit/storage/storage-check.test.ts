import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { glusterCaching, glusterClientArgs } from '../../../services/storage/glusterfs-client.js';
import { checkStorage, describeUnsafeStorage, nfsProblems, type StorageSources } from '../../../services/storage/storage-check.js';
import { parseMountinfo } from '../../../services/storage/mountinfo.js';
import * as captured from './captured-mounts.js';

function sources(mountinfo: string, clientArgs?: string[]): StorageSources {
  return { mountinfo: () => mountinfo, glusterClientArgs: () => clientArgs, realpath: (path) => path, platform: 'linux' };
}

const GLUSTER_DATA = '/tmp/pinbase-gluster-VXbjAk/mount1/data';

describe('storage check', () => {
  it('needs nothing on local file systems (ext4 root, tmpfs)', () => {
    expect(checkStorage('/srv/pinbase/data', sources(captured.MACHINE_MOUNTINFO))).toEqual({
      path: '/srv/pinbase/data',
      mountPoint: '/',
      fsType: 'ext4',
      source: '/dev/vda',
      kind: 'local',
      safe: true,
      problems: [],
      reason: undefined,
    });
    expect(checkStorage('/dev/shm/pinbase', sources(captured.MACHINE_MOUNTINFO))).toMatchObject({ kind: 'local', safe: true, fsType: 'tmpfs' });
  });

  it('accepts a GlusterFS mount whose client runs with attribute-timeout=0, entry-timeout=0, fopen-keep-cache=false', () => {
    const verdict = checkStorage(GLUSTER_DATA, sources(captured.MACHINE_MOUNTINFO, captured.GLUSTER_CLIENT_SAFE.slice(1)));
    expect(verdict).toMatchObject({ kind: 'glusterfs', safe: true, problems: [], mountPoint: '/tmp/pinbase-gluster-VXbjAk/mount1', source: 'vm:pinbase21608xmx4jj9yn' });
  });

  it('refuses a GlusterFS mount with the client\'s default caching, naming every missing option', () => {
    const verdict = checkStorage(GLUSTER_DATA, sources(captured.MACHINE_MOUNTINFO, captured.GLUSTER_CLIENT_DEFAULT.slice(1)));
    expect(verdict).toMatchObject({ kind: 'glusterfs', safe: false, problems: ['attribute-timeout=0 missing', 'entry-timeout=0 missing', 'fopen-keep-cache=false missing'] });
    expect(describeUnsafeStorage(verdict)).toBe(
      'unsafe storage for --data /tmp/pinbase-gluster-VXbjAk/mount1/data (fuse.glusterfs vm:pinbase21608xmx4jj9yn on /tmp/pinbase-gluster-VXbjAk/mount1): ' +
        'attribute-timeout=0 missing, entry-timeout=0 missing, fopen-keep-cache=false missing; the GlusterFS client caches attributes, entries or file contents across hosts',
    );
  });

  it('refuses a mount.glusterfs mount with the timeouts but without fopen-keep-cache=false', () => {
    const verdict = checkStorage(GLUSTER_DATA, sources(captured.MACHINE_MOUNTINFO, captured.GLUSTER_CLIENT_MOUNT_HELPER.slice(1)));
    expect(verdict).toMatchObject({ safe: false, problems: ['fopen-keep-cache=false missing'] });
  });

  it('refuses a GlusterFS mount whose client it cannot see', () => {
    const verdict = checkStorage(GLUSTER_DATA, sources(captured.MACHINE_MOUNTINFO, undefined));
    expect(verdict.safe).toBe(false);
    expect(verdict.reason).toMatch(/no glusterfs client process serving \/tmp\/pinbase-gluster-VXbjAk\/mount1 is visible/);
  });

  it('looks for the client of a bind-mounted GlusterFS directory under the mount it was made from', () => {
    const bind = `${captured.MACHINE_MOUNTINFO}\n80 27 0:40 /data /srv/pinbase rw,relatime - fuse.glusterfs vm:pinbase21608xmx4jj9yn rw,user_id=0,group_id=0,default_permissions,allow_other,max_read=131072`;
    let asked: readonly string[] = [];
    const verdict = checkStorage('/srv/pinbase', { ...sources(bind), glusterClientArgs: (points) => ((asked = points), captured.GLUSTER_CLIENT_SAFE.slice(1)) });
    expect(asked).toEqual(['/tmp/pinbase-gluster-VXbjAk/mount1', '/srv/pinbase']);
    expect(verdict).toMatchObject({ kind: 'glusterfs', safe: true, mountPoint: '/srv/pinbase' });
  });

  it('refuses when mountinfo cannot be read on Linux, and only warns on a platform that has none', () => {
    const missing = (): string => {
      throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    };
    expect(checkStorage('/srv/data', { ...sources(''), mountinfo: missing })).toMatchObject({ safe: false, kind: 'unknown', reason: 'cannot read /proc/self/mountinfo (ENOENT)' });
    expect(checkStorage('/Users/me/data', { ...sources(''), mountinfo: missing, platform: 'darwin' })).toMatchObject({
      safe: true,
      kind: 'unchecked',
      reason: 'no /proc/self/mountinfo on darwin: storage not checked',
    });
  });

  it('refuses file systems it does not know to be local (CIFS)', () => {
    const verdict = checkStorage('/srv/pinbase/data', sources(`${captured.MACHINE_MOUNTINFO}\n${captured.CIFS}`));
    expect(verdict).toMatchObject({ kind: 'unknown', safe: false, fsType: 'cifs' });
    expect(describeUnsafeStorage(verdict)).toMatch(/^unsafe storage for --data \/srv\/pinbase\/data \(cifs \/\/files.example.com\/pinbase on \/srv\/pinbase\); cifs is not a file system/);
  });
});

describe('NFS mount options', () => {
  const superOptions = (line: string) => parseMountinfo(line)[0]!.superOptions;

  it('accepts hard, actimeo=0 (or noac), lookupcache=none, local_lock=none', () => {
    expect(nfsProblems(superOptions(captured.NFS_SAFE))).toEqual([]);
    expect(nfsProblems(superOptions(captured.NFS_NOAC))).toEqual([]);
    expect(checkStorage('/srv/pinbase/data', sources(`${captured.MACHINE_MOUNTINFO}\n${captured.NFS_SAFE}`))).toMatchObject({ kind: 'nfs', safe: true });
  });

  it('refuses the default NFS mount: attribute and lookup caching', () => {
    expect(nfsProblems(superOptions(captured.NFS_DEFAULT))).toEqual(['actimeo=0 (or noac) missing', 'lookupcache=none missing']);
  });

  it('refuses soft, nolock, nocto and local locks', () => {
    expect(nfsProblems(superOptions(captured.NFS3_SOFT_NOLOCK))).toEqual(['soft (use hard)', 'nolock', 'local_lock=all (use local_lock=none)', 'nocto']);
    expect(nfsProblems(superOptions(captured.NFS_LOCAL_FLOCK))).toEqual(['local_lock=flock (use local_lock=none)']);
  });
});

describe('glusterfs client command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-proc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the caching flags in both of the client\'s argument forms; the last one wins', () => {
    expect(glusterCaching(captured.GLUSTER_CLIENT_SAFE.slice(1))).toEqual({ attributeTimeout: 0, entryTimeout: 0, negativeTimeout: undefined, fopenKeepCache: false });
    expect(glusterCaching(['--attribute-timeout', '0', '--entry-timeout', '0.0', '--fopen-keep-cache', '/mnt/g'])).toEqual({
      attributeTimeout: 0,
      entryTimeout: 0,
      negativeTimeout: undefined,
      fopenKeepCache: true,
    });
    expect(glusterCaching(['--attribute-timeout=0', '--attribute-timeout=1', '--fopen-keep-cache=off'])).toMatchObject({ attributeTimeout: 1, fopenKeepCache: false });
    expect(glusterCaching(['--entry-timeout=x']).entryTimeout).toBeNaN();
  });

  it('finds the client process by its mount point argument in a /proc tree', () => {
    const proc = (pid: string, argv: string[]) => {
      mkdirSync(join(dir, pid));
      writeFileSync(join(dir, pid, 'cmdline'), `${argv.join('\0')}\0`);
    };
    proc('10', ['/usr/sbin/glusterfsd', '-s', 'vm', '--brick-name', '/tmp/pinbase-gluster-VXbjAk/brick']);
    proc('11', ['glusterfs', '--volfile-server=vm', '--volfile-id=other', '/tmp/pinbase-gluster-VXbjAk/mount2']);
    proc('12', captured.GLUSTER_CLIENT_SAFE);
    mkdirSync(join(dir, 'self'));
    expect(glusterClientArgs(['/tmp/pinbase-gluster-VXbjAk/mount1/'], dir)).toEqual(captured.GLUSTER_CLIENT_SAFE.slice(1));
    expect(glusterClientArgs(['/tmp/pinbase-gluster-VXbjAk/brick'], dir)).toBeUndefined();
    expect(glusterClientArgs(['/mnt/elsewhere'], dir)).toBeUndefined();
  });
});
