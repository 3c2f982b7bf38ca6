/* checkpoint.c - checkpoint files: everything needed to resume
 * meta-training bit for bit (layout in checkpoint_format.h).
 *
 * Saving writes a temporary file beside the target, syncs it and renames it
 * over the target, so a crash leaves either the old file or the new one.
 * Loading reads the whole file, checks and parses every byte of it against
 * the handles, and only then copies anything into them: a refused file
 * never leaves the handles half restored. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/keys.h"
#include "checkpoint/checkpoint_config.h"
#include "checkpoint/checkpoint_format.h"
#include "meta/meta_internal.h"
#include "tasks/sampler_internal.h"

/* ======================================================================
 * Writing
 * ====================================================================== */

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

/* Make the rename durable: sync the directory holding `path`. File systems
 * that cannot sync a directory (EINVAL) offer nothing more to do. */
static flp_status flp__sync_dir(const char *path, const char *fn)
{
    size_t n = strlen(path) + 2;
    char *dir = flp__alloc_bytes(n, "directory name");
    if (dir == NULL)
        return FLP_ERR_NOMEM;
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, n, ".");
    else
        snprintf(dir, n, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    flp_status st = FLP_OK;
    int fd = open(dir, O_RDONLY);
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

/* Write, flush, sync and close `tmp`. *created says whether `tmp` exists
 * (and must be removed on failure). */
static flp_status flp__write_tmp(const char *tmp, const flp__save_ctx *c, int *created,
                                 const char *fn)
{
    FILE *f = fopen(tmp, "wb");
    if (f == NULL)
        return flp__io_error(fn, "create", tmp, errno);
    *created = 1;
    int err = flp__write_file(f, c);
    const char *what = "write";
    if (err == 0 && fflush(f) != 0)
        err = errno;
    if (err == 0 && fsync(fileno(f)) != 0) {
        err = errno;
        what = "sync";
    }
    if (fclose(f) != 0 && err == 0) {
        err = errno;
        what = "close";
    }
    return err == 0 ? FLP_OK : flp__io_error(fn, what, tmp, err);
}

static flp_status flp__save_atomic(const char *path, const flp__save_ctx *c, const char *fn)
{
    size_t n = strlen(path) + 32;
    char *tmp = flp__alloc_bytes(n, "checkpoint file name");
    if (tmp == NULL)
        return FLP_ERR_NOMEM;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int created = 0;
    flp_status st = flp__write_tmp(tmp, c, &created, fn);
    if (st == FLP_OK && rename(tmp, path) != 0)
        st = flp__io_error(fn, "rename the temporary file over", path, errno);
    if (st != FLP_OK && created)
        remove(tmp);
    flp__free(tmp);
    return st == FLP_OK ? flp__sync_dir(path, fn) : st;
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
    char *config = NULL;
    flp__save_ctx c = {.meta = meta, .views = &views};
    flp_status st = flp__meta_collect(meta, &views, __func__);
    if (st == FLP_OK)
        st = flp__ckpt_describe(meta, &config, &c.config_len);
    c.config = config;
    if (st == FLP_OK)
        st = flp__sampler_snapshot(sampler, &c, &state, __func__);
    if (st == FLP_OK)
        st = flp__save_atomic(path, &c, __func__);
    flp__free(config);
    flp__free(state);
    flp__tensor_list_free(&views);
    return st;
}

/* ======================================================================
 * Reading
 * ====================================================================== */

/* A bounded cursor over bytes in memory. */
typedef struct {
    const uint8_t *p;
    uint64_t n, pos;
} flp__reader;

static int flp__get(flp__reader *r, void *dst, uint64_t n)
{
    if (r->n - r->pos < n)
        return 0;
    memcpy(dst, r->p + r->pos, (size_t)n);
    r->pos += n;
    return 1;
}

/* Skip n bytes, returning where they start (NULL if there are fewer). */
static const uint8_t *flp__skip(flp__reader *r, uint64_t n)
{
    if (r->n - r->pos < n)
        return NULL;
    const uint8_t *at = r->p + r->pos;
    r->pos += n;
    return at;
}

typedef struct {
    char name[FLP__CKPT_NAME_SIZE + 1];
    int32_t group;
    int64_t count;
    const uint8_t *values, *m, *v;   /* into the file buffer; maybe unaligned */
} flp__ckpt_tensor;

/* Everything a checkpoint says, parsed but not yet applied. */
typedef struct {
    const char *path;
    const char *fn;
    uint8_t *data;                   /* the whole file */
    uint64_t size;
    uint32_t format;
    const char *config;              /* CONF's text (format 2 on), else NULL */
    uint32_t config_len;
    flp__adam_settings adam;
    int64_t step;
    flp__group_schedule groups[FLP_GROUP_COUNT];
    int n_tensors;
    flp__ckpt_tensor *tensors;
    int has_sampler;
    char kind[FLP__CKPT_KIND_MAX + 1];
    const uint8_t *state;
    int64_t state_size;
} flp__ckpt;

static flp_status flp__bad(const flp__ckpt *ck, const char *what)
{
    return flp__error(FLP_ERR_FORMAT, "%s: checkpoint '%s' %s", ck->fn, ck->path, what);
}

static flp_status flp__malformed(const flp__ckpt *ck, flp__section sec, const char *what)
{
    return flp__error(FLP_ERR_FORMAT, "%s: checkpoint '%s': %s section is malformed: %s", ck->fn,
                      ck->path, flp__sec_name[sec], what);
}

static flp_status flp__read_file(flp__ckpt *ck)
{
    FILE *f = fopen(ck->path, "rb");
    if (f == NULL)
        return flp__io_error(ck->fn, "open", ck->path, errno);
    struct stat sb;
    flp_status st = FLP_OK;
    if (fstat(fileno(f), &sb) != 0)
        st = flp__io_error(ck->fn, "stat", ck->path, errno);
    else if (!S_ISREG(sb.st_mode))
        st = flp__io_error(ck->fn, "read", ck->path, EISDIR);
    if (st == FLP_OK) {
        ck->size = (uint64_t)sb.st_size;
        ck->data = flp__alloc_bytes((size_t)ck->size, "checkpoint file");
        if (ck->data == NULL)
            st = FLP_ERR_NOMEM;
        else if (fread(ck->data, 1, (size_t)ck->size, f) != ck->size)
            st = ferror(f) ? flp__io_error(ck->fn, "read", ck->path, errno)
                           : flp__bad(ck, "changed size while being read");
    }
    fclose(f);
    return st;
}

static const char *flp__byte_order_problem(uint32_t marker)
{
    if (marker == FLP__CKPT_BYTE_ORDER)
        return NULL;
    if (marker == 0x04030201u)
        return "was written on a machine of the opposite byte order";
    return "has an unknown byte-order marker";
}

static flp_status flp__parse_header(flp__ckpt *ck, flp__reader *r)
{
    uint8_t h[FLP__CKPT_HEADER_SIZE];
    size_t prefix = r->n < FLP__CKPT_MAGIC_SIZE ? (size_t)r->n : FLP__CKPT_MAGIC_SIZE;
    if (memcmp(r->p, FLP__CKPT_MAGIC, prefix) != 0)
        return flp__bad(ck, "is not a libflp checkpoint (wrong magic)");
    if (!flp__get(r, h, sizeof h))
        return flp__bad(ck, "is truncated in the header");
    uint32_t format, writer, order, crc;
    memcpy(&format, h + 8, 4);
    memcpy(&writer, h + 12, 4);
    memcpy(&order, h + 16, 4);
    memcpy(&crc, h + 24, 4);
    const char *problem = flp__byte_order_problem(order);
    if (problem != NULL)
        return flp__error(FLP_ERR_VERSION, "%s: checkpoint '%s' %s (marker 0x%08x, expected 0x%08x)",
                          ck->fn, ck->path, problem, order, FLP__CKPT_BYTE_ORDER);
    if (format < FLP__CKPT_FORMAT_OLDEST || format > FLP__CKPT_FORMAT)
        return flp__error(FLP_ERR_VERSION,
                          "%s: checkpoint '%s' has format version %u (written by libflp %u.%u.%u), "
                          "this libflp %s reads versions %u to %u",
                          ck->fn, ck->path, format, writer / 10000, writer / 100 % 100,
                          writer % 100, flp_version(), FLP__CKPT_FORMAT_OLDEST, FLP__CKPT_FORMAT);
    const float one = 1.0f;
    if (memcmp(h + 20, &one, 4) != 0)
        return flp__error(FLP_ERR_VERSION,
                          "%s: checkpoint '%s' was written with a different float layout "
                          "(1.0f stored as 0x%02x%02x%02x%02x)",
                          ck->fn, ck->path, h[20], h[21], h[22], h[23]);
    if (crc != (uint32_t)crc32_z(0L, h, 24))
        return flp__bad(ck, "has a corrupt header (CRC mismatch)");
    ck->format = format;
    return FLP_OK;
}

static flp_status flp__parse_config(flp__ckpt *ck, flp__reader *r)
{
    const double one = 1.0;
    uint8_t bits[8];
    if (!flp__get(r, bits, 8) || !flp__get(r, &ck->config_len, 4) ||
        ck->config_len != r->n - r->pos)
        return flp__malformed(ck, FLP__SEC_CONFIG, "wrong length");
    if (memcmp(bits, &one, 8) != 0)
        return flp__error(FLP_ERR_VERSION,
                          "%s: checkpoint '%s' was written with a different double layout "
                          "(1.0 stored as %02x%02x%02x%02x%02x%02x%02x%02x)",
                          ck->fn, ck->path, bits[0], bits[1], bits[2], bits[3], bits[4], bits[5],
                          bits[6], bits[7]);
    ck->config = (const char *)flp__skip(r, ck->config_len);
    return FLP_OK;
}

/* The optimizer's settings, one per key of its map (f64 for REAL keys,
 * i32 for the others), into ck->adam, each checked against its key. */
static flp_status flp__parse_meta_settings(flp__ckpt *ck, flp__reader *r, int *ok)
{
    double v[FLP__META_NKEYS];
    for (int i = 0; *ok && i < flp__meta_keys.n; i++) {
        int32_t n = 0;
        if (flp__meta_keys.keys[i].type == FLP__KEY_REAL)
            *ok = flp__get(r, &v[i], 8);
        else if ((*ok = flp__get(r, &n, 4)))
            v[i] = n;
    }
    if (!*ok)
        return FLP_OK; /* reported with the section's length */
    char who[300];
    snprintf(who, sizeof who, "%s: checkpoint '%s': %s section is malformed", ck->fn, ck->path,
             flp__sec_name[FLP__SEC_OPTIMIZER]);
    for (int i = 0; i < flp__meta_keys.n; i++) {
        FLP__TRY(flp__key_check(&flp__meta_keys.keys[i], v[i], FLP_ERR_FORMAT, who));
        flp__meta_store_setting(&ck->adam, flp__meta_keys.keys[i].value, v[i]);
    }
    return FLP_OK;
}

static flp_status flp__parse_optimizer(flp__ckpt *ck, flp__reader *r)
{
    uint32_t n_groups = 0;
    int ok = 1;
    FLP__TRY(flp__parse_meta_settings(ck, r, &ok));
    ok = ok && flp__get(r, &ck->step, 8) && flp__get(r, &n_groups, 4);
    if (ok && n_groups != FLP_GROUP_COUNT)
        return flp__malformed(ck, FLP__SEC_OPTIMIZER, "wrong number of groups");
    for (int g = 0; ok && g < FLP_GROUP_COUNT; g++) {
        flp__group_schedule *gs = &ck->groups[g];
        ok = flp__get(r, &gs->base_lr, 8) && flp__get(r, &gs->frozen, 4) &&
             flp__get(r, &gs->decay_factor, 8) && flp__get(r, &gs->n_milestones, 4) &&
             flp__get(r, gs->milestones, sizeof gs->milestones);
        const char *problem = ok ? flp__schedule_group_problem(gs) : NULL;
        if (problem != NULL)
            return flp__malformed(ck, FLP__SEC_OPTIMIZER, problem);
    }
    if (!ok || r->pos != r->n)
        return flp__malformed(ck, FLP__SEC_OPTIMIZER, "wrong length");
    if (ck->step < 0)
        return flp__malformed(ck, FLP__SEC_OPTIMIZER, "negative step count");
    return FLP_OK;
}

/* 1 if every float of `bytes` (count of them) is finite, and >= 0 when
 * `nonneg`: Adam's second moments can never be negative. */
static int flp__floats_ok(const uint8_t *bytes, int64_t count, int nonneg)
{
    for (int64_t i = 0; i < count; i++) {
        float x;
        memcpy(&x, bytes + 4 * i, 4);
        if (!isfinite(x) || (nonneg && x < 0))
            return 0;
    }
    return 1;
}

static flp_status flp__parse_tensor(flp__ckpt *ck, flp__reader *r, flp__ckpt_tensor *t)
{
    if (!flp__get(r, t->name, FLP__CKPT_NAME_SIZE) || !flp__get(r, &t->group, 4) ||
        !flp__get(r, &t->count, 8))
        return flp__malformed(ck, FLP__SEC_TENSORS, "wrong length");
    t->name[FLP__CKPT_NAME_SIZE] = '\0';
    if (t->group < 0 || t->group >= FLP_GROUP_COUNT)
        return flp__malformed(ck, FLP__SEC_TENSORS, "group out of range");
    if (t->count < 0 || (uint64_t)t->count > (r->n - r->pos) / 12)
        return flp__malformed(ck, FLP__SEC_TENSORS, "wrong length");
    uint64_t bytes = (uint64_t)t->count * 4;
    t->values = flp__skip(r, bytes);
    t->m = flp__skip(r, bytes);
    t->v = flp__skip(r, bytes);
    if (!flp__floats_ok(t->values, t->count, 0) || !flp__floats_ok(t->m, t->count, 0) ||
        !flp__floats_ok(t->v, t->count, 1))
        return flp__malformed(ck, FLP__SEC_TENSORS, "non-finite or invalid values");
    return FLP_OK;
}

static flp_status flp__parse_tensors(flp__ckpt *ck, flp__reader *r)
{
    uint32_t n;
    if (!flp__get(r, &n, 4) || n > (r->n - r->pos) / FLP__CKPT_TENSOR_HEAD)
        return flp__malformed(ck, FLP__SEC_TENSORS, "wrong tensor count");
    ck->tensors = flp__alloc_bytes((size_t)n * sizeof *ck->tensors, "checkpoint tensors");
    if (ck->tensors == NULL)
        return FLP_ERR_NOMEM;
    ck->n_tensors = (int)n;
    for (uint32_t i = 0; i < n; i++)
        FLP__TRY(flp__parse_tensor(ck, r, &ck->tensors[i]));
    if (r->pos != r->n)
        return flp__malformed(ck, FLP__SEC_TENSORS, "wrong length");
    return FLP_OK;
}

static flp_status flp__parse_sampler(flp__ckpt *ck, flp__reader *r)
{
    uint32_t len;
    if (!flp__get(r, &len, 4) || len == 0 || len > FLP__CKPT_KIND_MAX ||
        !flp__get(r, ck->kind, len))
        return flp__malformed(ck, FLP__SEC_SAMPLER, "bad kind");
    ck->kind[len] = '\0';
    if (!flp__get(r, &ck->state_size, 8) || ck->state_size < 0 ||
        (uint64_t)ck->state_size != r->n - r->pos)
        return flp__malformed(ck, FLP__SEC_SAMPLER, "wrong length");
    ck->state = flp__skip(r, (uint64_t)ck->state_size);
    ck->has_sampler = 1;
    return FLP_OK;
}

static flp_status flp__parse_end(flp__ckpt *ck, flp__reader *r)
{
    return r->n == 0 ? FLP_OK : flp__malformed(ck, FLP__SEC_END, "non-empty");
}

typedef flp_status (*flp__section_parser)(flp__ckpt *ck, flp__reader *r);

static const flp__section_parser flp__sec_parser[FLP__SEC_COUNT] = {
    flp__parse_config, flp__parse_optimizer, flp__parse_tensors, flp__parse_sampler,
    flp__parse_end};

static flp_status flp__section_error(const flp__ckpt *ck, const char *what, flp__section sec)
{
    return flp__error(FLP_ERR_FORMAT, "%s: checkpoint '%s' %s the %s section", ck->fn, ck->path,
                      what, flp__sec_name[sec]);
}

/* Read one framed section, which must be `expected` (or, when `optional`,
 * may be the one after it: *got says which was found). Checks length and
 * CRC, then hands the payload to its parser. */
static flp_status flp__parse_section(flp__ckpt *ck, flp__reader *r, flp__section expected,
                                     int optional, flp__section *got)
{
    char tag[4];
    uint64_t len;
    if (!flp__get(r, tag, 4) || !flp__get(r, &len, 8))
        return flp__section_error(ck, "is truncated before", expected);
    flp__section sec = expected;
    if (memcmp(tag, flp__sec_tag[expected], 4) != 0) {
        if (!optional || memcmp(tag, flp__sec_tag[expected + 1], 4) != 0)
            return flp__section_error(ck, "has an unknown or misplaced section where it expects",
                                      expected);
        sec = (flp__section)(expected + 1);
    }
    const uint8_t *start = r->p + r->pos - 12;
    const uint8_t *payload = flp__skip(r, len);
    uint32_t crc;
    if (payload == NULL || !flp__get(r, &crc, 4))
        return flp__section_error(ck, "is truncated in", sec);
    if (crc != (uint32_t)crc32_z(0L, start, (z_size_t)(12 + len)))
        return flp__section_error(ck, "has a CRC mismatch in", sec);
    *got = sec;
    flp__reader body = {payload, len, 0};
    return flp__sec_parser[sec](ck, &body);
}

static flp_status flp__parse(flp__ckpt *ck)
{
    flp__reader r = {ck->data, ck->size, 0};
    flp__section got;
    FLP__TRY(flp__parse_header(ck, &r));
    if (ck->format >= FLP__CKPT_FORMAT_CONFIG)
        FLP__TRY(flp__parse_section(ck, &r, FLP__SEC_CONFIG, 0, &got));
    FLP__TRY(flp__parse_section(ck, &r, FLP__SEC_OPTIMIZER, 0, &got));
    FLP__TRY(flp__parse_section(ck, &r, FLP__SEC_TENSORS, 0, &got));
    FLP__TRY(flp__parse_section(ck, &r, FLP__SEC_SAMPLER, 1, &got));
    if (got == FLP__SEC_SAMPLER)
        FLP__TRY(flp__parse_section(ck, &r, FLP__SEC_END, 0, &got));
    if (r.pos != r.n)
        return flp__bad(ck, "has data after the end marker");
    return FLP_OK;
}

/* The recorded configuration (format 2 on) must be the handles'; format 1
 * files recorded none and are checked by their tensors alone, format 2
 * files by the settings they recorded. */
static flp_status flp__match_config(const flp__ckpt *ck, const flp_meta *meta)
{
    if (ck->config == NULL)
        return FLP_OK;
    char *now;
    size_t len;
    FLP__TRY(flp__ckpt_describe(meta, &now, &len));
    char was[128], is[128];
    flp_status st = FLP_OK;
    if (flp__ckpt_config_diff(ck->config, ck->config_len, now, ck->format < FLP__CKPT_FORMAT_KEYS, was, is,
                              sizeof was) != NULL) {
        const char *key = flp__ckpt_key_of_line(was);
        st = flp__error(FLP_ERR_VERSION,
                        "%s: checkpoint '%s' is for another configuration: it has '%s', these "
                        "handles have '%s'%s%s%s",
                        ck->fn, ck->path, was, is, key ? " (" : "", key ? key : "", key ? ")" : "");
    }
    flp__free(now);
    return st;
}

/* The file's tensors must be exactly the handles' meta-parameters. */
static flp_status flp__match_tensors(const flp__ckpt *ck, const flp__tensor_list *views)
{
    int n = ck->n_tensors < views->n ? ck->n_tensors : views->n;
    for (int i = 0; i < n; i++) {
        const flp__ckpt_tensor *f = &ck->tensors[i];
        const flp__tensor *t = &views->items[i];
        if (strcmp(f->name, t->name) != 0 || f->group != t->group)
            return flp__error(FLP_ERR_VERSION,
                              "%s: checkpoint has %s (group %d) as meta-parameter %d, this "
                              "configuration has %s (group %d)",
                              ck->fn, f->name, f->group, i, t->name, t->group);
        if (f->count != t->count)
            return flp__error(FLP_ERR_VERSION,
                              "%s: checkpoint has %s with %lld values, this configuration has %lld",
                              ck->fn, f->name, (long long)f->count, (long long)t->count);
    }
    if (ck->n_tensors != views->n)
        return flp__error(FLP_ERR_VERSION,
                          "%s: checkpoint has %d meta-parameter tensors, this configuration has %d",
                          ck->fn, ck->n_tensors, views->n);
    return FLP_OK;
}

/* The sampler goes first among the changes because its set_state is the
 * only step that can still refuse (it validates its own bytes); everything
 * after it cannot fail. */
static flp_status flp__restore_sampler(const flp__ckpt *ck, flp_sampler *s)
{
    if (s == NULL)
        return FLP_OK;
    if (!ck->has_sampler)
        return flp__error(FLP_ERR_VERSION,
                          "%s: checkpoint '%s' holds no sampler state, but a '%s' sampler was given",
                          ck->fn, ck->path, s->ops->kind);
    if (strcmp(ck->kind, s->ops->kind) != 0)
        return flp__error(FLP_ERR_VERSION,
                          "%s: checkpoint '%s' holds a '%s' sampler, the sampler given is '%s'",
                          ck->fn, ck->path, ck->kind, s->ops->kind);
    flp_status st = s->ops->set_state(s, ck->state, ck->state_size);
    return st == FLP_OK ? FLP_OK : flp__error_context(st, "%s", ck->fn);
}

static void flp__restore_meta(const flp__ckpt *ck, flp_meta *meta, const flp__tensor_list *views)
{
    meta->adam = ck->adam;
    meta->step = ck->step;
    for (int g = 0; g < FLP_GROUP_COUNT; g++)
        meta->sched.group[g] = ck->groups[g];
    int64_t offset = 0;
    for (int i = 0; i < views->n; i++) {
        const flp__tensor *t = &views->items[i];
        size_t bytes = (size_t)t->count * sizeof(float);
        memcpy(t->value, ck->tensors[i].values, bytes);
        memcpy(flp__meta_m(meta, offset), ck->tensors[i].m, bytes);
        memcpy(flp__meta_v(meta, offset), ck->tensors[i].v, bytes);
        offset += t->count;
    }
}

flp_status flp_checkpoint_load(const char *path, flp_meta *meta, flp_sampler *sampler)
{
    FLP__CHECK_NULL(path);
    FLP__CHECK_NULL(meta);
    flp__ckpt ck = {.path = path, .fn = __func__};
    flp_status st = flp__meta_collect(meta, &meta->views, __func__);
    if (st == FLP_OK)
        st = flp__read_file(&ck);
    if (st == FLP_OK)
        st = flp__parse(&ck);
    if (st == FLP_OK)
        st = flp__match_config(&ck, meta);
    if (st == FLP_OK)
        st = flp__match_tensors(&ck, &meta->views);
    if (st == FLP_OK)
        st = flp__restore_sampler(&ck, sampler);
    if (st == FLP_OK)
        flp__restore_meta(&ck, meta, &meta->views);
    flp__free(ck.tensors);
    flp__free(ck.data);
    return st;
}
