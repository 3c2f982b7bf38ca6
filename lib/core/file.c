/* file.c - opening and reading the files libflp reads; see file.h. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/limits.h"

const char *flp__file_kind(mode_t mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO (named pipe)";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISLNK(mode))
        return "a symbolic link";
    return "not a regular file";
}

static flp_status not_regular(const char *path, mode_t mode)
{
    return flp__error(FLP_ERR_IO, "cannot read '%s': it is %s, not a regular file", path,
                      flp__file_kind(mode));
}

flp_status flp__open_regular(const char *path, int *fd, uint64_t *size)
{
    *fd = -1;
    *size = 0;
    /* stat first, so that a device is never even opened (opening some has
     * effects); then O_NONBLOCK, so that a FIFO put in its place since
     * cannot make open() wait for a writer, and fstat on what was opened. */
    struct stat sb;
    if (stat(path, &sb) != 0)
        return flp__error(FLP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return not_regular(path, sb.st_mode);
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0)
        return flp__error(FLP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(f, &sb) != 0) {
        int err = errno;
        close(f);
        return flp__error(FLP_ERR_IO, "cannot stat '%s': %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(f);
        return not_regular(path, sb.st_mode);
    }
    *fd = f;
    *size = (uint64_t)sb.st_size;
    return FLP_OK;
}

flp_status flp__fopen_regular(const char *path, FILE **f, uint64_t *size)
{
    int fd;
    uint64_t n;
    *f = NULL;
    FLP__TRY(flp__open_regular(path, &fd, &n));
    if (size != NULL)
        *size = n;
    *f = fdopen(fd, "rb");
    if (*f == NULL) {
        int err = errno;
        close(fd);
        return flp__error(err == ENOMEM ? FLP_ERR_NOMEM : FLP_ERR_IO, "cannot open '%s': %s", path,
                          strerror(err));
    }
    return FLP_OK;
}

flp_status flp__read_exact(int fd, const char *path, void *dst, size_t n)
{
    uint8_t *p = dst;
    while (n > 0) {
        ssize_t got = read(fd, p, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return flp__error(FLP_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
        if (got == 0)
            return flp__error(FLP_ERR_IO, "cannot read '%s': it became shorter while being read", path);
        p += got;
        n -= (size_t)got;
    }
    return FLP_OK;
}

flp_status flp__read_file(const char *path, flp_limit limit, const char *what, uint8_t **buf,
                          size_t *size)
{
    *buf = NULL;
    *size = 0;
    int fd;
    uint64_t n;
    FLP__TRY(flp__open_regular(path, &fd, &n));
    flp_status st = n > flp__limit(limit)
                        ? flp__limit_error(limit, "'%s' holds %llu bytes", path, (unsigned long long)n)
                        : FLP_OK;
    uint8_t *b = NULL;
    if (st == FLP_OK && (b = flp__alloc_bytes((size_t)n + 1, what)) == NULL)
        st = flp__error_context(FLP_ERR_NOMEM, "reading '%s'", path);
    if (st == FLP_OK)
        st = flp__read_exact(fd, path, b, (size_t)n);
    /* A file still growing would be read in part: refuse it too. */
    uint8_t extra;
    if (st == FLP_OK && read(fd, &extra, 1) > 0)
        st = flp__error(FLP_ERR_IO, "cannot read '%s': it grew while being read", path);
    close(fd);
    if (st != FLP_OK) {
        flp__free(b);
        return st;
    }
    b[n] = '\0';
    *buf = b;
    *size = (size_t)n;
    return FLP_OK;
}
