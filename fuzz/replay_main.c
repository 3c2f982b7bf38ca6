/* replay_main.c - a target without libFuzzer, for every build:
 *
 *   fuzz-replay-NAME --write-seeds DIR   write the seed corpus into DIR
 *   fuzz-replay-NAME [FILE|DIR]...       check that every seed is accepted,
 *                                        then replay each file (a directory:
 *                                        each file in it) through the reader
 *
 * The replay is the regression test for findings: a file that once crashed
 * the reader must now give a status (and a message) like any other input. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flp/flp.h"
#include "fuzz.h"

static int failures, seeds, replayed;

static void write_seed(void *ctx, const char *name, const uint8_t *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", (const char *)ctx, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        failures++;
        return;
    }
    seeds++;
}

static void check_seed(void *ctx, const char *name, const uint8_t *data, size_t size)
{
    (void)ctx;
    flp_clear_error();
    flp_status st = flp_fuzz_run(data, size);
    seeds++;
    if (st != FLP_OK) {
        fprintf(stderr, "seed %s refused: %s: %s\n", name, flp_status_name(st), flp_last_error());
        failures++;
    }
}

static void replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        failures++;
        return;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "out of memory reading %s\n", path);
        failures++;
        return;
    }
    flp_clear_error();
    flp_status st = flp_fuzz_run(buf, n);
    free(buf);
    replayed++;
    if (st != FLP_OK && flp_last_error()[0] == '\0') {
        fprintf(stderr, "%s: %s without a message\n", path, flp_status_name(st));
        failures++;
    }
    printf("%s: %s %s\n", path, flp_status_name(st), flp_last_error());
}

static void replay(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        replay_file(path);
        return;
    }
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name);
        if (names[i]->d_name[0] != '.')
            replay_file(child);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
        flp_fuzz_seeds(write_seed, argv[2]);
        printf("%d seeds written to %s\n", seeds, argv[2]);
        return failures != 0;
    }
    if (argc > 1 && argv[1][0] == '-') {
        fprintf(stderr, "usage: %s --write-seeds DIR | [FILE|DIR]...\n", argv[0]);
        return 2;
    }
    flp_fuzz_seeds(check_seed, NULL);
    for (int i = 1; i < argc; i++)
        replay(argv[i]);
    printf("%d seeds accepted, %d files replayed, %d failures\n", seeds - failures, replayed, failures);
    return failures != 0 || seeds == 0;
}
