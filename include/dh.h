/*
 * dh.h -- libdh, deep hashing for image retrieval.
 *
 * This header is the whole public API and its manual. Contents (search for the
 * banner "N. Title"; each section holds one object or family, in layer order):
 *
 *   1. Version ......... dh_version, dh_version_string
 *   2. Status .......... dh_status, DH_E_*, dh_status_str, dh_last_error
 *   3. Core ............ threads, instruction sets (DH_ISA_*), dh_code_bytes,
 *                        dh_has_training
 *   4. Data ............ dh_array (.npy), dh_dataset (IDX, CIFAR, image lists,
 *                        features, fine-grained sets), splits and protocols,
 *                        dh_loader (shuffled, augmented batches)
 *   5. Neural network .. dh_encoder (incl. pretrained weights), dh_optimizer,
 *                        dh_schedule_lr
 *   6. Hash heads ...... dh_head
 *   7. Model ........... dh_model: create, encode (images, floats, datasets),
 *                        save/load, backbones, extra tensors and metadata,
 *                        dh_optimizer_add_model, LTHNet meta-embedding
 *   8. Losses .......... dh_loss (methods, recipes, tensors), hash centers,
 *                        DIHN fixed codes, long-tail notes
 *   9. Index ........... packing (dh_codes_*), dh_hamming_distances, dh_index,
 *                        dh_range_result, index files and .npy codes
 *  10. Evaluation ...... dh_eval_* (mAP, P@N, PR curve, Hamming ball, all)
 *  11. Training ........ dh_trainer, dh_incremental_session
 *  12. Experimental .... research helpers, only with #define DH_EXPERIMENTAL
 *                        before #include "dh.h" (see that section)
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
 *  - Code length: any K in 1..DH_MAX_BITS (4096) is valid everywhere (model,
 *    head, loss, index, evaluation, files, .npy codes, bindings, CLI); K = 0 or
 *    K > DH_MAX_BITS is DH_E_INVALID_ARG (DH_E_FORMAT in a file).
 *  - Packed codes: a K-bit code is dh_code_bytes(K) = ceil(K/8) bytes; bit j of the
 *    code is bit (j % 8) of byte (j / 8) (LSB-first). Sign rows map x >= 0 to bit 1.
 *    When K is not a multiple of 8, the high 8 * ceil(K/8) - K bits of the last byte
 *    are padding: libdh always writes them as zero; in-memory inputs (index add and
 *    search, evaluation, dh_codes_*) ignore them (they are masked, so distances never
 *    see them); files libdh reads (index files; packed .npy codes in
 *    dh_index_import_npy / dh_index_add_npy) with a nonzero padding bit are
 *    rejected with DH_E_FORMAT naming the row.
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
/* 1. Version                                                               */
/* ======================================================================== */

#define DH_VERSION_MAJOR 1
#define DH_VERSION_MINOR 3
#define DH_VERSION_PATCH 0
#define DH_VERSION_NUMBER (DH_VERSION_MAJOR * 10000 + DH_VERSION_MINOR * 100 + DH_VERSION_PATCH)

/** The library's version as MAJOR*10000 + MINOR*100 + PATCH. Bindings compare
 *  the major with the header they were written for. Thread-safety: pure.
 *  Since: 1.0 */
DH_API uint32_t dh_version(void);

/** The library's version as a static string "MAJOR.MINOR.PATCH". Since: 1.0 */
DH_API const char *dh_version_string(void);

/* ======================================================================== */
/* 2. Status                                                                */
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

/** Record `message` as this thread's last error and return `status`, so that a
 *  library layered on libdh (libdh_mpi, language bindings) reports its failures
 *  through dh_last_error() like libdh's own. message NULL records "".
 *  Thread-safety: pure (thread-local). Since: 1.2 */
DH_API dh_status dh_set_error(dh_status status, const char *message);

/* ======================================================================== */
/* 3. Core: threads, CPU features, memory                                   */
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
    DH_ISA_AVX512VPOPCNT = 4,  /* AVX-512 VPOPCNTDQ */
    DH_ISA_NEON = 5            /* aarch64 NEON CNT (Since: 1.2); the x86 values are
                                  unsupported there and NEON on x86 */
};

/** Whether this CPU (and this build) can run kernel set `isa` (DH_ISA_*).
 *  Returns 1 or 0. Thread-safety: pure. Since: 1.0 */
DH_API int dh_cpu_has_isa(int32_t isa);

/** Force the Hamming kernel set for the whole process; DH_ISA_AUTO restores
 *  automatic choice. The environment variable DH_ISA=scalar|avx2|avx512bw|
 *  avx512vpopcnt|neon has the same effect when read at first use.
 *  Returns DH_OK, DH_E_INVALID_ARG (unknown value) or DH_E_UNSUPPORTED (the CPU
 *  lacks it). Not safe to call while searches run. Since: 1.0 */
DH_API dh_status dh_set_isa(int32_t isa);

/** The kernel set in use now (never DH_ISA_AUTO). Since: 1.0 */
DH_API int32_t dh_get_isa(void);

/** Name of a DH_ISA_* value ("avx2"); static, never NULL. Since: 1.0 */
DH_API const char *dh_isa_name(int32_t isa);

/** The longest code length libdh accepts anywhere; every K in 1..DH_MAX_BITS is valid
 *  (see "Code length" in the conventions above). Since: 1.2 */
#define DH_MAX_BITS 4096

/** Bytes of one packed code of n_bits bits: (n_bits + 7) / 8 (padding bits zero).
 *  Since: 1.0 */
DH_API size_t dh_code_bytes(uint32_t n_bits);

/** Whether this build includes training (oneDNN encoders, losses, trainer):
 *  1 or 0. Functions of those sections return DH_E_UNSUPPORTED otherwise.
 *  Since: 1.0 */
DH_API int dh_has_training(void);

/* ======================================================================== */
/* 4. Data: arrays, datasets, splits, loaders                               */
/* ======================================================================== */
/* @@SECTION data */
/* ---- Element types and .npy files ------------------------------------- */

/** Element types of arrays (.npy files, dh_array). Bool .npy files load as
 *  DH_DTYPE_UINT8 holding 0/1. */
enum {
    DH_DTYPE_UINT8 = 1,
    DH_DTYPE_INT8 = 2,
    DH_DTYPE_INT32 = 3,
    DH_DTYPE_INT64 = 4,
    DH_DTYPE_FLOAT32 = 5,
    DH_DTYPE_FLOAT64 = 6
};

/** Bytes of one element of a DH_DTYPE_* type, or 0 for an unknown value.
 *  Thread-safety: pure. Since: 1.0 */
DH_API size_t dh_dtype_size(int32_t dtype);

/** An n-dimensional array loaded from a .npy file (opaque, read-only). */
typedef struct dh_array dh_array;

/** Load a NumPy .npy file (format 1.0, 2.0 or 3.0; little-endian float32,
 *  float64, uint8, int8, int32, int64 or bool; C order; at most 8 dimensions).
 *  The header is parsed strictly and the data size is checked against the file
 *  length. path: borrowed. *out: a new array to release with dh_array_free.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL argument), DH_E_NOT_FOUND, DH_E_IO,
 *  DH_E_FORMAT (malformed header or truncated data; the message gives the byte
 *  offset), DH_E_VERSION (format major > 3), DH_E_UNSUPPORTED (big-endian,
 *  fortran_order True, structured or other dtypes), DH_E_NO_MEMORY.
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_npy_load(const char *path, dh_array **out);

/** dh_npy_load from the `len` bytes at `buf` (a whole .npy file image; borrowed
 *  for the call). Same return codes. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_npy_load_buffer(const void *buf, size_t len, dh_array **out);

/** Load one array of a .npz archive (numpy.savez / savez_compressed: stored or deflated
 *  members, zip64): `member` with or without ".npy", or NULL when the archive holds
 *  exactly one. Every path that takes a .npy file also takes "archive.npz" (one member)
 *  or "archive.npz:member". Sizes and offsets are checked against the file; a deflated
 *  member inflates into its declared size only (at most 1032x its compressed size).
 *  Returns DH_OK, DH_E_NOT_FOUND (no file, or no such member: the message lists them),
 *  DH_E_INVALID_ARG (several members and none named), DH_E_FORMAT, DH_E_UNSUPPORTED
 *  (another compression method), DH_E_IO, DH_E_NO_MEMORY. Thread-safety: pure.
 *  Since: 1.2 */
DH_API dh_status dh_npz_load(const char *path, const char *member, dh_array **out);

/** Write a C-order array as a .npy file (format 1.0), atomically: a temporary
 *  file renamed over `path`, so a failure never damages an existing file.
 *  dtype: DH_DTYPE_*; shape: [ndim] non-negative sizes (may be NULL if ndim is
 *  0, a scalar); ndim <= 8; data: prod(shape) elements of dtype, borrowed.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_IO, DH_E_NO_MEMORY.
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_npy_save(const char *path, int32_t dtype, uint32_t ndim,
                             const int64_t *shape, const void *data);

/** Release an array; NULL is a no-op. Since: 1.0 */
DH_API void dh_array_free(dh_array *array);
/** DH_DTYPE_* of the elements (0 for NULL). Thread-safety: shared. Since: 1.0 */
DH_API int32_t dh_array_dtype(const dh_array *array);
/** Number of dimensions, 0..8 (0 for a scalar or NULL). Since: 1.0 */
DH_API uint32_t dh_array_ndim(const dh_array *array);
/** Size of dimension `axis`, or -1 if axis >= ndim or array is NULL. Since: 1.0 */
DH_API int64_t dh_array_dim(const dh_array *array, uint32_t axis);
/** Number of elements (product of the dimensions; 1 for a scalar). Since: 1.0 */
DH_API size_t dh_array_count(const dh_array *array);
/** The elements, C order, native byte order, 64-byte aligned; borrowed, valid
 *  until dh_array_free. NULL for NULL. Since: 1.0 */
DH_API const void *dh_array_data(const dh_array *array);
/** Convert all elements to float32 into out[n]; n must equal dh_array_count.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL), DH_E_SHAPE (n differs).
 *  Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_array_to_float32(const dh_array *array, float *out, size_t n);

/* ---- Datasets ----------------------------------------------------------- */

/** A set of samples with labels (opaque). A sample is either an image (uint8,
 *  height x width x channels, HWC) or a feature row (float32, dim values).
 *  Every sample has a multi-hot label row of n_classes floats (0/1) and a class
 *  id (int32; -1 when the row does not have exactly one positive). Optionally a
 *  tag matrix (n_tags floats per sample, for weak supervision). Images from list
 *  files are decoded from disk on demand through a bounded cache. Subsets and
 *  splits share the parent's pixel storage (reference counted), so a parent may
 *  be freed before its subsets. A dataset is immutable after creation except for
 *  dh_dataset_set_tags; all getters are "shared". */
typedef struct dh_dataset dh_dataset;

/** Which part of a data set with an official split to load. */
enum { DH_SPLIT_TRAIN = 0, DH_SPLIT_TEST = 1 };

/** CIFAR variants for dh_dataset_load_cifar. */
enum {
    DH_CIFAR10 = 10,          /* data_batch_1..5.bin (train), test_batch.bin; 10 classes */
    DH_CIFAR100 = 100,        /* train.bin, test.bin; 100 fine labels */
    DH_CIFAR100_COARSE = 20   /* train.bin, test.bin; 20 coarse (superclass) labels */
};

/** Load an IDX pair (MNIST / Fashion-MNIST format): images idx3-ubyte (magic
 *  0x00000803, n x rows x cols uint8) and labels idx1-ubyte (0x00000801, n
 *  uint8 class ids). Either file may be gzip-compressed (detected by its magic).
 *  Result: n images of rows x cols x 1, n_classes = max label + 1 (at least 10).
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NOT_FOUND, DH_E_IO, DH_E_FORMAT (bad
 *  magic, dimensions, truncated data, counts that disagree; the message names
 *  the file and offset), DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_dataset_load_idx(const char *images_path, const char *labels_path,
                                     dh_dataset **out);

/** The Fashion-MNIST folder used when dh_dataset_load_fashion_mnist gets NULL:
 *  the environment variable DH_FASHION_MNIST_DIR if set, else
 *  /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist). Written
 *  NUL-terminated to buf[cap]. Returns DH_OK, DH_E_INVALID_ARG (NULL or cap too
 *  small), DH_E_NOT_FOUND (the folder lacks train-images-idx3-ubyte[.gz]).
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_fashion_mnist_dir(char *buf, size_t cap);

/** Load Fashion-MNIST (libdh's default data set) from `dir` (NULL: see
 *  dh_fashion_mnist_dir). split DH_SPLIT_TRAIN: 60,000 images from
 *  train-{images-idx3,labels-idx1}-ubyte[.gz]; DH_SPLIT_TEST: 10,000 from t10k-*.
 *  28 x 28 x 1, 10 classes. Returns as dh_dataset_load_idx, plus DH_E_NOT_FOUND
 *  when no folder is found. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_dataset_load_fashion_mnist(const char *dir, int32_t split,
                                               dh_dataset **out);

/** Load CIFAR binary batches from `dir`. variant: DH_CIFAR10 (train = the five
 *  data_batch_N.bin files, 10,000 records each of 1 label byte + 3072 pixel
 *  bytes; test = test_batch.bin), DH_CIFAR100 or DH_CIFAR100_COARSE (train.bin /
 *  test.bin, records of coarse byte, fine byte, 3072 pixels). Pixels are stored
 *  planar (R, G, B planes) in the files and returned as 32 x 32 x 3 HWC. File
 *  sizes must be a whole number of records. Returns DH_OK, DH_E_INVALID_ARG
 *  (NULL, unknown variant or split), DH_E_NOT_FOUND, DH_E_IO, DH_E_FORMAT (size
 *  not a multiple of the record, label out of range: file and offset named),
 *  DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_dataset_load_cifar(const char *dir, int32_t variant, int32_t split,
                                       dh_dataset **out);

/** Label columns of an image list. */
enum {
    DH_LABELS_AUTO = 0,     /* one integer after the path: class id; several: multi-hot */
    DH_LABELS_MULTIHOT = 1, /* `path l1 l2 ... lC`, each 0 or 1 (HashNet / DeepHash lists) */
    DH_LABELS_CLASS_ID = 2  /* `path class_id` */
};

/** How list images are brought to the dataset's stored size. */
enum {
    DH_RESIZE_SHORTER_CROP = 0, /* scale the shorter side to fit, then centre-crop */
    DH_RESIZE_STRETCH = 1       /* scale each axis independently */
};

/** Options of dh_dataset_load_imagelist. */
typedef struct dh_imagelist_options {
    size_t struct_size;   /* set by dh_imagelist_options_init() */
    const char *root;     /* folder that relative paths start from; NULL: the list's folder */
    uint32_t n_classes;   /* 0: infer (columns, or max class id + 1) */
    int32_t label_format; /* DH_LABELS_*; default AUTO */
    uint32_t height;      /* stored image size; default 256 x 256 */
    uint32_t width;
    uint32_t channels;    /* 3 (RGB, default) or 1 (grey) */
    int32_t resize_mode;  /* DH_RESIZE_*; default DH_RESIZE_SHORTER_CROP */
    uint64_t cache_bytes; /* bound on decoded images kept in memory; default 256 MiB, 0: none */
    uint32_t check_files; /* 1 (default): every image must exist at load time */
    uint32_t path_policy; /* Since 1.2 (was reserved0): DH_PATHS_ANY (0, default) or
                             DH_PATHS_CONFINED: refuse absolute paths and ".." parts, so a
                             list from an untrusted place cannot name files outside root */
} dh_imagelist_options;

/** dh_imagelist_options.path_policy. CONFINED refuses absolute and ".." names and, from
 *  1.3, resolves symlinks: an entry that leads outside the root through a symlink (a file
 *  or a folder on its way) is DH_E_FORMAT, at load with check_files (naming the list
 *  line), else when the image is read. Use it for lists that come from untrusted places. */
enum { DH_PATHS_ANY = 0, DH_PATHS_CONFINED = 1 };

/** Fill `opts` with the defaults above. Since: 1.0 */
DH_API void dh_imagelist_options_init(dh_imagelist_options *opts);

/** Load an image list: one sample per non-empty line, `relative/path.jpg l1 ... lC`
 *  (multi-hot 0/1 columns) or `path class_id`; lines starting with '#' are
 *  comments. Paths may not contain spaces. Images (JPEG, PNG, BMP, GIF, TGA,
 *  PNM via stb_image) are decoded lazily when a sample is read and resized to
 *  opts->height x width x channels; the list itself is held in memory.
 *  opts: NULL for defaults; borrowed. Returns DH_OK, DH_E_INVALID_ARG,
 *  DH_E_NOT_FOUND (list or, with check_files, an image: line number named),
 *  DH_E_FORMAT (bad line: "list.txt:17: ..."), DH_E_VERSION (opts newer),
 *  DH_E_IO, DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_dataset_load_imagelist(const char *list_path,
                                           const dh_imagelist_options *opts,
                                           dh_dataset **out);

/** Make a dataset of n images [n, height, width, channels] uint8 (copied).
 *  Labels: exactly one of class_ids [n] int32 (0..n_classes-1) or labels
 *  [n, n_classes] float multi-hot (0/1), the other NULL (both NULL: unlabelled,
 *  class ids -1 and label rows of zeros; n_classes may then be 0). channels 1,
 *  3 or 4. Returns DH_OK, DH_E_INVALID_ARG (NULL data with n > 0, zero sizes,
 *  class id out of range, label value not 0/1), DH_E_NO_MEMORY.
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_dataset_from_images(const uint8_t *images, size_t n, uint32_t height,
                                        uint32_t width, uint32_t channels,
                                        const int32_t *class_ids, const float *labels,
                                        uint32_t n_classes, dh_dataset **out);

/** As dh_dataset_from_images, but the dataset borrows `images` (not copied): it
 *  must stay valid and unchanged until the dataset and every dataset derived
 *  from it (subsets, splits, loaders) are freed. Labels are copied.
 *  Since: 1.0 */
DH_API dh_status dh_dataset_from_images_ref(const uint8_t *images, size_t n, uint32_t height,
                                            uint32_t width, uint32_t channels,
                                            const int32_t *class_ids, const float *labels,
                                            uint32_t n_classes, dh_dataset **out);

/** Make a dataset of n feature rows [n, dim] float32 (copied); labels as for
 *  dh_dataset_from_images. Since: 1.0 */
DH_API dh_status dh_dataset_from_features(const float *features, size_t n, uint32_t dim,
                                          const int32_t *class_ids, const float *labels,
                                          uint32_t n_classes, dh_dataset **out);

/** As dh_dataset_from_features, borrowing `features` (lifetime as in
 *  dh_dataset_from_images_ref). Since: 1.0 */
DH_API dh_status dh_dataset_from_features_ref(const float *features, size_t n, uint32_t dim,
                                              const int32_t *class_ids, const float *labels,
                                              uint32_t n_classes, dh_dataset **out);

/** Load samples and labels from .npy files. samples_path: [n, dim] of any
 *  numeric dtype (converted to float32 feature rows) or [n, H, W, C] uint8
 *  (images, C in 1, 3, 4). labels_path: [n] integers (class ids, n_classes =
 *  max + 1), [n, C] 0/1 values of any dtype (multi-hot), or NULL (unlabelled).
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_SHAPE (row counts differ, wrong rank),
 *  the codes of dh_npy_load, DH_E_FORMAT (label not 0/1 or negative class id).
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_dataset_load_npy(const char *samples_path, const char *labels_path,
                                     dh_dataset **out);

/** Attach a tag matrix [count, n_tags] float (copied; count = dh_dataset_count)
 *  for weak supervision, replacing any previous one; n_tags 0 removes it.
 *  Subsets made afterwards carry the tags. Returns DH_OK, DH_E_INVALID_ARG,
 *  DH_E_NO_MEMORY. Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_dataset_set_tags(dh_dataset *ds, const float *tags, uint32_t n_tags);

/** dh_dataset_set_tags from a .npy file [count, n_tags] of any numeric dtype.
 *  Returns also the codes of dh_npy_load and DH_E_SHAPE. Since: 1.0 */
DH_API dh_status dh_dataset_load_tags_npy(dh_dataset *ds, const char *path);

/** Release a dataset; NULL is a no-op. Storage shared with subsets lives on
 *  until the last user is freed. Since: 1.0 */
DH_API void dh_dataset_free(dh_dataset *ds);

/** Number of samples (0 for NULL). Thread-safety: shared. Since: 1.0 */
DH_API size_t dh_dataset_count(const dh_dataset *ds);
/** Number of label columns. Since: 1.0 */
DH_API uint32_t dh_dataset_n_classes(const dh_dataset *ds);
/** Number of tag columns (0: none). Since: 1.0 */
DH_API uint32_t dh_dataset_n_tags(const dh_dataset *ds);
/** 1 if samples are images, 0 if feature rows (or NULL). Since: 1.0 */
DH_API int dh_dataset_is_image(const dh_dataset *ds);
/** 1 if any sample has other than exactly one positive label. Since: 1.0 */
DH_API int dh_dataset_is_multilabel(const dh_dataset *ds);
/** Image height, width, channels (0 for feature datasets). Since: 1.0 */
DH_API uint32_t dh_dataset_height(const dh_dataset *ds);
DH_API uint32_t dh_dataset_width(const dh_dataset *ds);
DH_API uint32_t dh_dataset_channels(const dh_dataset *ds);
/** Values per sample: dim for feature rows, height*width*channels for images.
 *  Since: 1.0 */
