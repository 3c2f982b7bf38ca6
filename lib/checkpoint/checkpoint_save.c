/* checkpoint_save.c - writing checkpoint files (layout in
 * checkpoint_format.h).
 *
 * The file is written beside its target and renamed over it, so that a
 * crash leaves either the old file or the new one, never a mix:
 *   - the target is resolved first: a symbolic link is followed (the file
 *     it points to is replaced, the link stays), and anything but a regular
 *     file or a missing path (a device, a FIFO, a directory) is refused;
 *   - where the kernel and the file system offer O_TMPFILE, the data goes
 *     into an unnamed file of the target's folder, which a kill during the
 *     write leaves nowhere; it gets a name (linkat) only once complete and
 *     synced, then is renamed over the target. Elsewhere it is written to a
 *     named temporary file, created exclusively;
 *   - temporary names are TARGET.tmp.PID.N (N counts this process's saves),
 *     so that threads and processes saving to one path never share one; a
 *     kill between creating it and the rename can leave it behind, and
 *     libflp never removes another process's (it cannot tell a dead writer
 *     from a live one);
 *   - every error path removes what this save created.
 * Before anything is written, the state is checked the way the loader will
 * check it: non-finite parameters or moments are refused (FLP_ERR_NONFINITE),
 * so that no checkpoint is written that its loader would refuse. */
#define _GNU_SOURCE /* O_TMPFILE, linkat's AT_SYMLINK_FOLLOW */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/keys.h"
#include "checkpoint/checkpoint_config.h"
#include "checkpoint/checkpoint_file.h"
#include "checkpoint/checkpoint_format.h"
#include "meta/meta_internal.h"
#include "tasks/sampler_internal.h"

/* A byte sink that either counts (f == NULL: sizing a section before its
 * header is written) or writes while updating a CRC. The first write error
 * is kept and reported once at the end. */
typedef struct {
    FILE *f;
    uint64_t bytes;
    uLong crc;
    int err;   /* errno of the first failed write, 0 if none */
} flp__writer;

static void flp__put(flp__writer *w, const void *p, size_t n)
{
    w->bytes += n;
    if (w->f == NULL || w->err != 0)
        return;
    w->crc = crc32_z(w->crc, p, n);
    if (fwrite(p, 1, n, w->f) != n)
        w->err = errno != 0 ? errno : EIO;
}

static void flp__put_u32(flp__writer *w, uint32_t x) { flp__put(w, &x, sizeof x); }
static void flp__put_i32(flp__writer *w, int32_t x) { flp__put(w, &x, sizeof x); }
static void flp__put_i64(flp__writer *w, int64_t x) { flp__put(w, &x, sizeof x); }
static void flp__put_f64(flp__writer *w, double x) { flp__put(w, &x, sizeof x); }

/* What the section writers need. */
typedef struct {
    const flp_meta *meta;
    const char *config;         /* flp__ckpt_describe's text */
    size_t config_len;
    const flp__tensor_list *views;
    const char *kind;           /* NULL: no sampler section */
    const uint8_t *state;
    int64_t state_size;
} flp__save_ctx;

static void flp__write_config(flp__writer *w, const flp__save_ctx *c)
{
    flp__put_f64(w, 1.0);
    flp__put_u32(w, (uint32_t)c->config_len);
    flp__put(w, c->config, c->config_len);
}

static void flp__write_optimizer(flp__writer *w, const flp__save_ctx *c)
{
    const flp_meta *meta = c->meta;
    flp__put_u32(w, (uint32_t)flp__meta_keys.n);
    for (int i = 0; i < flp__meta_keys.n; i++) {
        const flp__key *k = &flp__meta_keys.keys[i];
        double v = flp__meta_setting(&meta->adam, k->value);
        if (k->type == FLP__KEY_REAL)
            flp__put_f64(w, v);
        else
            flp__put_i32(w, (int32_t)v);
    }
    flp__put_i64(w, meta->step);
    flp__put_u32(w, FLP_GROUP_COUNT);
    for (int g = 0; g < FLP_GROUP_COUNT; g++) {
        const flp__group_schedule *gs = &meta->sched.group[g];
        flp__put_f64(w, gs->base_lr);
        flp__put_i32(w, gs->frozen);
        flp__put_f64(w, gs->decay_factor);
        flp__put_i32(w, gs->n_milestones);
        for (int i = 0; i < FLP__MAX_MILESTONES; i++)
            flp__put_i64(w, gs->milestones[i]);
    }
}

