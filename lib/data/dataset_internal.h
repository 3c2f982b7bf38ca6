/* dataset_internal.h - what the few-shot sampler needs from a data set
 * beyond the public calls: its own reference, unchecked reads straight into
 * an episode's buffers, and a fingerprint for checkpoints. */
#ifndef FLP_DATA_DATASET_INTERNAL_H
#define FLP_DATA_DATASET_INTERNAL_H

#include "flp/flp_data.h"

typedef struct flp__store flp__store;

/* A data set is a list of classes of a shared, reference-counted store. */
struct flp_dataset {
    flp__store *store;
    int64_t *classes; /* store class indices */
    int64_t n;
};

/* A data set of n gray size x size images given as bytes (0 paper, 255
 * ink; read back as v / 255) with labels in [0, 256): classes are the
 * distinct labels in increasing order, named by their value; example names
 * are "origin#i". Copies what it needs. */
flp_status flp__dataset_from_bytes(const char *origin, int64_t size, int64_t n, const uint8_t *pixels,
                                   const uint8_t *labels, flp_dataset **out);
/* A new handle on the same classes (the store's count goes up). */
flp_status flp__dataset_clone(const flp_dataset *ds, flp_dataset **out);
/* Values per image (channels * size * size). */
int64_t flp__dataset_image_size(const flp_dataset *ds);
int64_t flp__dataset_class_count(const flp_dataset *ds, int64_t cls);
const char *flp__dataset_class_name(const flp_dataset *ds, int64_t cls);
/* Example `index` of class `cls` (both valid) into dst; decodes on first
 * use. Errors name the file. */
flp_status flp__dataset_read(flp_dataset *ds, int64_t cls, int64_t index, float *dst);
/* FNV-1a over kind, image shape, and each class's name and size in order. */
uint64_t flp__dataset_fingerprint(const flp_dataset *ds);

#endif
