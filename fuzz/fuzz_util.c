/* fuzz_util.c - scratch files and checks shared by the fuzz targets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "fuzz.h"
#include "data/image.h"

static char scratch[256];

static void remove_scratch(void)
{
    if (scratch[0] != '\0')
        unlink(scratch);
}

const char *flp_fuzz_file(const uint8_t *data, size_t size)
{
    if (scratch[0] == '\0') {
        const char *dir = getenv("TMPDIR");
        snprintf(scratch, sizeof scratch, "%s/flp-fuzz.%ld", dir && dir[0] ? dir : "/tmp",
                 (long)getpid());
        atexit(remove_scratch);
    }
    FILE *f = fopen(scratch, "wb");
    if (f == NULL)
        return NULL;
    size_t put = size > 0 ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || put != size)
        return NULL;
    return scratch;
}

void flp_fuzz_emit_file(flp_fuzz_emit emit, void *ctx, const char *name, const char *path)
{
    FILE *f = fopen(path, "rb");
    FLP_FUZZ_CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    FLP_FUZZ_CHECK(buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    unlink(path);
    emit(ctx, name, buf, (size_t)n);
    free(buf);
}

void flp_fuzz_check(int ok, const char *what, const char *file, int line)
{
    if (ok)
        return;
    /* the library's message says why a call that had to succeed did not */
    fprintf(stderr, "%s:%d: fuzz check failed: %s (last error: %s)\n", file, line, what, flp_last_error());
    abort();
}

flp_status flp_fuzz_decode_image(flp_fuzz_image_reader read, const uint8_t *data, size_t size)
{
    const char *path = flp_fuzz_file(data, size);
    if (path == NULL)
        return FLP_OK;
    flp_status st = FLP_OK;
    for (int channels = 1; channels <= 3 && st == FLP_OK; channels += 2) {
        float *img;
        int64_t h, w;
        st = read(path, channels, &img, &h, &w);
        if (st == FLP_OK) {
            FLP_FUZZ_CHECK(h >= 1 && w >= 1 && (uint64_t)(h * w) <= flp__limit(FLP_LIMIT_IMAGE_PIXELS));
            for (int64_t i = 0; i < channels * h * w; i++)
                FLP_FUZZ_CHECK(img[i] >= 0.0f && img[i] <= 1.0f);
        }
        flp__free(img);
    }
    return st;
}
