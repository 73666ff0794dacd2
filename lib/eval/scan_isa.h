/* lib/eval/scan_isa.h -- the per-ISA kernels of eval's per-query pass (see scan.c,
 * which picks one through dh__isa(), the Hamming layer's dispatch). Each returns the
 * kernel for d's shape, or NULL where it does not apply; callers check the CPU. */
#ifndef DH_EVAL_SCAN_ISA_H
#define DH_EVAL_SCAN_ISA_H

#include "eval/eval.h"

#define DH__EVAL_MAX_WORDS 64 /* 4096 bits */

/** AVX2 (scan_avx2.c): codes of any width, every relevance kind. */
dh__eval_scan_fn dh__eval_scan_avx2(const dh__eval_data *d);
/** NEON (scan_neon.c, aarch64): codes of any width, every relevance kind. */
dh__eval_scan_fn dh__eval_scan_neon(const dh__eval_data *d);

#endif
