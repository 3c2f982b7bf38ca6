/* checkpoint_config.h - the configuration a checkpoint records (format 2
 * on): what the handles' settings make of the meta-parameters. */
#ifndef FLP_CHECKPOINT_CHECKPOINT_CONFIG_H
#define FLP_CHECKPOINT_CHECKPOINT_CONFIG_H

#include <stddef.h>

#include "flp/flp_meta.h"

/* Describe the handles `meta` was created over as "key=value\n" lines: the
 * input shape, each layer's kind, shapes and parameter counts (and a
 * softplus's beta), the rule's kind, every key of the rule's and the
 * feedback's key maps ("rule.second_order=1", "feedback.kind=chained":
 * format 3; format 2 wrote a hand-picked few) and which layers are plastic.
 * The optimizer's and the sampler's settings are not here: the file holds
 * them in its own sections and loading restores them. *text is
 * NUL-terminated and flp__free'd by the caller. FLP_ERR_NOMEM. */
flp_status flp__ckpt_describe(const flp_meta *meta, char **text, size_t *len);

/* NULL if `file` (len bytes, the recorded description) matches `now`;
 * otherwise a line of the file that does not is copied into `file_line`
 * and the handles' line for the same setting into `now_line` (each `size`
 * bytes; "(nothing)" where there is none). Format 3 files must equal `now`
 * (the first line that differs is reported); a format 2 file (`format2`)
 * recorded fewer settings, so each of its lines must be one of `now`'s,
 * its "rule.kind=unknown" meaning the rule family. */
const char *flp__ckpt_config_diff(const char *file, size_t len, const char *now, int format2,
                                  char *file_line, char *now_line, size_t size);

/* The key a description line is of ("FLP_RULE_SECOND_ORDER" for
 * "rule.second_order=1"), or NULL for a line that is no key's. */
const char *flp__ckpt_key_of_line(const char *line);

#endif
