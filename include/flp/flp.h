/* flp.h - umbrella header (tutorial being written) */
#ifndef FLP_H
#define FLP_H
#include "flp_common.h"
#include "flp_rng.h"
#include "flp_net.h"
#endif
