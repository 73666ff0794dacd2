"""dh.DeepHash: the 90 % case in the scikit-learn shape.

    h = dh.DeepHash(method="csq", bits=64, encoder="smallcnn", epochs=12).fit(train)
    codes = h.transform(x)                      # packed uint8 [n, ceil(bits/8)]
    h.save("m.safetensors"); h = dh.DeepHash.load("m.safetensors")
    D, I = h.index(db).search(q, 10)            # q: images, rows, a Dataset or codes

`fit` takes a dh.Dataset, or images (uint8 [n, H, W, C]) / feature rows (float32
[n, d]) with class ids y. Unsupervised methods (cibhash, bihalf, ...) need no y. The
input normalisation is the training images' per-channel mean and std unless given.
Everything else is the library's: the recipe (docs/recipes.md: optimizer, lr, epochs,
batch size, schedule, augmentation) fills what is not set, and the head is the one the
loss asks for. Extra keywords go to dh.Loss when they name a loss option (quant_weight,
margin, scale, schedule, ...) and to dh.Trainer when they name a trainer option
(crop_padding, flip_prob, crop_scale, jitter, lr_min_ratio, augment, weight_decay, ...);
recipe= and recipe_setting= go to both (the loss takes the row's method constants).
"""
import numpy as np

from .data import Dataset
from .index import Index
from .loss import Loss
from .model import Model
from .loss import LossOptions
from .train import _PAIRS, Trainer, TrainerOptions, encode_dataset

_LOSS_KEYS = {f for f, _ in LossOptions._fields_}
_TRAINER_KEYS = {f for f, _ in TrainerOptions._fields_} | set(_PAIRS)


def _as_dataset(x, y=None):
    if isinstance(x, Dataset):
        return x
    x = np.asarray(x)
    ids = None if y is None else np.ascontiguousarray(np.asarray(y, dtype=np.int32))
    if x.dtype == np.uint8 and x.ndim == 4:
        return Dataset.from_images(np.ascontiguousarray(x), class_ids=ids)
    if x.ndim == 2:
        return Dataset.from_features(np.ascontiguousarray(x, dtype=np.float32), class_ids=ids)
    raise ValueError(f"expected a dh.Dataset, uint8 images [n, H, W, C] or float rows [n, d], "
                     f"got an array of shape {x.shape} and dtype {x.dtype}")


