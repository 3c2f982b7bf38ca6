/*
 * flp_data.h - image data sets (Omniglot, Mini-ImageNet, IDX) and the few-shot
 * classification sampler that draws online N-way k-shot episodes from them.
 *
 * Online Omniglot, 5-way 5-shot, meta-training on three alphabets of a
 * folder and evaluating on the others (error checks elided):
 *
 *     flp_dataset *all, *train, *eval;
 *     flp_dataset_open_omniglot("images_background", 28, &all);
 *     flp_dataset_split_by_alphabet(all, 3, &train, &eval);
 *     flp_sampler *tasks;
 *     flp_sampler_create_fewshot(train, eval, 42, &tasks);
 *     flp_sampler_set(tasks, FLP_FEWSHOT_ORDER, FLP_ORDER_CONTINUAL);
 *     flp_dataset_free(all); flp_dataset_free(train); flp_dataset_free(eval);
 *     flp_episode *ep;   flp_episode_create(&ep);
 *     flp_sampler_next(tasks, FLP_SPLIT_TRAIN, ep);   // 25 steps of [1, 784], 25 queries
 *
 * Data sets decode lazily: an image is read from disk, decoded, resized and
 * kept in memory the first time it is asked for (by flp_dataset_get or by a
 * sampler); flp_dataset_preload reads everything up front. The cache holds
 * the resized image in 8 bits per channel (as an 8-bit image resized by PIL
 * would be), 1 byte per value: 84x84 Omniglot is 7 KB per image, 84x84x3
 * Mini-ImageNet 21 KB.
 *
 * Handles: a data set made by flp_dataset_subset or
 * flp_dataset_split_by_alphabet is a view sharing its parent's images and
 * cache; parent and views may be freed in any order (the shared store goes
 * with the last of them). Because they share one cache, a data set and its
 * views (and the samplers made from them) count as one handle for
 * threading: use them from one thread at a time.
 */
#ifndef FLP_DATA_H
#define FLP_DATA_H

#include "flp_common.h"
#include "flp_episode.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flp_dataset flp_dataset;

/** Open an Omniglot folder in the official layout,
 *  `dir/<alphabet>/<character>/<NNNN_DD>.png` (e.g. `images_background`,
 *  `images_evaluation`, or `images_background_small1` unpacked from its zip).
 *  Every character is a class, named "alphabet/character"; classes are
 *  ordered by alphabet then character name, examples (drawers) by file
 *  name (byte order, so the same on every system). Entries whose names start
 *  with '.' and files at the alphabet level are ignored; a character folder
 *  keeps only its `*.png` files.
 *
 *  Images (any PNG: 1 to 16 bits, gray, palette or RGB(A); colour is taken as
 *  luma 0.299 R + 0.587 G + 0.114 B, alpha ignored) become 1 x size x size
 *  floats in [0, 1], **inverted** so that 1 is ink and 0 is paper (as in
 *  the papers: a stroke is 1), shrunk by area (box) averaging, or enlarged
 *  bilinearly. `size` is 84 in the papers, 28 for small configurations; any
 *  value in [1, 1024].
 *
 *  Errors: FLP_ERR_IO if `dir` (or a folder in it) cannot be opened,
 *  FLP_ERR_FORMAT if it holds no alphabet folders or a character folder
 *  holds no PNG (naming the folder), FLP_ERR_RANGE for `size`. Images are
 *  only read when first used, so a corrupt file is reported then (or by
 *  flp_dataset_preload). *out is NULL on failure. @since 0.1 */
FLP_API flp_status flp_dataset_open_omniglot(const char *dir, int size, flp_dataset **out);

/** Open one split of Mini-ImageNet in the layout its users have: JPEGs in
 *  `dir/images/` and `dir/<split>.csv` (`split` is "train", "val" or "test")
 *  whose header is `filename,label` and whose lines name a file of
 *  `images/` and its class (a WordNet id such as n01532829; CRLF line ends
 *  and blank lines are accepted, quoted fields are not). Classes are the
 *  distinct labels in byte order; examples keep the order of the CSV.
 *  The standard split has 64 / 16 / 20 classes of 600 images.
 *
 *  Images become 3 x size x size floats (RGB planes), resized as for
 *  Omniglot (area when shrinking, bilinear when enlarging, per axis), then
 *  normalised with the ImageNet mean (0.485, 0.456, 0.406) and standard
 *  deviation (0.229, 0.224, 0.225): value = (v / 255 - mean[c]) / std[c].
 *  Gray and CMYK JPEGs are converted to RGB. `size` is 84 in the papers.
 *
 *  Errors: FLP_ERR_INVALID for another `split`, FLP_ERR_IO if `images/` or
 *  the CSV cannot be read or the CSV names a file missing from `images/`
 *  (naming the file and "csv:line"), FLP_ERR_FORMAT for a malformed CSV
 *  ("path:line: ...": a filename holding a '/' or naming '.' or '..', or a
 *  file listed twice, is malformed), FLP_ERR_RANGE for `size` or a CSV over
 *  FLP_LIMIT_CSV_BYTES. Existence is checked at open; the JPEGs are
 *  decoded when first used. @since 0.1 */
