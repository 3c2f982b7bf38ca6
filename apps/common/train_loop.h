/* train_loop.h - the meta-training loop the programs of apps/ share: from
 * the meta-step count a run resumes at up to the total, one step at a time
 * (the program's own: one episode, or a meta-batch across ranks), with the
 * per-step CSV row, progress lines with rate and ETA, periodic checkpoints,
 * and skipped non-finite steps (reported; too many in a row end the
 * program). Public API only; library errors end the program (cli.h). */
#ifndef FLP_APPS_TRAIN_LOOP_H
#define FLP_APPS_TRAIN_LOOP_H

#include <stdio.h>

#include <flp/flp.h>

/* Skipped steps leave the meta-parameters as they were, so a long run of
 * them means every lifetime now diverges: stop instead of idling. */
#define TRAIN_MAX_CONSECUTIVE_SKIPS 50

/* What a progress line reports: the running means of the finite steps
 * since the last line (NaN when there were none), the seconds per step
 * since the last line and the time left at the run's mean rate. */
typedef struct {
    long step, total;
    double loss, err;
    double per_step;
    char eta[32];
} train_window;

typedef struct {
    const char *prog;       /* prefixes messages ("flp-sine") */
    const char *unit;       /* what a step is called in messages ("episode") */
    const char *hint;       /* how to stop steps being skipped ("lower --alpha") */
    int talk;               /* print progress and skip messages (0 on MPI ranks > 0) */
    long total;             /* train until this many meta-steps are done */
    long progress_every;    /* progress line every N steps; 0: every 10 s */
    long save_every;        /* call save every N steps; 0: never during training */
    FILE *log;              /* CSV rows step,meta_loss[,err],seconds, or NULL */
    int log_err;            /* the rows carry err (%.1f) */
    /* One meta-step: FLP_OK with its loss and err (err may be left NaN),
     * or FLP_ERR_NONFINITE with why the step was skipped; any other status
     * ends the program with `what` failed. */
    flp_status (*step)(void *ctx, long step, float *loss, double *err, const char **why);
    const char *what;
    void (*line)(void *ctx, const train_window *w); /* prints a progress line */
    /* The program's own output of every step, after the log's row, or NULL:
     * the step's loss and err (both NaN when it was skipped) and the seconds
     * since this run started. */
    void (*row)(void *ctx, long step, float loss, double err, double seconds);
    void (*save)(void *ctx);                         /* writes a checkpoint, or NULL */
    void *ctx;
} train_loop;

/* Run t from the `done` meta-steps already taken up to t->total. Returns
 * 1 if the last step's checkpoint was already written. */
int train_loop_run(const train_loop *t, long done);

/* A step of one episode drawn from `sampler`'s training split, for
 * train_loop.step: flp_meta_train_step on `lt`, *why = flp_last_error()
 * when skipped. */
flp_status train_single_episode(flp_meta *meta, flp_lifetime *lt, flp_sampler *sampler, flp_episode *ep,
                                float *loss, const char **why);

/* The training log at `path`: appended to when resuming, with `header`
 * written when the file is new or empty. Ends the program when it cannot
 * be opened. */
FILE *train_open_log(const char *path, int resume, const char *header);

/* Close a log from train_open_log; 1 and a message if the writes failed. */
int train_close_log(FILE *f, const char *path);

#endif
