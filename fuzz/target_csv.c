/* target_csv.c - the Mini-ImageNet split files (flp__csv_read). */
#include <string.h>

#include "fuzz.h"
#include "data/image.h"

flp_status flp_fuzz_run(const uint8_t *data, size_t size)
{
    const char *path = flp_fuzz_file(data, size);
    if (path == NULL)
        return FLP_OK; /* no scratch space: nothing was read */
    flp__csv csv;
    flp_status st = flp__csv_read(path, &csv);
    if (st == FLP_OK) {
        FLP_FUZZ_CHECK(csv.n > 0);
        for (int64_t i = 0; i < csv.n; i++)
            FLP_FUZZ_CHECK(csv.filename[i][0] != '\0' && csv.label[i][0] != '\0' &&
                           csv.line[i] >= 2);
    }
    flp__csv_free(&csv);
    return st;
}

void flp_fuzz_seeds(flp_fuzz_emit emit, void *ctx)
{
    static const char *const seeds[][2] = {
        {"plain.csv", "filename,label\nn0153282900000005.jpg,n01532829\n"
                      "n0153282900000006.jpg,n01532829\nn0174941400000001.jpg,n01749414\n"},
        {"crlf-bom.csv", "\xef\xbb\xbf" "filename,label\r\na.jpg,x\r\n\r\nb.jpg,y\r\n"},
        {"no-final-newline.csv", "filename,label\nimg.jpg,label"},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        emit(ctx, seeds[i][0], (const uint8_t *)seeds[i][1], strlen(seeds[i][1]));
}
