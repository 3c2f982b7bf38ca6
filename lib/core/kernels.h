/* kernels.h - BLIS's initialisation with the kernels libflp chose
 * (kernels.c). Every path into BLIS calls flp__kernels_setup() first. */
#ifndef FLP_CORE_KERNELS_H
#define FLP_CORE_KERNELS_H

#include "flp/flp_common.h"

/* Choose the kernels and initialise BLIS, once per process; thread-safe
 * and cheap after the first call. */
void flp__kernels_setup(void);

#endif