DH_API size_t dh_dataset_sample_size(const dh_dataset *ds);

/** Copy the label rows of samples [first, first+count) to out[count, n_classes]
 *  (float 0/1). Returns DH_OK, DH_E_INVALID_ARG (NULL, range past the end).
 *  Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_dataset_get_labels(const dh_dataset *ds, size_t first, size_t count,
                                       float *out);
/** Copy class ids of samples [first, first+count) to out[count] (-1 for
 *  multi-label or unlabelled rows). Returns as dh_dataset_get_labels. Since: 1.0 */
DH_API dh_status dh_dataset_get_class_ids(const dh_dataset *ds, size_t first, size_t count,
                                          int32_t *out);
/** Copy tag rows to out[count, n_tags]. DH_E_STATE if the dataset has no tags.
 *  Since: 1.0 */
DH_API dh_status dh_dataset_get_tags(const dh_dataset *ds, size_t first, size_t count,
                                     float *out);
/** Index of each sample of [first, first+count) in the dataset it was loaded or
 *  created from (after dh_dataset_concat: in the concatenation), to out[count].
 *  Lets callers relate splits to the original files. Since: 1.0 */
DH_API dh_status dh_dataset_get_origin(const dh_dataset *ds, size_t first, size_t count,
                                       int64_t *out);
/** Image i as uint8 HWC into out[height*width*channels] (list images are
 *  decoded if not cached). Returns DH_OK, DH_E_INVALID_ARG (NULL, i out of
 *  range, feature dataset), DH_E_IO / DH_E_NOT_FOUND / DH_E_FORMAT (image file
 *  unreadable: path named), DH_E_NO_MEMORY. Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_dataset_get_image(const dh_dataset *ds, size_t i, uint8_t *out);
/** Sample i as float32 into out[dh_dataset_sample_size]: images as CHW with
 *  value (pixel/255 - mean[c]) / std[c] (mean, std: [channels] or NULL for 0
 *  and 1); feature rows unchanged (mean and std must be NULL). Returns as
 *  dh_dataset_get_image. Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_dataset_get_floats(const dh_dataset *ds, size_t i, const float *mean,
                                       const float *std, float *out);

/** A dataset of the samples indices[0..n) of ds (repeats allowed), sharing its
 *  storage; labels, tags and class ids follow. Returns DH_OK, DH_E_INVALID_ARG
 *  (NULL, an index out of range: position named), DH_E_NO_MEMORY.
 *  Thread-safety: pure on ds (shared). Since: 1.0 */
DH_API dh_status dh_dataset_subset(const dh_dataset *ds, const int64_t *indices, size_t n,
                                   dh_dataset **out);
/** The samples of a followed by those of b (shared storage). Both must be images
 *  of the same size or features of the same dim, with the same n_classes and
 *  n_tags. Returns DH_OK, DH_E_INVALID_ARG, DH_E_SHAPE, DH_E_NO_MEMORY.
 *  Since: 1.0 */
DH_API dh_status dh_dataset_concat(const dh_dataset *a, const dh_dataset *b, dh_dataset **out);

/* ---- Tags (weak supervision; docs/data.md#tags) ----------------------------
 * A dh_tags holds a 0/1 matrix [images, T] with the T tag names, read from a real
 * layout or generated; dh_dataset_attach_tags puts the matrix beside a dataset's
 * labels (the labels then serve evaluation only: tag methods and
 * DH_SUPERVISION_TAGS never read them). Row i belongs to sample i of the dataset
 * the file describes (attach before splitting). */
typedef struct dh_tags dh_tags;

/** Tag file layouts (dh_tags_options.format). Since: 1.2 */
enum {
    DH_TAGS_MATRIX = 1, /* NUS-WIDE AllTags1k.txt: one row of T 0/1 values per image;
                           the names (one a line, e.g. TagList1k.txt) in `vocabulary` */
    DH_TAGS_FILES = 2,  /* MIRFlickr-25k: path is a folder of tags1.txt ... tagsN.txt
                           (image i: tags<i+1>.txt, one tag a line) */
    DH_TAGS_LIST = 3    /* a text file of `path tag1 tag2 ...` lines (tags as words) */
};
/** What to do with a tag missing from a given vocabulary. Since: 1.2 */
enum { DH_TAGS_UNKNOWN_ERROR = 0, DH_TAGS_UNKNOWN_SKIP = 1 };

typedef struct dh_tags_options {
    size_t struct_size;     /* set by dh_tags_options_init() */
    int32_t format;         /* DH_TAGS_* (required) */
    int32_t unknown;        /* DH_TAGS_UNKNOWN_* for FILES/LIST with a vocabulary */
    const char *vocabulary; /* tag-name list, one a line: required for MATRIX; for
                               FILES/LIST NULL builds it (tags used by >= min_count
                               images, sorted by name) */
    uint32_t min_count;     /* built vocabularies; default 1 */
    uint32_t max_tags;      /* vocabulary limit; 0 (default) or larger: 65536 */
    uint64_t max_images;    /* image limit; 0 (default) or larger: 2^26 */
} dh_tags_options;

/** Fill opts with struct_size and the defaults. NULL: no-op. Since: 1.2 */
DH_API void dh_tags_options_init(dh_tags_options *opts);
/** Read tags in one of the layouts. Malformed lines, values other than 0/1, rows
 *  of the wrong length, empty lines of a matrix or list, unknown tags (policy
 *  ERROR), duplicate or empty names, names over 256 bytes, vocabularies over
 *  max_tags and more than max_images images are DH_E_FORMAT with the file and
 *  line in the message; an image may have no tag. Returns DH_OK,
 *  DH_E_INVALID_ARG, DH_E_IO, DH_E_NOT_FOUND, DH_E_FORMAT, DH_E_NO_MEMORY.
 *  Thread-safety: pure. Since: 1.2 */
DH_API dh_status dh_tags_load(const char *path, const dh_tags_options *opts, dh_tags **out);
/** Generated tags of `ds` by a documented scheme: "fashion-mnist-tags" (10-class
 *  Fashion-MNIST: each class tag kept with probability keep, a wrong tag added per
 *  class tag with probability noise; seeded per source sample). Returns DH_OK,
 *  DH_E_INVALID_ARG, DH_E_NOT_FOUND (scheme), DH_E_SHAPE. Since: 1.2 */
DH_API dh_status dh_tags_synthesize(const dh_dataset *ds, const char *scheme, double keep,
                                    double noise, uint64_t seed, dh_tags **out);
/** Release tags; NULL is a no-op. Since: 1.2 */
DH_API void dh_tags_free(dh_tags *tags);
/** Images (rows), vocabulary size, and the name of tag i (NULL out of range;
 *  borrowed, lives with the object). Thread-safety: shared. Since: 1.2 */
DH_API size_t dh_tags_count(const dh_tags *tags);
DH_API uint32_t dh_tags_vocab_size(const dh_tags *tags);
DH_API const char *dh_tags_name(const dh_tags *tags, uint32_t i);
/** Copy rows [first, first+count) to out[count, T]. Since: 1.2 */
DH_API dh_status dh_tags_get(const dh_tags *tags, size_t first, size_t count, float *out);
/** dh_dataset_set_tags with the matrix (rows must equal the dataset's count:
 *  DH_E_SHAPE otherwise). Since: 1.2 */
DH_API dh_status dh_dataset_attach_tags(dh_dataset *ds, const dh_tags *tags);
/** Dimension of a word-vector text file (GloVe `word v1 ... vD` lines, or
 *  word2vec text with a `V D` header), from its first line. Since: 1.2 */
DH_API dh_status dh_word_vectors_dim(const char *path, uint32_t *dim);
/** Vectors of the tags' names from such a file into out[T, dim] (rows of names
 *  not in the file are zero; a tag takes the first row of its exact name, else the
 *  first row of its lower-cased name). The file is streamed; lines over 1 MB, rows
 *  with other than dim finite values and NUL bytes are DH_E_FORMAT (line named). *n_found (may be
 *  NULL): names found. Returns DH_OK, DH_E_INVALID_ARG, DH_E_IO, DH_E_SHAPE (dim
 *  differs), DH_E_FORMAT, DH_E_NO_MEMORY. Since: 1.2 */
DH_API dh_status dh_word_vectors_load(const char *path, const dh_tags *tags, uint32_t dim,
                                      float *out, uint32_t *n_found);

/* ---- Splits and standard protocols ---------------------------------------- */

/** Split by a named retrieval protocol, deterministically for a given seed.
 *  Inputs a, b and the outputs (each a new dataset sharing storage; free each):
 *  - "fashion-mnist" (libdh's default): a = the 60,000 training images, b = the
 *    10,000 test images. database = a; train = 1,000 per class sampled from a;
 *    query = b. mAP@all.
 *  - "cifar10": a = train (50,000), b = test (10,000), or a = all 60,000 and b =
 *    NULL. From the union: query 1,000 (100/class), train 5,000 (500/class),
 *    database 54,000 = the rest, excluding training. mAP@all.
 *  - "cifar10-1": same query and train; database 59,000 = all but queries.
 *  - "cifar10-2": a = train, b = test: query = b (10,000), train = database = a.
 *  - "nuswide21": a = all images (b = NULL or appended); with more than 21
 *    label columns only the 21 most frequent concepts are kept and images with
 *    none of them dropped. Query 100 and train 500 per concept (an image counts
 *    for its first concept with quota left); database = all but queries
 *    (includes training). mAP@5000.
 *  - "coco", "imagenet100": a = all images of the list (b = NULL or appended):
 *    query 5,000, train 10,000 sampled from the rest, database = all but
 *    queries. mAP@5000 (coco) and mAP@1000 (imagenet100). When a data set comes
 *    with its own train/test/database list files, load those directly instead.
 *  Per-class protocols need single-label data (class ids) except nuswide21.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, wrong inputs), DH_E_NOT_FOUND (unknown
 *  name), DH_E_SHAPE (too few samples for the protocol's quotas: class named),
 *  DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_protocol_split(const char *name, const dh_dataset *a, const dh_dataset *b,
                                   uint64_t seed, dh_dataset **train, dh_dataset **query,
                                   dh_dataset **database);
/** The protocol's default evaluation depth: mAP@topk, 0 meaning all.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NOT_FOUND. Since: 1.0 */
DH_API dh_status dh_protocol_topk(const char *name, int64_t *topk);
/** Name of the i-th protocol (static), or NULL past the last. Since: 1.0 */
DH_API const char *dh_protocol_name(uint32_t i);

/** Sample per_class examples of every class at random (single-label data):
 *  *picked gets them, *rest (may be NULL) the others, both in index order.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_SHAPE (a class has fewer than
 *  per_class samples), DH_E_NO_MEMORY. Since: 1.0 */
DH_API dh_status dh_split_per_class(const dh_dataset *ds, uint32_t per_class, uint64_t seed,
                                    dh_dataset **picked, dh_dataset **rest);
/** Long-tailed subset (LTHNet protocol): class c of C keeps
 *  floor(n_max * imbalance^(-c/(C-1))) random samples (at least 1), n_max =
 *  max_per_class or, if 0, the size of the smallest class. imbalance >= 1
 *  (1 = balanced). Single-label data. Returns DH_OK, DH_E_INVALID_ARG,
 *  DH_E_SHAPE, DH_E_NO_MEMORY. Since: 1.0 */
DH_API dh_status dh_split_longtail(const dh_dataset *ds, double imbalance,
                                   uint32_t max_per_class, uint64_t seed, dh_dataset **out);
/** The samples whose class lies in [first_class, first_class + n_classes): for
 *  class-incremental sessions (e.g. 0..6 first, then 7..9). Multi-label rows
 *  qualify by any positive in the range. Label columns are kept as they are.
 *  Returns DH_OK, DH_E_INVALID_ARG (range past n_classes), DH_E_NO_MEMORY.
 *  Since: 1.0 */
DH_API dh_status dh_split_classes(const dh_dataset *ds, uint32_t first_class,
                                  uint32_t n_classes, dh_dataset **out);

/* ---- Batches -------------------------------------------------------------- */

/** Augmentation flags (dh_loader_options.augment), applied in this order. */
enum {
    DH_AUG_RESIZED_CROP = 1 << 0, /* random area scale_min..max, aspect ratio_min..max, resize to out */
    DH_AUG_RANDOM_CROP = 1 << 1,  /* zero-pad crop_padding pixels, random out-size crop */
    DH_AUG_CENTER_CROP = 1 << 2,  /* evaluation: shorter side to out/resize_ratio, centre crop */
    DH_AUG_FLIP = 1 << 3,         /* horizontal flip with probability flip_prob */
    DH_AUG_COLOR_JITTER = 1 << 4, /* brightness, contrast, saturation factors in [1-x, 1+x] */
    DH_AUG_GRAYSCALE = 1 << 5,    /* to grey (3 equal channels) with probability grayscale_prob */
    DH_AUG_BLUR = 1 << 6          /* Since 1.2: with probability blur_prob (default 1/2), a 3x3
                                     Gaussian blur with sigma ~ U(0.1, 2) (torchvision
                                     GaussianBlur(3), reflect) */
};

/** Options of dh_loader_create. */
typedef struct dh_loader_options {
    size_t struct_size;     /* set by dh_loader_options_init() */
    uint32_t batch_size;    /* default 64 */
    uint32_t shuffle;       /* 1 (default): a new permutation each epoch */
    uint32_t drop_last;     /* 1: skip the last incomplete batch; default 0 */
    uint32_t prefetch;      /* 1 (default): prepare the next batch on background threads */
    uint64_t seed;          /* shuffling and augmentation; default 0 */
    uint32_t n_threads;     /* batch preparation threads; 0 (default): min(4, dh_get_num_threads()) */
    uint32_t two_views;     /* 1: also fill x2 with a second, independently augmented view */
    uint32_t out_height;    /* 0 (default): the dataset's size */
    uint32_t out_width;
    uint32_t augment;       /* DH_AUG_* flags; default 0 (images only) */
    uint32_t crop_padding;  /* DH_AUG_RANDOM_CROP padding; default 4 */
    float flip_prob;        /* default 0.5 */
    float scale_min;        /* DH_AUG_RESIZED_CROP area fraction; default 0.08 .. 1 */
    float scale_max;
    float ratio_min;        /* aspect ratio; default 3/4 .. 4/3 */
    float ratio_max;
    float brightness;       /* jitter strengths; default 0.4 each */
    float contrast;
    float saturation;
    float grayscale_prob;   /* default 0.2 */
    float resize_ratio;     /* DH_AUG_CENTER_CROP crop/shorter side; default 0.875 (224 of 256) */
    float mean[4];          /* per channel, on pixel/255; default 0 */
    float std[4];           /* per channel; default 1 */
    float blur_prob;        /* DH_AUG_BLUR probability in [0, 1]; default 0.5. Since: 1.3 */
} dh_loader_options;

/** Fill `opts` with the defaults above. Since: 1.0 */
DH_API void dh_loader_options_init(dh_loader_options *opts);

/** The size-aware DH_AUG_RANDOM_CROP padding the trainer's recipes use for a
 *  height x width model input: 2 * floor(min(height, width) / 16) pixels (2 at 28,
 *  4 at 32, 8 at 64; the loader's own default stays 4). Inputs of at least
 *  DH_RECIPE_RESIZED_CROP_MIN pixels (224-class) get a random resized crop instead
 *  (docs/recipes.md). Thread-safety: pure. Since: 1.3 */
DH_API int32_t dh_crop_padding_default(uint32_t height, uint32_t width);

/** Shuffled mini-batches over a dataset (opaque). Batches are deterministic for
 *  a seed: epoch e's order is a permutation drawn from (seed, e), and sample i's
 *  augmentation from (seed, e, i, view), so results never depend on thread
 *  timing, and dh_loader_seek resumes exactly. */
typedef struct dh_loader dh_loader;

/** Create a loader over ds (ds may be freed afterwards; the loader shares its
 *  storage). opts: NULL for defaults. Augmentations need an image dataset.
 *  Without a crop flag, images whose size differs from the output size are
 *  resized (bilinear) to it. Returns DH_OK, DH_E_INVALID_ARG (NULL, empty
 *  dataset, batch_size 0, drop_last with fewer samples than a batch, a random
 *  crop larger than the padded image, augment flags or output sizes on feature
 *  rows, unknown flags, std <= 0, parameters out of range), DH_E_VERSION,
 *  DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_loader_create(const dh_dataset *ds, const dh_loader_options *opts,
                                  dh_loader **out);
/** Stop the background threads and release; NULL is a no-op. Since: 1.0 */
DH_API void dh_loader_free(dh_loader *loader);

/** Floats per sample of x: channels*out_height*out_width, or dim. Since: 1.0 */
DH_API size_t dh_loader_sample_floats(const dh_loader *loader);
/** Floats of a full x buffer: batch_size * dh_loader_sample_floats. Since: 1.0 */
DH_API size_t dh_loader_batch_floats(const dh_loader *loader);
/** The batch size, label columns, output channels/height/width (0 for
 *  features). Since: 1.0 */
DH_API uint32_t dh_loader_batch_size(const dh_loader *loader);
DH_API uint32_t dh_loader_n_classes(const dh_loader *loader);
DH_API uint32_t dh_loader_channels(const dh_loader *loader);
DH_API uint32_t dh_loader_height(const dh_loader *loader);
DH_API uint32_t dh_loader_width(const dh_loader *loader);
/** Batches per epoch (the last may be short unless drop_last). Since: 1.0 */
DH_API uint64_t dh_loader_batches_per_epoch(const dh_loader *loader);
/** Current position: the epoch and batch the next dh_loader_next returns.
 *  Either pointer may be NULL. Since: 1.0 */
DH_API void dh_loader_position(const dh_loader *loader, uint64_t *epoch, uint64_t *batch);

/** Fill the next batch of the current epoch into caller buffers:
 *  x [batch_size, C, H, W] (or [batch_size, dim]) float32, normalised;
 *  x2 same shape, the second view (NULL to skip; needs two_views);
 *  labels [batch_size, n_classes] float 0/1 (or NULL); class_ids [batch_size]
 *  int32, -1 for multi-label rows (or NULL); indices [batch_size] int64, the
 *  samples' indices in the loader's dataset (or NULL). *n_out is the number of
 *  samples written. At the end of an epoch it returns DH_OK with *n_out = 0 and
 *  moves to the next epoch, so `while (next() == DH_OK && n > 0)` runs one
 *  epoch. Returns DH_OK, DH_E_INVALID_ARG (NULL x or n_out, x2 without
 *  two_views), image read errors (path named), DH_E_NO_MEMORY.
 *  Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_loader_next(dh_loader *loader, float *x, float *x2, float *labels,
                                int32_t *class_ids, int64_t *indices, size_t *n_out);
/** Position the loader so that the next batch is `batch` of `epoch` (for
 *  resuming training); batch == batches_per_epoch means the end of that epoch.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, batch past the end).
 *  Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_loader_seek(dh_loader *loader, uint64_t epoch, uint64_t batch);
/** dh_loader_seek(loader, epoch, 0). Since: 1.0 */
DH_API dh_status dh_loader_set_epoch(dh_loader *loader, uint64_t epoch);
/** dh_loader_seek(loader, 0, 0). Since: 1.0 */
DH_API dh_status dh_loader_reset(dh_loader *loader);

/* ---- Fine-grained data sets (docs/finegrained.md) -------------------------
 * Models read the encoder's last feature map through a pool (dh_model_options
 * .fmap_pool: DH_FMAP_POOL_ATTN = SEMICON-lite attention with suppression,
 * DH_FMAP_POOL_PART = ExchNet-style parts, DH_FMAP_POOL_GAP = the global-pooling
 * baseline); any loss trains them. The functions below bring the CUB-200-2011 and
 * FGVC-Aircraft annotation files into the image-list pipeline. */

/** Fine-grained annotation formats (dh_finegrained_write_list). */
enum {
    DH_FINEGRAINED_CUB = 0,                   /* CUB-200-2011: images.txt,
                                                 image_class_labels.txt, train_test_split.txt;
                                                 split "train", "test" or "all" */
    DH_FINEGRAINED_AIRCRAFT_VARIANT = 1,      /* FGVC-Aircraft: variants.txt +
                                                 images_variant_<split>.txt (100 classes) */
    DH_FINEGRAINED_AIRCRAFT_FAMILY = 2,       /* families.txt + images_family_<split>.txt */
    DH_FINEGRAINED_AIRCRAFT_MANUFACTURER = 3  /* manufacturers.txt +
                                                 images_manufacturer_<split>.txt; Aircraft
                                                 splits "train", "val", "trainval", "test" */
};

