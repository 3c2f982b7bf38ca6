/* golden.c - reads golden-vector files. */
#include "golden.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int parse_header(char *line, tg_array *a)
{
    char *tok = strtok(line, " \t\r\n");
    if (tok == NULL || strlen(tok) >= sizeof a->name)
        return 0;
    strcpy(a->name, tok);
    a->rank = 0;
    a->count = 1;
    while ((tok = strtok(NULL, " \t\r\n")) != NULL && a->rank < 4) {
        a->shape[a->rank] = atoll(tok);
        a->count *= a->shape[a->rank++];
    }
    return a->rank > 0 && a->count > 0;
}

static void parse_values(char *line, tg_array *a)
{
    a->v = malloc((size_t)a->count * sizeof *a->v);
    a->f = malloc((size_t)a->count * sizeof *a->f);
    ck_assert(a->v != NULL && a->f != NULL);
    char *p = line;
    for (int64_t i = 0; i < a->count; i++) {
        char *end;
        a->v[i] = strtod(p, &end);
        ck_assert_msg(end != p, "golden array %s: only %lld of %lld values", a->name, (long long)i,
                      (long long)a->count);
        a->f[i] = (float)a->v[i];
        p = end;
    }
}

int tg_load(const char *relative, tg_file *f)
{
    memset(f, 0, sizeof *f);
    /* the suite's own copy first (tests/golden/), then the shared folder */
    static char own[4096];
    snprintf(own, sizeof own, "%s/%s", tu_tests_dir(), relative);
    const char *path = access(own, R_OK) == 0 ? own : tu_shared_path(relative);
    if (path == NULL)
        return 0;
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    int slots = 0;
    while (fgets(line, (int)cap, fp) != NULL) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (f->n == slots) {
            slots = slots ? 2 * slots : 64;
            f->a = realloc(f->a, (size_t)slots * sizeof *f->a);
        }
        tg_array *a = &f->a[f->n];
        memset(a, 0, sizeof *a);
        ck_assert_msg(parse_header(line, a), "%s: malformed header line", path);
        ck_assert_msg(fgets(line, (int)cap, fp) != NULL, "%s: %s has no values", path, a->name);
        parse_values(line, a);
        f->n++;
    }
    free(line);
    fclose(fp);
    return 1;
}

const tg_array *tg_find(const tg_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->a[i].name, name) == 0)
            return &f->a[i];
    return NULL;
}

const tg_array *tg_get(const tg_file *f, const char *name)
{
    const tg_array *a = tg_find(f, name);
    ck_assert_msg(a != NULL, "golden file lacks %s", name);
    return a;
}

void tg_free(tg_file *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->a[i].v);
        free(f->a[i].f);
    }
    free(f->a);
    memset(f, 0, sizeof *f);
}
