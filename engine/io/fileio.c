/* fileio.c - temp files, full writes and folder fsync for atomic saves. */
#include "fileio.h"
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tlm_file_open_temp(const char *path, const char *what, char **tmp, tlm_err *err)
{
    static atomic_uint counter;
    size_t n = strlen(path) + 48;
    char *name = malloc(n);
    if (!name)
        return tlm_errf(err, "%s %s: out of memory", what, path);
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(name, n, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp = name;
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    tlm_errf(err, "%s %s: cannot create temp file %s: %s", what, path, name, strerror(errno));
    free(name);
    return -1;
}

int tlm_file_write_all(int fd, const void *p, size_t n)
{
    const char *q = p;
    while (n) {
        ssize_t w = write(fd, q, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

int tlm_file_fsync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    if (rc && (errno == EINVAL || errno == EROFS))
        rc = 0;
    close(fd);
    return rc;
}
