/**
 * Real mount descriptions for the storage check's tests.
 *
 * MACHINE_MOUNTINFO and the glusterfs command lines were captured on the CI
 * machine (Debian, GlusterFS 10.3): an ext4 root, tmpfs, a bind mount and a
 * GlusterFS FUSE mount. The FUSE line is the same with and without the
 * client's caching flags; those are only on the client's command line.
 *
 * There is no NFS server here: the NFS lines are in the format the kernel
 * prints them (fs/nfs/super.c, nfs_show_mount_options and friends), for
 * mounts made with the options named in each.
 */
export const MACHINE_MOUNTINFO = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683584k',
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534',
  '46 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534',
  '45 46 0:4 net:[4026532178] /run/netns/pbg21608n1 rw shared:2 - nsfs nsfs rw',
  '47 27 0:40 / /tmp/pinbase-gluster-VXbjAk/mount1 rw,relatime - fuse.glusterfs vm:pinbase21608xmx4jj9yn rw,user_id=0,group_id=0,default_permissions,allow_other,max_read=131072',
].join('\n');

/** The client of mount1 above, started with the caching flags (the `glusterfs` binary called directly). */
export const GLUSTER_CLIENT_SAFE = [
  'glusterfs',
  '--volfile-server=vm',
  '--volfile-id=pinbase21608xmx4jj9yn',
  '--fopen-keep-cache=false',
  '--attribute-timeout=0',
  '--entry-timeout=0',
  '--pid-file=/tmp/pinbase-gluster-VXbjAk/mount1.pid',
  '--log-file=/tmp/pinbase-gluster-VXbjAk/mount1.log',
  '/tmp/pinbase-gluster-VXbjAk/mount1',
];

/** The same mount with GlusterFS's defaults: no caching flag on the client's command line. */
export const GLUSTER_CLIENT_DEFAULT = ['glusterfs', '--volfile-server=vm', '--volfile-id=pinbase21608xmx4jj9yn', '-p', '/tmp/m1.pid', '-l', '/tmp/m1.log', '/tmp/pinbase-gluster-VXbjAk/mount1'];

/** As mount.glusterfs starts the client for `mount -t glusterfs -o attribute-timeout=0,entry-timeout=0 vm:/vol /tmp/pinbase-gluster-VXbjAk/mount1`. */
export const GLUSTER_CLIENT_MOUNT_HELPER = [
  '/usr/sbin/glusterfs',
  '--attribute-timeout=0',
  '--entry-timeout=0',
  '--process-name',
  'fuse',
  '--volfile-server=vm',
  '--volfile-id=/pinbase21608xmx4jj9yn',
  '/tmp/pinbase-gluster-VXbjAk/mount1',
];

const NFS_PREFIX = '60 27 0:52 / /srv/pinbase rw,relatime shared:30 -';

/** NFSv4.2 with the storage role's options: rw,hard,nfsvers=4.2,proto=tcp,actimeo=0,lookupcache=none. */
export const NFS_SAFE = `${NFS_PREFIX} nfs4 nfs1.example.com:/export/pinbase rw,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,acregmin=0,acregmax=0,acdirmin=0,acdirmax=0,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.0.0.2,lookupcache=none,local_lock=none,addr=10.0.0.1`;

/** NFSv4.2 with noac instead of actimeo=0 (the kernel also prints sync and the zero ac* values). */
export const NFS_NOAC = `60 27 0:52 / /srv/pinbase rw,sync,relatime shared:30 - nfs4 nfs1.example.com:/export/pinbase rw,sync,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,acregmin=0,acregmax=0,acdirmin=0,acdirmax=0,hard,noac,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.0.0.2,lookupcache=none,local_lock=none,addr=10.0.0.1`;

/** NFSv4.2 with the defaults (`mount nfs1:/export/pinbase /srv/pinbase`): attribute and lookup caching on. */
export const NFS_DEFAULT = `${NFS_PREFIX} nfs4 nfs1.example.com:/export/pinbase rw,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.0.0.2,local_lock=none,addr=10.0.0.1`;

/** NFSv3 with soft,nolock,nocto,actimeo=0 (nolock makes local_lock=all). */
export const NFS3_SOFT_NOLOCK = `${NFS_PREFIX} nfs 10.0.0.1:/export/pinbase rw,vers=3,rsize=1048576,wsize=1048576,namlen=255,acregmin=0,acregmax=0,acdirmin=0,acdirmax=0,soft,nocto,nolock,proto=tcp,timeo=600,retrans=2,sec=sys,mountaddr=10.0.0.1,mountvers=3,mountport=20048,mountproto=udp,lookupcache=none,local_lock=all,addr=10.0.0.1`;

/** NFSv4.2 with actimeo=0,lookupcache=none but local_lock=flock (flock() locks stay on this host). */
export const NFS_LOCAL_FLOCK = NFS_SAFE.replace('local_lock=none', 'local_lock=flock');

/** A CIFS share. */
export const CIFS = `${NFS_PREFIX} cifs //files.example.com/pinbase rw,vers=3.1.1,cache=strict,username=pinbase,uid=0,noforceuid,gid=0,noforcegid,addr=10.0.0.3,file_mode=0755,dir_mode=0755,soft,nounix,serverino,mapposix,rsize=4194304,wsize=4194304,bsize=1048576,echo_interval=60,actimeo=1`;
