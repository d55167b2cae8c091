// Umbrella header of the C microkernels.
#include "ck_cpu.h"
#include "ck_fp32.h"
#include "ck_histogram.h"
#include "ck_int8.h"
#include "ck_kernels.h"
#include "ck_peak.h"