/** Convert a fine-grained set's annotation files into an image list
 *  (`images/<path> <class id>` per line, paths relative to `dir`), written
 *  atomically to out_list; load it with dh_dataset_load_imagelist and root = dir.
 *  Class ids: CUB's class number - 1; Aircraft's line position in the class-name
 *  file (names may contain spaces).
 *  @param format        DH_FINEGRAINED_*.
 *  @param dir           CUB_200_2011/ or fgvc-aircraft-2013b/data/, borrowed.
 *  @param split         see the enum, borrowed.
 *  @param out_list      path of the list to write, borrowed.
 *  @param out_n_classes receives C (classes in the name file / largest CUB class), or NULL.
 *  @param out_n         receives the number of images listed, or NULL.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, unknown format or split), DH_E_NOT_FOUND
 *  (an annotation file is missing), DH_E_FORMAT ("file:line: what" for a malformed
 *  line, an unknown id or class name, a duplicate, an empty split), DH_E_IO,
 *  DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_finegrained_write_list(int32_t format, const char *dir, const char *split,
                                           const char *out_list, uint32_t *out_n_classes,
                                           size_t *out_n);

/** Load a fine-grained split as an image dataset in one call: the list of
 *  dh_finegrained_write_list goes to a temporary file (in $TMPDIR or /tmp, removed
 *  before returning) and is loaded by dh_dataset_load_imagelist with opts (NULL:
 *  defaults) except root = dir, class-id labels, and n_classes = the format's class
 *  count unless opts->n_classes is set (so train and test agree on C).
 *  Returns as dh_finegrained_write_list and dh_dataset_load_imagelist.
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_dataset_load_finegrained(int32_t format, const char *dir, const char *split,
                                             const dh_imagelist_options *opts, dh_dataset **out);

/* ======================================================================== */
/* 5. Neural network: encoders, optimizers                                  */
/* ======================================================================== */
/* @@SECTION nn */

/** A neural encoder: images (or feature rows) in, one feature vector per sample
 *  out, on oneDNN. Opaque; made by dh_encoder_create, released by dh_encoder_free.
 *  Specs (see docs/nn.md):
 *   - "mlp:<d_in>-<h1>-...-<hk>": feature rows [n, d_in]; blocks of linear + BN1d +
 *     ReLU; the last hidden width is the feature dimension D = hk.
 *   - "smallcnn": 28x28 or 32x32, 1 or 3 channels; conv5x5-32, BN, ReLU, maxpool2,
 *     conv5x5-64, BN, ReLU, maxpool2, linear-512, BN1d, ReLU; D = 512.
 *   - "alexnet": 224x224x3, torchvision layout up to fc7 (with dropout); D = 4096.
 *   - "resnet18": ImageNet stem, 224x224x3 (any size >= 32); D = 512.
 *   - "resnet18-cifar": 3x3 stem without max pool, 32x32x3; D = 512.
 *  Parameter names follow torchvision's state_dict keys (conv1.weight,
 *  bn1.running_mean, layer1.0.conv1.weight, features.0.weight, ...).
 *  Thread-safety: exclusive (an encoder holds oneDNN primitives and scratch). */
typedef struct dh_encoder dh_encoder;

/** Options of dh_encoder_create. Fill with dh_encoder_options_init(). */
typedef struct dh_encoder_options {
    size_t struct_size;   /* set by dh_encoder_options_init() */
    uint64_t seed;        /* weight initialisation and dropout masks (default 0x5eed) */
    int32_t in_channels;  /* 0: the spec's default (smallcnn 1, others 3) */
    int32_t in_height;    /* 0: the spec's default (smallcnn 28, resnet18-cifar 32, else 224) */
    int32_t in_width;     /* 0: same as in_height */
    float dropout;        /* dropout probability of alexnet's classifier (default 0.5) */
    float bn_momentum;    /* running-average momentum, PyTorch convention (default 0.1) */
    float bn_eps;         /* batch-norm epsilon (default 1e-5) */
} dh_encoder_options;

/** Fill `opts` with defaults and its struct_size. NULL: no-op. Thread-safety: pure.
 *  Since: 1.0 */
DH_API void dh_encoder_options_init(dh_encoder_options *opts);

/** Create an encoder from a spec string (see dh_encoder) with freshly initialised
 *  weights (PyTorch's defaults: kaiming_uniform(a=sqrt(5)) for conv/linear weights,
 *  uniform(+-1/sqrt(fan_in)) biases, BN weight 1 and bias 0), drawn from opts->seed.
 *  spec: NUL-terminated, borrowed. opts: NULL for defaults; read during the call.
 *  out: receives the encoder (NULL on failure).
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL spec/out, bad sizes), DH_E_NOT_FOUND
 *  (unknown architecture), DH_E_FORMAT (malformed mlp widths), DH_E_VERSION
 *  (options newer than this library), DH_E_NO_MEMORY, DH_E_BACKEND,
 *  DH_E_UNSUPPORTED (search-only build). Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_encoder_create(const char *spec, const dh_encoder_options *opts,
                                   dh_encoder **out);

/** Release an encoder; NULL is a no-op. Since: 1.0 */
DH_API void dh_encoder_free(dh_encoder *enc);

/** Encode n samples.
 *  x: [n, C, H, W] float32 NCHW (images) or [n, d_in] (mlp), borrowed.
 *  training: 0 = inference (BN running statistics folded into the convolutions,
 *  no dropout); 1 = training (BN batch statistics and running-average update,
 *  dropout, and everything dh_encoder_backward needs is kept).
 *  out: [n, D] float32, caller-owned.
 *  Primitives are built on the first call for each batch size and reused;
 *  inference requests above 256 samples run in chunks of 256 (bounded memory).
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, n == 0, n > 2^20; training with n == 1
 *  and batch norm), DH_E_NO_MEMORY, DH_E_BACKEND. Thread-safety: exclusive.
 *  Since: 1.0 */
DH_API dh_status dh_encoder_forward(dh_encoder *enc, const float *x, size_t n,
                                    int32_t training, float *out);

/** Back-propagate through the last training forward (same batch; inference calls
 *  in between do not disturb it, and the forward's input array need not stay alive).
 *  dout: [n, D] gradient of the loss w.r.t. the features, borrowed.
 *  dx: [n, input] receives the gradient w.r.t. the input, or NULL to skip it.
 *  Parameter gradients ACCUMULATE (call dh_encoder_zero_grad between steps).
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL dout), DH_E_STATE (no training forward
 *  has run), DH_E_BACKEND. Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_encoder_backward(dh_encoder *enc, const float *dout, float *dx);

/** Set all parameter gradients to zero. Returns DH_OK or DH_E_INVALID_ARG.
 *  Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_encoder_zero_grad(dh_encoder *enc);

/** Feature dimension D; 0 for NULL. Thread-safety: shared. Since: 1.0 */
DH_API size_t dh_encoder_feature_dim(const dh_encoder *enc);

/** Input shape without the batch: writes [C, H, W] (returns 3) or [d_in] (returns
 *  1) into shape (3 slots); 0 for NULL arguments. Thread-safety: shared. Since: 1.0 */
DH_API int32_t dh_encoder_input_shape(const dh_encoder *enc, int64_t shape[3]);

/** Feature-map shape [C, h, w] (returns 3), or 0 when the encoder has none (mlp).
 *  Thread-safety: shared. Since: 1.0 */
DH_API int32_t dh_encoder_feature_map_shape(const dh_encoder *enc, int64_t shape[3]);

/** Number of trainable scalars (buffers such as BN running statistics excluded).
 *  Thread-safety: shared. Since: 1.0 */
DH_API size_t dh_encoder_param_count(const dh_encoder *enc);

/** The spec the encoder was created from (borrowed, lives with the encoder); ""
 *  for NULL. Thread-safety: shared. Since: 1.0 */
DH_API const char *dh_encoder_spec(const dh_encoder *enc);
/* ---- Optimizers and learning-rate schedules ----------------------------- */

/** The same load into a bare encoder (dh_encoder_create, or dh_model_encoder of a
 *  model): pretrained torchvision-named weights, flags and returns as
 *  dh_model_load_backbone(). Thread-safety: exclusive. Since: 1.1 */
DH_API dh_status dh_encoder_load_weights(dh_encoder *enc, const char *path, uint32_t flags,
                                         uint32_t *out_loaded, uint32_t *out_ignored);

/* ---- Optimizers and learning-rate schedules ----------------------------- */

/** An optimizer: an update rule (SGD, Adam, AdamW, RMSprop with PyTorch 1.13's
 *  exact update formulas), a learning-rate schedule, per-group learning-rate
 *  multipliers, optional gradient clipping by global norm, and the per-tensor
 *  state (momentum, moment estimates). It updates tensors it borrows: register
 *  them with dh_optimizer_add_param() or dh_optimizer_add_model(). */
typedef struct dh_optimizer dh_optimizer;

/** Update rules (dh_optimizer_options.type). */
enum {
    DH_OPTIM_SGD = 0,     /* SGD with optional momentum, dampening, Nesterov */
    DH_OPTIM_ADAM = 1,    /* Adam; weight decay is added to the gradient (L2) */
    DH_OPTIM_ADAMW = 2,   /* Adam with decoupled weight decay */
    DH_OPTIM_RMSPROP = 3  /* RMSprop (optionally centered, with momentum) */
};

/** Learning-rate schedules (dh_optimizer_options.schedule). Positions t count
 *  schedule ticks: t = floor(step / schedule_unit), step = completed steps. */
enum {
    DH_SCHED_CONSTANT = 0,  /* lr */
    DH_SCHED_STEP = 1,      /* lr * gamma^floor(t / step_size) (PyTorch StepLR) */
    DH_SCHED_MULTISTEP = 2, /* lr * gamma^(number of milestones <= t) (MultiStepLR) */
    DH_SCHED_COSINE = 3     /* eta_min + (lr - eta_min)(1 + cos(pi t / t_max)) / 2 for
                               t <= t_max, eta_min after (CosineAnnealingLR, no restart) */
};

/** Parameter groups; each has its own learning-rate multiplier. */
enum {
    DH_PARAM_GROUP_BACKBONE = 0, /* encoder parameters */
    DH_PARAM_GROUP_HEAD = 1,     /* hash-head parameters */
    DH_PARAM_GROUP_LOSS = 2      /* parameters owned by a loss (classifier, proxies) */
};

/** Options of dh_optimizer_create(). Fill with dh_optimizer_options_init(); the
 *  defaults are PyTorch's for each rule (SGD without momentum, lr 0.01). */
typedef struct dh_optimizer_options {
    size_t struct_size;        /* set by dh_optimizer_options_init() */
    int32_t type;              /* DH_OPTIM_*; default DH_OPTIM_SGD */
    int32_t nesterov;          /* SGD: 1 = Nesterov momentum (needs momentum > 0, dampening 0) */
    double lr;                 /* base learning rate > 0; default 0.01 */
    double momentum;           /* SGD, RMSprop: momentum in [0, 1); default 0 */
    double dampening;          /* SGD: dampening in [0, 1]; default 0 */
    double weight_decay;       /* >= 0; L2 added to the gradient, decoupled for AdamW; default 0 */
    double beta1;              /* Adam/AdamW: in [0, 1); default 0.9 */
    double beta2;              /* Adam/AdamW: in [0, 1); default 0.999 */
    double eps;                /* Adam/AdamW/RMSprop: > 0; default 1e-8 */
    double alpha;              /* RMSprop smoothing constant in [0, 1); default 0.99 */
    int32_t amsgrad;           /* Adam/AdamW: 1 = AMSGrad variant; default 0 */
    int32_t centered;          /* RMSprop: 1 = centered (divide by the variance); default 0 */
    double clip_norm;          /* > 0: scale gradients so their global L2 norm is at most
                                  this (torch.nn.utils.clip_grad_norm_); 0 = off (default) */
    double lr_mult_backbone;   /* learning-rate multiplier of DH_PARAM_GROUP_BACKBONE; 1 */
    double lr_mult_head;       /* ... of DH_PARAM_GROUP_HEAD; default 1 */
    double lr_mult_loss;       /* ... of DH_PARAM_GROUP_LOSS; default 1 */
    int32_t apply_no_decay;    /* 1: tensors flagged no-decay (biases, norm layers) get no
                                  weight decay; 0 (default): decay every tensor, as a plain
                                  PyTorch optimizer over model.parameters() does */
    int32_t schedule;          /* DH_SCHED_*; default DH_SCHED_CONSTANT */
    uint32_t schedule_unit;    /* optimizer steps per schedule tick (e.g. steps per epoch
                                  for per-epoch schedules); 0 or 1 = every step */
    uint32_t step_size;        /* DH_SCHED_STEP: ticks between decays (>= 1) */
    double gamma;              /* DH_SCHED_STEP/MULTISTEP: decay factor in (0, 1]; 0.1 */
    uint32_t milestones[8];    /* DH_SCHED_MULTISTEP: increasing ticks; unused entries 0 */
    uint32_t t_max;            /* DH_SCHED_COSINE: ticks of the half period (>= 1) */
    uint32_t warmup;           /* ticks of linear warm-up (0 = none); the warm-up factor
                                  multiplies the schedule (PyTorch ChainedScheduler with
                                  LinearLR), so milestones keep their absolute positions */
    double eta_min;            /* DH_SCHED_COSINE: final learning rate >= 0; default 0 */
    double warmup_start;       /* warm-up factor at tick 0, in (0, 1]; default 0.1 */
} dh_optimizer_options;

/** Fill `opts` with struct_size and the defaults listed above. NULL: no-op.
 *  Thread-safety: pure. Since: 1.0 */
DH_API void dh_optimizer_options_init(dh_optimizer_options *opts);

/** Create an optimizer with no tensors registered.
 *  @param opts  options (NULL: defaults); copied.
 *  @param out   receives the optimizer (NULL after a failure).
 *  Returns DH_OK, DH_E_INVALID_ARG (a field out of range; the message names it),
 *  DH_E_VERSION (larger struct with unknown fields set), DH_E_NO_MEMORY.
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_optimizer_create(const dh_optimizer_options *opts, dh_optimizer **out);

/** Release the optimizer and its state (not the tensors it updates). NULL: no-op.
 *  Since: 1.0 */
DH_API void dh_optimizer_free(dh_optimizer *opt);

/** Flags of dh_optimizer_add_param(). */
enum { DH_PARAM_NO_DECAY = 1 /* skip weight decay when apply_no_decay is set */ };

/** Register a float tensor to be updated by dh_optimizer_step().
 *  @param name   unique name (copied), used for state names "<name>.<slot>".
 *  @param data   [n] float32 values, updated in place; borrowed until
 *                dh_optimizer_free() (must stay valid and unmoved).
 *  @param grad   [n] float32 gradient the caller fills before each step; borrowed
 *                likewise; clip_norm may rescale it in place.
 *  @param n      number of elements, >= 1.
 *  @param group  DH_PARAM_GROUP_*, selects the learning-rate multiplier.
 *  @param flags  0 or DH_PARAM_NO_DECAY.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, n = 0, unknown group or flags, duplicate
 *  name), DH_E_STATE (after the first step), DH_E_NO_MEMORY.
 *  Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_optimizer_add_param(dh_optimizer *opt, const char *name, float *data,
                                        float *grad, size_t n, int32_t group, int32_t flags);

/** One update of every registered tensor from its gradient, at the learning rate
 *  the schedule gives for the current step; then the step counter advances.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL), DH_E_STATE (no tensors registered),
 *  DH_E_FORMAT (a gradient is NaN or infinite while clip_norm > 0; nothing is
 *  updated). Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_optimizer_step(dh_optimizer *opt);

/** Set every registered gradient to zero. Returns DH_OK or DH_E_INVALID_ARG.
 *  Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_optimizer_zero_grad(dh_optimizer *opt);

/** Completed steps (0 before the first). NULL: 0. Thread-safety: shared. Since: 1.0 */
DH_API uint64_t dh_optimizer_get_step(const dh_optimizer *opt);

/** The scheduled base learning rate the next step will use (before the group
 *  multipliers). Returns DH_OK or DH_E_INVALID_ARG. Thread-safety: shared.
 *  Since: 1.0 */
DH_API dh_status dh_optimizer_get_lr(const dh_optimizer *opt, double *out_lr);

/** Change the base learning rate (the schedule scales the new value from now on).
 *  Returns DH_OK or DH_E_INVALID_ARG (lr not finite or <= 0). Thread-safety:
 *  exclusive. Since: 1.0 */
DH_API dh_status dh_optimizer_set_lr(dh_optimizer *opt, double lr);

/** Global L2 norm of the gradients seen by the last step (before clipping); 0
 *  before the first step or when clip_norm is 0 (the norm is then not computed).
 *  Returns DH_OK or DH_E_INVALID_ARG. Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_optimizer_get_grad_norm(const dh_optimizer *opt, double *out_norm);

/** The learning rate a schedule gives at `step` completed optimizer steps, without
 *  an optimizer (for plotting and tests).
 *  @param opts  options (NULL: defaults); validated as by dh_optimizer_create().
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_VERSION. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_schedule_lr(const dh_optimizer_options *opts, uint64_t step, double *out_lr);

/* ======================================================================== */
/* 6. Hash heads                                                            */
/* ======================================================================== */
/* @@SECTION hash */
/* ---- Hash heads ---------------------------------------------------------- */

/** A hash head: a linear layer D -> K followed by an activation, mapping encoder
 *  features F [n, D] to continuous codes U [n, K]; binary codes are sgn(U) with
 *  x >= 0 -> +1 (bit 1). Parameters: "head.weight" [K, D], "head.bias" [K] and, for
 *  DH_HEAD_BN, "head.bn.weight", "head.bn.bias", "head.bn.running_mean",
 *  "head.bn.running_var", "head.bn.num_batches_tracked" (PyTorch BatchNorm1d).
 *  Thread-safety: exclusive (forward keeps what backward needs). */
typedef struct dh_head dh_head;

/** Head activations (dh_head_options.type). */
enum {
    DH_HEAD_IDENTITY = 0,    /* u = z, for losses that apply their own activation (DPN) */
    DH_HEAD_TANH = 1,        /* u = tanh(z) (DPSH, CSQ, ...) */
    DH_HEAD_SCALED_TANH = 2, /* u = tanh(beta z), beta raised during training (HashNet);
                                backward treats beta as a constant */
    DH_HEAD_SIGN = 3,        /* u = sgn(z) in {-1, +1}; backward passes dU unchanged
                                (straight-through estimator, GreedyHash) */
    DH_HEAD_BN = 4           /* u = BatchNorm1d(z), affine, batch statistics in training,
                                running statistics in inference (OrthoHash); no linear bias */
};

/** Options of dh_head_create(). Fill with dh_head_options_init(). */
typedef struct dh_head_options {
    size_t struct_size; /* set by dh_head_options_init() */
    int32_t type;       /* DH_HEAD_*; default DH_HEAD_TANH */
    uint32_t n_bits;    /* K, 1..DH_MAX_BITS (4096); default 64 */
    uint32_t in_dim;    /* D, the encoder's feature dimension, >= 1; no default (0) */
    int32_t bias;       /* 1 (default): linear bias; 0: none. DH_HEAD_BN never has one */
    double beta;        /* DH_HEAD_SCALED_TANH: initial beta > 0; default 1 */
    double init_std;    /* > 0: weight ~ N(0, init_std^2), bias 0 (the hashing papers'
                           N(0, 0.01) init); 0: PyTorch nn.Linear's default uniform
                           +-1/sqrt(D) for weight and bias. Default 0.01 */
    uint64_t seed;      /* initialisation seed; default 0x5eed */
    float bn_momentum;  /* DH_HEAD_BN: running-average momentum in (0, 1]; default 0.1 */
    float bn_eps;       /* DH_HEAD_BN: epsilon > 0; default 1e-5 */
} dh_head_options;

/** Fill `opts` with struct_size and defaults. NULL: no-op. Thread-safety: pure.
 *  Since: 1.0 */
DH_API void dh_head_options_init(dh_head_options *opts);

/** Create a head with freshly initialised weights.
 *  @param opts  options, not NULL (in_dim has no default); read during the call.
 *  @param out   receives the head (NULL after a failure).
 *  Returns DH_OK, DH_E_INVALID_ARG (a field out of range; the message names it),
 *  DH_E_VERSION, DH_E_NO_MEMORY, DH_E_UNSUPPORTED (search-only build).
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_head_create(const dh_head_options *opts, dh_head **out);

/** Release a head. NULL: no-op. Since: 1.0 */
DH_API void dh_head_free(dh_head *head);

/** Forward n rows.
 *  @param features [n, D] float32, borrowed (copied when training for backward).
 *  @param n        rows, 1..2^24; DH_HEAD_BN in training needs n >= 2.
 *  @param training 1: batch statistics (BN) and keep what dh_head_backward() needs;
 *                  0: inference (BN running statistics).
 *  @param out      [n, K] float32 continuous codes U, caller-owned.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NO_MEMORY. Thread-safety: exclusive.
 *  Since: 1.0 */
