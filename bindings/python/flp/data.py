"""Image data sets (Omniglot, Mini-ImageNet, IDX) over libflp's flp_data.h.

Open a folder with a class method, read images as NumPy ``float32`` arrays
[C, H, W], make meta-train / meta-test views, and draw N-way k-shot episodes
with :meth:`flp.Sampler.fewshot`::

    with flp.Dataset.open_omniglot("images_background", 28) as all_:
        train, test = all_.split_by_alphabet(3)
    tasks = flp.Sampler.fewshot(train, test, seed=42, ways=5, shots=5)
    ep = tasks.next(flp.Split.TRAIN)

Lifetimes: a view (from :meth:`Dataset.subset` or
:meth:`Dataset.split_by_alphabet`) shares its parent's images and cache
through a reference count inside libflp, so parent and views may be closed
in any order: closing the parent never invalidates a view (nor a sampler
made from either). A data set, its views and their samplers share one
cache: use them from one thread at a time.
"""

from __future__ import annotations

import os
from ctypes import byref, c_char_p, c_int64, c_void_p

from ._base import Handle, c_path, c_text, check, check_output, create, lib, ptr

__all__ = ["Dataset"]


class Dataset(Handle):
    """An image data set: classes of examples, each an image of
    :attr:`image_shape` (channels, height, width). Images are decoded lazily,
    on first use (or all at once by :meth:`preload`), and cached.

    ``len(ds)`` is the number of classes; ``ds[cls, index]`` is :meth:`get`.
    """

    _free_name = "flp_dataset_free"

    def __init__(self, ptr, parent=None):
        # Views do not list their parent as a Handle parent: libflp keeps the
        # shared store alive for them (closing the parent must not close them).
        super().__init__(ptr)
        self._parent = parent  # informative only (see the module docstring)

    # ---- opening -------------------------------------------------------------
    @classmethod
    def open_omniglot(cls, directory, size=28):
        """Open an Omniglot folder in the official layout
        ``dir/<alphabet>/<character>/*.png``; images become 1 x size x size
        floats in [0, 1] with ink 1. Raises ``FileIOError`` / ``FormatError`` /
        ``RangeError`` (see flp_data.h) carrying libflp's message."""
        return cls(create(lib.flp_dataset_open_omniglot, c_path(directory, "directory"), int(size)))

    @classmethod
    def open_miniimagenet(cls, directory, split="train", size=84):
        """Open one split ("train", "val", "test") of Mini-ImageNet: JPEGs in
        ``dir/images/`` listed by ``dir/<split>.csv``; images become 3 x size x
        size floats normalised with the ImageNet mean and deviation."""
        return cls(create(lib.flp_dataset_open_miniimagenet, c_path(directory, "directory"), c_text(split, "split"),
                          int(size)))

    @classmethod
    def open_idx(cls, directory, split="train"):
        """Open one split ("train" or "t10k") of a folder in the MNIST layout
        (``<split>-images-idx3-ubyte`` and ``<split>-labels-idx1-ubyte``, raw or
        ``.gz``); every label is a class. The whole split is read now."""
        return cls(create(lib.flp_dataset_open_idx, c_path(directory, "directory"), c_text(split, "split")))

    # ---- queries -------------------------------------------------------------
    @property
    def num_classes(self):
        """Number of classes."""
        n = c_int64()
        check(lib.flp_dataset_num_classes(self, byref(n)))
        return n.value

    def __len__(self):
        return self.num_classes

    def class_size(self, cls):
        """Number of examples of class ``cls``."""
        n = c_int64()
        check(lib.flp_dataset_class_size(self, int(cls), byref(n)))
        return n.value

    def class_name(self, cls):
        """Name of class ``cls`` ("Greek/character03", "n01532829", "7")."""
        s = c_char_p()
        check(lib.flp_dataset_class_name(self, int(cls), byref(s)))
        return s.value.decode("utf-8", "surrogateescape")

    @property
    def class_names(self):
        """Every class name, in class order."""
        return [self.class_name(c) for c in range(self.num_classes)]

    def example_path(self, cls, index):
        """Path of the file behind example ``index`` of class ``cls``."""
        s = c_char_p()
        check(lib.flp_dataset_example_path(self, int(cls), int(index), byref(s)))
        return os.fsdecode(s.value)

    @property
    def image_shape(self):
        """(channels, height, width) of every image."""
        c, h, w = c_int64(), c_int64(), c_int64()
        check(lib.flp_dataset_image_shape(self, byref(c), byref(h), byref(w)))
        return c.value, h.value, w.value

    @property
    def num_alphabets(self):
        """Number of alphabets (Omniglot; 0 for other data sets)."""
        n = c_int64()
        check(lib.flp_dataset_num_alphabets(self, byref(n)))
        return n.value

    # ---- images --------------------------------------------------------------
    def get(self, cls, index, out=None):
        """Example ``index`` of class ``cls`` as a new float32 array
        [C, H, W], or written into ``out`` (float32, C-contiguous, C*H*W
        elements in any shape) in place, without a copy; returns it. ``out``
        is untouched on failure."""
        out = check_output(out, self.image_shape, exact=False)
        check(lib.flp_dataset_get(self, int(cls), int(index), ptr(out), out.size))
        return out

    def __getitem__(self, key):
        cls, index = key
        return self.get(cls, index)

    def preload(self):
        """Decode every image now (stops at the first unreadable one, raising)."""
        check(lib.flp_dataset_preload(self))
        return self

    # ---- views ---------------------------------------------------------------
    def subset(self, classes):
        """A view holding classes ``classes`` (indices of this data set, each
        once), in that order."""
        idx = [int(c) for c in classes]
        arr = (c_int64 * max(len(idx), 1))(*idx)
        return Dataset(create(lib.flp_dataset_subset, self, arr, len(idx)), parent=self)

    def split_by_alphabet(self, n_train):
        """(train, eval) views of an Omniglot data set: the first ``n_train``
        alphabets in name order, and the others."""
        tr, ev = c_void_p(), c_void_p()
        check(lib.flp_dataset_split_by_alphabet(self, int(n_train), byref(tr), byref(ev)))
        train = Dataset(tr.value, parent=self)
        try:
            return train, Dataset(ev.value, parent=self)
        except BaseException:
            train.close()
            raise

    def _describe(self):
        try:
            return f" classes={self.num_classes} image={self.image_shape}"
        except Exception:
            return ""