FLP_API flp_status flp_dataset_open_miniimagenet(const char *dir, const char *split, int size,
                                                 flp_dataset **out);

/** Open one split of a folder in the MNIST layout (MNIST, EMNIST,
 *  Fashion-MNIST): `split` is "train" or "t10k" and the folder holds
 *  `<split>-images-idx3-ubyte` and `<split>-labels-idx1-ubyte`, each raw or
 *  gzip-compressed (`.gz`; the raw file is taken when both exist). Every
 *  distinct label is a class, named by its value ("0", "7"), in increasing
 *  order; examples keep the file's order. Images become 1 x rows x cols
 *  floats v / 255 (MNIST ink is already 1); rows must equal cols. The whole
 *  split is read at open (60,000 28x28 images are 47 MB). EMNIST stores
 *  its images transposed; they are used as stored.
 *
 *  Errors, each naming the file: FLP_ERR_INVALID for another `split`,
 *  FLP_ERR_IO if a file is missing or unreadable, FLP_ERR_FORMAT for a wrong
 *  magic number, a truncated (or over-long) file, a corrupt gzip stream
 *  (or data after it: a stream of several members is read as one), images
 *  that are not rank 3 or labels not rank 1, or image and label counts that
 *  differ; FLP_ERR_RANGE for a file declaring more than FLP_LIMIT_IDX_BYTES
 *  values; FLP_ERR_UNSUPPORTED for values other than unsigned bytes or
 *  images that are not square. @since 0.1 */
FLP_API flp_status flp_dataset_open_idx(const char *dir, const char *split, flp_dataset **out);

/** Free a data set or view; NULL is accepted. Samplers made from it keep
 *  their own reference and stay valid. @since 0.1 */
FLP_API void flp_dataset_free(flp_dataset *ds);

/** Number of classes. @since 0.1 */
FLP_API flp_status flp_dataset_num_classes(const flp_dataset *ds, int64_t *n);
/** Number of examples of class `cls` (0-based; FLP_ERR_RANGE outside
 *  [0, classes)). Omniglot has 20 drawers per character, Mini-ImageNet 600
 *  images per class. @since 0.1 */
FLP_API flp_status flp_dataset_class_size(const flp_dataset *ds, int64_t cls, int64_t *n);
/** Name of class `cls` ("Greek/character03", "n01532829"); the string
 *  lives as long as the data set or any view of it. @since 0.1 */
FLP_API flp_status flp_dataset_class_name(const flp_dataset *ds, int64_t cls, const char **name);
/** Path of the file behind example `index` of class `cls`; lives as long
 *  as the data set or any view of it. @since 0.1 */
FLP_API flp_status flp_dataset_example_path(const flp_dataset *ds, int64_t cls, int64_t index,
                                            const char **path);
/** Shape of every image: channels (1 Omniglot, 3 Mini-ImageNet), height,
 *  width. Any output may be NULL. @since 0.1 */
FLP_API flp_status flp_dataset_image_shape(const flp_dataset *ds, int64_t *channels,
                                           int64_t *height, int64_t *width);

/** Copy example `index` of class `cls` into dst, `count` = channels * height
 *  * width floats in [C, H, W] order; decodes and caches it on first use.
 *  Errors: FLP_ERR_RANGE for cls or index, FLP_ERR_SHAPE for count,
 *  FLP_ERR_IO if the file cannot be read (or is not a regular file),
 *  FLP_ERR_FORMAT if it is not a valid PNG / JPEG, FLP_ERR_RANGE if it
 *  declares more than FLP_LIMIT_IMAGE_PIXELS, FLP_ERR_UNSUPPORTED for an
 *  arithmetic-coded JPEG (messages name the file). dst is untouched on
 *  failure. @since 0.1 */
FLP_API flp_status flp_dataset_get(flp_dataset *ds, int64_t cls, int64_t index, float *dst,
                                   int64_t count);

/** Decode every image of the data set now (the ones already cached are
 *  skipped); stops at the first unreadable image and reports it. @since 0.1 */
FLP_API flp_status flp_dataset_preload(flp_dataset *ds);

/** A view holding classes `classes[0..n)` of `ds`, in that order (indices
 *  of ds, each once; FLP_ERR_RANGE / FLP_ERR_INVALID otherwise). Use it to
 *  choose any meta-train / meta-test split, for example by class name.
 *  @since 0.1 */
FLP_API flp_status flp_dataset_subset(const flp_dataset *ds, const int64_t *classes, int64_t n,
                                      flp_dataset **out);

