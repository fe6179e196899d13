/* fail_write.c - an LD_PRELOAD fault injector for tests/faults.sh. It acts only
 * on files whose path contains $TLM_FAULT_MATCH (default ".tlmc", which also
 * matches the "X.tlmc.tmp.PID.N" temp files of an atomic save):
 *   TLM_FAULT_WRITE_AFTER=N  after N bytes written to such files, write() and
 *                            pwrite() fail with ENOSPC (a full file system);
 *   TLM_FAULT_KILL_AFTER=N   after N bytes, the process SIGKILLs itself (a
 *                            kill -9 in the middle of a save);
 *   TLM_FAULT_FSYNC=1        fsync() and fdatasync() fail with EIO;
 *   TLM_FAULT_KILL_AT=rename SIGKILL just before renaming onto such a path;
 *   TLM_FAULT_KILL_AT=renamed  SIGKILL just after that rename succeeded (before
 *                            the folder's fsync). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long long written;

static long long env_ll(const char *k)
{
    const char *v = getenv(k);
    return v && *v ? atoll(v) : -1;
}

static int matches_path(const char *p)
{
    const char *m = getenv("TLM_FAULT_MATCH");
    return p && strstr(p, m && *m ? m : ".tlmc") != NULL;
}

static int matches_fd(int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = 0;
    return matches_path(path);
}

/* How many of n bytes may go to fd now; 0 with errno set means fail. */
static size_t allow(int fd, size_t n)
{
    if (!n || !matches_fd(fd))
        return n;
    long long kill_after = env_ll("TLM_FAULT_KILL_AFTER"), fail_after = env_ll("TLM_FAULT_WRITE_AFTER");
    if (kill_after >= 0 && written + n > (unsigned long long)kill_after)
        raise(SIGKILL);
    if (fail_after >= 0 && written + n > (unsigned long long)fail_after) {
        size_t room = written < (unsigned long long)fail_after ? (size_t)(fail_after - written) : 0;
        if (!room)
            errno = ENOSPC;
        n = room;
    }
    written += n;
    return n;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    size_t k = allow(fd, n);
    if (n && !k)
        return -1;
    return real(fd, buf, k);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    size_t k = allow(fd, n);
    if (n && !k)
        return -1;
    return real(fd, buf, k, off);
}

static int fsync_fault(int fd)
{
    if (env_ll("TLM_FAULT_FSYNC") == 1 && matches_fd(fd)) {
        errno = EIO;
        return 1;
    }
    return 0;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return fsync_fault(fd) ? -1 : real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return fsync_fault(fd) ? -1 : real(fd);
}

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    if (!real)
        real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    const char *at = getenv("TLM_FAULT_KILL_AT");
    int hit = at && matches_path(to);
    if (hit && !strcmp(at, "rename"))
        raise(SIGKILL);
    int rc = real(from, to);
    if (hit && rc == 0 && !strcmp(at, "renamed"))
        raise(SIGKILL);
    return rc;
}
