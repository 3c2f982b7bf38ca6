/* check_checkpoint.c - checkpoint files as files: what loading costs
 * whatever a file declares, files that are not regular files, the step
 * count a file may hold, and what saving replaces (symbolic links,
 * devices), its temporary files (kills, threads) and what it refuses to
 * write. The format itself (sections, CRCs, versions, configuration) is
 * tested in check_meta.c. */
#define _DEFAULT_SOURCE /* mknod, S_IFCHR, makedev */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "checkpoint/checkpoint_file.h"
#include "checkpoint/checkpoint_format.h"
#include "meta/meta_internal.h"
#include "testfile.h"
#include "testutil.h"

static void dir_setup(void) { tu_scratch_begin("ckpt"); }

/* Names in the folder other than `except` (NULL: all), one per line into
 * out[size]; returns how many. */
static int others(const char *except, char *out, size_t size)
{
    DIR *d = opendir(tu_scratch_dir());
    ck_assert_ptr_nonnull(d);
    int n = 0;
    size_t at = 0;
    out[0] = '\0';
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || (except != NULL && strcmp(e->d_name, except) == 0))
            continue;
        n++;
        at += (size_t)snprintf(out + at, at < size ? size - at : 0, "%s\n", e->d_name);
    }
    closedir(d);
    return n;
}

/* A meta-optimizer over one linear layer of `width` x 8 (+ bias): small,
 * or, with a large width, a checkpoint that takes a while to write. */
typedef struct {
    flp_net *net;
    flp_meta *meta;
} rig;

static rig rig_new(int64_t width)
{
    rig r;
    int64_t in = 8;
    flp_rng *rng;
    ck_flp(flp_rng_create(7, &rng));
    ck_flp(flp_net_create(1, &in, &r.net));
    ck_flp(flp_net_add_linear(r.net, width, 1));
    ck_flp(flp_net_init(r.net, FLP_INIT_KAIMING_NORMAL, rng));
    flp_rng_free(rng);
    ck_flp(flp_meta_create(r.net, NULL, NULL, &r.meta));
    return r;
}

static void rig_free(rig *r)
{
    flp_meta_free(r->meta);
    flp_net_free(r->net);
}

