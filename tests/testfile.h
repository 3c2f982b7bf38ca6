/* testfile.h - scratch folders and whole files, for the suites that write
 * the files they read (check_data, check_limits, check_checkpoint). */
#ifndef FLP_TESTFILE_H
#define FLP_TESTFILE_H

#include <stddef.h>
#include <stdint.h>

/* A new folder $TMPDIR/flp-TAG-XXXXXX (TMPDIR defaults to /tmp) into out[n]. */
void tu_make_scratch(char *out, size_t n, const char *tag);
/* One scratch folder at a time for a suite's checked fixture:
 * tu_scratch_begin makes it (flp-TAG-XXXXXX), tu_scratch_end removes it;
 * tu_scratch_dir() is its path, tu_scratch(name) a path in it (one of four
 * static buffers, reused in turn). */
void tu_scratch_begin(const char *tag);
void tu_scratch_end(void);
const char *tu_scratch_dir(void);
const char *tu_scratch(const char *name);
/* Remove a file or a folder and everything below it (links not followed). */
void tu_remove_tree(const char *path);
void tu_write_file(const char *path, const void *data, size_t n);
/* The whole file, malloc'd, its size in *n. */
uint8_t *tu_read_file(const char *path, size_t *n);
/* The process's peak resident memory so far, in kB (getrusage). */
long tu_peak_rss_kb(void);
/* Rewrite the CRC-32 of the checkpoint section that starts `at` bytes into
 * buf (checkpoint_format.h: tag, u64 length, payload, CRC). */
void tu_fix_section_crc(uint8_t *buf, long at);

#endif
