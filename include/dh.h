/*
 * dh.h -- libdh, deep hashing for image retrieval.
 *
 * This header is the whole public API and its manual. It is sectioned in the
 * order: version, status, core, data, nn, hash, loss, index, eval, io, train.
 *
 * Conventions (apply to every function unless its block says otherwise):
 *  - Fallible functions return dh_status: DH_OK (0) or a negative DH_E_* code.
 *    dh_last_error() then returns a thread-local message naming the argument,
 *    file or offset at fault. Nothing in libdh aborts, exits or prints on bad
 *    input.
 *  - Objects are opaque handles made by *_create / *_load and released by
 *    *_free, which accepts NULL. After a failed create, *out is NULL.
 *  - Options structs begin with `size_t struct_size`; fill them with the
 *    matching *_options_init() and then change fields. Fields are only ever
 *    appended, so a program built against an older dh.h keeps working.
 *  - Out-parameters come last. Arrays are row-major and borrowed for the call.
 *  - Packed codes: a K-bit code is dh_code_bytes(K) bytes; bit j of the code is
 *    bit (j % 8) of byte (j / 8) (LSB-first). Sign rows map x >= 0 to bit 1.
 *  - Thread-safety tags: "pure" (touches no object), "shared" (concurrent calls
 *    on the same object are safe while nothing mutates it), "exclusive" (the
 *    caller serialises all calls on that object).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DH_H
#define DH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(DH_STATIC_DEFINE)
#define DH_API
#elif defined(__GNUC__)
#define DH_API __attribute__((visibility("default")))
#else
#define DH_API
#endif

#if defined(__GNUC__)
#define DH_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define DH_DEPRECATED(msg)
#endif

/* ======================================================================== */
/* Version                                                                  */
/* ======================================================================== */

#define DH_VERSION_MAJOR 1
#define DH_VERSION_MINOR 0
#define DH_VERSION_PATCH 0
#define DH_VERSION_NUMBER (DH_VERSION_MAJOR * 10000 + DH_VERSION_MINOR * 100 + DH_VERSION_PATCH)

/** The library's version as MAJOR*10000 + MINOR*100 + PATCH. Bindings compare
 *  the major with the header they were written for. Thread-safety: pure.
 *  Since: 1.0 */
DH_API uint32_t dh_version(void);

/** The library's version as a static string "MAJOR.MINOR.PATCH". Since: 1.0 */
DH_API const char *dh_version_string(void);

/* ======================================================================== */
/* Status                                                                   */
/* ======================================================================== */

/** Result of every fallible call. Values are stable and append-only. */
typedef int32_t dh_status;
enum {
    DH_OK = 0,
    DH_E_INVALID_ARG = -1,  /* an argument is NULL, out of range or inconsistent */
    DH_E_NO_MEMORY = -2,    /* an allocation failed */
    DH_E_SHAPE = -3,        /* dimensions of two arguments disagree (e.g. K) */
    DH_E_FORMAT = -4,       /* input file or buffer is not in the expected format, or corrupt */
    DH_E_VERSION = -5,      /* file or options struct is newer than this library */
    DH_E_BACKEND = -6,      /* oneDNN or BLAS failed; see dh_last_error() */
    DH_E_IO = -7,           /* the operating system refused a file operation */
    DH_E_NOT_FOUND = -8,    /* a named item (file, id, tensor, method) does not exist */
    DH_E_UNSUPPORTED = -9,  /* valid request this build or CPU cannot serve */
    DH_E_STATE = -10,       /* call not valid in the object's state (read-only, not trained) */
    DH_E_INTERRUPTED = -11, /* a progress callback asked to stop */
    DH_E_INTERNAL = -12     /* a bug in libdh; please report with dh_last_error() */
};

/** Name of a status code ("DH_E_FORMAT: ..."); static, never NULL, also for
 *  unknown codes. Thread-safety: pure. Since: 1.0 */
DH_API const char *dh_status_str(dh_status status);

