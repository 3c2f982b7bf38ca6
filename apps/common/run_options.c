/* run_options.c - see run_options.h. */
#include "run_options.h"

#include <string.h>

#include "cli.h"

void run_option_parse(run_options *r, const char *name, const char *arg)
{
    if (strcmp(name, "episodes") == 0)
        r->episodes = cli_parse_long(name, arg, 0, 1L << 40);
    else if (strcmp(name, "seed") == 0)
        r->seed = (uint64_t)cli_parse_long(name, arg, 0, 1L << 62);
    else if (strcmp(name, "threads") == 0)
        r->threads = (int)cli_parse_long(name, arg, 1, 4096);
    else if (strcmp(name, "save") == 0)
        r->save = arg;
    else if (strcmp(name, "save-every") == 0)
        r->save_every = cli_parse_long(name, arg, 0, 1L << 40);
    else if (strcmp(name, "load") == 0)
        r->load = arg;
    else if (strcmp(name, "log") == 0)
        r->log = arg;
    else if (strcmp(name, "progress-every") == 0)
        r->progress_every = cli_parse_long(name, arg, 0, 1L << 40);
    else if (strcmp(name, "quick") == 0)
        r->quick = 1;
    else
        cli_bad_usage("--%s is not an option of a training run", name);
}
