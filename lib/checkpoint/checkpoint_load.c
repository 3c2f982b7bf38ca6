/* checkpoint_load.c - reading checkpoint files (layout in
 * checkpoint_format.h).
 *
 * The file is read section by section, each checked before the next is
 * read, and nothing is allocated for a section before its declared length
 * has been checked against what it can hold:
 *   - only a regular file is opened (core/file.c), never waiting on a FIFO;
 *   - the header's magic, then its CRC, then what it says (byte order,
 *     format version, float layout): a corrupt header is reported as
 *     corrupt, not as a file from another version;
 *   - the configuration, optimizer and sampler sections are small (bounded
 *     by FLP__CKPT_CONFIG_MAX, their exact size, FLP__CKPT_STATE_MAX), read
 *     whole and checked against their CRC before they are parsed; the
 *     configuration is compared with the handles' at once;
 *   - the tensor section must have the length the matched configuration
 *     gives it (format 1, without a configuration: at most the file's); it
 *     is streamed: each tensor's header is matched with the handles'
 *     meta-parameter before its values are read, into a buffer the size of
 *     the handles' own; what is found wrong is reported only once the
 *     section's CRC has been checked (a CRC mismatch wins);
 *   - nothing is copied into the handles until the whole file has been
 *     read and checked: a refused file never leaves them half restored.
 * So a file costs at most the handles' size in memory, whatever it
 * declares, and reading stops at the first section found wrong (a file of
 * another kind: after 28 bytes). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
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

/* A bounded cursor over a section's payload in memory. */
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

