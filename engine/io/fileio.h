/* fileio.h - the pieces of an atomic file write shared by every writer
 * (checkpoints, safetensors, packed models): a fresh temp file beside the
 * target, a full write, and the fsync of the folder after the rename. */
#ifndef TLM_FILEIO_H
#define TLM_FILEIO_H
#include <stddef.h>
#include "../core/err.h"

/* Create a new temp file next to path ("path.tmp.PID.N", O_EXCL, mode 0666
 * less the umask); returns its fd and sets *tmp to its malloc'ed name. On
 * failure -1 with err "WHAT path: cannot create temp file ...". */
int tlm_file_open_temp(const char *path, const char *what, char **tmp, tlm_err *err);

/* Write all n bytes (retrying short writes and EINTR); 0 or -1 with errno. */
int tlm_file_write_all(int fd, const void *p, size_t n);

/* fsync the folder holding path so a rename into it is durable; folders that
 * cannot be synced (EINVAL, EROFS) count as done. 0 or -1 with errno. */
int tlm_file_fsync_dir(const char *path);

#endif
