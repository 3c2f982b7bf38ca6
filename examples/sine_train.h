/* sine_train.h - flp-compare's meta-training loop over the sine setup: one
 * episode per meta-step, progress lines, skipped non-finite steps. (flp-sine
 * has its own, for meta-batches shared among MPI ranks.) Public API only;
 * library errors end the program (cli.h). */
#ifndef FLP_EXAMPLES_SINE_TRAIN_H
#define FLP_EXAMPLES_SINE_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "sine_model.h"

/* Skipped steps leave the meta-parameters as they were, so a long run of
 * them means every lifetime now diverges: stop instead of idling. */
#define SINE_MAX_CONSECUTIVE_SKIPS 50

typedef struct {
    const char *prog;       /* prefixes messages ("flp-sine") */
    const char *tag;        /* prefixes progress lines (may be NULL) */
    long episodes;          /* train until this many meta-steps are done */
    long progress_every;    /* progress line every N episodes; 0: every 10 s */
    long save_every;        /* checkpoint every N episodes; 0: never during training */
    const char *save;       /* checkpoint path, or NULL */
    FILE *log;              /* per-episode CSV rows episode,meta_loss,seconds, or NULL */
} sine_train_opts;

/* Meta-train m from its current step count up to o->episodes, with
 * progress lines (rate and ETA) on stderr. A meta-step whose lifetime or
 * gradient is not finite is reported and skipped; SINE_MAX_CONSECUTIVE_SKIPS
 * in a row end the program (exit 1). Returns 1 if a checkpoint of the last
 * episode was already written. */
int sine_train(const sine_train_opts *o, const sine_model *m, flp_episode *ep);

/* Write m's checkpoint to `path` and say so on stderr. */
void sine_save(const char *path, const sine_model *m);

#endif