DH_API dh_status dh_head_forward(dh_head *head, const float *features, size_t n,
                                 int32_t training, float *out);

/** Back-propagate dL/dU through the last training forward (same n).
 *  @param dout      [n, K] float32 gradient w.r.t. U, borrowed.
 *  @param dfeatures [n, D] float32, receives dL/dF (overwritten), or NULL to skip.
 *  Parameter gradients ACCUMULATE (dh_head_zero_grad() clears them).
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_STATE (no training forward since the last
 *  backward). Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_head_backward(dh_head *head, const float *dout, float *dfeatures);

/** Set all parameter gradients of the head to zero. Returns DH_OK or
 *  DH_E_INVALID_ARG. Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_head_zero_grad(dh_head *head);

/** Set beta of a DH_HEAD_SCALED_TANH head (HashNet continuation: the trainer
 *  raises it on a schedule). Returns DH_OK, DH_E_INVALID_ARG (NULL head, beta not
 *  finite or <= 0), DH_E_STATE (another head type). Thread-safety: exclusive.
 *  Since: 1.0 */
DH_API dh_status dh_head_set_beta(dh_head *head, double beta);

/** Current beta (1 for heads other than DH_HEAD_SCALED_TANH; 0 for NULL).
 *  Thread-safety: shared. Since: 1.0 */
DH_API double dh_head_get_beta(const dh_head *head);

/** K of the head (0 for NULL). Thread-safety: shared. Since: 1.0 */
DH_API uint32_t dh_head_n_bits(const dh_head *head);

/** D of the head (0 for NULL). Thread-safety: shared. Since: 1.0 */
DH_API uint32_t dh_head_in_dim(const dh_head *head);

/** DH_HEAD_* type of the head (-1 for NULL). Thread-safety: shared. Since: 1.0 */
DH_API int32_t dh_head_type(const dh_head *head);

/* ======================================================================== */
/* 7. Model: encoder + hash head + input spec                               */
/* ======================================================================== */
/* @@SECTION model */
/* ---- Models: create, encode, save and load (safetensors) ---------------- */

/** A model: an encoder (dh_encoder spec), a hash head (dh_head) and the input
 *  spec (shape, per-channel mean/std). It is the unit users train, save, load and
 *  encode with. Files are safetensors (docs/model.md): tensors under their
 *  torchvision / "head.*" names, the architecture in "__metadata__", plus any
 *  extra tensors and metadata strings attached with dh_model_set_tensor() and
 *  dh_model_set_metadata() (loss centers, training facts).
 *  Thread-safety: exclusive (the encoder holds oneDNN primitives and scratch). */
typedef struct dh_model dh_model;

/** Feature-map pooling in front of the hash head (dh_model_options.fmap_pool). The
 *  head then reads Z instead of the encoder's features; g = global average of F.
 *  Encoders without a feature map (mlp) fail with DH_E_UNSUPPORTED. */
enum {
    DH_FMAP_POOL_NONE = 0, /* the encoder's features (default) */
    DH_FMAP_POOL_GAP = 1,  /* Z = g [C]: global average pooling (the baseline) */
    DH_FMAP_POOL_ATTN = 2, /* SEMICON-lite: Z = [g; l_1..l_T] [C (T + 1)], l_k pooled by a
                              spatial softmax attention a_k; salient positions of a_k are
                              suppressed before a_{k+1} is computed */
    DH_FMAP_POOL_PART = 3  /* ExchNet-style parts: Z = [g; l_1..l_M], M part maps from one
                              1x1 convolution, pushed apart by a Hellinger diversity loss */
};

/** The global part of an ATTN or PART pool's output (dh_model_options.fmap_global).
 *  Since: 1.1 */
enum {
    DH_FMAP_GLOBAL_POOL = 0,   /* g = GAP(F), the global average of the feature map (default) */
    DH_FMAP_GLOBAL_ENCODER = 1 /* the encoder's own output features f (smallcnn's fc-512,
                                  resnet's GAP) replace g: Z = [f; l_1..l_T], width
                                  dh_encoder_feature_dim + C T; the gradient of f reaches
                                  the encoder through its usual output. Needs fmap_pool
                                  ATTN or PART (with GAP or none it would be the plain
                                  model: DH_E_INVALID_ARG). Saved models carry
                                  "fmap_global" and format_version 3, which 1.0 refuses
                                  (DH_E_VERSION) */
};

/** Options of dh_model_create(). Fill with dh_model_options_init(). */
typedef struct dh_model_options {
    size_t struct_size;   /* set by dh_model_options_init() */
    const char *encoder;  /* encoder spec (see dh_encoder), copied; default "smallcnn" */
    uint32_t n_bits;      /* K, 1..DH_MAX_BITS (4096); default 64 */
    int32_t head;         /* DH_HEAD_*; default DH_HEAD_TANH */
    int32_t in_channels;  /* input C (0: the encoder's default) */
    int32_t in_height;    /* input H (0: the encoder's default) */
    int32_t in_width;     /* input W (0: same as in_height) */
    uint32_t batch_size;  /* rows per internal batch of dh_model_encode*; default 64 */
    float mean[4];        /* per-channel mean subtracted after scaling uint8 pixels to
                             [0, 1] (torchvision Normalize); default 0 */
    float std[4];         /* per-channel divisor, > 0; default 1 */
    uint64_t seed;        /* initialisation (encoder; head uses seed + 1); default 0x5eed */
    double head_beta;     /* initial beta of DH_HEAD_SCALED_TANH; default 1 */
    double head_init_std; /* dh_head_options.init_std; default 0.01 */
    int32_t head_bias;    /* 1 (default): the head's linear layer has a bias */
    float dropout;        /* encoder dropout (alexnet); default 0.5 */
    float bn_momentum;    /* encoder and head batch norm momentum; default 0.1 */
    float bn_eps;         /* encoder and head batch norm epsilon; default 1e-5 */
    /* Fine-grained models (docs/finegrained.md): pool the encoder's last feature map
     * F [C, h, w] into the head's input instead of using the encoder's features. */
    int32_t fmap_pool;       /* DH_FMAP_POOL_*; default DH_FMAP_POOL_NONE */
    uint32_t fmap_parts;     /* attention maps (ATTN, default 3) or parts (PART,
                                default 4), 1..16; 0: the default */
    float fmap_aux_weight;   /* PART: weight of the part-diversity loss; default 1 */
    uint32_t fmap_reserved;  /* must be 0 */
    int32_t fmap_global;     /* DH_FMAP_GLOBAL_*; default DH_FMAP_GLOBAL_POOL. Since: 1.1 */
    uint32_t fmap_reserved2; /* must be 0 (keeps the size a multiple of 8). Since: 1.1 */
} dh_model_options;

/** Fill `opts` with struct_size and the defaults above. NULL: no-op.
 *  Thread-safety: pure. Since: 1.0 */
DH_API void dh_model_options_init(dh_model_options *opts);

/** Create a model with freshly initialised weights.
 *  @param opts options (NULL: defaults); strings copied.
 *  @param out  receives the model (NULL after a failure).
 *  Returns DH_OK, DH_E_INVALID_ARG (a field out of range, named), DH_E_NOT_FOUND
 *  (unknown encoder), DH_E_VERSION, DH_E_NO_MEMORY, DH_E_BACKEND,
 *  DH_E_UNSUPPORTED (search-only build). Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_model_create(const dh_model_options *opts, dh_model **out);

/** Release a model. NULL: no-op. Since: 1.0 */
DH_API void dh_model_free(dh_model *model);

/** Encode uint8 images into packed codes (inference mode).
 *  @param images    [n, height, width, channels] uint8 (HWC), borrowed. Pixels are
 *                   scaled to [0, 1], normalised with the model's mean/std and fed
 *                   as NCHW. An mlp model reads each row of d values as
 *                   height = 1, width = d, channels = 1.
 *  @param n         number of images (0 is allowed and does nothing).
 *  @param height, width, channels  must equal the model's input shape, else DH_E_SHAPE
 *                   (no resizing is done).
 *  @param out_codes [n, dh_code_bytes(K)] uint8 packed codes (bit j = sgn(u_j), x >= 0
 *                   -> 1, LSB-first), caller-owned; may be NULL if out_u is not.
 *  @param out_u     [n, K] float32 continuous outputs, caller-owned, or NULL.
 *  Runs in batches of opts.batch_size; oneDNN uses dh_get_num_threads() threads.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_SHAPE, DH_E_UNSUPPORTED (channels > 4),
 *  DH_E_FORMAT (the network produced NaN), DH_E_NO_MEMORY, DH_E_BACKEND.
 *  Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_model_encode(dh_model *model, const uint8_t *images, size_t n,
                                 uint32_t height, uint32_t width, uint32_t channels,
                                 uint8_t *out_codes, float *out_u);

/** Encode float inputs (already normalised) into packed codes.
 *  @param x          [n, C, H, W] float32 NCHW, or [n, d] for mlp models; borrowed.
 *  @param sample_len floats per sample; must equal C*H*W (or d), else DH_E_SHAPE.
 *  Other parameters and returns as dh_model_encode(), plus DH_E_INVALID_ARG for a
 *  NaN or infinite input value (named by row and column). Since: 1.0 */
DH_API dh_status dh_model_encode_float(dh_model *model, const float *x, size_t n,
                                       size_t sample_len, uint8_t *out_codes, float *out_u);

/** Encode every sample of `ds` with `model` in inference mode (images normalised
 *  with the model's mean/std, batched, multi-threaded).
 *  @param out_codes [count, dh_code_bytes(K)] packed codes, or NULL.
 *  @param out_u     [count, K] continuous outputs, or NULL (not both NULL).
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_SHAPE (sample shape is not the model's
 *  input), errors of dh_model_encode_float. Thread-safety: exclusive on model.
 *  Since: 1.0 */
DH_API dh_status dh_model_encode_dataset(dh_model *model, const dh_dataset *ds,
                                         uint8_t *out_codes, float *out_u);

/** Save the model (weights, head, input spec, extra tensors and metadata) as a
 *  safetensors file, atomically: a failure leaves any existing file unchanged.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_IO, DH_E_NO_MEMORY. Thread-safety:
 *  exclusive. Since: 1.0 */
DH_API dh_status dh_model_save(dh_model *model, const char *path);

/** Load a model written by dh_model_save(). The file is validated strictly (header
 *  size, JSON, dtypes, offsets in range / non-overlapping / contiguous, every tensor
 *  present with the shape the recorded architecture needs, no unknown tensors
 *  except those stored as extra tensors).
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NOT_FOUND (no file), DH_E_IO,
 *  DH_E_FORMAT (corrupt or truncated: the message gives the offset or tensor),
 *  DH_E_SHAPE (a tensor's shape disagrees with the architecture), DH_E_VERSION
 *  (written by a newer format version), DH_E_NO_MEMORY, DH_E_BACKEND.
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_model_load(const char *path, dh_model **out);

/* ---- Pretrained backbones ----------------------------------------------- */

/** Flags of dh_model_load_backbone(). */
enum {
    DH_BACKBONE_STRICT = 1,       /* keys the encoder does not have are an error */
    DH_BACKBONE_ALLOW_MISSING = 2 /* encoder tensors absent from the file keep their values */
};

/** Load pretrained encoder weights from a safetensors file whose tensor names are
 *  the encoder's (torchvision state_dict keys, e.g. from
 *  scripts/torch2safetensors.py). A "module." prefix (DataParallel) is stripped.
 *  F32, F64, F16 and BF16 tensors are converted; I64 only for num_batches_tracked.
 *  By default keys the encoder lacks (fc.weight, classifier.6.*) are ignored and
 *  counted, and a missing encoder tensor is an error. Nothing is changed unless
 *  the whole file matches.
 *  @param flags       0 or DH_BACKBONE_* bits.
 *  @param out_loaded  number of encoder tensors set, or NULL.
 *  @param out_ignored number of file tensors not used, or NULL.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NOT_FOUND (no file, or a missing key: the
 *  message lists up to 8 names and the count), DH_E_SHAPE (a shape mismatch, with
 *  both shapes), DH_E_FORMAT (corrupt file, unexpected key under
 *  DH_BACKBONE_STRICT, unsupported dtype), DH_E_IO, DH_E_NO_MEMORY.
 *  Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_model_load_backbone(dh_model *model, const char *path, uint32_t flags,
                                        uint32_t *out_loaded, uint32_t *out_ignored);

/** Load a whole trained hashing model's weights by name from a safetensors file:
 *  the encoder (torchvision names), the head ("head.weight", "head.bias", and
 *  "head.bn.{weight,bias,running_mean,running_var,num_batches_tracked}" for a
 *  DH_HEAD_BN head), and a feature-map pool ("fmap.*") or meta-embedding ("meta.*")
 *  when the model has one. The model's architecture comes from its options (create it
 *  to match the trained network first); scripts/torch2safetensors.py --model converts a
 *  PyTorch state_dict (DeepHash-pytorch hash_layer, OrthoHash hash_fc + BN, or any key
 *  map) into these names. Same rules as dh_model_load_backbone(): flags are
 *  DH_BACKBONE_* bits (STRICT: a file tensor the model lacks is an error;
 *  ALLOW_MISSING: model tensors absent from the file keep their values), "module."
 *  prefixes are stripped, dtypes converted, the first mismatching tensor is named (with
 *  both shapes), and nothing changes unless the whole file fits.
 *  @param out_loaded  model tensors set, or NULL.  @param out_ignored file tensors not
 *  used, or NULL. Returns as dh_model_load_backbone(). Thread-safety: exclusive.
 *  Since: 1.2 */
DH_API dh_status dh_model_load_weights(dh_model *model, const char *path, uint32_t flags,
                                       uint32_t *out_loaded, uint32_t *out_ignored);

/* ---- Accessors, extra tensors and metadata ------------------------------ */

/** K (0 for NULL). Thread-safety: shared. Since: 1.0 */
DH_API uint32_t dh_model_n_bits(const dh_model *model);

/** Input shape without the batch: [C, H, W] (returns 3) or [d] (returns 1) into
 *  shape (3 slots); 0 for NULL. Thread-safety: shared. Since: 1.0 */
DH_API int32_t dh_model_input_shape(const dh_model *model, int64_t shape[3]);

/** The model's resolved options (strings borrowed from the model). NULL for NULL.
 *  Thread-safety: shared. Since: 1.0 */
DH_API const dh_model_options *dh_model_get_options(const dh_model *model);

/** The model's encoder and head (borrowed; live with the model), e.g. for
 *  dh_head_set_beta(). NULL for NULL. Thread-safety: as the model. Since: 1.0 */
DH_API dh_encoder *dh_model_encoder(dh_model *model);
DH_API dh_head *dh_model_head(dh_model *model);

/** Attach (or replace) an extra tensor saved with the model, e.g. a loss's hash
 *  centers. name: not a model parameter's name, not starting with "__", at most 255
 *  bytes; dtype DH_DTYPE_FLOAT32 or DH_DTYPE_INT64; shape [ndim <= 8]; data copied.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NO_MEMORY. Thread-safety: exclusive.
 *  Since: 1.0 */
DH_API dh_status dh_model_set_tensor(dh_model *model, const char *name, int32_t dtype,
                                     uint32_t ndim, const int64_t *shape, const void *data);

/** Look up an extra tensor. Any out-pointer may be NULL; shape needs 8 slots; *data
 *  is borrowed until the tensor is replaced or the model freed.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NOT_FOUND. Thread-safety: shared.
 *  Since: 1.0 */
DH_API dh_status dh_model_get_tensor(const dh_model *model, const char *name, int32_t *dtype,
                                     uint32_t *ndim, int64_t *shape, const void **data);

/** Attach (or replace) a metadata string saved in the file's __metadata__. Keys
 *  that dh_model_save writes itself (docs/model.md) are refused.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NO_MEMORY. Thread-safety: exclusive.
 *  Since: 1.0 */
DH_API dh_status dh_model_set_metadata(dh_model *model, const char *key, const char *value);

/** A metadata string (borrowed) attached by the caller or read from the file, or
 *  NULL when absent. Thread-safety: shared. Since: 1.0 */
DH_API const char *dh_model_get_metadata(const dh_model *model, const char *key);

/** Register every trainable tensor of the model (encoder in DH_PARAM_GROUP_BACKBONE,
 *  head in DH_PARAM_GROUP_HEAD; biases and norm parameters flagged no-decay) with an
 *  optimizer. The model must outlive the optimizer's use of them.
 *  Returns as dh_optimizer_add_param(). Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_optimizer_add_model(dh_optimizer *opt, dh_model *model);

/* ---- LTHNet's dynamic meta-embedding (docs/longtail.md) ----------------- */

/** Give `model` LTHNet's dynamic meta-embedding between its features f [D] and its
 *  hash head: v = f + tanh(We f + be) (.) (softmax(Wa f + ba)^T M), where M [C, D] is
 *  a memory of class centroids of f (dh_model_update_class_memory) and Wa [C, D],
 *  We [D, D] are learned. The head then reads v. New tensors (saved with the model,
 *  group DH_PARAM_GROUP_HEAD): "meta.hallucinator.weight", "meta.hallucinator.bias",
 *  "meta.selector.weight", "meta.selector.bias" and the buffer "meta.memory" (zero
 *  until the first update, so v = f). dh_model_load restores the module.
 *  Call before dh_trainer_create / dh_optimizer_add_model (they list the tensors).
 *  n_classes: C, 1..65536 (the training set's class count).
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, C out of range, feature dimension above
 *  16384), DH_E_STATE (the model has one already), DH_E_NO_MEMORY,
 *  DH_E_UNSUPPORTED (search-only build). Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_model_add_meta_embedding(struct dh_model *model, uint32_t n_classes);

/** C of the model's meta-embedding, 0 when it has none (or model is NULL).
 *  Thread-safety: shared. Since: 1.0 */
DH_API uint32_t dh_model_meta_classes(const struct dh_model *model);

/** Recompute the meta-embedding's memory: encode `train` in inference mode (no
 *  augmentation, as dh_model_encode_dataset) and set row c of M to the mean feature
 *  f of the samples of class c (a multi-label sample counts for each of its
 *  classes; a class without samples keeps its row). LTHNet does this at the start
 *  of every epoch; the trainer does it when the model has a meta-embedding [if the
 *  trainer hook is not integrated: call it before dh_trainer_run and from the
 *  DH_TRAIN_EVENT_EPOCH callback]. On failure the memory is unchanged.
 *  train: borrowed, dh_dataset_n_classes(train) must equal C.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, empty dataset), DH_E_STATE (no
 *  meta-embedding), DH_E_SHAPE (class count or input shape differ), DH_E_NO_MEMORY,
 *  DH_E_BACKEND, DH_E_UNSUPPORTED (search-only build). Thread-safety: exclusive.
 *  Since: 1.0 */
DH_API dh_status dh_model_update_class_memory(struct dh_model *model, const dh_dataset *train);

/* ======================================================================== */
/* 8. Losses, hash centers                                                  */
/* ======================================================================== */
/* @@SECTION loss */

/** A supervised hashing loss: takes the continuous codes U (B x K) a hash head
 *  produced for a batch, returns the loss value and dL/dU. Methods (see
 *  docs/methods.md for formulas, normalisers and citations; dh_loss_method_name):
 *  "dpsh", "hashnet", "dch", "dsh", "dtsh", "triplet", "adsh", "greedyhash", "csq",
 *  "dpn", "orthohash", "mdsh", "sprch", "twostage", "dihn", "dih", "lthnet",
 *  "dualproxy"; unsupervised (labels are never read; Since 1.2): "cibhash", "bihalf",
 *  "ssdh", "kmeans", "sgh", and the shallow baselines "lsh", "pcah", "itq" (fitted in
 *  closed form by dh_trainer_run into the model's head; docs/methods.md). A loss may own parameters the optimizer updates (GreedyHash's classifier, SPRCH's proxies) and
 *  state saved with a model (centers, database codes, memory banks); both are float tensors
 *  reachable by name. Thread-safety: exclusive (state changes on every call). */
typedef struct dh_loss dh_loss;

/** Head activations a loss expects in front of it (dh_loss_head_hint). */
enum {
    DH_LOSS_HEAD_IDENTITY = 0,    /* raw linear output z (the loss may apply tanh itself) */
    DH_LOSS_HEAD_TANH = 1,        /* u = tanh(z) */
    DH_LOSS_HEAD_SCALED_TANH = 2, /* u = tanh(beta z), beta from dh_loss_head_hint */
    DH_LOSS_HEAD_SIGN_STE = 3,    /* u = sgn(z), straight-through backward */
    DH_LOSS_HEAD_BN = 4           /* u = BatchNorm1d(z) with affine parameters */
};

/** Hash-center generators (dh_centers_generate, option `centers`). */
enum {
    DH_CENTERS_AUTO = 0,      /* Hadamard when K = 2^p and C <= 2K, else GV */
    DH_CENTERS_HADAMARD = 1,  /* rows of [H_K; -H_K]; needs K = 2^p and C <= 2K */
    DH_CENTERS_BERNOULLI = 2, /* i.i.d. +-1, best of 20 draws (min distance > K/4) */
    DH_CENTERS_BALANCED = 3,  /* exactly K/2 entries -1 per row, best of 20 draws */
    DH_CENTERS_GREEDY = 4,    /* OrthoHash 'O': accept draws at normalised distance >= t */
    DH_CENTERS_GV = 5         /* MDSH: optimise up to the Gilbert-Varshamov target */
};

