/* fuzz.h - what one fuzz target provides (doc/FUZZING.md).
 *
 * A target is one file, target_<name>.c, defining the two functions below;
 * fuzz/meson.build links it with libfuzzer_main.c into fuzz-<name> (the
 * libFuzzer binary, -Dfuzz=enabled builds only) and with replay_main.c into
 * fuzz-replay-<name> (every build: writes the seed corpus and replays the
 * regression corpus as a normal test). */
#ifndef FLP_FUZZ_H
#define FLP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "flp/flp_common.h"

/* Feed `data` to the reader under test. Returns the reader's status; any
 * status is acceptable for arbitrary input, but a failure must leave a
 * message and a success must give a sane result (checked with
 * FLP_FUZZ_CHECK, which aborts: libFuzzer reports it as a finding). */
flp_status flp_fuzz_run(const uint8_t *data, size_t size);

/* Valid inputs the reader must accept: call emit once per seed file. */
typedef void (*flp_fuzz_emit)(void *ctx, const char *name, const uint8_t *data, size_t size);
void flp_fuzz_seeds(flp_fuzz_emit emit, void *ctx);

/* Path of a scratch file holding exactly `data` (one per process, reused):
 * for readers that take a path. NULL if it cannot be written. */
const char *flp_fuzz_file(const uint8_t *data, size_t size);
/* Emit the bytes of the file at `path` as seed `name` and remove the file. */
void flp_fuzz_emit_file(flp_fuzz_emit emit, void *ctx, const char *name, const char *path);
/* An image reader's signature (lib/data/image.h). */
typedef flp_status (*flp_fuzz_image_reader)(const char *path, int channels, float **out, int64_t *h,
                                             int64_t *w);
/* Decode `data` with `read` to gray, then to RGB (different conversion
 * paths), checking that a decoded image has a sane size and pixels in
 * [0, 1]. Returns the first failing status. */
flp_status flp_fuzz_decode_image(flp_fuzz_image_reader read, const uint8_t *data, size_t size);
/* abort() with a message when `cond` is false. */
#define FLP_FUZZ_CHECK(cond) flp_fuzz_check((cond), #cond, __FILE__, __LINE__)
void flp_fuzz_check(int ok, const char *what, const char *file, int line);

#endif
