/* checkpoint_config.h - the configuration a checkpoint records (format 2):
 * what the handles' settings make of the meta-parameters. */
#ifndef FLP_CHECKPOINT_CHECKPOINT_CONFIG_H
#define FLP_CHECKPOINT_CHECKPOINT_CONFIG_H

#include <stddef.h>

#include "flp/flp_meta.h"

/* Describe the handles `meta` was created over as "key=value\n" lines: the
 * input shape, each layer's kind, shapes and parameter counts (and a
 * softplus's beta), the rule (kind, granularity, hidden multiplier, which
 * layers are plastic) and the feedback settings. Settings that change only
 * how the meta-gradient is computed (FLP_RULE_SECOND_ORDER) or nothing the
 * lifetime computes (memory budget, threads) are left out, so they may
 * change across a resume. *text is NUL-terminated and flp__free'd by the
 * caller. FLP_ERR_NOMEM. */
flp_status flp__ckpt_describe(const flp_meta *meta, char **text, size_t *len);

/* NULL if `file` (len bytes, the recorded description) equals `now`;
 * otherwise the first line that differs is copied into `file_line` and
 * `now_line` (each `size` bytes; "(nothing)" past the end of one). */
const char *flp__ckpt_config_diff(const char *file, size_t len, const char *now, char *file_line,
                                  char *now_line, size_t size);

#endif
