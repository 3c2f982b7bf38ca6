/* checkpoint_file.h - what the checkpoint writer (checkpoint_save.c) and
 * reader (checkpoint_load.c) share beyond the layout: the rule for values,
 * so that the writer never writes a file the reader would refuse. */
#ifndef FLP_CHECKPOINT_CHECKPOINT_FILE_H
#define FLP_CHECKPOINT_CHECKPOINT_FILE_H

#include <stdint.h>

/* -1 if every float of `bytes` (count of them, native layout, maybe
 * unaligned) is finite, and >= 0 when `nonneg` (Adam's second moments can
 * never be negative); else the index of the first that is not. */
int64_t flp__ckpt_bad_float(const void *bytes, int64_t count, int nonneg);

/* Tests only: 0 makes saving write a named temporary file even where
 * O_TMPFILE works, so that both ways are tested; 1 restores the default. */
void flp__ckpt_use_tmpfile(int use);

#endif