static void flp__write_tensors(flp__writer *w, const flp__save_ctx *c)
{
    flp__put_u32(w, (uint32_t)c->views->n);
    int64_t offset = 0;
    for (int i = 0; i < c->views->n; i++) {
        const flp__tensor *t = &c->views->items[i];
        char name[FLP__CKPT_NAME_SIZE] = {0};
        memcpy(name, t->name, strlen(t->name)); /* the padding stays NUL */
        size_t bytes = (size_t)t->count * sizeof(float);
        flp__put(w, name, sizeof name);
        flp__put_i32(w, t->group);
        flp__put_i64(w, t->count);
        flp__put(w, t->value, bytes);
        flp__put(w, flp__meta_m(c->meta, offset), bytes);
        flp__put(w, flp__meta_v(c->meta, offset), bytes);
        offset += t->count;
    }
}

static void flp__write_sampler(flp__writer *w, const flp__save_ctx *c)
{
    flp__put_u32(w, (uint32_t)strlen(c->kind));
    flp__put(w, c->kind, strlen(c->kind));
    flp__put_i64(w, c->state_size);
    flp__put(w, c->state, (size_t)c->state_size);
}

static void flp__write_end(flp__writer *w, const flp__save_ctx *c)
{
    (void)w;
    (void)c;
}

typedef void (*flp__section_writer)(flp__writer *w, const flp__save_ctx *c);

static const flp__section_writer flp__sec_writer[FLP__SEC_COUNT] = {
    flp__write_config, flp__write_optimizer, flp__write_tensors, flp__write_sampler,
    flp__write_end};

/* One section: size it with a counting pass, then tag, length, payload, CRC. */
static int flp__write_section(FILE *f, flp__section sec, const flp__save_ctx *c)
{
    flp__writer count = {.f = NULL};
    flp__sec_writer[sec](&count, c);
    flp__writer w = {.f = f, .crc = crc32_z(0L, Z_NULL, 0)};
    uint64_t len = count.bytes;
    flp__put(&w, flp__sec_tag[sec], 4);
    flp__put(&w, &len, sizeof len);
    flp__sec_writer[sec](&w, c);
    uint32_t crc = (uint32_t)w.crc;
    flp__put(&w, &crc, sizeof crc);
    return w.err;
}

static void flp__make_header(uint8_t h[FLP__CKPT_HEADER_SIZE])
{
    const uint32_t fields[3] = {FLP__CKPT_FORMAT, flp_version_number(), FLP__CKPT_BYTE_ORDER};
    const float one = 1.0f;
    memcpy(h, FLP__CKPT_MAGIC, FLP__CKPT_MAGIC_SIZE);
    memcpy(h + 8, fields, 12);
    memcpy(h + 20, &one, 4);
    uint32_t crc = (uint32_t)crc32_z(0L, h, 24);
    memcpy(h + 24, &crc, 4);
}

/* Header and every section; returns errno of the first failed write. */
static int flp__write_file(FILE *f, const flp__save_ctx *c)
{
    uint8_t header[FLP__CKPT_HEADER_SIZE];
    flp__make_header(header);
    if (fwrite(header, 1, sizeof header, f) != sizeof header)
        return errno != 0 ? errno : EIO;
    for (int s = 0; s < FLP__SEC_COUNT; s++) {
        if (s == FLP__SEC_SAMPLER && c->kind == NULL)
            continue;
        int err = flp__write_section(f, (flp__section)s, c);
        if (err != 0)
            return err;
    }
    return 0;
}