def _channel_stats(ds, max_images=2000):
    """Per-channel mean and std of pixel/255 over (up to) max_images training images."""
    h, w, c = ds.image_shape
    n = min(len(ds), max_images)
    step = max(len(ds) // n, 1)
    px = np.stack([ds.image(i) for i in range(0, step * n, step)]).reshape(-1, c) / 255.0
    return px.mean(axis=0).tolist(), np.maximum(px.std(axis=0), 1e-3).tolist()


class DeepHash:
    """A deep hashing model trained with one of libdh's methods (see dh.loss_methods())."""

    def __init__(self, method="csq", bits=64, encoder="smallcnn", epochs=None, lr=None,
                 batch_size=None, optimizer=None, seed=0, mean=None, std=None, verbose=0,
                 recipe=None, recipe_setting=None, **options):
        self.method, self.bits, self.encoder, self.epochs = method, int(bits), encoder, epochs
        self.lr, self.batch_size, self.optimizer, self.seed = lr, batch_size, optimizer, seed
        self.mean, self.std, self.verbose = mean, std, verbose
        self.recipe, self.recipe_setting = recipe, recipe_setting
        bad = sorted(k for k in options if k not in _LOSS_KEYS | _TRAINER_KEYS)
        if bad:
            raise TypeError(f"DeepHash: unknown option(s) {bad}")
        # a name both structs have (schedule, seed) is the loss's, as before 1.3
        self.loss_options = {k: v for k, v in options.items() if k in _LOSS_KEYS}
        self.trainer_options = {k: v for k, v in options.items() if k not in _LOSS_KEYS}
        self.model_ = None

    def __repr__(self):
        state = "fitted" if self.model_ is not None else "not fitted"
        return (f"<dh.DeepHash {self.method} K={self.bits} encoder={self.encoder} "
                f"epochs={self.epochs} ({state})>")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.model_ = None

    def fit(self, x, y=None):
        """Train on a dh.Dataset, or on images / rows with class ids y. Returns self."""
        ds = _as_dataset(x, y)
        setting = self.recipe_setting or ("pretrained" if self.encoder in ("alexnet", "resnet18")
                                          else "scratch")
        loss = Loss(self.method, self.bits, ds.n_classes, n_train=len(ds), seed=self.seed,
                    recipe=self.recipe, recipe_setting=setting, **self.loss_options)
        head, beta = loss.head_hint()
        head = {"sign_ste": "sign"}.get(head, head)
        mean, std = self.mean, self.std
        if ds.is_image and (mean is None or std is None):
            m, s = _channel_stats(ds)
            mean = m if mean is None else mean
            std = s if std is None else std
        shape = None
        if ds.is_image:
            h, w, c = ds.image_shape
            shape = (c, h, w)
        self.model_ = Model.create(self.encoder, n_bits=self.bits, head=head, input_shape=shape,
                                   mean=mean, std=std, seed=self.seed,
                                   head_beta=beta if beta else None)
        opts = dict(self.trainer_options, seed=self.seed, verbose=self.verbose)
        if self.epochs is not None:
            opts["epochs"] = self.epochs
        if self.recipe is not None:
            opts["recipe"] = self.recipe
        if self.recipe_setting is not None:
            opts["recipe_setting"] = self.recipe_setting
        if self.lr is not None:
            opts["lr"] = self.lr
        if self.batch_size is not None:
            opts["batch_size"] = self.batch_size
        if self.optimizer is not None:
            opts["optimizer"] = self.optimizer
        Trainer(self.model_, loss, ds, **opts).run()
        return self

    def _model(self):
        if self.model_ is None:
            raise ValueError("this DeepHash is not fitted yet: call fit() or DeepHash.load()")
        return self.model_

    def transform(self, x):
        """Packed codes (uint8 [n, ceil(bits/8)], LSB-first) of a Dataset, images or rows."""
        m = self._model()
        if isinstance(x, Dataset):
            return encode_dataset(m, x)
        x = np.asarray(x)
        if x.dtype != np.uint8:
            x = np.ascontiguousarray(x, dtype=np.float32)
        return m.encode(np.ascontiguousarray(x))

    def fit_transform(self, x, y=None):
        """fit(x, y), then transform(x): the training samples' codes."""
        return self.fit(x, y).transform(x)

    def index(self, database, **index_options):
        """A dh.Index over the database's codes whose search() also takes raw queries."""
        ix = _EncodingIndex(self, self.bits, **index_options)
        ix.add(self.transform(database))
        return ix

    def save(self, path):
        """Save the model (a libdh model file: encoder, head, input normalisation)."""
        self._model().save(path)

    @classmethod
    def load(cls, path):
        """A fitted DeepHash from a model file saved by save() (or dh_model_save)."""
        m = Model.load(path)
        h = cls(method="(loaded)", bits=m.n_bits, encoder=m.encoder, epochs=0)
        h.model_ = m
        return h


class _EncodingIndex(Index):
    """An Index that encodes queries which are not already packed codes."""

    def __init__(self, hasher, n_bits, **options):
        super().__init__(n_bits, **options)
        self._hasher = hasher

    def _codes(self, q):
        if isinstance(q, Dataset):
            return self._hasher.transform(q)
        q = np.asarray(q)
        if q.dtype == np.uint8 and q.ndim == 2 and q.shape[1] == self.code_size:
            return q  # already codes
        return self._hasher.transform(q)

    def search(self, q, k, *args, **kwargs):
        return super().search(self._codes(q), k, *args, **kwargs)

    def range_search(self, q, radius, *args, **kwargs):
        return super().range_search(self._codes(q), radius, *args, **kwargs)
