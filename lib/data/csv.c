/* csv.c - the Mini-ImageNet split files: `filename,label` per line.
 *
 * The whole file is read into one buffer and cut in place; the table's
 * strings point into it, so a 38,400-line train.csv costs three
 * allocations. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "data/image.h"

/* The buffer every string of a table points into is kept just before the
 * arrays, in the filename array's slot -1. */
static char *text_of(const flp__csv *csv) { return csv->filename ? csv->filename[-1] : NULL; }

void flp__csv_free(flp__csv *csv)
{
    if (csv == NULL)
        return;
    flp__free(text_of(csv));
    if (csv->filename)
        flp__free(csv->filename - 1);
    flp__free(csv->label);
    flp__free(csv->line);
    memset(csv, 0, sizeof *csv);
}

/* A file name of images/ itself: no folder part (so neither '../x' nor
 * '/etc/x' reaches outside images/), and not '.' or '..'. */
static const char *filename_problem(const char *name)
{
    if (strchr(name, '/') != NULL)
        return "the filename holds a '/': expected a file name in images/, without folders";
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return "the filename is '.' or '..': expected a file name in images/";
    return NULL;
}

/* Cut `line` (NUL-terminated, no line end) into two fields at its one
 * comma; 0 on success, or a static reason. */
static const char *split_line(char *line, char **a, char **b)
{
    char *comma = strchr(line, ',');
    if (comma == NULL)
        return "expected 'filename,label' (no comma)";
    if (strchr(comma + 1, ',') != NULL)
        return "expected 'filename,label' (more than two fields)";
    if (strchr(line, '"') != NULL)
        return "quoted fields are not supported";
    *comma = '\0';
    *a = line;
    *b = comma + 1;
    if (**a == '\0')
        return "empty filename";
    if (**b == '\0')
        return "empty label";
    return filename_problem(*a);
}

typedef struct {
    const char *name;
    int64_t row;
} named_row;

/* By name, then by row. */
static int cmp_by_name(const void *pa, const void *pb)
{
    const named_row *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    return c != 0 ? c : (a->row > b->row) - (a->row < b->row);
}

/* A file listed twice in one split would be one image counted as two
 * examples (twice as likely to be drawn, possibly in two classes): refuse
 * it, naming the earliest repeated row and the row it repeats. */
static flp_status check_duplicates(const char *path, const flp__csv *csv)
{
    named_row *order = flp__alloc_bytes((size_t)csv->n * sizeof *order, "CSV row order");
    if (order == NULL)
        return flp__error_context(FLP_ERR_NOMEM, "reading '%s'", path);
    for (int64_t i = 0; i < csv->n; i++)
        order[i] = (named_row){csv->filename[i], i};
    qsort(order, (size_t)csv->n, sizeof *order, cmp_by_name);
    /* A run of one name starts with its first row, then its second. */
    int64_t first = -1, second = -1;
    for (int64_t k = 1; k < csv->n; k++) {
        int starts_run = k == 1 || strcmp(order[k - 2].name, order[k - 1].name) != 0;
        if (starts_run && strcmp(order[k - 1].name, order[k].name) == 0 &&
            (second < 0 || order[k].row < second)) {
            first = order[k - 1].row;
            second = order[k].row;
        }
    }
    flp__free(order);
    if (second < 0)
        return FLP_OK;
    return flp__error(FLP_ERR_FORMAT, "%s:%lld: '%s' is listed again (first on line %lld)", path,
                      (long long)csv->line[second], csv->filename[second], (long long)csv->line[first]);
}

flp_status flp__csv_read(const char *path, flp__csv *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *raw;
    size_t len;
    FLP__TRY(flp__read_file(path, FLP_LIMIT_CSV_BYTES, "CSV text", &raw, &len));
    char *text = (char *)raw;
    if (memchr(text, '\0', len) != NULL) {
        flp__free(text);
        return flp__error(FLP_ERR_FORMAT, "'%s' holds a NUL byte: not a text CSV file", path);
    }
    /* Upper bound on rows: lines that hold a comma (blank lines do not
     * count, so that a file of line ends costs no more than its size). */
    int64_t max_rows = 1;
    for (size_t i = 0, comma = 0; i < len; i++) {
        comma |= text[i] == ',';
        if (text[i] == '\n') {
            max_rows += comma != 0;
            comma = 0;
        }
    }
    char **fn = flp__alloc_bytes((size_t)(max_rows + 1) * sizeof *fn, "CSV filenames");
    char **lab = flp__alloc_bytes((size_t)max_rows * sizeof *lab, "CSV labels");
    int64_t *lines = flp__alloc_bytes((size_t)max_rows * sizeof *lines, "CSV line numbers");
    if (fn == NULL || lab == NULL || lines == NULL) {
        flp__free(text);
        flp__free(fn);
        flp__free(lab);
        flp__free(lines);
        return flp__error_context(FLP_ERR_NOMEM, "reading '%s'", path);
    }
    fn[0] = text;
    out->filename = fn + 1;
    out->label = lab;
    out->line = lines;

    char *p = text;
    int64_t lineno = 0;
    int header = 1;
    /* skip a UTF-8 byte order mark */
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3;
    while (*p != '\0') {
        lineno++;
        char *end = strchr(p, '\n');
        char *next = end ? end + 1 : p + strlen(p);
        if (end)
            *end = '\0';
        size_t n = strlen(p);
        if (n > 0 && p[n - 1] == '\r')
            p[--n] = '\0';
        if (n == 0) {
            p = next;
            continue;
        }
        if (header) {
            if (strcmp(p, "filename,label") != 0) {
                flp__csv_free(out);
                return flp__error(FLP_ERR_FORMAT, "%s:%lld: expected the header 'filename,label'",
                                  path, (long long)lineno);
            }
            header = 0;
            p = next;
            continue;
        }
        char *a, *b;
        const char *why = split_line(p, &a, &b);
        if (why != NULL) {
            flp__csv_free(out);
            return flp__error(FLP_ERR_FORMAT, "%s:%lld: %s", path, (long long)lineno, why);
        }
        out->filename[out->n] = a;
        out->label[out->n] = b;
        out->line[out->n] = lineno;
        out->n++;
        p = next;
    }
    if (header || out->n == 0) {
        flp__csv_free(out);
        return flp__error(FLP_ERR_FORMAT, "%s:%lld: no %s", path, (long long)(lineno + 1),
                          header ? "header 'filename,label' (empty file)" : "rows after the header");
    }
    flp_status st = check_duplicates(path, out);
    if (st != FLP_OK)
        flp__csv_free(out);
    return st;
}