/** Options of dh_loss_create. dh_loss_options_init() leaves every hyper-parameter
 *  at "method default" (NaN for doubles, -1 for the int32 selectors); dh_loss_create
 *  replaces those with the method's values (docs/methods.md has the table) and
 *  dh_loss_get_options() returns the resolved set. */
typedef struct dh_loss_options {
    size_t struct_size;    /* set by dh_loss_options_init() */
    uint32_t n_bits;       /* K, 1..DH_MAX_BITS (4096), required */
    uint32_t n_classes;    /* C, 1..65536, required; unsupervised methods: 0 allowed
                              (kmeans: k clusters, default 10; others: unused) */
    uint64_t n_train;      /* N, training-set size: required by dpsh, adsh, twostage,
                              optional for dpn (adaptive centers) and mdsh (pair term) */
    uint64_t seed;         /* initialisation of centers, classifiers, proxies (default 1) */
    int32_t variant;       /* hashnet: 0 in-batch |S|/|S1| weights, 1 official two
                              half-batches with pos_weight; orthohash: 0 cosine margin,
                              1 angular margin; sprch: 0 pair+proxy, 1 pair only,
                              2 proxy only; cibhash: 0 stochastic bits, 1 threshold;
                              ssdh/kmeans/bihalf/sgh: feature source 0 input rows,
                              1 the model's encoder features */
    int32_t schedule;      /* hashnet beta: 0 per epoch sqrt(floor(e/20)+1), 1 official
                              (1+0.005t)^0.5 every 200 calls, 2 constant 1 */
    int32_t centers;       /* DH_CENTERS_* for csq, dpn, orthohash, mdsh */
    int32_t n_epochs;      /* sprch: total epochs E of the self-paced schedule */
    int32_t update_every;  /* dpn: adapt centers every this many epochs (0 never);
                              ssdh/kmeans/bihalf/sgh with variant 1: refresh the model
                              features (and re-cluster) every this many epochs */
    int32_t sweeps;        /* twostage: CNNH coordinate-descent sweeps */
    double quant_weight;   /* quantisation weight (lambda / alpha of the papers) */
    double scale;          /* score scale: hashnet alpha, orthohash s */
    double margin;         /* dsh m, dtsh alpha, triplet m, dpn m, orthohash m */
    double gamma;          /* dch gamma, adsh gamma */
    double tau;            /* sprch, dualproxy temperature */
    double pos_weight;     /* hashnet official similar-pair weight */
    double pair_weight;    /* mdsh pair-term weight; dualproxy proxy-alignment weight */
    double center_weight;  /* mdsh center-term weight; dualproxy hash-proxy term weight */
    double cb_beta;        /* lthnet, dualproxy: class-balanced re-weighting by the effective
                              number of samples, beta in [0, 1) (0: no re-weighting);
                              see dh_class_balanced_weights */
} dh_loss_options;

/** Recipe settings (dh_loss_recipe.setting, dh_trainer_options.recipe_setting).
 *  Since: 1.3 */
enum {
    DH_RECIPE_AUTO = -1,      /* trainer: from the model's encoder (alexnet and resnet18
                                 with the ImageNet stem: pretrained; others: scratch) */
    DH_RECIPE_SCRATCH = 0,    /* small encoders trained from scratch (smallcnn, mlp,
                                 resnet18-cifar) */
    DH_RECIPE_PRETRAINED = 1, /* pretrained ImageNet backbones (--backbone); the papers'
                                 recipes */
    DH_RECIPE_ANY = 2         /* a table row that serves both settings */
};

/** Inputs with min(height, width) >= this many pixels (224-class) use a random resized
 *  crop (area scale 0.08..1, aspect 3/4..4/3, torchvision's defaults) where a recipe
 *  asks for a crop; smaller inputs a zero-padded random crop of
 *  dh_crop_padding_default pixels. Since: 1.3 */
#define DH_RECIPE_RESIZED_CROP_MIN 128

/** Which tensors weight decay touches (dh_loss_recipe.decay_scope,
 *  dh_trainer_options.decay_scope). Since: 1.3 */
enum {
    DH_DECAY_ALL = 0,    /* every tensor, as a plain PyTorch optimizer over
                            model.parameters() */
    DH_DECAY_WEIGHTS = 1 /* weights only: no decay on biases and normalisation layers */
};

/** A method's training recipe: one row of libdh's recipe table (lib/loss/recipe.c,
 *  docs/recipes.md), selected by method x setting x variant (dh_loss_recipe_lookup).
 *  dh_loss_get_recipe returns the method's pretrained default (the papers' values,
 *  docs/methods.md). Fields after epochs are Since 1.3 and filled only when
 *  struct_size covers them. */
typedef struct dh_loss_recipe {
    size_t struct_size;       /* set by the caller to sizeof(dh_loss_recipe) */
    const char *optimizer;    /* static: "sgd", "sgd-nesterov", "adam", "adamw", "rmsprop" */
    double lr;                /* learning rate of the hash head */
    double momentum;          /* SGD momentum (0 for adaptive optimisers) */
    double weight_decay;
    double backbone_lr_mult;  /* multiplier for a pretrained backbone's lr */
    double param_lr_mult;     /* multiplier for the loss's own parameters' lr */
    uint32_t batch_size;
    uint32_t epochs;
    /* Since: 1.3 */
    const char *method;       /* static: the method's name */
    const char *variant;      /* static: "default", "reference", "paper", or the method's
                                 own (e.g. hashnet "dhp") */
    const char *source;       /* static: where the values come from, one line */
    int32_t setting;          /* DH_RECIPE_SCRATCH, _PRETRAINED, or _ANY (table rows) */
    int32_t schedule;         /* DH_SCHED_* over epochs (the trainer ticks once per epoch) */
    double lr_min_ratio;      /* DH_SCHED_COSINE floor as a fraction of lr (0: to zero) */
    uint32_t warmup_epochs;   /* linear warm-up epochs */
    uint32_t augment;         /* DH_AUG_* of training batches; a lookup with an input size
                                 >= DH_RECIPE_RESIZED_CROP_MIN turns DH_AUG_RANDOM_CROP into
                                 DH_AUG_RESIZED_CROP */
    int32_t crop_padding;     /* DH_AUG_RANDOM_CROP padding in pixels; -1: size-aware
                                 (dh_crop_padding_default; a lookup with an input size
                                 resolves it) */
    int32_t decay_scope;      /* DH_DECAY_* */
    double quant_weight;      /* method constants where the literature disagrees (DPSH
                                 lambda, CSQ lambda, DSH alpha); NaN: the method's
                                 built-in default (dh_loss_options_apply_recipe) */
    double scale;             /* HashNet alpha (10/K official, 0.1 DeepHash-pytorch); NaN */
    double margin;            /* DSH m (2K), ...; NaN: built-in */
    int32_t loss_variant;     /* dh_loss_options.variant; -1: built-in */
    int32_t loss_schedule;    /* dh_loss_options.schedule (HashNet beta); -1: built-in */
    /* Since: 1.3 (appended) */
    double tau;               /* dh_loss_options.tau (CIBHash's NT-Xent temperature, ...);
                                 NaN: built-in */
} dh_loss_recipe;

/** Fill `opts` with struct_size and "method default" markers; n_bits and n_classes
 *  are 0 (the caller must set them). NULL: no-op. Thread-safety: pure. Since: 1.0 */
DH_API void dh_loss_options_init(dh_loss_options *opts);

/** Number of loss methods and the name of method i (static, NULL when out of
 *  range). Thread-safety: pure. Since: 1.0 */
DH_API size_t dh_loss_method_count(void);
DH_API const char *dh_loss_method_name(size_t i);

/** Method flags (dh_loss_method_flags). Since: 1.2 */
enum {
    DH_LOSS_FLAG_UNSUPERVISED = 1, /* labels are never read (train on unlabelled data) */
    DH_LOSS_FLAG_TWO_VIEWS = 2,    /* batches are two augmented views of each image */
    DH_LOSS_FLAG_FEATURES = 4,     /* reads per-sample features (dh_loss_set_features) */
    DH_LOSS_FLAG_SHALLOW = 8,      /* no network training: the head is fitted in closed form */
    DH_LOSS_FLAG_TAGS = 16         /* learns from tags only (wdht, tagrefine): the trainer
                                      feeds the dataset's tags, never its labels; n_classes
                                      is the vocabulary size (dh_loss_method_tag_flags) */
};

/** DH_LOSS_FLAG_* of a method by name (case-insensitive): the unsupervised bits, and
 *  DH_LOSS_FLAG_TAGS for the tag methods (wdht, tagrefine; reported here since 1.3,
 *  1.2 reported it only through dh_loss_method_tag_flags); 0 for supervised and
 *  unknown methods (and NULL). Thread-safety: pure. Since: 1.2 */
DH_API uint32_t dh_loss_method_flags(const char *method);
/** Alias kept for 1.2 callers: dh_loss_method_flags(method) & DH_LOSS_FLAG_TAGS.
 *  Thread-safety: pure. Since: 1.2 */
DH_API uint32_t dh_loss_method_tag_flags(const char *method);

/** Create a loss.
 *  method: NUL-terminated name (case-insensitive), borrowed. opts: required (n_bits,
 *  n_classes); read during the call. out: receives the loss, NULL on failure.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, K or C out of range, a hyper-parameter out
 *  of range, n_train missing where required), DH_E_NOT_FOUND (unknown method; the
 *  message lists the valid names), DH_E_VERSION (options newer than the library),
 *  DH_E_NO_MEMORY, DH_E_UNSUPPORTED (search-only build). Thread-safety: pure.
 *  Since: 1.0 */
DH_API dh_status dh_loss_create(const char *method, const dh_loss_options *opts, dh_loss **out);

/** Release a loss; NULL is a no-op. Since: 1.0 */
DH_API void dh_loss_free(dh_loss *loss);

/** Give the loss facts about the training set, once before training.
 *  train_labels: [n_train, C] float multi-hot (0/1), borrowed, or NULL. Required by
 *  adsh (soft similarity against the database) and twostage (the target codes are
 *  solved from it); dpsh uses it as its label bank.
 *  class_counts: [C] training images per class, or NULL (kept for re-weighting).
 *  n_train must equal opts.n_train when train_labels is given.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_SHAPE, DH_E_NO_MEMORY.
 *  Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_loss_init(dh_loss *loss, const float *train_labels, size_t n_train,
                              const int64_t *class_counts);

/** Start epoch `epoch` (0-based): schedules (HashNet beta per epoch, SPRCH
 *  self-paced weights) and adaptive centers (DPN with update_every). Returns DH_OK
 *  or DH_E_INVALID_ARG (negative epoch). Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_loss_epoch_begin(dh_loss *loss, int32_t epoch);

/** Loss value and gradient of one batch.
 *  U: [B, K] float32, the head's output (activation per dh_loss_head_hint), borrowed.
 *  labels: [B, C] float32 multi-hot (0/1), or NULL when class_ids is given.
 *  class_ids: [B] int32 in [0, C), or NULL (labels are used when both are given).
 *  indices: [B] int64 positions in the training set [0, n_train), or NULL; required
 *  by dpsh, adsh and twostage (memory banks, database codes, targets).
 *  dU: [B, K] float32, overwritten with dL/dU. value: receives L (may be NULL).
 *  The gradients of the loss's own parameters are overwritten (not accumulated).
 *  Single-label methods (greedyhash) reject rows with more or fewer than one class.
 *  Unsupervised methods (dh_loss_method_flags) never read labels or class_ids (both
 *  may be NULL); feature methods need indices, two-view methods an even B >= 4 whose
 *  rows [0, B/2) and [B/2, B) are the two views of the same images (Since 1.2).
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, B == 0, non-finite U, labels not 0/1,
 *  class id or index out of range, multi-label rows for a single-label method),
 *  DH_E_STATE (dh_loss_init facts missing), DH_E_NO_MEMORY. Thread-safety: exclusive.
 *  Since: 1.0 */
DH_API dh_status dh_loss_forward_backward(dh_loss *loss, const float *U, size_t B,
                                          const float *labels, const int32_t *class_ids,
                                          const int64_t *indices, float *dU, double *value);

/** Asymmetric methods (adsh, dihn): update the database codes V (n_train x K) by one
 *  sweep of bit-wise discrete coordinate descent (docs/methods.md, ADSH; dihn's
 *  fixed rows from dh_loss_set_fixed_codes never change).
 *  U: [m, K] network outputs (tanh) of the sampled training points, with their
 *  positions `indices` [m]; or U = indices = NULL and m = 0 to use the outputs the
 *  loss cached from forward_backward since the last update. Flow: sample m points,
 *  run a few epochs of forward_backward over them, call this, repeat.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_STATE (no cached outputs; method without
 *  database codes), DH_E_NO_MEMORY. Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_loss_update_codes(dh_loss *loss, const float *U, const int64_t *indices,
                                      size_t m);

/** The head activation the method expects (DH_LOSS_HEAD_*) and, for
 *  DH_LOSS_HEAD_SCALED_TANH, the current beta (1 otherwise). Either out may be NULL.
 *  Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_loss_head_hint(const dh_loss *loss, int32_t *activation, float *beta);

/** The method's recommended optimiser settings: its pretrained default row (the
 *  papers' values; crop_padding -1 = size-aware). recipe->struct_size must be set.
 *  Returns DH_OK, DH_E_INVALID_ARG. Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_loss_get_recipe(const dh_loss *loss, dh_loss_recipe *recipe);

/** Look up a recipe in libdh's table (docs/recipes.md).
 *  method: name, case-insensitive (dh_loss_method_name). setting: DH_RECIPE_SCRATCH or
 *  DH_RECIPE_PRETRAINED. variant: NULL or "default" (the shipped default: the
 *  method x setting row, else the method's "paper" row), "paper" (the papers' /
 *  official code's values), "reference" (issue 14's PyTorch reference recipe: Adam
 *  1e-3, cosine per epoch to 0, 20 epochs, batch 128, weight decay 0 except DSH 4e-3
 *  and OrthoHash 5e-4 on every tensor, random crop + flip; supervised methods), or a
 *  method's own name (hashnet "dhp"); case-insensitive. A row for the exact setting
 *  wins over a DH_RECIPE_ANY row. input_size: min(height, width) of the model input,
 *  or 0 (unknown: crop_padding stays -1 and the augment flags as stored); with a size
 *  the crop is resolved (DH_RECIPE_RESIZED_CROP_MIN, dh_crop_padding_default).
 *  recipe->struct_size must be set; out->setting is the setting asked for.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, setting out of range, struct_size unset),
 *  DH_E_NOT_FOUND (unknown method, or no such variant for it: the message lists the
 *  method's variants). Thread-safety: pure. Since: 1.3 */
DH_API dh_status dh_loss_recipe_lookup(const char *method, int32_t setting, const char *variant,
                                       uint32_t input_size, dh_loss_recipe *recipe);

/** Rows of the recipe table: count, and row i as stored (setting may be
 *  DH_RECIPE_ANY, crop_padding -1 = size-aware). recipe->struct_size must be set.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, i out of range). Thread-safety: pure.
 *  Since: 1.3 */
DH_API size_t dh_loss_recipe_count(void);
DH_API dh_status dh_loss_recipe_row(size_t i, dh_loss_recipe *recipe);

/** Copy a recipe's method constants (quant_weight, scale, margin, loss_variant,
 *  loss_schedule) into loss options, for dh_loss_create: only into fields still at
 *  "method default" (NaN / -1), and only the recipe's values that are set (not NaN
 *  / -1), so explicit options win. Returns DH_OK, DH_E_INVALID_ARG (NULL,
 *  struct_size unset). Thread-safety: pure. Since: 1.3 */
DH_API dh_status dh_loss_options_apply_recipe(dh_loss_options *opts,
                                              const dh_loss_recipe *recipe);

/** The options in force, method defaults resolved. opts->struct_size must be set.
 *  Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_loss_get_options(const dh_loss *loss, dh_loss_options *opts);

/** Parameters (trained by the optimizer) and state tensors (saved with a model):
 *  counts and names (borrowed, valid for the loss's lifetime; NULL out of range).
 *  Thread-safety: shared. Since: 1.0 */
DH_API size_t dh_loss_param_count(const dh_loss *loss);
DH_API const char *dh_loss_param_name(const dh_loss *loss, size_t i);
DH_API size_t dh_loss_state_count(const dh_loss *loss);
DH_API const char *dh_loss_state_name(const dh_loss *loss, size_t i);

/** Shape of the named tensor (parameter or state): ndim and shape[0..ndim).
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NOT_FOUND. Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_loss_tensor_shape(const dh_loss *loss, const char *name, int64_t shape[4],
                                      int32_t *ndim);

/** Copy the named tensor out (n must equal its element count) or in (set; the loss
 *  uses the new values from the next call). Returns DH_OK, DH_E_INVALID_ARG,
 *  DH_E_NOT_FOUND, DH_E_SHAPE. Thread-safety: get shared, set exclusive. Since: 1.0 */
DH_API dh_status dh_loss_get_tensor(const dh_loss *loss, const char *name, float *out, size_t n);
DH_API dh_status dh_loss_set_tensor(dh_loss *loss, const char *name, const float *data,
                                    size_t n);

/** Unsupervised methods that read per-sample features (ssdh, kmeans, bihalf, sgh;
 *  docs/methods.md): give the training set's feature rows, e.g. a pretrained encoder's
 *  outputs or a .npy file, instead of the trainer's default (the input rows, or the
 *  model's features with variant 1). The trainer then keeps these rows. The method
 *  derives its state at once (SSDH thresholds, k-means pseudo labels; SGH creates its
 *  decoder, D columns, on the first call).
 *  features: [n, dim] float32, borrowed; n must equal n_train; every value finite.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, n or dim 0, a NaN/Inf value, named),
 *  DH_E_SHAPE (n != n_train, dim differs from earlier rows), DH_E_STATE (a method that
 *  reads no features), DH_E_NO_MEMORY. Thread-safety: exclusive. Since: 1.2 */
DH_API dh_status dh_loss_set_features(dh_loss *loss, const float *features, size_t n,
                                      size_t dim);

/** Tag vectors (word vectors of the tag names, dh_word_vectors_load) [n_tags, dim]
 *  for wdht / tagrefine, copied; set once, before dh_trainer_create. Without them the
 *  method embeds the tags from their co-occurrence in the training tags
 *  (dh_tags_embed_cooccurrence, dimension min(64, T)) at dh_loss_init. Rows of zeros
 *  (names without a vector) add nothing to an image's mean. Returns DH_OK,
 *  DH_E_INVALID_ARG (non-finite, all zero), DH_E_SHAPE (n_tags != n_classes),
 *  DH_E_STATE (other method, set twice). Thread-safety: exclusive. Since: 1.2 */
DH_API dh_status dh_loss_set_tag_vectors(dh_loss *loss, const float *vectors, uint32_t n_tags,
                                         uint32_t dim);
/** Tag embeddings from co-occurrence: C_ab = rows tagged with both a != b, PPMI_ab =
 *  max(0, log(C_ab C / (C_a C_b))), out[n_tags, dim] = U_dim Sigma_dim^(1/2) of its
 *  truncated SVD (each column's largest-magnitude entry positive). tags: [n, n_tags]
 *  0/1. Returns DH_OK, DH_E_INVALID_ARG (values, 1 <= dim <= n_tags <= 8192),
 *  DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.2 */
DH_API dh_status dh_tags_embed_cooccurrence(const float *tags, size_t n, uint32_t n_tags,
                                            uint32_t dim, float *out);

/** Generate C hash centers of K bits. method: DH_CENTERS_*. seed: random draws.
 *  out_centers: [C, K] float32 +-1, caller-owned. out_min_distance: receives the
 *  smallest pairwise Hamming distance achieved (K when C == 1), or NULL.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, C or K 0 or too large, Hadamard without
 *  K = 2^p and C <= 2K), DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_centers_generate(uint32_t n_classes, uint32_t n_bits, int32_t method,
                                     uint64_t seed, float *out_centers,
                                     uint32_t *out_min_distance);

/* ---- DIHN's fixed database codes (docs/incremental.md) ------------------ */

/** dh_loss_set_fixed_codes flag: the fixed rows' images are the last n of the
 *  n_train training rows (the reference DIHN code trains on sampled old images too). */
#define DH_FIXED_CODES_IN_TRAIN 1u