/** Split an Omniglot data set by alphabet: the first `n_train` alphabets
 *  (in name order) go to *train, the others to *eval, so the two share no
 *  class and no alphabet. For images_background_small1 (Balinese,
 *  Early_Aramaic, Greek, Korean, Latin) n_train = 3 trains on the first
 *  three. FLP_ERR_INVALID for a data set that is not Omniglot,
 *  FLP_ERR_RANGE unless 1 <= n_train < alphabets. Both outputs are NULL on
 *  failure. @since 0.1 */
FLP_API flp_status flp_dataset_split_by_alphabet(const flp_dataset *ds, int64_t n_train,
                                                 flp_dataset **train, flp_dataset **eval);
/** Number of alphabets of an Omniglot data set (0 for Mini-ImageNet). @since 0.1 */
FLP_API flp_status flp_dataset_num_alphabets(const flp_dataset *ds, int64_t *n);

/* ======================================================================
 * Few-shot classification sampler
 * ======================================================================
 * An online N-way k-shot episode (Lindsey & Litwin-Kumar 2020, after Javed
 * & White 2019): WAYS classes are drawn without replacement from the
 * split's data set and given labels 0..WAYS-1 in the order drawn (a fresh
 * mapping every episode); SHOTS examples of each are shown, BATCH per inner
 * step, in i.i.d. order (shuffled across classes) or class by class
 * (FLP_ORDER_CONTINUAL: all of the class labelled 0, then 1, ...). The
 * query is QUERY_PER_CLASS further examples of each class, never among
 * those shown, grouped by label. Inputs are whole images flattened in
 * [C, H, W] order (n_in = C * H * W), n_out = WAYS:
 *
 *     x [WAYS * SHOTS / BATCH, BATCH, C*H*W], labels [same, BATCH]
 *     xq [WAYS * QUERY_PER_CLASS, C*H*W],      lq [WAYS * QUERY_PER_CLASS]
 *
 * Every class drawn needs SHOTS + QUERY_PER_CLASS examples, and BATCH must
 * divide WAYS * SHOTS; flp_sampler_next reports either as FLP_ERR_RANGE
 * naming the class or the keys. */
/* Settings, one line per key (flp_common.h, "key maps"): X(FEWSHOT, NAME,
 * value, type, default, lo, hi): FLP_FEWSHOT_WAYS classes per episode
 * (default 5), FLP_FEWSHOT_SHOTS examples of each shown in the lifetime
 * (5), FLP_FEWSHOT_QUERY_PER_CLASS query examples of each (5),
 * FLP_FEWSHOT_ORDER an flp_order (FLP_ORDER_IID), FLP_FEWSHOT_BATCH examples
 * per inner step (1: online). The values are shared with flp_sine_key
 * until the next major version (flp_episode.h, "sampler key families"). */
#define FLP_FEWSHOT_KEY_MAP(X)                                                                 \
    X(FEWSHOT, WAYS, 0, INT, 5, 1, 4096)                                                       \
    X(FEWSHOT, SHOTS, 1, INT, 5, 1, 1 << 16)                                                   \
    X(FEWSHOT, QUERY_PER_CLASS, 2, INT, 5, 1, 1 << 16)                                         \
    X(FEWSHOT, ORDER, 3, ENUM, FLP_ORDER_IID, FLP_ORDER_IID, FLP_ORDER_CONTINUAL)              \
    X(FEWSHOT, BATCH, 4, INT, 1, 1, 1 << 20)

typedef enum { FLP_FEWSHOT_KEY_MAP(FLP__KEY_ENUM) } flp_fewshot_key;

/** Create a few-shot sampler: FLP_SPLIT_TRAIN episodes draw their classes
 *  from `train`, FLP_SPLIT_EVAL episodes from `eval` (NULL: evaluation
 *  episodes fail with FLP_ERR_STATE). Make the meta-train / meta-test split
 *  with two folders (Omniglot images_background / images_evaluation,
 *  Mini-ImageNet train / test), flp_dataset_split_by_alphabet or
 *  flp_dataset_subset; the sampler does not check that the two share no
 *  class. Both must have the same image shape (FLP_ERR_SHAPE). The sampler
 *  keeps its own reference to the data (the handles may be freed after).
 *
 *  The seed gives two independent streams, one for training and one for
 *  evaluation episodes, so evaluating never shifts the training sequence.
 *  Checkpoints (flp_checkpoint_save with this sampler) store the settings,
 *  the seed, both streams and a fingerprint of the data (class names and
 *  sizes, image shape); loading into a sampler over other data fails with
 *  FLP_ERR_VERSION. If an image cannot be decoded, flp_sampler_next fails
 *  naming the file, the episode's contents are undefined and the stream is
 *  left where it was. @since 0.1 */
FLP_API flp_status flp_sampler_create_fewshot(const flp_dataset *train, const flp_dataset *eval,
                                              uint64_t seed, flp_sampler **out);

#ifdef __cplusplus
}
#endif
#endif /* FLP_DATA_H */