static flp_status flp__io_error(const char *fn, const char *what, const char *path, int err)
{
    return flp__error(FLP_ERR_IO, "%s: cannot %s '%s': %s", fn, what, path, strerror(err));
}

/* The folder holding `target` ("." for a bare name), into dir[size]. */
static void flp__dir_of(const char *target, char *dir, size_t size)
{
    const char *slash = strrchr(target, '/');
    if (slash == NULL)
        snprintf(dir, size, ".");
    else
        snprintf(dir, size, "%.*s", slash == target ? 1 : (int)(slash - target), target);
}

/* Make the rename durable: sync the folder holding `target`. File systems
 * that cannot sync a folder (EINVAL) offer nothing more to do. */
static flp_status flp__sync_dir(const char *target, const char *fn)
{
    size_t n = strlen(target) + 2;
    char *dir = flp__alloc_bytes(n, "directory name");
    if (dir == NULL)
        return FLP_ERR_NOMEM;
    flp__dir_of(target, dir, n);
    flp_status st = FLP_OK;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = flp__io_error(fn, "open the directory", dir, errno);
    } else {
        int rc = fsync(fd), err = errno;
        close(fd);
        if (rc != 0 && err != EINVAL)
            st = flp__io_error(fn, "sync the directory", dir, err);
    }
    flp__free(dir);
    return st;
}

/* ---- what a save would write must load ------------------------------------ */

int64_t flp__ckpt_bad_float(const void *bytes, int64_t count, int nonneg)
{
    const uint8_t *p = bytes;
    for (int64_t i = 0; i < count; i++) {
        float x;
        memcpy(&x, p + 4 * i, 4);
        if (!isfinite(x) || (nonneg && x < 0))
            return i;
    }
    return -1;
}

/* The loader refuses non-finite values and moments (and negative second
 * moments): refuse to write them, naming the first. */
static flp_status flp__check_values(const flp__save_ctx *c, const char *fn)
{
    int64_t offset = 0;
    for (int i = 0; i < c->views->n; i++) {
        const flp__tensor *t = &c->views->items[i];
        const float *arrays[3] = {t->value, flp__meta_m(c->meta, offset), flp__meta_v(c->meta, offset)};
        static const char *const what[3] = {"", " (Adam's first moment)", " (Adam's second moment)"};
        for (int k = 0; k < 3; k++) {
            int64_t bad = flp__ckpt_bad_float(arrays[k], t->count, k == 2);
            if (bad >= 0)
                return flp__error(FLP_ERR_NONFINITE,
                                  "%s: %s[%lld]%s is %g, which flp_checkpoint_load would refuse: no "
                                  "checkpoint was written",
                                  fn, t->name, (long long)bad, what[k], (double)arrays[k][bad]);
        }
        offset += t->count;
    }
    if (c->config_len > FLP__CKPT_CONFIG_MAX)
        return flp__error(FLP_ERR_INVALID, "%s: the configuration description is %zu bytes, more than "
                          "the %u a checkpoint holds", fn, c->config_len, (unsigned)FLP__CKPT_CONFIG_MAX);
    if (c->kind != NULL && c->state_size > FLP__CKPT_STATE_MAX)
        return flp__error(FLP_ERR_INVALID, "%s: the sampler's state is %lld bytes, more than the %lld a "
                          "checkpoint holds", fn, (long long)c->state_size, (long long)FLP__CKPT_STATE_MAX);
    return FLP_OK;
}

/* ---- where the file goes --------------------------------------------------- */

static char *flp__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = flp__alloc_bytes(n, "checkpoint file name");
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* The file a save replaces: `path` itself, or what a symbolic link at
 * `path` points to (followed to the end), into *target (flp__free). A
 * missing path is created; anything but a regular file is refused. */