/** DIHN (loss "dihn"): set the fixed database codes of earlier sessions. The loss's
 *  database is [B_new; B_old]: B_new are learned (state "codes") for the new items,
 *  B_old are these n rows, never changed by dh_loss_update_codes.
 *  flags 0: the n_train training rows are the new items only (old images are not
 *  needed). flags DH_FIXED_CODES_IN_TRAIN: training rows n_train - n .. n_train - 1
 *  are the old items' images in the order of `codes` (training index n_train - n + j
 *  is fixed row j); the first n_train - n rows are the new items.
 *  codes: [n, K] float32 sign rows (x >= 0 is bit 1), borrowed; labels: [n, C]
 *  float32 multi-hot (0/1), borrowed. Both may be NULL when n is 0. Replaces any
 *  previous fixed rows (state tensors "old_codes" and "old_labels").
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, NaN code, label not 0/1, unknown flag),
 *  DH_E_SHAPE (IN_TRAIN with n >= n_train), DH_E_STATE (method other than dihn),
 *  DH_E_NO_MEMORY. Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_loss_set_fixed_codes(dh_loss *loss, const float *codes,
                                         const float *labels, size_t n, uint32_t flags);

/* ---- Long-tail hashing (docs/longtail.md) ----------------------------------- */
/* Losses "lthnet" (class-balanced cross-entropy, LTHNet) and "dualproxy" (feature-
 * and hash-class proxies, category-centred contrastive) read the per-class training
 * counts that dh_loss_init receives (the trainer passes them) and weight each class
 * by dh_class_balanced_weights(counts, C, opts.cb_beta) (default beta 0.999).
 * LTHNet's dynamic meta-embedding is a model module: dh_model_add_meta_embedding. */

/* ======================================================================== */
/* 9. Index: bit-packed codes, Hamming search                               */
/* ======================================================================== */
/* @@SECTION index */
/* ---- Code formats and bit packing (pure functions) ---------------------- */

/** Row formats of codes passed to or returned by the index (`format` arguments).
 *  K is the code length in bits. Sign rows map x >= 0 to bit 1 and x < 0 to bit 0
 *  (so -0.0 and 0 give 1; PyTorch's sign(0) = 0 does not exist here); NaN is
 *  rejected. Unpacking to a sign format writes +1 for bit 1 and -1 for bit 0. */
enum {
    DH_CODE_PACKED = 0,     /* uint8 [n, dh_code_bytes(K)]: bit j = bit (j%8) of byte j/8
                               (LSB-first, libdh's order); unused high bits are zero */
    DH_CODE_PACKED_MSB = 1, /* uint8 [n, dh_code_bytes(K)]: bit j = bit 7-(j%8) of byte
                               j/8, the order of numpy.packbits(..., axis=1) */
    DH_CODE_FLOAT32 = 2,    /* float [n, K] sign rows (±1 or raw network outputs) */
    DH_CODE_FLOAT64 = 3,    /* double [n, K] sign rows */
    DH_CODE_INT8 = 4        /* int8_t [n, K] sign rows (±1) */
};

/** Flag of the dh_codes_* functions: the packed side is in numpy.packbits order
 *  (MSB-first within each byte) instead of libdh's LSB-first order. */
#define DH_CODES_MSB_FIRST 1u

/** Pack n float sign rows into codes.
 *  x      [n, n_bits] float32, borrowed; may be NULL when n is 0.
 *  n_bits 1..DH_MAX_BITS; the code has dh_code_bytes(n_bits) bytes, padding bits 0.
 *  flags  0 or DH_CODES_MSB_FIRST.
 *  out    [n, dh_code_bytes(n_bits)] uint8, caller-owned.
 *  Returns DH_OK or DH_E_INVALID_ARG (NULL pointer, bad n_bits or flags, NaN input:
 *  the message names the row and column). Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_codes_pack_float(const float *x, size_t n, uint32_t n_bits, uint32_t flags,
                                     uint8_t *out);

/** dh_codes_pack_float() for double rows. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_codes_pack_double(const double *x, size_t n, uint32_t n_bits,
                                      uint32_t flags, uint8_t *out);

/** dh_codes_pack_float() for int8 rows (x >= 0 gives bit 1). Thread-safety: pure.
 *  Since: 1.0 */
DH_API dh_status dh_codes_pack_int8(const int8_t *x, size_t n, uint32_t n_bits, uint32_t flags,
                                    uint8_t *out);

/** Unpack n codes into ±1 float rows.
 *  codes [n, dh_code_bytes(n_bits)] uint8 (LSB-first, or MSB-first with
 *        DH_CODES_MSB_FIRST); padding bits are ignored.
 *  out   [n, n_bits] float32, caller-owned: +1.0 for bit 1, -1.0 for bit 0.
 *  Returns DH_OK or DH_E_INVALID_ARG. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_codes_unpack_float(const uint8_t *codes, size_t n, uint32_t n_bits,
                                       uint32_t flags, float *out);

/** dh_codes_unpack_float() into int8 rows (+1 / -1). Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_codes_unpack_int8(const uint8_t *codes, size_t n, uint32_t n_bits,
                                      uint32_t flags, int8_t *out);

/** Convert n packed codes between LSB-first and MSB-first order (the conversion is its
 *  own inverse). `in` and `out` are [n, dh_code_bytes(n_bits)] and may be the same
 *  buffer; padding bits move with their byte, so zero padding stays zero.
 *  Returns DH_OK or DH_E_INVALID_ARG.
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_codes_reverse_bit_order(const uint8_t *in, size_t n, uint32_t n_bits,
                                            uint8_t *out);

/** Hamming distances between every row of `a` and every row of `b`.
 *  a     [na, dh_code_bytes(n_bits)], b [nb, dh_code_bytes(n_bits)] uint8, packed
 *        LSB-first, or MSB-first with flags = DH_CODES_MSB_FIRST; padding ignored.
 *  out   [na, nb] int32, caller-owned. n_bits 1..DH_MAX_BITS.
 *  Uses the index's kernels, in parallel over rows of `a` (dh_get_num_threads()).
 *  Returns DH_OK, DH_E_INVALID_ARG or DH_E_NO_MEMORY. Thread-safety: pure.
 *  Since: 1.0 */
DH_API dh_status dh_hamming_distances(const uint8_t *a, size_t na, const uint8_t *b, size_t nb,
                                      uint32_t n_bits, uint32_t flags, int32_t *out);

/* ---- The index ----------------------------------------------------------- */

/** A flat, exact Hamming index over K-bit codes (any K in 1..DH_MAX_BITS),
 *  stored as ceil(K/64) uint64 words per row, with int64 ids.
 *
 *  Results are exact and deterministic: the k nearest codes by Hamming distance,
 *  ties broken by insertion order (the row added first wins), identical for every
 *  kernel set (DH_ISA_*) and thread count. Removed rows keep no id and other ids
 *  never change. Concurrent searches on one index are safe; dh_index_add*,
 *  dh_index_remove_ids and dh_index_compact take the index's internal write lock
 *  (they wait for running searches and block new ones). */
typedef struct dh_index dh_index;

/** Options of dh_index_create(). Fill with dh_index_options_init(). */
typedef struct dh_index_options {
    size_t struct_size; /* set by dh_index_options_init() */
    uint32_t n_bits;    /* K: 1..DH_MAX_BITS (4096); default 64 */
    uint32_t n_threads; /* threads of this index's searches; 0 (default) = dh_get_num_threads() */
    uint64_t reserve;   /* rows to allocate up front; 0 (default) = grow on demand */
    /* Since 1.2: multi-index hashing tables kept with the index (docs/index.md,
     * "Multi-index hashing"): 0 (default) none, DH_MIH_AUTO (-1) m = K / log2(n)
     * substrings, or m tables, 1..min(K, 256). Tables are (re)built as rows are added. */
    int32_t multi_index;
    int32_t search_mode; /* Since 1.2: DH_SEARCH_AUTO (default), _SCAN or _MIH */
} dh_index_options;

/** Fill `opts` with the defaults and set struct_size. NULL is a no-op.
 *  Thread-safety: pure. Since: 1.0 */
DH_API void dh_index_options_init(dh_index_options *opts);

/** Create an empty index.
 *  opts  options, or NULL for the defaults (K = 64); borrowed.
 *  out   receives the index (NULL after a failure); free with dh_index_free().
 *  Returns DH_OK, DH_E_INVALID_ARG (bad n_bits/n_threads, NULL out),
 *  DH_E_VERSION (opts from a newer libdh setting unknown fields), DH_E_NO_MEMORY.
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_index_create(const dh_index_options *opts, dh_index **out);

/** Release an index (also one from dh_index_load_mmap(), which unmaps the file).
 *  NULL is a no-op. Thread-safety: exclusive (no other call may be using the index).
 *  Since: 1.0 */
DH_API void dh_index_free(dh_index *index);

/** Append n packed codes with sequential ids: the rows get ids next, next+1, ...,
 *  where next is 0 for a new index and otherwise 1 + the largest id ever added.
 *  codes [n, dh_code_bytes(K)] uint8, LSB-first, borrowed; padding bits of codes are
 *        ignored. NULL is allowed when n is 0.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL arguments, id space exhausted),
 *  DH_E_STATE (read-only index from dh_index_load_mmap()), DH_E_NO_MEMORY (the index
 *  is unchanged). Thread-safety: internally locked (write). Since: 1.0 */
DH_API dh_status dh_index_add(dh_index *index, const uint8_t *codes, size_t n);

/** Append n packed codes with the caller's ids.
 *  ids [n] int64, each >= 0 (-1 marks missing results); duplicates are allowed and
 *      dh_index_remove_ids() removes every row with a given id.
 *  Otherwise as dh_index_add(); DH_E_INVALID_ARG names the first negative id.
 *  Thread-safety: internally locked (write). Since: 1.0 */
DH_API dh_status dh_index_add_with_ids(dh_index *index, const uint8_t *codes, size_t n,
                                       const int64_t *ids);

/** Append n rows given in any DH_CODE_* format (sign rows of K floats, doubles or
 *  int8, or packed rows in either bit order).
 *  rows   [n, row size of `format`], borrowed.
 *  ids    [n] int64 >= 0, or NULL for sequential ids as in dh_index_add().
 *  Returns as dh_index_add_with_ids(); DH_E_INVALID_ARG for an unknown format or NaN.
 *  Thread-safety: internally locked (write). Since: 1.0 */
DH_API dh_status dh_index_add_rows(dh_index *index, const void *rows, int32_t format, size_t n,
                                   const int64_t *ids);

/** Exact k nearest neighbours of each query by Hamming distance (FAISS's
 *  IndexBinaryFlat::search layout).
 *  queries   [n_queries, dh_code_bytes(K)] uint8, LSB-first, borrowed (pack other
 *            formats with dh_codes_pack_*); padding bits are ignored.
 *  k         results per query, >= 1 (k = 0 is DH_E_INVALID_ARG); k may exceed the
 *            number of rows.
 *  out_dist  [n_queries, k] int32, caller-owned, or NULL if not wanted.
 *  out_ids   [n_queries, k] int64, caller-owned.
 *  Each result row is sorted by distance, ties by insertion order. Where fewer than
 *  k rows exist, the tail is padded with id -1 and distance INT32_MAX (FAISS pads
 *  with -1 and INT_MAX too). n_queries may be 0.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL arguments, k = 0, n_queries * k overflows),
 *  DH_E_NO_MEMORY, DH_E_IO (a mapped index's file changed, see dh_index_load_mmap()).
 *  Thread-safety: shared (takes the read lock). Since: 1.0 */
DH_API dh_status dh_index_search(const dh_index *index, const uint8_t *queries,
                                 size_t n_queries, uint32_t k, int32_t *out_dist,
                                 int64_t *out_ids);

/** Results of dh_index_range_search() in CSR form: query q's hits are entries
 *  lims[q] .. lims[q+1]-1 of ids and distances. Free with dh_range_result_free(). */
typedef struct dh_range_result dh_range_result;

/** Every stored code within Hamming distance `radius` of each query, INCLUSIVE
 *  (d <= radius; FAISS's range_search keeps d < radius, so FAISS radius r equals
 *  libdh radius r - 1).
 *  queries  [n_queries, dh_code_bytes(K)] uint8, LSB-first, borrowed.
 *  radius   0..K (larger values are clamped to K: everything matches).
 *  out      receives a result object (NULL after a failure). Hits of each query are
 *           sorted by distance, ties by insertion order.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NO_MEMORY, DH_E_IO (a mapped index's file
 *  changed, see dh_index_load_mmap()). Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_index_range_search(const dh_index *index, const uint8_t *queries,
                                       size_t n_queries, uint32_t radius,
                                       dh_range_result **out);

/** Number of queries of a result (0 for NULL). Thread-safety: shared. Since: 1.0 */
DH_API size_t dh_range_result_n_queries(const dh_range_result *result);

/** Total number of hits, lims[n_queries] (0 for NULL). Thread-safety: shared.
 *  Since: 1.0 */
DH_API size_t dh_range_result_n_hits(const dh_range_result *result);

/** lims [n_queries + 1] size_t, lims[0] = 0; borrowed, dies with the result.
 *  NULL for a NULL result. Thread-safety: shared. Since: 1.0 */
DH_API const size_t *dh_range_result_lims(const dh_range_result *result);

/** ids [n_hits] int64; borrowed (may be NULL when there are no hits).
 *  Thread-safety: shared. Since: 1.0 */
DH_API const int64_t *dh_range_result_ids(const dh_range_result *result);

/** distances [n_hits] int32; borrowed (may be NULL when there are no hits).
 *  Thread-safety: shared. Since: 1.0 */
DH_API const int32_t *dh_range_result_distances(const dh_range_result *result);

/** Release a result; NULL is a no-op. Thread-safety: exclusive. Since: 1.0 */
DH_API void dh_range_result_free(dh_range_result *result);

/** Build a result from CSR arrays (copied), e.g. one merged from several shards
 *  (libdh_mpi's dh_dist_range_search).
 *  lims [n_queries + 1], lims[0] = 0, non-decreasing; ids and distances
 *  [lims[n_queries]] (may be NULL when there are no hits). out receives the result.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.2 */
DH_API dh_status dh_range_result_create(size_t n_queries, const size_t *lims,
                                        const int64_t *ids, const int32_t *distances,
                                        dh_range_result **out);

/** Remove every row whose id is in ids[0..n). Other rows keep their ids and order.
 *  Removed rows are tombstoned and dropped by dh_index_compact() (automatically
 *  once they are more than half of the stored rows). Unknown ids are ignored.
 *  out_n_removed  receives the number of rows removed, or NULL.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_STATE (read-only index), DH_E_NO_MEMORY.
 *  Thread-safety: internally locked (write). Since: 1.0 */
DH_API dh_status dh_index_remove_ids(dh_index *index, const int64_t *ids, size_t n,
                                     size_t *out_n_removed);

/** Drop removed rows from memory now. Returns DH_OK, DH_E_INVALID_ARG or DH_E_STATE
 *  (read-only index). Thread-safety: internally locked (write). Since: 1.0 */
DH_API dh_status dh_index_compact(dh_index *index);

/** Number of live (not removed) rows; 0 for NULL. Thread-safety: shared. Since: 1.0 */
DH_API size_t dh_index_count(const dh_index *index);

/** Code length K in bits; 0 for NULL. Thread-safety: shared. Since: 1.0 */
DH_API uint32_t dh_index_n_bits(const dh_index *index);

/** Removed rows not yet compacted away; 0 for NULL. Thread-safety: shared. Since: 1.0 */
DH_API size_t dh_index_n_removed(const dh_index *index);

/** 1 if the index is read-only (from dh_index_load_mmap()), else 0 (also for NULL).
 *  Thread-safety: shared. Since: 1.0 */
DH_API int dh_index_is_readonly(const dh_index *index);

/** Copy live rows start .. start+n-1 (counted over live rows in insertion order) out
 *  of the index.
 *  format    DH_CODE_* of out_rows.
 *  out_rows  [n, row size of format], caller-owned, or NULL for ids only.
 *  out_ids   [n] int64, caller-owned, or NULL.
 *  Returns DH_OK or DH_E_INVALID_ARG (range past dh_index_count(), unknown format).
 *  Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_index_export(const dh_index *index, int32_t format, size_t start, size_t n,
                                 void *out_rows, int64_t *out_ids);

/** Save to `path` in the libdh index format (docs/file-formats.md), atomically: the
 *  data goes to a temporary file in the same directory which is fsync'ed and renamed
 *  over `path`, so a failed save leaves any previous file intact. Removed rows are
 *  kept as tombstones (call dh_index_compact() first to drop them).
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_IO (message names the file).
 *  Thread-safety: shared. Since: 1.0 */
DH_API dh_status dh_index_save(const dh_index *index, const char *path);

/** Load an index saved by dh_index_save() into memory. Every length, the header and
 *  data CRC-32C and the zero padding are checked.
 *  out  receives the index (NULL after a failure).
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NOT_FOUND / DH_E_IO (cannot open or read),
 *  DH_E_FORMAT (not an index, truncated, corrupt; the message names the offset),
 *  DH_E_VERSION (a newer format), DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_index_load(const char *path, dh_index **out);

/** Map an index file read-only instead of reading it: the codes stay in the page
 *  cache and are shared between processes. The file is fully validated (one
 *  sequential read for the CRC). The result supports search, range search, export
 *  and save; add, remove and compact return DH_E_STATE. The file must not be
 *  modified in place while mapped (dh_index_save() replaces it safely).
 *  A header that claims more rows than the file holds is DH_E_FORMAT; a file that
 *  changes size while it is loaded is refused (DH_E_IO), never SIGBUS during the load.
 *  The index keeps the file open (one descriptor) and, from 1.3, every search, range
 *  search, export and save first checks that the file's size and modification time
 *  are unchanged: after a truncation, growth or in-place rewrite they return DH_E_IO
 *  naming the file, and only dh_index_free() remains useful (load it again).
 *  WARNING: a truncation that lands while a call is already reading the lost pages
 *  still kills this process with SIGBUS (the kernel's rule for shared mappings; the
 *  check only closes the window between calls). For files that others may modify,
 *  use dh_index_load(), which copies the file into memory and is immune (the safe
 *  mode). Returns as dh_index_load(); DH_E_UNSUPPORTED on a big-endian host.
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_index_load_mmap(const char *path, dh_index **out);

/** Create an index from a .npy code file as written by DeepHash-pytorch/HashNet
 *  style code: a 2-D array of ±1 rows (float32, float64 or int8; K = columns,
 *  1..DH_MAX_BITS; x >= 0 gives bit 1) or of packed uint8 rows (K = 8 * columns;
 *  for another K use dh_index_import_npy_bits();
 *  numpy.packbits order when flags has DH_CODES_MSB_FIRST, else LSB-first). Rows get
 *  ids 0, 1, ...
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NOT_FOUND / DH_E_IO, DH_E_FORMAT (not a
 *  .npy file, not 2-D, unsupported dtype, NaN), DH_E_SHAPE (bad column count),
 *  DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_index_import_npy(const char *path, uint32_t flags, dh_index **out);

/** dh_index_import_npy() with the code length given: n_bits 0 is dh_index_import_npy();
 *  else 1..DH_MAX_BITS, and packed uint8 rows must have dh_code_bytes(n_bits) columns
 *  (zero padding bits, else DH_E_FORMAT naming the row), sign rows n_bits columns
 *  (else DH_E_SHAPE). Thread-safety: pure. Since: 1.2 */
DH_API dh_status dh_index_import_npy_bits(const char *path, uint32_t flags, uint32_t n_bits,
                                          dh_index **out);

/** Append the rows of a .npy code file (see dh_index_import_npy()) with sequential
 *  ids; packed rows are read as the index's K (dh_code_bytes(K) columns, zero padding
 *  bits). DH_E_SHAPE if its K differs from the index's.
 *  out_n_added  receives the rows added, or NULL.
 *  Thread-safety: internally locked (write). Since: 1.0 */
DH_API dh_status dh_index_add_npy(dh_index *index, const char *path, uint32_t flags,
                                  size_t *out_n_added);

/** Write the live rows to a 2-D .npy file (atomically) in `format`: DH_CODE_FLOAT32,
 *  DH_CODE_FLOAT64 or DH_CODE_INT8 (±1 rows, [n, K]) or DH_CODE_PACKED /
 *  DH_CODE_PACKED_MSB (uint8 rows, [n, ceil(K/8)], zero padding bits; MSB matches
 *  numpy.unpackbits).
 *  out_ids_path  if not NULL, also write the ids as an int64 [n] .npy file.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_IO, DH_E_NO_MEMORY. Thread-safety: shared.
 *  Since: 1.0 */
DH_API dh_status dh_index_export_npy(const dh_index *index, const char *path, int32_t format,
                                     const char *out_ids_path);

/* ---- FAISS binary index files (faiss.write_index_binary / read_index_binary) ---- */

/** Flags of dh_index_export_faiss(). */
enum {
    DH_FAISS_IDMAP2 = 1 /* always write an IndexBinaryIDMap2 (else only when the ids are
                           not 0..n-1 in insertion order) */
};

/** Read a FAISS binary index file: IndexBinaryFlat, or IndexBinaryIDMap / IDMap2 wrapping
 *  one (as faiss.write_index_binary writes them; FAISS 1.7 layout, docs/file-formats.md).
 *  FAISS codes are LSB-first like libdh's, so rows are copied unchanged; a flat index
 *  gets ids 0..n-1, an ID map its ids. Every length is checked against the file; other
 *  FAISS index types are refused naming their type.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_FORMAT (with the byte offset), DH_E_IO,
 *  DH_E_NOT_FOUND, DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.2 */
