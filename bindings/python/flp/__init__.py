"""flp - Python bindings for libflp, meta-learning with feedback and local plasticity.

A thin, Pythonic layer over libflp's C ABI through ctypes: nothing to compile.
libflp itself is found through ``FLP_LIBRARY`` (a path), then the dynamic
linker, then the usual install prefixes (see :mod:`flp._lib`); its major
version must match :data:`EXPECTED_MAJOR`.

Meta-training on incremental sine waves::

    import flp

    rng = flp.Rng(1)
    net = flp.Net(11)
    for _ in range(3):
        net.add_linear(64).add_relu()
    net.add_linear(1).init(flp.Init.KAIMING_NORMAL, rng)
    fb = flp.Feedback(net).init(rng, beta=0.5)
    rule = flp.Rule(net, flp.RuleKind.OJA, plastic_last=3)
    lt = flp.Lifetime(net, fb, rule)
    meta = flp.Meta(net, fb, rule, lr={flp.Group.PLASTICITY: 1e-8})
    tasks = flp.Sampler.sine(seed=42)
    ep = flp.Episode()
    for step in range(100):
        loss = meta.train_step(lt, tasks.next(flp.Split.TRAIN, ep))
    meta.save("sine.ckpt", tasks)

Every handle class (:class:`Rng`, :class:`Net`, :class:`Feedback`,
:class:`Rule`, :class:`Episode`, :class:`Sampler`, :class:`Lifetime`,
:class:`Meta`, :class:`Batch`, :class:`Dataset`) frees its C object on
:meth:`~Handle.close`, at the end of a
``with`` block or when garbage-collected. Failing calls raise
:class:`FlpError` subclasses carrying the status and the library's message.
Arrays are NumPy ``float32`` in C order, passed without copies when they
already are that (``out=`` parameters let outputs be written in place).
"""

from ._lib import EXPECTED_MAJOR, check_version, last_error, lib as _clib, load_library
from .enums import *  # noqa: F401,F403
from .enums import __all__ as _enums_all
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all
from ._base import Handle
from .handles import *  # noqa: F401,F403
from .handles import __all__ as _handles_all
from .data import Dataset

__version__ = "0.1.0"


def version():
    """Version string of the loaded libflp ("MAJOR.MINOR.PATCH")."""
    return _clib.flp_version().decode("ascii")


def version_number():
    """Version of the loaded libflp as MAJOR*10000 + MINOR*100 + PATCH."""
    return int(_clib.flp_version_number())


def strerror(status):
    """Short description of a status code ("unknown status" if not known)."""
    return _clib.flp_strerror(int(status)).decode("utf-8", "replace")


def status_name(status):
    """A status code's name without prefix ("ERR_SHAPE")."""
    return _clib.flp_status_name(int(status)).decode("ascii", "replace")


def clear_error():
    """Forget the calling thread's last error message."""
    _clib.flp_clear_error()


def set_num_threads(n):
    """Number of threads every libflp call may use, BLIS's products and libflp's
    own loops alike (process-wide; default 1, or FLP_NUM_THREADS). Results do
    not depend on it."""
    from ._lib import check
    check(_clib.flp_set_num_threads(int(n)))


def get_num_threads():
    """Number of threads libflp's calls use."""
    from ctypes import byref, c_int
    from ._lib import check
    n = c_int()
    check(_clib.flp_get_num_threads(byref(n)))
    return n.value


def set_kernels(name):
    """Choose BLIS's kernel set before libflp's first product: "auto" (libflp's
    choice from the CPU's features, the default), "blis" (BLIS's own) or a set
    ("skx", "zen3", "haswell", ...). FLP_KERNELS in the environment does the same."""
    from ._base import c_text
    from ._lib import check
    check(_clib.flp_set_kernels(c_text(str(name), "name")))


def set_limit(limit, value):
    """Set a resource limit (:class:`flp.Limit`) for every later read, process-wide:
    the most pixels one image may declare, the most values one IDX file may
    declare, the largest split CSV file. A file beyond a limit raises
    ``RangeError`` naming it. Each starts at the environment variable of its
    name (``FLP_LIMIT_IMAGE_PIXELS``, ...) when set, else at its default."""
    from ._lib import check
    check(_clib.flp_set_limit(int(limit), int(value)))


def get_limit(limit):
    """A resource limit's current value."""
    from ctypes import byref, c_int64
    from ._lib import check
    v = c_int64()
    check(_clib.flp_get_limit(int(limit), byref(v)))
    return v.value


def limit_bounds(limit):
    """The values a resource limit accepts, as (lo, hi), both inclusive."""
    from ctypes import byref, c_int64
    from ._lib import check
    lo, hi = c_int64(), c_int64()
    check(_clib.flp_limit_bounds(int(limit), byref(lo), byref(hi)))
    return lo.value, hi.value


def kernels():
    """The BLIS kernel set in use and why, as (name, reason)."""
    return (_clib.flp_kernels().decode("ascii", "replace"),
            _clib.flp_kernels_reason().decode("utf-8", "replace"))


__all__ = (["EXPECTED_MAJOR", "Handle", "version", "version_number", "strerror", "status_name",
            "last_error", "clear_error", "set_num_threads", "get_num_threads", "set_kernels", "kernels", "set_limit", "get_limit",
            "limit_bounds", "load_library",
            "check_version", "Dataset"] + list(_enums_all) + list(_errors_all) + list(_handles_all))
