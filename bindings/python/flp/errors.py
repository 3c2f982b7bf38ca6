"""Exceptions raised by the flp binding.

Every libflp call that returns a non-zero ``flp_status`` raises an
:class:`FlpError` subclass chosen by the status. The exception carries the
status (:attr:`FlpError.status`, an :class:`flp.Status` where known), its
name (``"ERR_SHAPE"``) and the library's thread-local message
(:attr:`FlpError.message`, from ``flp_last_error()``), which names the C
function and the offending argument.

Each subclass also derives from the closest built-in exception, so
``except ValueError`` catches a wrong shape and ``except OSError`` an
unreadable checkpoint.
"""

from __future__ import annotations

__all__ = [
    "FlpError", "NullPointerError", "InvalidArgumentError", "ShapeError", "RangeError",
    "OutOfMemoryError", "FileIOError", "FormatError", "VersionError", "NonFiniteError",
    "StateError", "UnsupportedError", "LibraryNotFoundError", "LibraryVersionError",
    "error_for_status",
]


class FlpError(Exception):
    """A libflp call failed.

    Attributes:
        status: the ``flp_status`` code (an :class:`flp.Status` when known,
            else the raw ``int``).
        name: the code's name without prefix, e.g. ``"ERR_SHAPE"``.
        message: the library's message for this failure (``flp_last_error()``),
            or the status's description when the library left none.
    """

    status_code = None  # the flp_status value a subclass stands for

    def __init__(self, status, message, name=None):
        self.status = status
        self.name = name if name is not None else getattr(status, "name", str(status))
        self.message = message
        super().__init__(message)

    def __str__(self):
        return f"{self.message} [{self.name}]"

    def __repr__(self):
        return f"{type(self).__name__}({int(self.status)}, {self.message!r})"


class NullPointerError(FlpError, ValueError):
    """FLP_ERR_NULL: a required pointer was NULL."""
    status_code = -1


class InvalidArgumentError(FlpError, ValueError):
    """FLP_ERR_INVALID: an argument is not acceptable."""
    status_code = -2


class ShapeError(FlpError, ValueError):
    """FLP_ERR_SHAPE: an array's shape or count does not match the handle."""
    status_code = -3


class RangeError(FlpError, ValueError):
    """FLP_ERR_RANGE: a value is out of range (see the handle's ``bounds``)."""
    status_code = -4


class OutOfMemoryError(FlpError, MemoryError):
    """FLP_ERR_NOMEM: an allocation failed or a memory budget is too small."""
    status_code = -5


class FileIOError(FlpError, OSError):
    """FLP_ERR_IO: a file could not be opened, read or written."""
    status_code = -6


class FormatError(FlpError, ValueError):
    """FLP_ERR_FORMAT: a file is corrupt or not a libflp file."""
    status_code = -7


class VersionError(FlpError, ValueError):
    """FLP_ERR_VERSION: a file comes from an incompatible version or configuration."""
    status_code = -8


class NonFiniteError(FlpError, ArithmeticError):
    """FLP_ERR_NONFINITE: a NaN or infinity appeared (the message says where)."""
    status_code = -9


class StateError(FlpError, RuntimeError):
    """FLP_ERR_STATE: the call is not valid in the handle's current state
    (also raised by the binding for a handle that was closed)."""
    status_code = -10


class UnsupportedError(FlpError, NotImplementedError):
    """FLP_ERR_UNSUPPORTED: not supported by this build or configuration."""
    status_code = -11


class LibraryNotFoundError(ImportError):
    """libflp could not be found or loaded (set FLP_LIBRARY to its path)."""


class LibraryVersionError(ImportError):
    """The libflp found has another major version than this binding expects."""


_BY_STATUS = {cls.status_code: cls for cls in (
    NullPointerError, InvalidArgumentError, ShapeError, RangeError, OutOfMemoryError,
    FileIOError, FormatError, VersionError, NonFiniteError, StateError, UnsupportedError)}


def error_for_status(status):
    """The exception class for an ``flp_status`` value (:class:`FlpError`
    for codes this binding does not know: codes only grow)."""
    return _BY_STATUS.get(int(status), FlpError)
