/* checkpoint_format.h - the layout of checkpoint files (format version 3;
 * version 1, written by libflp 0.1.0, and version 2 are still read).
 *
 * Every multi-byte value is written in the writer's native byte order and
 * float layout; the header records both so that a reader on a different
 * machine refuses the file instead of misreading it.
 *
 *   header (28 bytes; the first 24 keep this layout in every format version)
 *     char[8]  magic "FLPCKPT\0"
 *     u32      format version (FLP__CKPT_FORMAT)
 *     u32      libflp version that wrote it (flp_version_number(); informational)
 *     u32      byte-order marker 0x01020304
 *     u32      bits of 1.0f (0x3f800000 for IEEE-754 binary32)
 *     u32      CRC-32 of the 24 bytes above
 *   sections, in this order: CONF (format 2 on), OPTM, TENS, SAMP (optional), END
 *     char[4]  tag
 *     u64      payload length in bytes
 *     u8[len]  payload
 *     u32      CRC-32 (zlib) of tag, length and payload
 *
 *   CONF  f64 1.0 (its bits give the double layout), u32 length,
 *         char text[length] (no NUL): the configuration of the handles as
 *         "key=value\n" lines (checkpoint_config.h), refused if it differs.
 *         Format 3 records every key of the rule's and the feedback's key
 *         maps; format 2 only some (a format 2 file is checked on those)
 *   OPTM  (format 3 on) u32 n, then the first n keys of FLP_META_KEY_MAP in
 *         map order, f64 for a REAL key and i32 for the others (a key added
 *         to the end of the map is read from later files and takes its
 *         default from earlier ones); format 2: the first 4 keys (beta1,
 *         beta2, eps: f64; nonfinite policy: i32) without n; i64 step count;
 *         u32 group count (FLP_GROUP_COUNT); per group: f64 base lr,
 *         i32 frozen, f64 decay factor, i32 milestone count,
 *         i64 milestones[FLP__MAX_MILESTONES] (unused ones 0)
 *   TENS  u32 tensor count; per tensor: char name[32] (NUL-padded), i32 group,
 *         i64 count, f32 values[count], f32 adam_m[count], f32 adam_v[count]
 *   SAMP  u32 kind length, char kind[length] (no NUL), i64 state length,
 *         u8 state[length] (the sampler's own serialization)
 *   END   empty payload; nothing may follow it
 */
#ifndef FLP_CHECKPOINT_CHECKPOINT_FORMAT_H
#define FLP_CHECKPOINT_CHECKPOINT_FORMAT_H

#include <stdint.h>

#define FLP__CKPT_MAGIC "FLPCKPT"  /* + its terminating NUL: 8 bytes */
#define FLP__CKPT_MAGIC_SIZE 8
#define FLP__CKPT_FORMAT 3u
#define FLP__CKPT_FORMAT_OLDEST 1u  /* oldest format version read */
#define FLP__CKPT_FORMAT_CONFIG 2u  /* first version with a CONF section */
#define FLP__CKPT_FORMAT_KEYS 3u    /* first whose CONF records every key */
#define FLP__CKPT_BYTE_ORDER 0x01020304u
#define FLP__CKPT_FLOAT_ONE 0x3f800000u
#define FLP__CKPT_HEADER_SIZE 28
#define FLP__CKPT_NAME_SIZE 32
#define FLP__CKPT_KIND_MAX 64   /* longest sampler kind accepted */
/* The longest configuration text and sampler state a file may hold: what
 * the reader allocates for those sections is bounded before it reads them
 * (the writer refuses to write more). Both are a few hundred bytes. */
#define FLP__CKPT_CONFIG_MAX ((uint32_t)1 << 20)
#define FLP__CKPT_STATE_MAX ((int64_t)1 << 20)

/* Fixed size of one tensor entry before its three arrays. */
#define FLP__CKPT_TENSOR_HEAD (FLP__CKPT_NAME_SIZE + 4 + 8)

typedef enum {
    FLP__SEC_CONFIG = 0,
    FLP__SEC_OPTIMIZER = 1,
    FLP__SEC_TENSORS = 2,
    FLP__SEC_SAMPLER = 3,
    FLP__SEC_END = 4,
    FLP__SEC_COUNT = 5
} flp__section;

/* Tags as written, and the names used in error messages, by flp__section. */
static const char flp__sec_tag[FLP__SEC_COUNT][4] = {{'C', 'O', 'N', 'F'}, {'O', 'P', 'T', 'M'},
                                                     {'T', 'E', 'N', 'S'}, {'S', 'A', 'M', 'P'},
                                                     {'E', 'N', 'D', ' '}};
static const char *const flp__sec_name[FLP__SEC_COUNT] = {"configuration", "optimizer", "tensor",
                                                          "sampler", "end-marker"};

#endif