/* One Adam step with every gradient `g`. */
static void step(rig *r, float g)
{
    int64_t n;
    ck_flp(flp_meta_grad_count(r->meta, &n));
    float *grads = malloc(sizeof *grads * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        grads[i] = g;
    ck_flp(flp_meta_set_grads(r->meta, grads, n));
    free(grads);
    ck_flp(flp_meta_step(r->meta));
}

/* ======================================================================
 * Loading
 * ====================================================================== */

/* A file is judged by its first bytes, and a section by its declared
 * length, before anything of the file's size is read: a 2 GiB file (sparse
 * here) of another kind, or whose tensor section claims the 2 GiB, costs
 * next to no memory (it cost 2.1 GB). */
START_TEST(test_load_reads_what_it_checked)
{
    rig r = rig_new(4);
    const char *good = tu_scratch("good.ckpt");
    ck_flp(flp_checkpoint_save(good, r.meta, NULL));
    size_t size;
    uint8_t *file = tu_read_file(good, &size);
    const off_t two_gib = (off_t)1 << 31;
    long before = tu_peak_rss_kb();

    const char *zeros = tu_scratch("zeros.ckpt");
    tu_write_file(zeros, "", 0);
    ck_assert_int_eq(truncate(zeros, two_gib), 0);
    ck_flp_fails(flp_checkpoint_load(zeros, r.meta, NULL), FLP_ERR_FORMAT);
    ck_flp_message_has("wrong magic");

    /* header, configuration and optimizer of the good file; then a tensor
     * section declaring the rest of a 2 GiB file */
    uint64_t conf_len, optm_len;
    memcpy(&conf_len, file + FLP__CKPT_HEADER_SIZE + 4, 8);
    long optm = FLP__CKPT_HEADER_SIZE + 16 + (long)conf_len;
    memcpy(&optm_len, file + optm + 4, 8);
    long tens = optm + 16 + (long)optm_len;
    ck_assert_int_eq(memcmp(file + tens, "TENS", 4), 0);
    uint64_t huge = (uint64_t)two_gib - (uint64_t)tens - 16;
    memcpy(file + tens + 4, &huge, 8);
    const char *claims = tu_scratch("claims.ckpt");
    tu_write_file(claims, file, tens + 12);
    ck_assert_int_eq(truncate(claims, two_gib), 0);
    ck_flp_fails(flp_checkpoint_load(claims, r.meta, NULL), FLP_ERR_FORMAT);
    ck_flp_message_has("tensor section is malformed: its length is not that of the configuration's");
    long grew_mb = (tu_peak_rss_kb() - before) / 1024;
    ck_assert_msg(grew_mb < 16, "loading raised the peak memory by %ld MB", grew_mb);
    free(file);
    rig_free(&r);
}
END_TEST

/* A FIFO, a device, a directory: refused at once, saying what they are (a
 * FIFO hung the loader, a device was reported as "Is a directory"). */
START_TEST(test_load_special_files)
{
    rig r = rig_new(4);
    const char *fifo = tu_scratch("fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_flp_fails(flp_checkpoint_load(fifo, r.meta, NULL), FLP_ERR_IO);
    ck_flp_message_has("flp_checkpoint_load: cannot read '");
    ck_flp_message_has("fifo': it is a FIFO (named pipe), not a regular file");
    ck_flp_fails(flp_checkpoint_load("/dev/null", r.meta, NULL), FLP_ERR_IO);
    ck_flp_message_has("'/dev/null': it is a character device, not a regular file");
    ck_flp_fails(flp_checkpoint_load(tu_scratch_dir(), r.meta, NULL), FLP_ERR_IO);
    ck_flp_message_has("it is a directory, not a regular file");
    rig_free(&r);
}
END_TEST

/* The step count must be one a meta-optimizer can continue from: INT64_MAX
 * overflowed at the next step (UBSan), then went negative. */
START_TEST(test_load_step_count)
{
    rig r = rig_new(4);
    step(&r, 0.5f);
    const char *path = tu_scratch("a.ckpt");
    ck_flp(flp_checkpoint_save(path, r.meta, NULL));
    size_t size;
    uint8_t *file = tu_read_file(path, &size);
    uint64_t conf_len;
    memcpy(&conf_len, file + FLP__CKPT_HEADER_SIZE + 4, 8);
    long optm = FLP__CKPT_HEADER_SIZE + 16 + (long)conf_len;
    ck_assert_int_eq(memcmp(file + optm, "OPTM", 4), 0);
    /* the key count, beta1, beta2, eps (f64), the nonfinite policy and the
     * restart period (i32), then the step count */
    long at = optm + 12 + 4 + 3 * 8 + 2 * 4;
    int64_t count;
    memcpy(&count, file + at, 8);
    ck_assert_int_eq(count, 1);
    static const int64_t bad[] = {INT64_MAX, FLP__META_MAX_STEPS + 1, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(file + at, &bad[i], 8);
        tu_fix_section_crc(file, optm);
        tu_write_file(path, file, size);
        ck_flp_fails(flp_checkpoint_load(path, r.meta, NULL), FLP_ERR_FORMAT);
        ck_flp_message_has("outside 0 to 2^53");
        int64_t steps;
        ck_flp(flp_meta_step_count(r.meta, &steps));
        ck_assert_int_eq(steps, 1);
    }
    /* the largest count loads, and the next step is refused cleanly */
    const int64_t top = FLP__META_MAX_STEPS;
    memcpy(file + at, &top, 8);
    tu_fix_section_crc(file, optm);
    tu_write_file(path, file, size);
    ck_flp(flp_checkpoint_load(path, r.meta, NULL));
    ck_flp_fails(flp_meta_step(r.meta), FLP_ERR_RANGE);
    free(file);
    rig_free(&r);
}
END_TEST

/* ======================================================================
 * Saving: what is replaced
 * ====================================================================== */

/* A checkpoint path that is a symbolic link: the file it points to is
 * replaced and the link kept (the link was replaced by the new file and its
 * target left stale); a link to a missing file is refused. */
START_TEST(test_save_through_symlink)
{
    rig r = rig_new(4);
    ck_assert_int_eq(mkdir(tu_scratch("runs"), 0700), 0);
    const char *real = tu_scratch("runs/ck");
    tu_write_file(real, "old", 3);
    const char *link = tu_scratch("latest");
    ck_assert_int_eq(symlink("runs/ck", link), 0);
    step(&r, 0.25f);
    ck_flp(flp_checkpoint_save(link, r.meta, NULL));
    struct stat sb;
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert_msg(S_ISLNK(sb.st_mode), "the link was replaced");
    size_t size;
    uint8_t *through_link = tu_read_file(link, &size);
    ck_assert_int_eq(memcmp(through_link, FLP__CKPT_MAGIC, 8), 0);
    free(through_link);
    ck_flp(flp_checkpoint_load(real, r.meta, NULL));
    char names[512];
    ck_assert_msg(others(NULL, names, sizeof names) == 2, "left in the folder:\n%s", names);

    const char *dangling = tu_scratch("dangling");
    ck_assert_int_eq(symlink("runs/missing", dangling), 0);
    ck_flp_fails(flp_checkpoint_save(dangling, r.meta, NULL), FLP_ERR_IO);
    ck_flp_message_has("is a symbolic link to a missing file");
    ck_assert_int_eq(access(tu_scratch("runs/missing"), F_OK), -1);
    rig_free(&r);
}
END_TEST

/* Only a regular file or a missing path is replaced: as root, --save
 * /dev/full replaced /dev/full with a regular file. */
START_TEST(test_save_refuses_special_files)
{
    rig r = rig_new(4);
    const char *fifo = tu_scratch("fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_flp_fails(flp_checkpoint_save(fifo, r.meta, NULL), FLP_ERR_IO);
    ck_flp_message_has("is a FIFO (named pipe): a checkpoint replaces only a regular file");
    struct stat sb;
    ck_assert(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));
    /* a device through a link (safe to try even where this was broken: the
     * link, not the device, was what got replaced) */
    const char *to_null = tu_scratch("to-null");
    ck_assert_int_eq(symlink("/dev/null", to_null), 0);
    ck_flp_fails(flp_checkpoint_save(to_null, r.meta, NULL), FLP_ERR_IO);
    ck_flp_message_has("is a symbolic link to '/dev/null', which is a character device");
    ck_assert(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode));
    /* a device node of our own, where we may make one (root) */
    const char *node = tu_scratch("null-node");
    if (mknod(node, S_IFCHR | 0600, makedev(1, 3)) == 0) {
        ck_flp_fails(flp_checkpoint_save(node, r.meta, NULL), FLP_ERR_IO);
        ck_flp_message_has("is a character device: a checkpoint replaces only a regular file");
        ck_assert(lstat(node, &sb) == 0 && S_ISCHR(sb.st_mode));
    }
    ck_assert_int_eq(mkdir(tu_scratch("folder"), 0700), 0);
    ck_flp_fails(flp_checkpoint_save(tu_scratch("folder"), r.meta, NULL), FLP_ERR_IO);
    ck_flp_message_has("is a directory");
    char names[512];
    int n = others(NULL, names, sizeof names);
    ck_assert_msg(n == 3 || n == 4, "left in the folder:\n%s", names);
    rig_free(&r);
}
END_TEST

/* Nothing is written that the loader would refuse: a parameter driven to
 * inf by a rate at FLT_MAX (the largest flp_meta_set_lr accepts), or a
 * non-finite moment, fails the save and leaves the old file alone. */
START_TEST(test_save_refuses_nonfinite)
{
    rig r = rig_new(4);
    const char *path = tu_scratch("run.ckpt");
    ck_flp(flp_checkpoint_save(path, r.meta, NULL));
    size_t size0;
    uint8_t *old = tu_read_file(path, &size0);
    ck_flp(flp_meta_set_lr(r.meta, FLP_GROUP_WEIGHTS, 3.4e38));
    step(&r, 1.0f); /* each weight moves by about -3.4e38: still finite */
    step(&r, 1.0f); /* and again: -inf */
    ck_flp_fails(flp_checkpoint_save(path, r.meta, NULL), FLP_ERR_NONFINITE);
    ck_flp_message_has("net.0.weight[0] is -inf, which flp_checkpoint_load would refuse");
    size_t size;
    uint8_t *now = tu_read_file(path, &size);
    ck_assert(size == size0 && memcmp(old, now, (size_t)size) == 0);
    free(now);
    char names[512];
    ck_assert_msg(others("run.ckpt", names, sizeof names) == 0, "left in the folder:\n%s", names);
    /* a moment: Adam's second moments can never be negative */
    rig q = rig_new(4);
    q.meta->moments[q.meta->total + 3] = -1.0f;
    ck_flp_fails(flp_checkpoint_save(path, q.meta, NULL), FLP_ERR_NONFINITE);
    ck_flp_message_has("[3] (Adam's second moment) is -1");
    q.meta->moments[q.meta->total + 3] = 0.0f;
    q.meta->moments[5] = NAN;
    ck_flp_fails(flp_checkpoint_save(path, q.meta, NULL), FLP_ERR_NONFINITE);
    ck_flp_message_has("(Adam's first moment) is nan");
    free(old);
    rig_free(&q);
    rig_free(&r);
}
END_TEST

/* ======================================================================
 * Saving: temporary files
 * ====================================================================== */

typedef struct {
    flp_meta *meta;
    const char *path;
    int failed;
} saver;

static void *save_many(void *arg)
{
    saver *s = arg;
    for (int i = 0; i < 30; i++)
        s->failed += flp_checkpoint_save(s->path, s->meta, NULL) != FLP_OK;
    return NULL;
}

/* Two threads saving to one path (each its own handles) never share a
 * temporary name (PID-only names made 23 of 60 saves fail), every save
 * succeeds, the file is one of theirs, and nothing is left beside it; with
 * O_TMPFILE and with named temporary files. */
START_TEST(test_save_from_two_threads)
{
    for (int use = 0; use < 2; use++) {
        flp__ckpt_use_tmpfile(use);
        rig a = rig_new(64), b = rig_new(64);
        const char *path = tu_scratch("shared.ckpt");
        saver s[2] = {{a.meta, path, 0}, {b.meta, path, 0}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            ck_assert_int_eq(pthread_create(&t[i], NULL, save_many, &s[i]), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        ck_assert_msg(s[0].failed + s[1].failed == 0, "%d of 60 saves failed: %s",
                      s[0].failed + s[1].failed, flp_last_error());
        ck_flp(flp_checkpoint_load(path, a.meta, NULL));
        char names[512];
        ck_assert_msg(others("shared.ckpt", names, sizeof names) == 0, "left in the folder:\n%s", names);
        rig_free(&a);
        rig_free(&b);
    }
    flp__ckpt_use_tmpfile(1);
}
END_TEST

/* A process saving a 1.8 MB checkpoint over and over is killed at random
 * moments. The checkpoint always loads. With O_TMPFILE a kill during the
 * write leaves nothing (the file has no name until it is complete), so
 * anything left is a complete checkpoint; with named temporary files a
 * kill can leave one partial file per kill, named CK.tmp.PID.N. */
START_TEST(test_save_killed)
{
    enum { KILLS = 12 };
    rig r = rig_new(1 << 14); /* 147,456 values: 1.8 MB with their moments */
    char path[512];
    snprintf(path, sizeof path, "%s", tu_scratch("ck"));
    ck_flp(flp_checkpoint_save(path, r.meta, NULL));
    unsigned seed = 12345;
    for (int use = 1; use >= 0; use--) {
        int left = 0;
        for (int k = 0; k < KILLS; k++) {
            pid_t pid = fork();
            ck_assert_int_ge(pid, 0);
            if (pid == 0) {
                flp__ckpt_use_tmpfile(use);
                for (;;)
                    flp_checkpoint_save(path, r.meta, NULL);
            }
            struct timespec pause = {0, (long)(rand_r(&seed) % 40 + 5) * 1000000L};
            nanosleep(&pause, NULL);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            ck_flp(flp_checkpoint_load(path, r.meta, NULL));
            DIR *d = opendir(tu_scratch_dir());
            struct dirent *e;
            char prefix[64];
            snprintf(prefix, sizeof prefix, "ck.tmp.%ld.", (long)pid);
            while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.' || strcmp(e->d_name, "ck") == 0)
                    continue;
                ck_assert_msg(strncmp(e->d_name, prefix, strlen(prefix)) == 0, "stray file %s", e->d_name);
                const char *stray = tu_scratch(e->d_name);
                if (use)
                    ck_flp(flp_checkpoint_load(stray, r.meta, NULL));
                unlink(stray);
                left++;
            }
            closedir(d);
        }
        printf("kills during saves with%s O_TMPFILE: %d of %d left a temporary file\n", use ? "" : "out",
               left, KILLS);
    }
    rig_free(&r);
}
END_TEST

Suite *make_checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_checked_fixture(tc, dir_setup, tu_scratch_end);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_load_reads_what_it_checked);
    tcase_add_test(tc, test_load_special_files);
    tcase_add_test(tc, test_load_step_count);
    tcase_add_test(tc, test_save_through_symlink);
    tcase_add_test(tc, test_save_refuses_special_files);
    tcase_add_test(tc, test_save_refuses_nonfinite);
    tcase_add_test(tc, test_save_from_two_threads);
    tcase_add_test(tc, test_save_killed);
    suite_add_tcase(s, tc);
    return s;
}