/* Everything a checkpoint says, read and checked but not yet applied. */
typedef struct {
    const char *path;
    const char *fn;
    int fd;
    uint64_t size;                   /* of the file */
    uint64_t pos;                    /* bytes read so far */
    uint32_t format;
    uint8_t *conf;                   /* CONF's payload (format 2 on), else NULL */
    flp__adam_settings adam;
    int64_t step;
    flp__group_schedule groups[FLP_GROUP_COUNT];
    float *staged;                   /* values, then m, then v, of every tensor, as in the handles */
    int has_sampler;
    char kind[FLP__CKPT_KIND_MAX + 1];
    uint8_t *samp;                   /* SAMP's payload */
    const uint8_t *state;            /* into samp */
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

static flp_status flp__section_error(const flp__ckpt *ck, const char *what, flp__section sec)
{
    return flp__error(FLP_ERR_FORMAT, "%s: checkpoint '%s' %s the %s section", ck->fn, ck->path,
                      what, flp__sec_name[sec]);
}

/* n more bytes of the file into dst (never past its end: callers check). */
static flp_status flp__read(flp__ckpt *ck, void *dst, size_t n)
{
    flp_status st = flp__read_exact(ck->fd, ck->path, dst, n);
    if (st != FLP_OK)
        return flp__error_context(st, "%s", ck->fn);
    ck->pos += n;
    return FLP_OK;
}

static uint64_t flp__left(const flp__ckpt *ck) { return ck->size - ck->pos; }

/* ---- header ------------------------------------------------------------------ */

static const char *flp__byte_order_problem(uint32_t marker)
{
    if (marker == FLP__CKPT_BYTE_ORDER)
        return NULL;
    if (marker == 0x04030201u)
        return "was written on a machine of the opposite byte order";
    return "has an unknown byte-order marker";
}

static uint32_t flp__bswap32(uint32_t x)
{
    return x >> 24 | (x >> 8 & 0xff00u) | (x << 8 & 0xff0000u) | x << 24;
}

static flp_status flp__read_header(flp__ckpt *ck)
{
    uint8_t h[FLP__CKPT_HEADER_SIZE];
    size_t got = (size_t)(ck->size < sizeof h ? ck->size : sizeof h);
    FLP__TRY(flp__read(ck, h, got));
    size_t prefix = got < FLP__CKPT_MAGIC_SIZE ? got : FLP__CKPT_MAGIC_SIZE;
    if (memcmp(h, FLP__CKPT_MAGIC, prefix) != 0)
        return flp__bad(ck, "is not a libflp checkpoint (wrong magic)");
    if (got < sizeof h)
        return flp__bad(ck, "is truncated in the header");
    uint32_t format, writer, order, crc;
    memcpy(&format, h + 8, 4);
    memcpy(&writer, h + 12, 4);
    memcpy(&order, h + 16, 4);
    memcpy(&crc, h + 24, 4);
    /* The CRC first, so that a damaged field is reported as damage. A file
     * from a machine of the other byte order stores its CRC byte-swapped. */
    const uint32_t want = (uint32_t)crc32_z(0L, h, 24);
    const int swapped = crc != want && crc == flp__bswap32(want) && order == 0x04030201u;
    if (crc != want && !swapped)
        return flp__bad(ck, "has a corrupt header (CRC mismatch)");
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
    ck->format = format;
    return FLP_OK;
}

/* ---- section frames ------------------------------------------------------------ */

/* The payload of each section is at most this long (the tensor section is
 * streamed and needs no bound but the file's). */
static uint64_t flp__section_max(flp__section sec)
{
    switch (sec) {
    case FLP__SEC_CONFIG:
        return 8 + 4 + (uint64_t)FLP__CKPT_CONFIG_MAX;
    case FLP__SEC_OPTIMIZER: /* the key count, every key as f64, then exactly the rest */
        return 4 + FLP__META_NKEYS * 8 + 8 + 4 +
               FLP_GROUP_COUNT * (8 + 4 + 8 + 4 + 8 * (uint64_t)FLP__MAX_MILESTONES);
    case FLP__SEC_SAMPLER:
        return 4 + FLP__CKPT_KIND_MAX + 8 + (uint64_t)FLP__CKPT_STATE_MAX;
    case FLP__SEC_END:
        return 0;
    default:
        return UINT64_MAX;
    }
}

/* Read a section's tag and length, which must be `expected`'s (or, when
 * `optional`, the next section's: *got says which), and check the length
 * against what the file still holds and the section may hold. *crc is the
 * CRC of the frame so far. */
static flp_status flp__read_frame(flp__ckpt *ck, flp__section expected, int optional, flp__section *got,
                                  uint64_t *len, uLong *crc)
{
    uint8_t frame[12];
    if (flp__left(ck) < sizeof frame)
        return flp__section_error(ck, "is truncated before", expected);
    FLP__TRY(flp__read(ck, frame, sizeof frame));
    flp__section sec = expected;
    if (memcmp(frame, flp__sec_tag[expected], 4) != 0) {
        if (!optional || memcmp(frame, flp__sec_tag[expected + 1], 4) != 0)
            return flp__section_error(ck, "has an unknown or misplaced section where it expects",
                                      expected);
        sec = (flp__section)(expected + 1);
    }
    memcpy(len, frame + 4, 8);
    if (flp__left(ck) < 4 || *len > flp__left(ck) - 4)
        return flp__section_error(ck, "is truncated in", sec);
    if (*len > flp__section_max(sec))
        return flp__malformed(ck, sec, "it declares more bytes than the section can hold");
    *got = sec;
    *crc = crc32_z(0L, frame, sizeof frame);
    return FLP_OK;
}

/* The 4-byte CRC after a payload, compared with `crc`. */
static flp_status flp__check_crc(flp__ckpt *ck, flp__section sec, uLong crc)
{
    uint32_t stored;
    FLP__TRY(flp__read(ck, &stored, 4));
    return stored == (uint32_t)crc ? FLP_OK : flp__section_error(ck, "has a CRC mismatch in", sec);
}

/* A small section whole: frame, payload into a new buffer *payload
 * (flp__free; NULL when empty or on failure), CRC checked. */
static flp_status flp__read_section(flp__ckpt *ck, flp__section expected, int optional,
                                    flp__section *got, uint8_t **payload, uint64_t *len)
{
    *payload = NULL;
    uLong crc;
    FLP__TRY(flp__read_frame(ck, expected, optional, got, len, &crc));
    uint8_t *p = NULL;
    flp_status st = FLP_OK;
    if (*len > 0) {
        if ((p = flp__alloc_bytes((size_t)*len, "checkpoint section")) == NULL)
            return FLP_ERR_NOMEM;
        st = flp__read(ck, p, (size_t)*len);
        if (st == FLP_OK)
            crc = crc32_z(crc, p, (z_size_t)*len);
    }
    if (st == FLP_OK)
        st = flp__check_crc(ck, *got, crc);
    if (st != FLP_OK) {
        flp__free(p);
        return st;
    }
    *payload = p;
    return FLP_OK;
}

/* ---- the small sections ---------------------------------------------------------- */

/* The recorded configuration (format 2 on) must be the handles'; format 2
 * files are checked by the settings they recorded. */
static flp_status flp__parse_config(flp__ckpt *ck, flp__reader *r, const flp_meta *meta)
{
    const double one = 1.0;
    uint8_t bits[8];
    uint32_t len;
    if (!flp__get(r, bits, 8) || !flp__get(r, &len, 4) || len != r->n - r->pos)
        return flp__malformed(ck, FLP__SEC_CONFIG, "wrong length");
    if (memcmp(bits, &one, 8) != 0)
        return flp__error(FLP_ERR_VERSION,
                          "%s: checkpoint '%s' was written with a different double layout "
                          "(1.0 stored as %02x%02x%02x%02x%02x%02x%02x%02x)",
                          ck->fn, ck->path, bits[0], bits[1], bits[2], bits[3], bits[4], bits[5],
                          bits[6], bits[7]);
    const char *config = (const char *)flp__skip(r, len);
    char *now;
    size_t now_len;
    FLP__TRY(flp__ckpt_describe(meta, &now, &now_len));
    char was[128], is[128];
    flp_status st = FLP_OK;
    if (flp__ckpt_config_diff(config, len, now, ck->format < FLP__CKPT_FORMAT_KEYS, was, is, sizeof was) !=
        NULL) {
        const char *key = flp__ckpt_key_of_line(was);
        st = flp__error(FLP_ERR_VERSION,
                        "%s: checkpoint '%s' is for another configuration: it has '%s', these "
                        "handles have '%s'%s%s%s",
                        ck->fn, ck->path, was, is, key ? " (" : "", key ? key : "", key ? ")" : "");
    }
    flp__free(now);
    return st;
}

/* Format 2 files stored the optimizer's first four keys, without a count. */
#define FLP__FORMAT2_META_KEYS 4

/* The optimizer's settings, the first n keys of its map (f64 for REAL keys,
 * i32 for the others), into ck->adam, each checked against its key; the
 * keys after them (added to the map since the file was written) keep their
 * defaults. */
static flp_status flp__parse_meta_settings(flp__ckpt *ck, flp__reader *r, int *ok)
{
    double v[FLP__META_NKEYS];
    uint32_t n = FLP__FORMAT2_META_KEYS;
    if (ck->format >= FLP__CKPT_FORMAT_KEYS && (*ok = flp__get(r, &n, 4)) && (n < 1 || n > FLP__META_NKEYS))
        return flp__malformed(ck, FLP__SEC_OPTIMIZER, "it records more optimizer settings than this libflp has");
    for (int i = 0; i < flp__meta_keys.n; i++)
        v[i] = flp__meta_keys.keys[i].def;
    for (int i = 0; *ok && i < (int)n; i++) {
        int32_t k = 0;
        if (flp__meta_keys.keys[i].type == FLP__KEY_REAL)
            *ok = flp__get(r, &v[i], 8);
        else if ((*ok = flp__get(r, &k, 4)))
            v[i] = k;
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
    /* A meta-optimizer counts at most FLP__META_MAX_STEPS: a count beyond
     * (INT64_MAX, say) could not be continued from. */
    if (ck->step < 0 || ck->step > FLP__META_MAX_STEPS)
        return flp__error(FLP_ERR_FORMAT,
                          "%s: checkpoint '%s': optimizer section is malformed: step count %lld is "
                          "outside 0 to 2^53 (a meta-optimizer takes at most 2^53 steps)",
                          ck->fn, ck->path, (long long)ck->step);
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

/* ---- the tensor section, streamed ------------------------------------------------ */

/* The section's payload as it is read: what is left of it, its CRC so
 * far, and the first problem found (reported once the CRC is known good). */
typedef struct {
    flp__ckpt *ck;
    uint64_t left;
    uLong crc;
    flp_status problem;
} flp__stream;

/* n payload bytes into dst, or 0 when fewer are left. */
static flp_status flp__stream_read(flp__stream *s, void *dst, uint64_t n, int *ok)
{
    *ok = n <= s->left;
    if (!*ok)
        return FLP_OK;
    FLP__TRY(flp__read(s->ck, dst, (size_t)n));
    s->crc = crc32_z(s->crc, dst, (z_size_t)n);
    s->left -= n;
    return FLP_OK;
}

/* Read the rest of the payload for its CRC alone. */
static flp_status flp__stream_skip(flp__stream *s)
{
    uint8_t chunk[1 << 14];
    while (s->left > 0) {
        uint64_t n = s->left < sizeof chunk ? s->left : sizeof chunk;
        int ok;
        FLP__TRY(flp__stream_read(s, chunk, n, &ok));
    }
    return FLP_OK;
}

/* Record the first problem (its message stays the thread's last error). */
static void flp__stream_problem(flp__stream *s, flp_status st)
{
    if (s->problem == FLP_OK)
        s->problem = st;
}

/* Tensor i's entry, matched against the handles' tensor t (NULL: the file
 * has more tensors than the handles) before its arrays are read into the
 * staging buffer at `offset`. */
static flp_status flp__stream_tensor(flp__stream *s, int i, const flp__tensor *t, int64_t offset,
                                     int64_t total)
{
    flp__ckpt *ck = s->ck;
    char name[FLP__CKPT_NAME_SIZE + 1];
    int32_t group;
    int64_t count;
    int ok1, ok2, ok3;
    FLP__TRY(flp__stream_read(s, name, FLP__CKPT_NAME_SIZE, &ok1));
    FLP__TRY(flp__stream_read(s, &group, 4, &ok2));
    FLP__TRY(flp__stream_read(s, &count, 8, &ok3));
    name[FLP__CKPT_NAME_SIZE] = '\0';
    if (!ok1 || !ok2 || !ok3 || count < 0 || (uint64_t)count > s->left / 12) {
        flp__stream_problem(s, flp__malformed(ck, FLP__SEC_TENSORS, "wrong length"));
        return FLP_OK;
    }
    if (group < 0 || group >= FLP_GROUP_COUNT) {
        flp__stream_problem(s, flp__malformed(ck, FLP__SEC_TENSORS, "group out of range"));
        return FLP_OK;
    }
    if (t == NULL)
        return FLP_OK; /* one tensor too many: reported from the counts */
    if (strcmp(name, t->name) != 0 || group != t->group) {
        flp__stream_problem(s, flp__error(FLP_ERR_VERSION,
                                          "%s: checkpoint has %s (group %d) as meta-parameter %d, "
                                          "this configuration has %s (group %d)",
                                          ck->fn, name, group, i, t->name, t->group));
        return FLP_OK;
    }
    if (count != t->count) {
        flp__stream_problem(s, flp__error(FLP_ERR_VERSION,
                                          "%s: checkpoint has %s with %lld values, this "
                                          "configuration has %lld",
                                          ck->fn, name, (long long)count, (long long)t->count));
        return FLP_OK;
    }
    for (int k = 0; k < 3; k++) { /* values, m, v */
        float *dst = ck->staged + k * total + offset;
        int ok;
        FLP__TRY(flp__stream_read(s, dst, (uint64_t)count * 4, &ok));
        if (flp__ckpt_bad_float(dst, count, k == 2) >= 0) {
            flp__stream_problem(s, flp__malformed(ck, FLP__SEC_TENSORS, "non-finite or invalid values"));
            return FLP_OK;
        }
    }
    return FLP_OK;
}

static flp_status flp__read_tensors(flp__ckpt *ck, const flp_meta *meta)
{
    const flp__tensor_list *views = &meta->views;
    flp__section got;
    flp__stream s = {.ck = ck};
    FLP__TRY(flp__read_frame(ck, FLP__SEC_TENSORS, 0, &got, &s.left, &s.crc));
    /* From format 2 the configuration, already matched, fixes the tensors:
     * a section of another length is damaged, and is not read. */
    uint64_t expected = 4 + (uint64_t)views->n * FLP__CKPT_TENSOR_HEAD + 12 * (uint64_t)meta->total;
    if (ck->format >= FLP__CKPT_FORMAT_CONFIG && s.left != expected)
        return flp__malformed(ck, FLP__SEC_TENSORS, "its length is not that of the configuration's tensors");
    ck->staged = flp__alloc_floats(3 * meta->total, "checkpoint tensors");
    if (ck->staged == NULL)
        return FLP_ERR_NOMEM;
    uint32_t n;
    int ok;
    FLP__TRY(flp__stream_read(&s, &n, 4, &ok));
    if (!ok || n > s.left / FLP__CKPT_TENSOR_HEAD)
        flp__stream_problem(&s, flp__malformed(ck, FLP__SEC_TENSORS, "wrong tensor count"));
    int64_t offset = 0;
    for (uint32_t i = 0; s.problem == FLP_OK && i < n; i++) {
        const flp__tensor *t = (int)i < views->n ? &views->items[i] : NULL;
        FLP__TRY(flp__stream_tensor(&s, (int)i, t, offset, meta->total));
        offset += t != NULL ? t->count : 0;
    }
    if (s.problem == FLP_OK && s.left != 0)
        flp__stream_problem(&s, flp__malformed(ck, FLP__SEC_TENSORS, "wrong length"));
    if (s.problem == FLP_OK && (int)n != views->n)
        flp__stream_problem(&s, flp__error(FLP_ERR_VERSION,
                                           "%s: checkpoint has %u meta-parameter tensors, this "
                                           "configuration has %d",
                                           ck->fn, n, views->n));
    FLP__TRY(flp__stream_skip(&s));
    FLP__TRY(flp__check_crc(ck, FLP__SEC_TENSORS, s.crc));
    return s.problem;
}

/* ---- the whole file ---------------------------------------------------------------- */

static flp_status flp__read_checkpoint(flp__ckpt *ck, const flp_meta *meta)
{
    FLP__TRY(flp__read_header(ck));
    flp__section got;
    uint8_t *payload;
    uint64_t len;
    if (ck->format >= FLP__CKPT_FORMAT_CONFIG) {
        FLP__TRY(flp__read_section(ck, FLP__SEC_CONFIG, 0, &got, &ck->conf, &len));
        flp__reader r = {ck->conf, len, 0};
        FLP__TRY(flp__parse_config(ck, &r, meta));
    }
    FLP__TRY(flp__read_section(ck, FLP__SEC_OPTIMIZER, 0, &got, &payload, &len));
    flp__reader r = {payload, len, 0};
    flp_status st = flp__parse_optimizer(ck, &r);
    flp__free(payload);
    FLP__TRY(st);
    FLP__TRY(flp__read_tensors(ck, meta));
    FLP__TRY(flp__read_section(ck, FLP__SEC_SAMPLER, 1, &got, &ck->samp, &len));
    if (got == FLP__SEC_SAMPLER) {
        flp__reader s = {ck->samp, len, 0};
        FLP__TRY(flp__parse_sampler(ck, &s));
        FLP__TRY(flp__read_section(ck, FLP__SEC_END, 0, &got, &payload, &len));
    }
    if (flp__left(ck) != 0)
        return flp__bad(ck, "has data after the end marker");
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
        memcpy(t->value, ck->staged + offset, bytes);
        memcpy(flp__meta_m(meta, offset), ck->staged + meta->total + offset, bytes);
        memcpy(flp__meta_v(meta, offset), ck->staged + 2 * meta->total + offset, bytes);
        offset += t->count;
    }
}

flp_status flp_checkpoint_load(const char *path, flp_meta *meta, flp_sampler *sampler)
{
    FLP__CHECK_NULL(path);
    FLP__CHECK_NULL(meta);
    flp__ckpt ck = {.path = path, .fn = __func__, .fd = -1};
    flp_status st = flp__meta_collect(meta, &meta->views, __func__);
    if (st == FLP_OK && (st = flp__open_regular(path, &ck.fd, &ck.size)) != FLP_OK)
        flp__error_context(st, "%s", __func__);
    if (st == FLP_OK)
        st = flp__read_checkpoint(&ck, meta);
    if (st == FLP_OK)
        st = flp__restore_sampler(&ck, sampler);
    if (st == FLP_OK)
        flp__restore_meta(&ck, meta, &meta->views);
    if (ck.fd >= 0)
        close(ck.fd);
    flp__free(ck.conf);
    flp__free(ck.staged);
    flp__free(ck.samp);
    return st;
}
