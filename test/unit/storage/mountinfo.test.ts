import { describe, expect, it } from 'vitest';
import { mountFor, parseMountinfo, unescapeMountPath } from '../../../services/storage/mountinfo.js';
import { MACHINE_MOUNTINFO } from './captured-mounts.js';


describe('mountinfo', () => {
  it('reads every field of a line, optional fields (shared:1) included', () => {
    const entries = parseMountinfo(MACHINE_MOUNTINFO);
    expect(entries).toHaveLength(6);
    expect(entries[3]).toEqual({
      mountId: 46,
      parentId: 27,
      device: '254:0',
      root: '/run/netns',
      mountPoint: '/run/netns',
      mountOptions: ['rw', 'relatime'],
      fsType: 'ext4',
      source: '/dev/vda',
      superOptions: ['rw', 'discard', 'resv_strict', 'resuid=65534', 'resgid=65534'],
    });
    expect(entries[5]).toMatchObject({ fsType: 'fuse.glusterfs', source: 'vm:pinbase21608xmx4jj9yn', device: '0:40' });
  });

  it('skips lines it cannot read instead of guessing', () => {
    expect(parseMountinfo('garbage\n\n27 1 254:0 / / rw - ext4')).toEqual([]);
  });

  it('undoes the octal escapes of spaces, tabs, newlines and backslashes', () => {
    expect(unescapeMountPath('/srv/my\\040data\\011x\\012y\\134z')).toBe('/srv/my data\tx\ny\\z');
    const [entry] = parseMountinfo('60 27 0:50 / /mnt/pin\\040base rw - fuse.glusterfs g1:/pin\\040base rw,user_id=0');
    expect(entry?.mountPoint).toBe('/mnt/pin base');
    expect(mountFor([entry!], '/mnt/pin base/data')?.mountId).toBe(60);
  });

  it('finds the mount whose mount point is the longest whole-component prefix of the path', () => {
    const entries = parseMountinfo(MACHINE_MOUNTINFO);
    expect(mountFor(entries, '/tmp/pinbase-gluster-VXbjAk/mount1/data')?.fsType).toBe('fuse.glusterfs');
    expect(mountFor(entries, '/tmp/pinbase-gluster-VXbjAk/mount1')?.fsType).toBe('fuse.glusterfs');
    expect(mountFor(entries, '/tmp/pinbase-gluster-VXbjAk/mount10/data')?.fsType).toBe('ext4');
    expect(mountFor(entries, '/dev/shm/x')?.fsType).toBe('tmpfs');
    expect(mountFor(entries, '/srv/pinbase')?.mountPoint).toBe('/');
  });

  it('takes the last of several mounts on one mount point: it hides the ones before', () => {
    const entries = parseMountinfo(`${MACHINE_MOUNTINFO}\n70 47 0:60 / /tmp/pinbase-gluster-VXbjAk/mount1 rw - tmpfs tmpfs rw`);
    expect(mountFor(entries, '/tmp/pinbase-gluster-VXbjAk/mount1/data')?.fsType).toBe('tmpfs');
  });
});
