"""libdh: deep hashing for image retrieval (Python bindings on ctypes + numpy).

The shared library is found through DH_LIBRARY, next to this package, a source
checkout's build/ folder, or the system loader (see dh._lib).
"""
from ._lib import (DhError, DhFileNotFoundError, DhFormatError, DhInvalidArgument,  # noqa: F401
                   DhIOError, DhMemoryError, DhNotFoundError, DhShapeError, DhStateError,
                   DhUnsupportedError, DhVersionError, last_error, lib as _cdll)

__version__ = _cdll.dh_version_string().decode()  # the loaded library's version
from .core import (ISA_AUTO, ISA_AVX2, ISA_AVX512BW, ISA_AVX512VPOPCNT, ISA_NEON, ISA_SCALAR,
                   code_bytes, cpu_has_isa, get_isa, get_num_threads, has_training,
                   isa_name, set_isa, set_num_threads, version)

# Modules per lib/ folder are imported here as they land (index, eval, data, ...).
# @@IMPORTS
if has_training():  # fine-grained models and the CUB / Aircraft list readers
    from . import finegrained  # noqa: E402  dh.finegrained.create_model, load_dataset
if has_training():  # class-incremental sessions (DIHN, DIH)
    from .incremental import incremental_session, set_fixed_codes  # noqa: E402
if has_training():  # long-tail hashing: class weights, LTHNet meta-embedding
    from . import longtail  # noqa: E402  dh.longtail.add_meta_embedding, ...
if has_training():  # encoders exist only in training builds
    from .nn import Encoder, EncoderOptions  # noqa: E402
if has_training():  # models and optimizers need the training build
    from .model import Model, Optimizer, schedule_lr  # noqa: E402
from . import data  # noqa: E402  dh.data.Dataset, dh.data.Loader, dh.data.npy_load, ...
from .data import Dataset, Loader, npy_load, npy_save  # noqa: E402
from .index import Index, hamming_distances, reverse_bit_order  # noqa: E402
from .index import pack as pack_codes, unpack as unpack_codes  # noqa: E402
if has_training():  # the loss section exists only in training builds
    from .loss import (Loss, centers_generate, centers_gv_distance,  # noqa: E402
                       loss_methods, method_flags, twostage_solve_codes)
from . import eval  # noqa: E402  dh.eval.mean_average_precision, evaluate, ...
if has_training():
    from .train import Trainer, encode_dataset  # noqa: E402
if has_training():  # the scikit-learn-shaped estimator: fit / transform / index / save
    from .estimator import DeepHash  # noqa: E402

__all__ = ["__version__", "DhError", "DhFileNotFoundError", "DhFormatError",
           "DhInvalidArgument", "DhIOError", "DhMemoryError", "DhNotFoundError", "DhShapeError",
           "DhStateError", "DhUnsupportedError", "DhVersionError", "last_error", "version", "set_num_threads", "get_num_threads",
           "cpu_has_isa", "set_isa", "get_isa", "isa_name", "code_bytes", "has_training",
           "ISA_AUTO", "ISA_SCALAR", "ISA_AVX2", "ISA_AVX512BW", "ISA_AVX512VPOPCNT", "ISA_NEON",
           "data", "Dataset", "Loader", "npy_load", "npy_save", "Index", "hamming_distances",
           "reverse_bit_order", "pack_codes", "unpack_codes", "eval"]
if has_training():
    __all__ += ["Model", "Optimizer", "schedule_lr", "Loss", "centers_generate",
                "centers_gv_distance", "loss_methods", "method_flags", "twostage_solve_codes",
                "Trainer", "encode_dataset", "DeepHash"]