/** Detail message of the last failed call on this thread, or "" if none.
 *  Valid until the next failing libdh call on the same thread. Since: 1.0 */
DH_API const char *dh_last_error(void);

/** Clear this thread's last error message. Since: 1.0 */
DH_API void dh_clear_error(void);

/* ======================================================================== */
/* Core: threads, CPU features, memory                                      */
/* ======================================================================== */

/** Set the number of threads libdh's parallel loops use (index search, metrics,
 *  data preparation, oneDNN via OpenMP). 0 restores the default (the OpenMP
 *  default: all cores, or OMP_NUM_THREADS). Affects the whole process.
 *  Returns DH_OK or DH_E_INVALID_ARG (n > 4096). Since: 1.0 */
DH_API dh_status dh_set_num_threads(uint32_t n_threads);

/** Number of threads libdh's parallel loops will use. Since: 1.0 */
DH_API uint32_t dh_get_num_threads(void);

/** Instruction sets for the Hamming kernels, best last. */
enum {
    DH_ISA_AUTO = 0,           /* pick the best the CPU supports (or env DH_ISA) */
    DH_ISA_SCALAR = 1,         /* portable 64-bit popcount */
    DH_ISA_AVX2 = 2,           /* AVX2 nibble-lookup popcount */
    DH_ISA_AVX512BW = 3,       /* AVX-512BW nibble-lookup popcount */
    DH_ISA_AVX512VPOPCNT = 4   /* AVX-512 VPOPCNTDQ */
};

/** Whether this CPU (and this build) can run kernel set `isa` (DH_ISA_*).
 *  Returns 1 or 0. Thread-safety: pure. Since: 1.0 */
DH_API int dh_cpu_has_isa(int32_t isa);

/** Force the Hamming kernel set for the whole process; DH_ISA_AUTO restores
 *  automatic choice. The environment variable DH_ISA=scalar|avx2|avx512bw|
 *  avx512vpopcnt has the same effect when read at first use.
 *  Returns DH_OK, DH_E_INVALID_ARG (unknown value) or DH_E_UNSUPPORTED (the CPU
 *  lacks it). Not safe to call while searches run. Since: 1.0 */
DH_API dh_status dh_set_isa(int32_t isa);

/** The kernel set in use now (never DH_ISA_AUTO). Since: 1.0 */
DH_API int32_t dh_get_isa(void);

/** Name of a DH_ISA_* value ("avx2"); static, never NULL. Since: 1.0 */
DH_API const char *dh_isa_name(int32_t isa);

/** Bytes of one packed code of n_bits bits: (n_bits + 7) / 8. Since: 1.0 */
DH_API size_t dh_code_bytes(uint32_t n_bits);

/** Whether this build includes training (oneDNN encoders, losses, trainer):
 *  1 or 0. Functions of those sections return DH_E_UNSUPPORTED otherwise.
 *  Since: 1.0 */
DH_API int dh_has_training(void);

/* ======================================================================== */
/* Data                                                                     */
/* ======================================================================== */
/* @@SECTION data */

/* ======================================================================== */
/* Neural network: encoders, optimizers                                     */
/* ======================================================================== */
/* @@SECTION nn */

/* ======================================================================== */
/* Hash heads, binarisation, centers                                        */
/* ======================================================================== */
/* @@SECTION hash */

/* ======================================================================== */
/* Losses                                                                   */
/* ======================================================================== */
/* @@SECTION loss */

/* ======================================================================== */
/* Index: bit-packed codes, Hamming search                                  */
/* ======================================================================== */
/* @@SECTION index */

/* ======================================================================== */
/* Evaluation metrics                                                       */
/* ======================================================================== */
/* @@SECTION eval */

/* ======================================================================== */
/* I/O: model files                                                         */
/* ======================================================================== */
/* @@SECTION io */

/* ======================================================================== */
/* Training                                                                 */
/* ======================================================================== */
/* @@SECTION train */

#ifdef __cplusplus
}
#endif
#endif /* DH_H */
