/* version.c - runtime version, so bindings can check the ABI they loaded. */
#include "flp/flp_common.h"

unsigned flp_version_number(void) { return FLP_VERSION_NUMBER; }

const char *flp_version(void) { return FLP_VERSION_STRING; }