DH_API dh_status dh_index_import_faiss(const char *path, dh_index **out);

/** Write the live rows as a FAISS binary index file, atomically: an IndexBinaryFlat when
 *  the ids are 0..n-1 in insertion order, else (or with DH_FAISS_IDMAP2) an
 *  IndexBinaryIDMap2 wrapping one, so faiss.read_index_binary gives the same search
 *  results and ids. FAISS needs K % 8 == 0 (else DH_E_INVALID_ARG).
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_IO, DH_E_NO_MEMORY. Thread-safety: shared.
 *  Since: 1.2 */
DH_API dh_status dh_index_export_faiss(const dh_index *index, const char *path, uint32_t flags);

/* ---- Multi-index hashing (Norouzi, Punjani, Fleet 2012) ------------------ */

/** dh_index_options.multi_index / dh_index_build_mih(): pick m = K / log2(n). */
#define DH_MIH_AUTO (-1)

/** Search strategies (dh_index_options.search_mode, dh_index_set_search_mode()). */
enum {
    DH_SEARCH_AUTO = 0, /* MIH where the cost model says it pays, the scan otherwise */
    DH_SEARCH_SCAN = 1, /* always the linear scan */
    DH_SEARCH_MIH = 2   /* MIH whenever tables exist, however long it takes */
};

/** Build multi-index hashing tables over the index's rows now (replacing any) and keep
 *  them up to date from then on: rows added later go to a tail that searches check one
 *  by one until it passes max(1024, rows / 32), when the tables are rebuilt; removed
 *  rows are skipped; compaction rebuilds. dh_index_search() and
 *  dh_index_range_search() then return exactly the scan's results (ids, distances,
 *  tie order), usually much faster for small radii and small k (docs/index.md).
 *  The code is split into m substrings of K/m bits (lengths differ by at most one);
 *  each table is keyed by up to min(K/m, floor(log2 n) - 2, 26) bits of its substring.
 *  Works on read-only (mapped) indexes too; the tables then live in memory.
 *  m  DH_MIH_AUTO (-1): round(K / log2(live rows)), at least 1; or 1..min(K, 256).
 *     m = 1 is a single table over the first bits of the code (valid, rarely fast).
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL index; m = 0, < -1 or > min(K, 256)),
 *  DH_E_UNSUPPORTED (more than 2^32 - 1 rows), DH_E_NO_MEMORY (the index is
 *  unchanged). Thread-safety: internally locked (write). Since: 1.2 */
DH_API dh_status dh_index_build_mih(dh_index *index, int32_t m);

/** Drop the multi-index tables (searches scan; adds no longer build tables).
 *  Returns DH_OK or DH_E_INVALID_ARG. Thread-safety: internally locked (write).
 *  Since: 1.2 */
DH_API dh_status dh_index_drop_mih(dh_index *index);

/** The multi-index tables of an index: out_m their number (0: none), out_rows the
 *  rows they cover (later rows are the tail), out_bytes their memory. Each out
 *  pointer may be NULL. Returns DH_OK or DH_E_INVALID_ARG. Thread-safety: shared.
 *  Since: 1.2 */
DH_API dh_status dh_index_mih_info(const dh_index *index, uint32_t *out_m, size_t *out_rows,
                                   size_t *out_bytes);

/** Set how searches use the tables: DH_SEARCH_AUTO, DH_SEARCH_SCAN or DH_SEARCH_MIH.
 *  Results are identical in every mode; only the time differs. Without tables every
 *  mode scans. Returns DH_OK or DH_E_INVALID_ARG. Thread-safety: internally locked
 *  (write). Since: 1.2 */
DH_API dh_status dh_index_set_search_mode(dh_index *index, int32_t mode);

/* ======================================================================== */
/* 10. Evaluation metrics                                                   */
/* ======================================================================== */
/* @@SECTION eval */
/* Retrieval metrics from packed codes and labels (docs/eval.md). Every function
 * ranks the whole database by Hamming distance for each query without sorting it
 * (per-distance histograms, O(n_db) per query), then derives the metric exactly.
 *
 * Data arguments shared by every dh_eval_* function:
 *  query_codes  [n_queries, dh_code_bytes(opts->n_bits)] uint8, packed LSB-first.
 *  query_labels labels of the queries in the format opts->label_type:
 *               DH_LABELS_CLASS_I32: int32 [n_queries], one class id per item;
 *               DH_LABELS_MULTIHOT_U8: uint8 [n_queries, opts->n_classes] (nonzero = label);
 *               DH_LABELS_MULTIHOT_F32: float [n_queries, opts->n_classes] (> 0 = label).
 *  n_queries    >= 1.
 *  db_codes, db_labels, n_db: the database, same formats; 1 <= n_db <= 4294967295.
 * A database item is relevant to a query when they share at least one label (equal
 * class ids). An item without any label (all-zero row, or a negative class id) is
 * relevant to nothing. All arrays are borrowed for the call.
 *
 * Ranking: database items sorted by distance to the query; opts->ties says how items
 * at equal distance are ordered. Queries with no relevant item are handled by
 * opts->no_relevant. Averages are over queries, summed in a fixed order, so results
 * do not depend on the thread count or the kernel set (DH_ISA_*). */

/** How items at equal Hamming distance are ordered (dh_eval_options.ties). */
enum {
    DH_TIES_INDEX_ORDER = 0, /* in database order, as a stable sort by distance gives
                                (default; what published evaluators compute when
                                their sort happens to be stable) */
    DH_TIES_EXPECTED = 1     /* the mean over all orders within each tie group
                                (He et al., "Hashing as tie-aware learning to rank") */
};

/** Queries without a relevant item (dh_eval_options.no_relevant). */
enum {
    DH_NO_RELEVANT_ZERO = 0, /* they score 0 and count in every average (default;
                                DPSH/ADSH/DeepHash-pytorch evaluators) */
    DH_NO_RELEVANT_SKIP = 1, /* left out of the averages: for mAP@K queries with no
                                relevant item in their top K, for the other metrics
                                queries with no relevant item in the database
                                (HashNet/DeepHash-TF evaluators) */
    DH_NO_RELEVANT_SKIP_UNLABELED = 2 /* only queries without any label are left out;
                                         others score 0 (CSQ evaluator) */
};

/** Label formats (dh_eval_options.label_type). */
enum {
    DH_LABELS_CLASS_I32 = 0,    /* int32 [n]: class id per item (default); negative = none */
    DH_LABELS_MULTIHOT_U8 = 1,  /* uint8 [n, n_classes]: nonzero marks a label */
    DH_LABELS_MULTIHOT_F32 = 2  /* float [n, n_classes]: > 0 marks a label; NaN rejected */
};

/** Progress callback of long evaluations: `fraction_done` in [0, 1]. It is called on
 *  the thread that called the dh_eval_* function, between batches of queries (a few
 *  dozen times at most), and last with 1.0. Returning nonzero stops the evaluation,
 *  which then returns DH_E_INTERRUPTED; outputs are then unspecified. */
typedef int32_t (*dh_eval_progress_fn)(double fraction_done, void *user);

/** Options of the dh_eval_* functions. Fill with dh_eval_options_init(), then set
 *  n_bits (and label_type/n_classes for multi-hot labels). */
typedef struct dh_eval_options {
    size_t struct_size;           /* set by dh_eval_options_init() */
    uint32_t n_bits;              /* K: code length, 1..DH_MAX_BITS (4096); no default */
    int32_t ties;                 /* DH_TIES_*; default DH_TIES_INDEX_ORDER */
    uint64_t topk;                /* mAP@topk: 0 (default) = mAP over the whole database;
                                     else 1..n_db */
    int32_t no_relevant;          /* DH_NO_RELEVANT_*; default DH_NO_RELEVANT_ZERO */
    uint32_t radius;              /* Hamming radius r of dh_eval_hamming_ball; default 2 */
    int32_t label_type;           /* DH_LABELS_*; default DH_LABELS_CLASS_I32 */
    uint32_t n_classes;           /* columns of multi-hot rows (1..65536, required for them);
                                     for class ids 0 (default: any id) or an upper bound:
                                     ids >= n_classes are rejected */
    uint32_t n_threads;           /* 0 (default) = dh_get_num_threads() */
    uint32_t reserved0;           /* must be 0 */
    dh_eval_progress_fn progress; /* NULL (default) = no progress reports */
    void *progress_user;          /* passed to progress */
} dh_eval_options;

/** Fill `opts` with struct_size and the defaults above (n_bits 0: must be set).
 *  NULL is ignored. Thread-safety: pure. Since: 1.0 */
DH_API void dh_eval_options_init(dh_eval_options *opts);

/** Mean average precision: mAP@topk, or mAP over the whole database when
 *  opts->topk is 0. For one query with relevance r_t at rank t,
 *  AP@k = (1/R_k) sum_{t<=k} r_t * P(t), P(t) = (sum_{t'<=t} r_t') / t, where R_k is
 *  the number of relevant items within the top k (the normaliser of DeepHash-pytorch,
 *  DPSH, HashNet code). A query with R_k = 0 scores 0 (or is skipped, see
 *  opts->no_relevant).
 *  opts    required (n_bits must be set).
 *  out_map [1] double, caller-owned: the mean over counted queries (0 if none counts).
 *  out_ap  [n_queries] double, caller-owned, or NULL: each query's AP; NaN for queries
 *          left out by opts->no_relevant.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL pointer, n_bits outside 1..DH_MAX_BITS,
 *  topk > n_db, zero counts, bad enum value or label (the message names the
 *  argument and row), nonzero reserved0), DH_E_VERSION (options newer than the
 *  library), DH_E_NO_MEMORY, DH_E_INTERRUPTED (progress callback).
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_eval_map(const dh_eval_options *opts, const uint8_t *query_codes,
                             const void *query_labels, size_t n_queries,
                             const uint8_t *db_codes, const void *db_labels, size_t n_db,
                             double *out_map, double *out_ap);

/** Precision and recall at cut-off ranks N (P@N and R@N), which also give the
 *  precision-recall curve by rank: P@N = hits(N) / N, R@N = hits(N) / R, where
 *  hits(N) counts relevant items among the first N of the ranking and R is the number
 *  of relevant items in the database (R@N of a query with R = 0 is 0). With
 *  DH_TIES_EXPECTED, a tie group cut by N contributes its expected hits (relevant
 *  count times the fraction of the group inside the cut).
 *  ns            [n_ns] uint64, cut-offs in 1..n_db in any order; borrowed.
 *  n_ns          >= 1.
 *  out_precision [n_ns] double, caller-owned, or NULL: mean P@ns[i].
 *  out_recall    [n_ns] double, caller-owned, or NULL: mean R@ns[i].
 *  Returns as dh_eval_map(), and DH_E_INVALID_ARG for an N outside 1..n_db.
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_eval_precision_at_n(const dh_eval_options *opts,
                                        const uint8_t *query_codes, const void *query_labels,
                                        size_t n_queries, const uint8_t *db_codes,
                                        const void *db_labels, size_t n_db, const uint64_t *ns,
                                        size_t n_ns, double *out_precision, double *out_recall);

/** Precision-recall curve by Hamming radius (DeepHash-TF's definition): for r = 0..K
 *  the items within distance r are retrieved; precision(r) = hits / retrieved (0 when
 *  nothing is retrieved), recall(r) = hits / R (0 when R = 0). Both averaged over
 *  queries. Tie order plays no role.
 *  out_precision [n_bits + 1] double, caller-owned, or NULL.
 *  out_recall    [n_bits + 1] double, caller-owned, or NULL.
 *  Returns as dh_eval_map(). Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_eval_pr_curve(const dh_eval_options *opts, const uint8_t *query_codes,
                                  const void *query_labels, size_t n_queries,
                                  const uint8_t *db_codes, const void *db_labels, size_t n_db,
                                  double *out_precision, double *out_recall);

/** Precision within Hamming radius r = opts->radius (P@H<=r; r = 2 by default): the
 *  items at distance <= r are retrieved, precision = hits / retrieved, and a query
 *  whose ball is empty scores precision 0 (the convention of DeepHash-TF and SPRCH;
 *  papers' P@H<=2 collapses at long codes because of it). The mean over non-empty
 *  balls only is out_precision / (1 - out_empty_fraction).
 *  out_precision      [1] double, caller-owned, or NULL: mean precision.
 *  out_recall         [1] double, caller-owned, or NULL: mean hits / R.
 *  out_empty_fraction [1] double, caller-owned, or NULL: fraction of counted queries
 *                     with nothing within radius r.
 *  Returns as dh_eval_map(), and DH_E_INVALID_ARG for radius > n_bits.
 *  Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_eval_hamming_ball(const dh_eval_options *opts, const uint8_t *query_codes,
                                      const void *query_labels, size_t n_queries,
                                      const uint8_t *db_codes, const void *db_labels,
                                      size_t n_db, double *out_precision, double *out_recall,
                                      double *out_empty_fraction);

/** All metrics above in one pass over the data (the cost of each dh_eval_* call is
 *  the distance pass, so this is as fast as any one of them). Every output may be
 *  NULL; metrics whose outputs are all NULL are not computed. Shapes and meanings are
 *  those of dh_eval_map (out_map, out_ap), dh_eval_precision_at_n (ns, n_ns,
 *  out_p_at_n, out_r_at_n; ns may be NULL when n_ns is 0), dh_eval_pr_curve
 *  (out_pr_precision, out_pr_recall) and dh_eval_hamming_ball (out_ball_precision,
 *  out_ball_recall, out_ball_empty).
 *  Returns as those functions. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_eval_all(const dh_eval_options *opts, const uint8_t *query_codes,
                             const void *query_labels, size_t n_queries,
                             const uint8_t *db_codes, const void *db_labels, size_t n_db,
                             const uint64_t *ns, size_t n_ns, double *out_map, double *out_ap,
                             double *out_p_at_n, double *out_r_at_n, double *out_pr_precision,
                             double *out_pr_recall, double *out_ball_precision,
                             double *out_ball_recall, double *out_ball_empty);

/* ---- Evaluation over a database held in parts ------------------------------
 * A database split into parts P_0, P_1, ... (in database order: shards of a cluster,
 * or chunks that do not fit in memory together) is evaluated exactly as the whole:
 *  1. for every part, dh_eval_part_histograms() gives per-query histograms; summed
 *     over all parts they are `total`, summed over the parts before P_i `before_i`;
 *  2. only for DH_TIES_INDEX_ORDER with mAP or P@N: for every part,
 *     dh_eval_part_sums() with total and before_i; the results are summed;
 *  3. dh_eval_from_parts() turns total (and the sums) into the metrics of
 *     dh_eval_all() over the whole database.
 * Histograms hold exact counts, so P@N, R@N, the PR curve, the Hamming ball and
 * every DH_TIES_EXPECTED metric are bit-identical to dh_eval_all() on the whole
 * database; mAP under DH_TIES_INDEX_ORDER adds the same terms in another order
 * (equal up to float rounding, ~1e-15 relative). libdh_mpi's dh_dist_eval runs this
 * with MPI_Allreduce / MPI_Exscan. Options, codes and labels are as for dh_eval_all;
 * n_db of a part may be 0; opts->topk and ns count over the whole database. */

/** Per-query histograms of one part: out_hist [n_queries, 2, n_bits + 1] uint32;
 *  out_hist[q][0][d] items of the part at distance d from query q, [q][1][d] the
 *  relevant ones among them. Returns as dh_eval_map(). Thread-safety: pure.
 *  Since: 1.2 */
DH_API dh_status dh_eval_part_histograms(const dh_eval_options *opts,
                                         const uint8_t *query_codes, const void *query_labels,
                                         size_t n_queries, const uint8_t *db_codes,
                                         const void *db_labels, size_t n_db,
                                         uint32_t *out_hist);

/** Rank sums of one part under DH_TIES_INDEX_ORDER, given the histograms of all
 *  parts (total_hist) and of the parts before this one (before_hist, NULL for the
 *  first part), both [n_queries, 2, n_bits + 1].
 *  out_sums [n_queries, n_ns + 2] double: [0] the sum of j / t over this part's
 *  relevant items of global rank t <= topk (j: the item's 1-based place among the
 *  relevant items), [1 + i] the number of them with rank <= ns[i], [n_ns + 1] the
 *  number with rank <= topk (topk = opts->topk, or the whole database when 0).
 *  Returns as dh_eval_map(), DH_E_SHAPE when the histograms do not contain this
 *  part. Thread-safety: pure. Since: 1.2 */
DH_API dh_status dh_eval_part_sums(const dh_eval_options *opts, const uint8_t *query_codes,
                                   const void *query_labels, size_t n_queries,
                                   const uint8_t *db_codes, const void *db_labels, size_t n_db,
                                   const uint32_t *total_hist, const uint32_t *before_hist,
                                   const uint64_t *ns, size_t n_ns, double *out_sums);

/** The metrics of dh_eval_all() from the summed histograms (and, under
 *  DH_TIES_INDEX_ORDER with out_map/out_ap/out_p_at_n/out_r_at_n, the summed rank
 *  sums [n_queries, n_ns + 2]; else sums may be NULL). The database size is the
 *  histogram total (1..4294967295, the same for every query). Outputs as
 *  dh_eval_all(). Returns as dh_eval_all(). Thread-safety: pure. Since: 1.2 */
DH_API dh_status dh_eval_from_parts(const dh_eval_options *opts, const void *query_labels,
                                    size_t n_queries, const uint32_t *total_hist,
                                    const double *sums, const uint64_t *ns, size_t n_ns,
                                    double *out_map, double *out_ap, double *out_p_at_n,
                                    double *out_r_at_n, double *out_pr_precision,
                                    double *out_pr_recall, double *out_ball_precision,
                                    double *out_ball_recall, double *out_ball_empty);

/* ======================================================================== */
/* 11. Training: trainer, incremental sessions                              */
/* ======================================================================== */
/* @@SECTION train */

/* The trainer runs the epoch/batch loop over a dataset with a model, a loss and
 * an optimizer it builds from the options (defaults from the loss's recipe):
 * learning-rate schedule, HashNet beta through the loss's epoch hook, optional
 * evaluation every N epochs on a query/database split with the best weights kept,
 * progress reports (a callback; a terminal line when verbose), checkpoints written
 * atomically and resumable bit-exactly (same thread count), and deterministic runs
 * for a given seed and thread count. */
typedef struct dh_trainer dh_trainer;

/** Events reported to dh_train_callback. */
enum {
    DH_TRAIN_EVENT_BATCH = 0, /* after each optimizer step */
    DH_TRAIN_EVENT_EPOCH = 1, /* after each epoch (and its evaluation, if any) */
    DH_TRAIN_EVENT_EVAL = 2   /* after a validation evaluation */
};

/** Progress numbers, filled by libdh. Readers must check struct_size before
 *  reading fields added after 1.0 (fields are only appended). */
typedef struct dh_train_progress {
    size_t struct_size;
    int32_t event;          /* DH_TRAIN_EVENT_* */
    int32_t epoch;          /* 0-based epoch being (or just) trained */
    int32_t epochs;         /* total epochs of this run */
    int32_t best_epoch;     /* epoch of best_map, -1 if none yet */
    uint64_t batch;         /* 0-based batch within the epoch */
    uint64_t batches;       /* batches per epoch */
    double loss;            /* BATCH: this batch's loss; EPOCH: the epoch's mean */
    double images_per_s;    /* training throughput of the current epoch */
    double eta_s;           /* estimated seconds left in the run */
    double elapsed_s;       /* seconds since dh_trainer_run started */
    double lr;              /* scheduled learning rate (head group) */
    double map;             /* EVAL/EPOCH: last validation mAP, NaN if none */
    double best_map;        /* best validation mAP so far, NaN if none */
} dh_train_progress;

/** Progress callback; runs on the training thread. Return 0 to continue, nonzero
 *  to stop the run after this step (dh_trainer_run then returns DH_E_INTERRUPTED;
 *  checkpoints already written stay intact). Must not call into the trainer. */
typedef int32_t (*dh_train_callback)(const dh_train_progress *progress, void *user);

/** dh_trainer_options.augment: the recipe's augmentations (the default since 1.3;
 *  0 = none). Not a loader flag. Since: 1.3 */
#define DH_AUG_RECIPE 0x80000000u

/** Options of dh_trainer_create(). Fill with dh_trainer_options_init(). Zero or
 *  negative "use default" values take the recipe's (since 1.3 a row of the recipe
 *  table, dh_loss_recipe_lookup(method of the loss, recipe_setting, recipe, the
 *  model's input size); before, dh_loss_get_recipe); dh_trainer_get_options and
 *  dh_trainer_options_resolve return the resolved set. */
