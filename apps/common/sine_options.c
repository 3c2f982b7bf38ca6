/* sine_options.c - see sine_options.h. */
#include "sine_options.h"

#include <stddef.h>
#include <string.h>

#include "cli.h"

typedef enum { AS_INT64, AS_INT, AS_MIB, AS_RATE } option_kind;

/* An option that sets one field, with its bounds (integers only). */
typedef struct {
    const char *name;
    option_kind kind;
    size_t offset;
    long lo, hi;
} field_option;

static const field_option fields[] = {
    {"plastic", AS_INT, offsetof(sine_config, plastic), 0, 1000},
    {"width", AS_INT64, offsetof(sine_config, width), 1, 1L << 20},
    {"depth", AS_INT, offsetof(sine_config, depth), 0, 1000},
    {"memory-mib", AS_MIB, offsetof(sine_config, memory_mib), 0, 1L << 30},
    {"steps-per-task", AS_INT64, offsetof(sine_config, batches_per_task), 1, 1L << 20},
    {"batch", AS_INT64, offsetof(sine_config, batch), 1, 1L << 20},
    {"lr-weights", AS_RATE, offsetof(sine_config, lr_weights), 0, 0},
    {"lr-feedback", AS_RATE, offsetof(sine_config, lr_feedback), 0, 0},
    {"lr-plasticity", AS_RATE, offsetof(sine_config, lr_plasticity), 0, 0},
    {"lr-strength", AS_RATE, offsetof(sine_config, lr_strength), 0, 0},
    {"inner-lr", AS_RATE, offsetof(sine_config, inner_lr), 0, 0},
};

static void set_field(sine_config *cfg, const field_option *f, const char *arg)
{
    char *p = (char *)cfg + f->offset;
    switch (f->kind) {
    case AS_INT64: *(int64_t *)(void *)p = cli_parse_long(f->name, arg, f->lo, f->hi); break;
    case AS_INT: *(int *)(void *)p = (int)cli_parse_long(f->name, arg, f->lo, f->hi); break;
    case AS_MIB: *(double *)(void *)p = (double)cli_parse_long(f->name, arg, f->lo, f->hi); break;
    case AS_RATE: *(double *)(void *)p = cli_parse_rate(f->name, arg); break;
    }
}

void sine_option_parse(sine_config *cfg, const char *name, const char *arg)
{
    if (strcmp(name, "mode") == 0) {
        if (strcmp(arg, "iid") && strcmp(arg, "continual"))
            cli_bad_usage("--mode is iid or continual, not '%s'", arg);
        cfg->order = strcmp(arg, "iid") ? FLP_ORDER_CONTINUAL : FLP_ORDER_IID;
        return;
    }
    if (strcmp(name, "rule") == 0) {
        cfg->rule = cli_parse_rule(arg);
        return;
    }
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(name, fields[i].name) == 0) {
            set_field(cfg, &fields[i], arg);
            return;
        }
    cli_bad_usage("--%s is not an option of the sine setup", name);
}
