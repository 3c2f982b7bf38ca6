/* libfuzzer_main.c - the libFuzzer entry point over a target's
 * flp_fuzz_run. A failed status must come with a message. */
#include "flp/flp.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    flp_clear_error();
    flp_status st = flp_fuzz_run(data, size);
    FLP_FUZZ_CHECK(st == FLP_OK || flp_last_error()[0] != '\0');
    return 0;
}
