/* train_loop.c - see train_loop.h. */
#include "train_loop.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
    double t_start, t_last;      /* run start, last progress line */
    long first, last_step;       /* first step of this run, step at the last line */
    double window_loss, window_err; /* finite steps since the last line */
    long window_n, nonfinite, consecutive;
} progress;

static void report_progress(const train_loop *t, progress *p, long step)
{
    double now = cli_now();
    double n = p->window_n ? (double)p->window_n : NAN;
    train_window w = {step, t->total, p->window_loss / n, p->window_err / n,
                      (now - p->t_last) / (double)(step - p->last_step), ""};
    double rate_all = (now - p->t_start) / (double)(step - p->first);
    cli_format_duration(rate_all * (double)(t->total - step), w.eta, sizeof w.eta);
    t->line(t->ctx, &w);
    p->t_last = now;
    p->last_step = step;
    p->window_loss = p->window_err = 0;
    p->window_n = 0;
}

/* A skipped step: the first 10 are reported, TRAIN_MAX_CONSECUTIVE_SKIPS
 * in a row end the program. */
static void note_skip(const train_loop *t, progress *p, long step, const char *why)
{
    if (p->nonfinite++ < 10 && t->talk)
        fprintf(stderr, "%s: %s %ld: step skipped: %s\n", t->prog, t->unit, step, why);
    if (++p->consecutive >= TRAIN_MAX_CONSECUTIVE_SKIPS) {
        if (t->talk)
            fprintf(stderr, "%s: %d steps in a row skipped for non-finite values; stopping (%s)\n", t->prog,
                    TRAIN_MAX_CONSECUTIVE_SKIPS, t->hint);
        exit(1);
    }
}

int train_loop_run(const train_loop *t, long done)
{
    int saved = 0;
    progress p = {cli_now(), cli_now(), done, done, 0, 0, 0, 0, 0};
    for (long e = done; e < t->total; e++) {
        float loss = NAN;
        double err = NAN;
        const char *why = "";
        flp_status st = t->step(t->ctx, e + 1, &loss, &err, &why);
        if (st == FLP_ERR_NONFINITE) {
            note_skip(t, &p, e + 1, why);
            loss = NAN;
            err = NAN;
        } else if (st != FLP_OK) {
            cli_die_flp(t->what);
        } else {
            p.consecutive = 0;
        }
        if (isfinite(loss)) {
            p.window_loss += loss;
            p.window_err += err;
            p.window_n++;
        }
        if (t->log && t->log_err)
            fprintf(t->log, "%ld,%.9g,%.1f,%.3f\n", e + 1, (double)loss, err, cli_now() - p.t_start);
        else if (t->log)
            fprintf(t->log, "%ld,%.9g,%.3f\n", e + 1, (double)loss, cli_now() - p.t_start);
        if (t->row)
            t->row(t->ctx, e + 1, loss, err, cli_now() - p.t_start);
        int due = t->progress_every > 0 ? (e + 1) % t->progress_every == 0 : cli_now() - p.t_last >= 10;
        if (t->talk && (due || e + 1 == t->total))
            report_progress(t, &p, e + 1);
        saved = t->save && t->save_every > 0 && (e + 1) % t->save_every == 0;
        if (saved)
            t->save(t->ctx);
    }
    if (p.nonfinite && t->talk)
        fprintf(stderr, "%s: %ld of %ld steps skipped for non-finite values\n", t->prog, p.nonfinite,
                t->total - done);
    return saved;
}

flp_status train_single_episode(flp_meta *meta, flp_lifetime *lt, flp_sampler *sampler, flp_episode *ep,
                                float *loss, const char **why)
{
    CLI_CHECK(flp_sampler_next(sampler, FLP_SPLIT_TRAIN, ep));
    flp_status st = flp_meta_train_step(meta, lt, ep, loss);
    if (st == FLP_ERR_NONFINITE)
        *why = flp_last_error();
    return st;
}

FILE *train_open_log(const char *path, int resume, const char *header)
{
    FILE *f = fopen(path, resume ? "a" : "w");
    if (!f) {
        fprintf(stderr, "%s: cannot open log '%s': %s\n", cli_prog_name(), path, strerror(errno));
        exit(1);
    }
    fseek(f, 0, SEEK_END); /* where "a" starts is implementation-defined */
    if (ftell(f) == 0)
        fprintf(f, "%s\n", header);
    return f;
}

int train_close_log(FILE *f, const char *path)
{
    if (fclose(f) == 0)
        return 0;
    fprintf(stderr, "%s: writing log '%s': %s\n", cli_prog_name(), path, strerror(errno));
    return 1;
}
