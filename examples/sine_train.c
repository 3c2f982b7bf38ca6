/* sine_train.c - see sine_train.h. */
#include "sine_train.h"

#include <math.h>
#include <stdlib.h>

#include "cli.h"

typedef struct {
    double t_start, t_last;      /* run start, last progress line */
    long first, last_episode;    /* first episode of this run, episode at last line */
    double window_loss;          /* finite losses since the last line */
    long window_n, nonfinite, consecutive;
} progress;

static void report_progress(const sine_train_opts *o, progress *p, long episode)
{
    double t = cli_now(), per_step = (t - p->t_last) / (double)(episode - p->last_episode);
    double rate_all = (t - p->t_start) / (double)(episode - p->first);
    char eta[32];
    cli_format_duration(rate_all * (double)(o->episodes - episode), eta, sizeof eta);
    fprintf(stderr, "%s%sepisode %ld/%ld  meta_loss %.4g (running mean)  %.2f s/step  ETA %s\n",
            o->tag ? o->tag : "", o->tag ? ": " : "", episode, o->episodes,
            p->window_n ? p->window_loss / (double)p->window_n : NAN, per_step, eta);
    p->t_last = t;
    p->last_episode = episode;
    p->window_loss = 0;
    p->window_n = 0;
}

void sine_save(const char *path, const sine_model *m)
{
    CLI_CHECK(flp_checkpoint_save(path, m->meta, m->sampler));
    fprintf(stderr, "checkpoint written to %s\n", path);
}

/* One meta-step; a non-finite meta-gradient or lifetime is reported and the
 * step skipped (the optimizer never applies it). Returns the loss or NaN. */
static float train_step(const sine_train_opts *o, const sine_model *m, flp_episode *ep, progress *p,
                        long episode)
{
    float loss;
    CLI_CHECK(flp_sampler_next(m->sampler, FLP_SPLIT_TRAIN, ep));
    flp_status st = flp_meta_train_step(m->meta, m->lt, ep, &loss);
    if (st == FLP_ERR_NONFINITE) {
        if (p->nonfinite++ < 10)
            fprintf(stderr, "%s: episode %ld: step skipped: %s\n", o->prog, episode, flp_last_error());
        if (++p->consecutive >= SINE_MAX_CONSECUTIVE_SKIPS) {
            fprintf(stderr, "%s: %d steps in a row skipped for non-finite values; stopping "
                    "(lower the learning rates, e.g. --lr-plasticity)\n", o->prog, SINE_MAX_CONSECUTIVE_SKIPS);
            exit(1);
        }
        return NAN;
    }
    if (st != FLP_OK)
        cli_die_flp("flp_meta_train_step");
    p->consecutive = 0;
    return loss;
}

int sine_train(const sine_train_opts *o, const sine_model *m, flp_episode *ep)
{
    int saved = 0;
    int64_t done;
    CLI_CHECK(flp_meta_step_count(m->meta, &done));
    progress p = {cli_now(), cli_now(), (long)done, (long)done, 0, 0, 0, 0};
    for (long e = (long)done; e < o->episodes; e++) {
        float loss = train_step(o, m, ep, &p, e + 1);
        if (isfinite(loss)) {
            p.window_loss += loss;
            p.window_n++;
        }
        if (o->log)
            fprintf(o->log, "%ld,%.9g,%.3f\n", e + 1, (double)loss, cli_now() - p.t_start);
        int due = o->progress_every > 0 ? (e + 1) % o->progress_every == 0 : cli_now() - p.t_last >= 10;
        if (due || e + 1 == o->episodes)
            report_progress(o, &p, e + 1);
        saved = o->save && o->save_every > 0 && (e + 1) % o->save_every == 0;
        if (saved)
            sine_save(o->save, m);
    }
    if (p.nonfinite)
        fprintf(stderr, "%s: %ld of %ld steps skipped for non-finite values\n", o->prog, p.nonfinite,
                o->episodes - (long)done);
    return saved;
}
