"""Handle lifetime, array and string conversion shared by the flp classes."""

from __future__ import annotations

import os
import weakref
from ctypes import byref, c_double, c_void_p

import numpy as np

from . import _lib
from .enums import Status
from .errors import InvalidArgumentError, ShapeError, StateError

check = _lib.check


class _Guarded:
    """libflp's functions as attributes, each refusing a closed handle argument
    with :class:`StateError` before calling into C."""

    def __init__(self, raw):
        self._raw = raw

    def __getattr__(self, name):
        fn = getattr(self._raw, name)

        def call(*args):
            for a in args:
                if isinstance(a, Handle) and a._ptr is None:
                    raise StateError(Status.ERR_STATE, f"{type(a).__name__} is closed")
            return fn(*args)

        call.__name__ = name
        setattr(self, name, call)
        return call


lib = _Guarded(_lib.lib)


def _free_handle(free_fn, ptr):
    free_fn(ptr)


class Handle:
    """Base of every libflp handle.

    A handle owns one C object and frees it with its ``flp_*_free`` exactly
    once: at :meth:`close`, at the end of a ``with`` block, or when the
    Python object is garbage-collected (a ``weakref.finalize`` finaliser,
    which also runs at interpreter exit, newest handle first).

    A handle that refers to others (a rule to its network, a lifetime to its
    network, feedback and rule) keeps them alive while it is alive; closing
    one of those explicitly closes the handles that refer to it first, so no
    C object ever outlives what it points to.
    """

    _free_name = None  # name of the C free function

    def __init__(self, ptr, parents=()):
        if not ptr:
            raise StateError(Status.ERR_STATE, f"{type(self).__name__}: the library returned NULL")
        self._ptr = ptr
        self._parents = tuple(p for p in parents if p is not None)
        self._children = weakref.WeakSet()
        for p in self._parents:
            p._children.add(self)
        self._finalizer = weakref.finalize(self, _free_handle, getattr(_lib.lib, self._free_name), ptr)

    @property
    def _as_parameter_(self):
        # ctypes passes a handle object as its pointer (argtype c_void_p);
        # `lib` refuses closed handles before the call.
        return c_void_p(self._ptr)

    @property
    def closed(self):
        """True once the C object has been freed."""
        return self._ptr is None

    def close(self):
        """Free the C object now (after closing every handle that refers to
        it). Closing twice is harmless."""
        for child in list(self._children):
            child.close()
        if self._ptr is not None:
            self._ptr = None
            self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        if self._ptr is None:
            return f"<flp.{type(self).__name__} closed>"
        return f"<flp.{type(self).__name__} at 0x{self._ptr:x}{self._describe()}>"

    def _describe(self):
        return ""


def create(fn, *args):
    """Call a ``flp_*_create(..., &out)`` and return the new pointer."""
    out = c_void_p()
    check(fn(*args, byref(out)))
    return out.value


def get_double(fn, handle, key):
    v = c_double()
    check(fn(handle, int(key), byref(v)))
    return v.value


def bounds(fn, *args):
    lo, hi = c_double(), c_double()
    check(fn(*args, byref(lo), byref(hi)))
    return lo.value, hi.value


def _no_nul(b, value, name):
    # C reads a char * up to its first NUL: "a.ckpt\0.bak" would reach libflp
    # as "a.ckpt", and another file than the one named would be used.
    if b"\0" in b:
        raise InvalidArgumentError(Status.ERR_INVALID, f"{name} {value!r} holds a NUL byte, which would cut "
                                   f"it short for libflp", "ERR_INVALID")
    return b


def c_path(p, name="path"):
    """A path (``str``, ``bytes`` or ``os.PathLike``) as the bytes libflp
    receives; one holding a NUL raises ``InvalidArgumentError``."""
    return _no_nul(os.fsencode(os.fspath(p)), p, name)


def c_text(s, name):
    """A ``str`` (as UTF-8) or ``bytes`` argument as the bytes libflp
    receives; one holding a NUL raises ``InvalidArgumentError``."""
    return _no_nul(s.encode("utf-8") if isinstance(s, str) else bytes(s), s, name)


def shape_error(message):
    """A :class:`ShapeError` raised by the binding itself (for C functions that
    take a pointer without a count, the binding checks shapes before calling)."""
    return ShapeError(Status.ERR_SHAPE, message, "ERR_SHAPE")


def as_input(a, dtype=np.float32, name="array"):
    """``a`` as a C-contiguous, aligned array of ``dtype``: the same object,
    without a copy, when it already is one; a converted copy otherwise."""
    return np.require(a, dtype=dtype, requirements=("C", "A"))


def check_output(out, shape, dtype=np.float32, name="out", exact=True):
    """A new array of ``shape`` when ``out`` is None; else ``out`` itself after
    checking that libflp may write into it directly (``dtype``, C-contiguous,
    writeable and, when ``exact``, the element count of ``shape``). Never copies:
    an ``out=`` array is always written in place."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, not {type(out).__name__}")
    if out.dtype != np.dtype(dtype):
        raise TypeError(f"{name} has dtype {out.dtype}, libflp writes {np.dtype(dtype)}")
    if not out.flags.c_contiguous or not out.flags.aligned:
        raise ValueError(f"{name} must be C-contiguous and aligned (libflp writes it in place)")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    if exact and out.size != int(np.prod(shape, dtype=np.int64)):
        raise shape_error(f"{name} has {out.size} elements (shape {out.shape}), "
                          f"expected shape {tuple(shape)}")
    return out


def ptr(a):
    """Address of an array's data, for an argument of type ``float *``."""
    return a.ctypes.data