static flp_status flp__save_target(const char *path, char **target, const char *fn)
{
    *target = NULL;
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno != ENOENT)
            return flp__io_error(fn, "stat", path, errno);
    } else if (S_ISLNK(sb.st_mode)) {
        char *real = realpath(path, NULL);
        if (real == NULL)
            return errno == ENOENT ? flp__error(FLP_ERR_IO,
                                                "%s: '%s' is a symbolic link to a missing file: create "
                                                "the file it points to, or save to a plain path",
                                                fn, path)
                                   : flp__io_error(fn, "resolve the symbolic link", path, errno);
        int ok = stat(real, &sb) == 0 && S_ISREG(sb.st_mode);
        flp_status st = ok ? FLP_OK
                           : flp__error(FLP_ERR_IO,
                                        "%s: '%s' is a symbolic link to '%s', which is %s: a checkpoint "
                                        "replaces only a regular file (or creates a missing one)",
                                        fn, path, real, flp__file_kind(sb.st_mode));
        if (ok && (*target = flp__strdup(real)) == NULL)
            st = FLP_ERR_NOMEM;
        free(real);
        return st;
    } else if (!S_ISREG(sb.st_mode)) {
        return flp__error(FLP_ERR_IO,
                          "%s: '%s' is %s: a checkpoint replaces only a regular file (or creates a "
                          "missing one)",
                          fn, path, flp__file_kind(sb.st_mode));
    }
    *target = flp__strdup(path);
    return *target != NULL ? FLP_OK : FLP_ERR_NOMEM;
}

/* ---- the temporary file ------------------------------------------------------ */

static atomic_int flp__tmpfile_off;   /* tests: 1 = never O_TMPFILE */
static atomic_uint flp__save_counter; /* this process's saves, for unique names */

void flp__ckpt_use_tmpfile(int use) { atomic_store(&flp__tmpfile_off, !use); }

/* A temporary name beside `target` no other save of this process uses:
 * TARGET.tmp.PID.N (a leftover of a dead process with the same PID is
 * stepped over by the caller's O_EXCL / EEXIST retry). */
static void flp__tmp_name(const char *target, char *name, size_t size)
{
    snprintf(name, size, "%s.tmp.%ld.%u", target, (long)getpid(), atomic_fetch_add(&flp__save_counter, 1));
}

/* Write every byte to f, flush and sync it (the stream stays open). */
static flp_status flp__write_synced(FILE *f, const flp__save_ctx *c, const char *what_path,
                                    const char *fn)
{
    int err = flp__write_file(f, c);
    if (err == 0 && fflush(f) != 0)
        err = errno;
    if (err != 0)
        return flp__io_error(fn, "write", what_path, err);
    if (fsync(fileno(f)) != 0)
        return flp__io_error(fn, "sync", what_path, errno);
    return FLP_OK;
}

static flp_status flp__close(FILE *f, const char *what_path, const char *fn)
{
    return fclose(f) == 0 ? FLP_OK : flp__io_error(fn, "close", what_path, errno);
}

#ifdef O_TMPFILE
/* The whole file written into an unnamed file of the target's folder, then
 * linked as a fresh temporary name, into tmp[size]. *done = 0 (and nothing
 * created) where O_TMPFILE or linking it is not supported here: the caller
 * falls back to a named file. */
static flp_status flp__write_unnamed(const char *target, const flp__save_ctx *c, char *tmp, size_t size,
                                     int *done, const char *fn)
{
    *done = 0;
    if (atomic_load(&flp__tmpfile_off))
        return FLP_OK;
    flp__dir_of(target, tmp, size);
    int fd = open(tmp, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0)
        return FLP_OK; /* EOPNOTSUPP, EISDIR, EINVAL (old kernels), ...: fall back */
    FILE *f = fdopen(fd, "wb");
    if (f == NULL) {
        close(fd);
        return flp__io_error(fn, "write into the folder of", target, errno);
    }
    flp_status st = flp__write_synced(f, c, target, fn);
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fileno(f));
    int linked = 0;
    for (int attempt = 0; st == FLP_OK && !linked && attempt < 100; attempt++) {
        flp__tmp_name(target, tmp, size);
        if (linkat(AT_FDCWD, self, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0)
            linked = 1;
        else if (errno != EEXIST)
            break; /* no /proc, or a file system that cannot link it: fall back */
    }
    flp_status closed = flp__close(f, target, fn);
    if (st == FLP_OK && linked && closed != FLP_OK) {
        unlink(tmp);
        st = closed;
    }
    *done = st != FLP_OK || linked;
    return st;
}
#endif

