/* LD_PRELOAD shim for tests/privileged/test_fipd_stuck.py: makes one thread of the process unable
 * to leave a chosen network namespace, as a real setns(2) failure would.
 *
 *   FIP_TEST_STUCK_NETNS_INO  inode of the namespace (stat of /var/run/netns/NAME)
 *   FIP_TEST_STUCK_AT         which entry into it, counted over the whole process from 1, gets stuck
 *   FIP_TEST_STUCK_DELAY_MS   optional: wait this long before refusing the way back
 *
 * The thread that makes that entry gets EPERM from every later setns(2): it stays inside. Every
 * other thread and entry is untouched. bridge/nsenter.py calls setns through ctypes.CDLL(None),
 * which finds this definition first; pyroute2 binds libc directly and is not affected.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static __thread int stuck;
static int entries;

int setns(int fd, int nstype)
{
    static int (*real_setns)(int, int);
    if (!real_setns)
        real_setns = (int (*)(int, int))dlsym(RTLD_NEXT, "setns");
    if (stuck) {
        const char *delay = getenv("FIP_TEST_STUCK_DELAY_MS");
        if (delay)
            usleep((useconds_t)strtoul(delay, NULL, 10) * 1000);
        fprintf(stderr, "stuck_setns: refusing the way back out of the namespace\n");
        errno = EPERM;
        return -1;
    }
    int rc = real_setns(fd, nstype);
    const char *ino = getenv("FIP_TEST_STUCK_NETNS_INO");
    const char *at = getenv("FIP_TEST_STUCK_AT");
    struct stat st;
    if (rc == 0 && ino && at && fstat(fd, &st) == 0
        && (unsigned long long)st.st_ino == strtoull(ino, NULL, 10)
        && __atomic_add_fetch(&entries, 1, __ATOMIC_SEQ_CST) == atoi(at))
        stuck = 1;
    return rc;
}