typedef struct dh_trainer_options {
    size_t struct_size;         /* set by dh_trainer_options_init() */
    uint32_t epochs;            /* 0: the recipe's */
    uint32_t batch_size;        /* 0: the recipe's */
    uint64_t seed;              /* shuffling and augmentation; default 1 */
    int32_t optimizer;          /* DH_OPTIM_*, or -1 (default): the recipe's */
    int32_t schedule;           /* DH_SCHED_* over epochs; -1 (default): the recipe's
                                   (cosine to lr * lr_min_ratio over the run) */
    double lr;                  /* 0: the recipe's */
    double momentum;            /* < 0 (default): the recipe's */
    double weight_decay;        /* < 0 (default): the recipe's */
    double backbone_lr_mult;    /* 0 (default): the recipe's (1 in the scratch setting,
                                   e.g. 0.1 for pretrained backbones) */
    uint32_t warmup_epochs;     /* linear warm-up epochs; 0 (default): the recipe's */
    uint32_t augment;           /* DH_AUG_* flags for training batches (feature rows:
                                   ignored); DH_AUG_RECIPE (default since 1.3): the
                                   recipe's; 0: none */
    uint32_t eval_every;        /* evaluate every this many epochs (and after the last)
                                   when a validation split is set; 0 (default): only
                                   after the last epoch */
    uint32_t keep_best;         /* 1 (default): end with the weights of the best
                                   validation mAP; 0: the last weights */
    uint64_t eval_topk;         /* mAP@topk of validation, 0 (default) = mAP@all */
    const char *checkpoint_path;/* NULL (default): no checkpoints; copied */
    uint32_t checkpoint_every;  /* epochs between checkpoints; 0 (default): 1 */
    uint32_t resume;            /* 1: continue from checkpoint_path if it exists */
    uint32_t verbose;           /* 1: progress on stderr (an updating line on a
                                   terminal, a line per epoch otherwise); default 0 */
    uint32_t reserved0;         /* must be 0 */
    dh_train_callback callback; /* NULL (default): none */
    void *callback_user;        /* passed to callback */
    int32_t supervision;        /* DH_SUPERVISION_*; tag methods (DH_LOSS_FLAG_TAGS)
                                   always use the tags. Since: 1.2 */
    /* Since: 1.3 -- every loader knob (dh_loader_options) and the recipe. */
    int32_t crop_padding;       /* DH_AUG_RANDOM_CROP padding in pixels; < 0 (default): the
                                   recipe's, size-aware: dh_crop_padding_default */
    float flip_prob;            /* DH_AUG_FLIP probability; < 0 (default): 0.5 */
    float scale_min;            /* DH_AUG_RESIZED_CROP area fraction; <= 0 (default): 0.08 */
    float scale_max;            /* <= 0 (default): 1 */
    float ratio_min;            /* DH_AUG_RESIZED_CROP aspect ratio; <= 0 (default): 3/4 */
    float ratio_max;            /* <= 0 (default): 4/3 */
    float brightness;           /* DH_AUG_COLOR_JITTER strengths in [0, 1]; < 0 (default): 0.4 */
    float contrast;             /* < 0 (default): 0.4 */
    float saturation;           /* < 0 (default): 0.4 */
    float grayscale_prob;       /* DH_AUG_GRAYSCALE probability; < 0 (default): 0.2 */
    float blur_prob;            /* DH_AUG_BLUR probability; < 0 (default): 0.5 */
    double lr_min_ratio;        /* DH_SCHED_COSINE floor as a fraction of lr; < 0 (default):
                                   the recipe's (before 1.3 always 0.01) */
    const char *recipe;         /* recipe variant (dh_loss_recipe_lookup): "default",
                                   "reference", "paper", or a method's own; NULL (default):
                                   "default"; borrowed for dh_trainer_create only */
    int32_t recipe_setting;     /* DH_RECIPE_*; DH_RECIPE_AUTO (default): from the encoder */
    int32_t decay_scope;        /* DH_DECAY_*; -1 (default): the recipe's */
} dh_trainer_options;

/** What the loss learns from (dh_trainer_options.supervision). Since: 1.2 */
enum {
    DH_SUPERVISION_LABELS = 0, /* default: the dataset's labels */
    DH_SUPERVISION_TAGS = 1    /* the dataset's tags as multi-hot labels (tags-as-labels
                                  baseline; the loss's n_classes is the tag count); the
                                  labels are never read (validation sets still use theirs) */
};

/** Fill `opts` with struct_size and the defaults above. NULL: no-op.
 *  Thread-safety: pure. Since: 1.0 */
DH_API void dh_trainer_options_init(dh_trainer_options *opts);

/** Resolve every "default / the recipe's" field of `opts` as dh_trainer_create would,
 *  without a model or data (e.g. to print the recipe a run will use): the recipe row
 *  dh_loss_recipe_lookup(method, setting, opts->recipe, min(input_height,
 *  input_width)) fills epochs, batch_size, optimizer, schedule, lr, momentum,
 *  weight_decay, backbone_lr_mult, warmup_epochs, augment, crop_padding, lr_min_ratio
 *  and decay_scope where opts leaves them at default; the loader knobs get the
 *  loader's defaults (flip 0.5, scale 0.08..1, ratio 3/4..4/3, jitter 0.4, grey 0.2,
 *  blur 0.5). setting: opts->recipe_setting, or when DH_RECIPE_AUTO from `encoder`
 *  (a dh_model_options.encoder spec; NULL: scratch). out->recipe is the variant's
 *  static name; momentum is 0 for Adam/AdamW; optimizer is a DH_OPTIM_* (an
 *  "sgd-nesterov" recipe: DH_OPTIM_SGD, and the trainer sets Nesterov). The trainer
 *  also clamps batch_size to the training-set size and ignores augment on feature
 *  rows. opts: NULL for the defaults; out->struct_size must be set (opts and out may
 *  be the same). Returns DH_OK, DH_E_INVALID_ARG (NULL method or out, a knob out of
 *  range, named), DH_E_NOT_FOUND (unknown method or variant), DH_E_VERSION.
 *  Thread-safety: pure. Since: 1.3 */
DH_API dh_status dh_trainer_options_resolve(const dh_trainer_options *opts, const char *method,
                                            const char *encoder, uint32_t input_height,
                                            uint32_t input_width, dh_trainer_options *out);

/** Create a trainer for `model` with `loss` over `train`.
 *  The model, loss and dataset are borrowed and must outlive the trainer; the loss
 *  must have been created for the model's K, the dataset's class count and (for
 *  methods with per-sample state) n_train = dh_dataset_count(train). The trainer
 *  calls dh_loss_init with the training labels and class counts, builds the
 *  optimizer over the model's and the loss's parameters, and a shuffling loader
 *  normalising with the model's mean/std at the model's input size.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_SHAPE (K, classes, n_train or input size
 *  disagree), DH_E_VERSION, DH_E_NO_MEMORY, DH_E_UNSUPPORTED (search-only build).
 *  Thread-safety: exclusive on model and loss. Since: 1.0 */
DH_API dh_status dh_trainer_create(dh_model *model, dh_loss *loss, const dh_dataset *train,
                                   const dh_trainer_options *opts, dh_trainer **out);

/** Release a trainer (not the model, loss or dataset). NULL: no-op. Since: 1.0 */
DH_API void dh_trainer_free(dh_trainer *trainer);

/** Evaluate on `query` against `database` (borrowed, must outlive the trainer)
 *  every opts.eval_every epochs: both are encoded with the model in inference mode
 *  and mAP is computed with index-order ties. NULL, NULL removes the split.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_SHAPE (classes or sample shape differ).
 *  Since: 1.0 */
DH_API dh_status dh_trainer_set_validation(dh_trainer *trainer, const dh_dataset *query,
                                           const dh_dataset *database);

/** Replace the progress callback given in the options (NULL removes it).
 *  Returns DH_OK or DH_E_INVALID_ARG (NULL trainer). Thread-safety: exclusive.
 *  Since: 1.0 */
DH_API dh_status dh_trainer_set_callback(dh_trainer *trainer, dh_train_callback callback,
                                         void *user);

/** Run the remaining epochs (all of them, or from the checkpoint when resuming).
 *  Returns DH_OK, DH_E_INTERRUPTED (callback), DH_E_FORMAT (the loss became NaN:
 *  lower the learning rate), DH_E_IO (checkpoint), errors of the parts.
 *  Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_trainer_run(dh_trainer *trainer);

/** The latest numbers (event DH_TRAIN_EVENT_EPOCH of the last finished epoch).
 *  out->struct_size must be set by the caller. Since: 1.0 */
DH_API dh_status dh_trainer_get_progress(const dh_trainer *trainer, dh_train_progress *out);

/** The trainer's options with every default resolved (dh_trainer_options_resolve,
 *  plus the clamped batch size; augment 0 on feature rows; recipe: the variant's
 *  static name; checkpoint_path borrowed from the trainer). out->struct_size must be
 *  set. Returns DH_OK, DH_E_INVALID_ARG. Thread-safety: shared. Since: 1.3 */
DH_API dh_status dh_trainer_get_options(const dh_trainer *trainer, dh_trainer_options *out);

/** The optimizer the trainer built (borrowed), e.g. to read the learning rate.
 *  Since: 1.0 */
DH_API dh_optimizer *dh_trainer_optimizer(dh_trainer *trainer);

/** Data-parallel training hooks (libdh_mpi's dh_trainer_set_comm fills them from an
 *  MPI communicator; any other transport may). Every one of `size` processes runs
 *  the same trainer on the same data and seed and loads every global batch; process
 *  r computes the encoder and head on its slice, rows [r*n/size, (r+1)*n/size) of
 *  the batch of n; U is gathered so that the loss (pairwise terms, banks, centres)
 *  is evaluated on the whole batch on every process, each process backpropagates
 *  its own rows of dU, and the encoder/head gradients are summed over processes in
 *  flat buckets. The loss value and its gradients are those of the one-process run
 *  with the same global batch; BatchNorm normalises each slice with its own batch
 *  statistics (as PyTorch DDP does), and the running statistics of process 0 are
 *  broadcast after every epoch, so every process ends with the same model.
 *  Checkpoints are written by process 0 only (resume works with any size). Not with
 *  distillation (incremental sessions). Fill with dh_train_parallel_init(). */
typedef struct dh_train_parallel {
    size_t struct_size; /* set by dh_train_parallel_init() */
    uint32_t rank;      /* this process, 0..size-1 */
    uint32_t size;      /* processes, >= 1 */
    /* Gather rows in rank order: `all` [sum(counts), row_floats] holds this process's
     * counts[rank] rows already in place (at the offset of the rows before it); on
     * return it holds every process's rows. counts [size]. */
    dh_status (*allgather)(void *user, float *all, const size_t *counts, size_t row_floats);
    /* Sum buf [n] over all processes, in place, identically on every process. */
    dh_status (*allreduce_sum)(void *user, float *buf, size_t n);
    /* Copy process 0's buf [n] to every process. */
    dh_status (*broadcast)(void *user, float *buf, size_t n);
    /* Called once when the trainer is freed or its hooks replaced; may be NULL. */
    void (*release)(void *user);
    void *user;
} dh_train_parallel;

/** Fill `p` with struct_size and rank 0 of size 1 (no callbacks). NULL: no-op.
 *  Thread-safety: pure. Since: 1.2 */
DH_API void dh_train_parallel_init(dh_train_parallel *p);

/** Make `trainer` one process of a data-parallel run (see dh_train_parallel), before
 *  dh_trainer_run. The model's tensors are broadcast from process 0 now, so every
 *  process starts from the same weights. p NULL (or size 1) returns to one process.
 *  The hooks are copied; p->release(p->user) runs when they are dropped.
 *  Returns DH_OK, DH_E_INVALID_ARG (rank >= size, missing callbacks), DH_E_UNSUPPORTED
 *  (distillation is set), errors of the callbacks. Thread-safety: exclusive.
 *  Since: 1.2 */
DH_API dh_status dh_trainer_set_parallel(dh_trainer *trainer, const dh_train_parallel *p);

/* ---- Class-incremental sessions (docs/incremental.md) ------------------- */

/** Where the database codes of a session's new items come from
 *  (dh_incremental_options.new_codes). */
enum {
    DH_INCR_CODES_AUTO = 0,    /* LEARNED when the loss learns database codes (dihn,
                                  adsh), else NETWORK */
    DH_INCR_CODES_NETWORK = 1, /* sgn of the fine-tuned model's outputs */
    DH_INCR_CODES_LEARNED = 2  /* the loss's "codes" state (n_train rows) */
};

/** Options of dh_incremental_session(). Fill with dh_incremental_options_init(). */
typedef struct dh_incremental_options {
    size_t struct_size; /* set by dh_incremental_options_init() */
    int32_t new_codes;  /* DH_INCR_CODES_*; default AUTO */
    int32_t reserved0;  /* must be 0 */
    int64_t first_id;   /* id of the first new item (the rest follow); -1 (default):
                           1 + the largest id of a live row, 0 for an empty index */
    /* Since 1.1: distillation from the session-start network (a frozen copy) on the
     * new items' batches, for sessions without old images (docs/incremental.md):
     * weights of mean (u - u_teacher)^2 over B x K and of mean (f - f_teacher)^2
     * over B x D (f: the head's input features). -1 (default): the method's default
     * (see docs/incremental.md); 0: off. Not with train_opts->resume. */
    double distill_codes;
    double distill_features;
    /* Since 1.1: with index_images, train on this many old images drawn at random
     * (train_opts->seed) instead of all of them, as DIHN's reference samples m = 2000
     * per outer iteration; every old code stays in the loss's database. The dihn loss
     * is then created with n_train = new items + old_samples. 0 (default): all. */
    uint64_t old_samples;
} dh_incremental_options;

/** Fill `opts` with struct_size and the defaults above. NULL: no-op.
 *  Thread-safety: pure. Since: 1.0 */
DH_API void dh_incremental_options_init(dh_incremental_options *opts);

/** One class-incremental session: fine-tune `model` with `loss` on the session's new
 *  items `new_data` (a dh_trainer run with train_opts), compute the new items' codes
 *  and append them to `index` in place with dh_index_add_with_ids. The codes already
 *  in the index are never rewritten; old images are optional (`index_images`).
 *  dihn: the index's live rows (insertion order) become the loss's fixed rows
 *  (dh_loss_set_fixed_codes) with `index_labels`; the loss must have been created
 *  with n_train = dh_dataset_count(new_data) (+ dh_index_count(index) with
 *  index_images). dih, and any other loss (naive fine-tuning), only fine-tune.
 *  Distillation (opts->distill_codes / distill_features, on by default for dihn
 *  and dih without index_images): the session trains against a frozen copy of the
 *  model as it was on entry, which keeps old-class queries near their codes.
 *  model: trained on earlier sessions (or new), K = the index's K; borrowed.
 *  loss: created for K and the total class count C (old and new classes).
 *  new_data: the new items (database rows to add and training set), C classes.
 *  index: extended in place; must not be read-only.
 *  index_labels: [dh_index_count(index), C] float32 multi-hot labels of the live
 *  rows in insertion order; required by dihn when the index is not empty, else
 *  ignored (may be NULL).
 *  index_images: NULL, or the images of the index's live rows in insertion order
 *  (dh_index_count(index) samples): the model then trains on new_data followed by
 *  them (the reference DIHN protocol, which samples old images; their codes stay).
 *  train_opts: trainer options (epochs, lr, ...), or NULL for the loss's recipe.
 *  opts: or NULL for the defaults. out_first_id: receives the id of the first new
 *  item (the others follow), or NULL.
 *  On any failure the index is unchanged (the model and loss may have been trained).
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_SHAPE (K, C or n_train disagree),
 *  DH_E_STATE (read-only index; LEARNED codes without a codes state), DH_E_VERSION,
 *  DH_E_INVALID_ARG also for distillation weights that are not -1 or finite >= 0,
 *  and for distillation with train_opts->resume,
 *  DH_E_NO_MEMORY, DH_E_UNSUPPORTED (search-only build), errors of dh_trainer_run.
 *  Thread-safety: exclusive on model, loss and index. Since: 1.0 */
DH_API dh_status dh_incremental_session(struct dh_model *model, dh_loss *loss,
                                        const dh_dataset *new_data, struct dh_index *index,
                                        const float *index_labels,
                                        const dh_dataset *index_images,
                                        const struct dh_trainer_options *train_opts,
                                        const dh_incremental_options *opts,
                                        int64_t *out_first_id);

/* ======================================================================== */
/* 12. Experimental: research helpers (#define DH_EXPERIMENTAL)             */
/* ======================================================================== */

/* Research helpers: the building blocks of single methods, exposed so that
 * experiments and tests can call them directly. A program sees them only when it
 * defines DH_EXPERIMENTAL before including dh.h (as zstd keeps its advanced API
 * behind ZSTD_STATIC_LINKING_ONLY). The functions below shipped in 1.0/1.1 and stay
 * exported with the same signatures (lib/abi/libdh.symbols); helpers added to this
 * tier later may change or go between minor versions, and may be named dhx_*.
 * The @@SECTION markers tell cmake/gen_training_stubs.py which part of the library
 * implements what follows. */

#if defined(DH_EXPERIMENTAL)

/* @@SECTION nn */
/* ---- Encoder feature maps, to build new pools (docs/finegrained.md) ----- */

/** Like dh_encoder_forward, also returning the last feature map (the input of the
 *  global pooling: resnet18 512 x 7 x 7 at 224, smallcnn 64 x 7 x 7 at 28, alexnet
 *  256 x 6 x 6); see dh_encoder_feature_map_shape. out and fmap ([n, C, h, w]) may
 *  each be NULL. Returns as dh_encoder_forward, and DH_E_UNSUPPORTED when fmap is
 *  given for an encoder without a feature map (mlp). Thread-safety: exclusive.
 *  Since: 1.0 */
DH_API dh_status dh_encoder_forward_fmap(dh_encoder *enc, const float *x, size_t n,
                                         int32_t training, float *out, float *fmap);

/** Like dh_encoder_backward with gradients for the features and/or the feature map
 *  (each may be NULL, meaning zero; not both). dfmap: [n, C, h, w].
 *  Returns as dh_encoder_backward, and DH_E_UNSUPPORTED for dfmap without a
 *  feature map. Thread-safety: exclusive. Since: 1.0 */
DH_API dh_status dh_encoder_backward_fmap(dh_encoder *enc, const float *dout,
                                          const float *dfmap, float *dx);

/* @@SECTION loss */
/* ---- Method internals: CNNH codes, GV bound, class-balanced weights ----- */

/** CNNH stage 1: binary codes whose inner products approximate K(2S - 1), S_ij =
 *  (labels share a class), by randomised coordinate descent (docs/methods.md).
 *  labels: [n, C] float multi-hot, borrowed; n <= 16384 (O(n^2) memory).
 *  sweeps: passes over all n*K coordinates (0 = 10). out_codes: [n, K] float +-1.
 *  Returns DH_OK, DH_E_INVALID_ARG, DH_E_NO_MEMORY. Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_twostage_solve_codes(const float *labels, size_t n, uint32_t n_classes,
                                         uint32_t n_bits, uint32_t sweeps, uint64_t seed,
                                         float *out_codes);

/** Gilbert-Varshamov distances for C codewords of K bits: d_gv = the largest d with
 *  V(K, d-1) <= 2^K / C (V = Hamming-ball volume), d_target = the d with
 *  V(K, d-2) < 2^K / C <= V(K, d-1) (what MDSH aims at). Either out may be NULL.
 *  Returns DH_OK, DH_E_INVALID_ARG (C < 2, K 0 or > 4096). Thread-safety: pure.
 *  Since: 1.0 */
DH_API dh_status dh_centers_gv_distance(uint32_t n_classes, uint32_t n_bits, uint32_t *d_gv,
                                        uint32_t *d_target);

/** Class-balanced weights by the effective number of samples (Cui et al., CVPR 2019;
 *  LTHNet): w_c = (1 - beta) / (1 - beta^n_c), then divided by max_c w_c, so the
 *  rarest class gets 1. beta = 0 gives all ones. A class with count 0 is treated as
 *  having one sample.
 *  counts: [n_classes] int64 >= 0, borrowed. out: [n_classes] float32, caller-owned.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL, n_classes 0 or > 65536, beta outside
 *  [0, 1), a negative count). Thread-safety: pure. Since: 1.0 */
DH_API dh_status dh_class_balanced_weights(const int64_t *counts, uint32_t n_classes,
                                           double beta, float *out);

/* @@SECTION model */
/* ---- Inspecting LTHNet's class memory ----------------------------------- */

/** Copy the meta-embedding's memory M [C, D] (row c: the centroid of class c) out.
 *  out: [n] float32, caller-owned; n must be C * D. out_dim: receives D, or NULL.
 *  out = NULL with n = 0 only queries D.
 *  Returns DH_OK, DH_E_INVALID_ARG (NULL model), DH_E_STATE (no meta-embedding),
 *  DH_E_SHAPE (n is not C * D; the message gives both). Thread-safety: shared.
 *  Since: 1.0 */
DH_API dh_status dh_model_get_class_memory(const struct dh_model *model, float *out, size_t n,
                                           uint32_t *out_dim);

#endif /* DH_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif
#endif /* DH_H */