/* The whole file written into a new temporary file beside the target,
 * created exclusively, its name into tmp[size]. */
static flp_status flp__write_named(const char *target, const flp__save_ctx *c, char *tmp, size_t size,
                                   const char *fn)
{
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        flp__tmp_name(target, tmp, size);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            return flp__io_error(fn, "create", tmp, errno);
    }
    if (fd < 0)
        return flp__io_error(fn, "create", tmp, EEXIST);
    FILE *f = fdopen(fd, "wb");
    if (f == NULL) {
        int err = errno;
        close(fd);
        unlink(tmp);
        return flp__io_error(fn, "create", tmp, err);
    }
    flp_status st = flp__write_synced(f, c, tmp, fn);
    flp_status closed = flp__close(f, tmp, fn);
    if (st == FLP_OK)
        st = closed;
    if (st != FLP_OK)
        unlink(tmp);
    return st;
}

static flp_status flp__save_atomic(const char *target, const flp__save_ctx *c, const char *fn)
{
    size_t n = strlen(target) + 64;
    char *tmp = flp__alloc_bytes(n, "checkpoint file name");
    if (tmp == NULL)
        return FLP_ERR_NOMEM;
    int done = 0;
    flp_status st = FLP_OK;
#ifdef O_TMPFILE
    st = flp__write_unnamed(target, c, tmp, n, &done, fn);
#endif
    if (st == FLP_OK && !done)
        st = flp__write_named(target, c, tmp, n, fn);
    if (st == FLP_OK && rename(tmp, target) != 0) {
        st = flp__io_error(fn, "rename the temporary file over", target, errno);
        unlink(tmp);
    }
    flp__free(tmp);
    return st == FLP_OK ? flp__sync_dir(target, fn) : st;
}

/* Fill the sampler part of the context; the state buffer is the caller's
 * to free. */
static flp_status flp__sampler_snapshot(const flp_sampler *s, flp__save_ctx *c, uint8_t **buf,
                                        const char *fn)
{
    *buf = NULL;
    if (s == NULL)
        return FLP_OK;
    c->kind = s->ops->kind;
    size_t len = strlen(c->kind);
    if (len == 0 || len > FLP__CKPT_KIND_MAX)
        return flp__error(FLP_ERR_INVALID, "%s: sampler kind '%s' is not 1 to %d characters long",
                          fn, c->kind, FLP__CKPT_KIND_MAX);
    c->state_size = s->ops->state_size(s);
    *buf = flp__alloc_bytes((size_t)c->state_size, "sampler state");
    if (*buf == NULL)
        return FLP_ERR_NOMEM;
    s->ops->get_state(s, *buf);
    c->state = *buf;
    return FLP_OK;
}

flp_status flp_checkpoint_save(const char *path, const flp_meta *meta, const flp_sampler *sampler)
{
    FLP__CHECK_NULL(path);
    FLP__CHECK_NULL(meta);
    if (path[0] == '\0')
        return flp__error(FLP_ERR_INVALID, "%s: path is empty", __func__);
    flp__tensor_list views = {0};
    uint8_t *state = NULL;
    char *config = NULL, *target = NULL;
    flp__save_ctx c = {.meta = meta, .views = &views};
    flp_status st = flp__meta_collect(meta, &views, __func__);
    if (st == FLP_OK)
        st = flp__ckpt_describe(meta, &config, &c.config_len);
    c.config = config;
    if (st == FLP_OK)
        st = flp__sampler_snapshot(sampler, &c, &state, __func__);
    if (st == FLP_OK)
        st = flp__check_values(&c, __func__);
    if (st == FLP_OK)
        st = flp__save_target(path, &target, __func__);
    if (st == FLP_OK)
        st = flp__save_atomic(target, &c, __func__);
    flp__free(target);
    flp__free(config);
    flp__free(state);
    flp__tensor_list_free(&views);
    return st;
}
