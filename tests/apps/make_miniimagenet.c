/* make_miniimagenet - write a small data set in Mini-ImageNet's layout, for
 * the flp-miniimagenet smoke tests (the real images are not available
 * here):
 *
 *     make_miniimagenet OUT CLASSES IMAGES SIZE [CSV_DIR]
 *
 * writes OUT/images/<file>.jpg (SIZE x SIZE RGB) and OUT/{train,val,test}.csv
 * with CLASSES classes of IMAGES images each per split. File names and
 * labels are the first ones of CSV_DIR/<split>.csv (the real split files)
 * when given, else made up in the same pattern. Each class has its own
 * colour and stripe direction, plus per-image noise, so that classes can be
 * told apart. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>

static void die(const char *what, const char *path)
{
    fprintf(stderr, "make_miniimagenet: %s '%s': %s\n", what, path, strerror(errno));
    exit(1);
}

static void write_jpeg(const char *path, int size, const uint8_t *px)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        die("cannot write", path);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)size;
    c.image_height = (JDIMENSION)size;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)size * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    if (fclose(f) != 0)
        die("cannot write", path);
}

static void draw(int cls, int img, int size, uint8_t *px)
{
    uint32_t h = (uint32_t)(cls * 7919 + img * 104729 + 1);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int stripe = ((cls % 2 ? x : y) / 2 + cls) % 2;
            for (int ch = 0; ch < 3; ch++) {
                h = h * 1664525u + 1013904223u;
                int base = (cls * (ch + 3) * 37) % 200 + 28 * stripe;
                int v = base + (int)(h >> 28) - 8;
                px[(y * size + x) * 3 + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
}

/* The first `classes` labels of csv (in file order) and `images` file names
 * of each; 0 if the file cannot be read or holds too few. */
static int pick_names(const char *csv, int classes, int images, char (*names)[64], char (*labels)[32])
{
    FILE *f = fopen(csv, "r");
    if (!f)
        return 0;
    char line[256];
    int have_class = 0, *count = calloc((size_t)classes, sizeof *count);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *comma = strchr(line, ',');
        if (!comma || strcmp(line, "filename,label") == 0)
            continue;
        *comma = 0;
        int k = 0;
        while (k < have_class && strcmp(labels[k], comma + 1) != 0)
            k++;
        if (k == have_class) {
            if (have_class == classes)
                continue;
            snprintf(labels[have_class++], 32, "%.31s", comma + 1);
        }
        if (count[k] < images)
            snprintf(names[k * images + count[k]++], 64, "%.63s", line);
    }
    fclose(f);
    int ok = have_class == classes;
    for (int k = 0; k < classes; k++)
        ok = ok && count[k] == images;
    free(count);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: make_miniimagenet OUT CLASSES IMAGES SIZE [CSV_DIR]\n");
        return 2;
    }
    const char *out = argv[1];
    int classes = atoi(argv[2]), images = atoi(argv[3]), size = atoi(argv[4]);
    if (classes < 1 || images < 1 || size < 1 || size > 512) {
        fprintf(stderr, "make_miniimagenet: CLASSES, IMAGES >= 1 and 1 <= SIZE <= 512\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/images", out);
    if ((mkdir(out, 0755) != 0 && errno != EEXIST) || (mkdir(path, 0755) != 0 && errno != EEXIST))
        die("cannot create", path);
    static const char *const splits[3] = {"train", "val", "test"};
    char (*names)[64] = malloc((size_t)classes * (size_t)images * 64);
    char (*labels)[32] = malloc((size_t)classes * 32);
    uint8_t *px = malloc((size_t)size * (size_t)size * 3);
    for (int s = 0; s < 3; s++) {
        snprintf(path, sizeof path, "%s/%s.csv", argc == 6 ? argv[5] : "", splits[s]);
        if (argc < 6 || !pick_names(path, classes, images, names, labels))
            for (int k = 0; k < classes; k++) {
                snprintf(labels[k], 32, "n%08d", 1000 * (s + 1) + k);
                for (int i = 0; i < images; i++)
                    snprintf(names[k * images + i], 64, "%s%08d.jpg", labels[k], i + 1);
            }
        snprintf(path, sizeof path, "%s/%s.csv", out, splits[s]);
        FILE *csv = fopen(path, "w");
        if (!csv)
            die("cannot write", path);
        fprintf(csv, "filename,label\n");
        for (int k = 0; k < classes; k++)
            for (int i = 0; i < images; i++) {
                fprintf(csv, "%s,%s\n", names[k * images + i], labels[k]);
                draw(s * classes + k, i, size, px);
                snprintf(path, sizeof path, "%s/images/%s", out, names[k * images + i]);
                write_jpeg(path, size, px);
            }
        if (fclose(csv) != 0)
            die("cannot write", out);
    }
    free(px);
    free(labels);
    free(names);
    return 0;
}
