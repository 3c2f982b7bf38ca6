/* flp-omniglot - meta-train FLP with a convolutional front-end on online
 * few-shot Omniglot and evaluate it on classes never seen (Lindsey &
 * Litwin-Kumar 2020, §4.2), through the public API only. `--help` for the
 * options and the data layout; the program is fewshot_driver.c. */
#include "fewshot_driver.h"

int main(int argc, char **argv) { return fewshot_main(argc, argv, FEWSHOT_OMNIGLOT); }
