"""Finding and loading libflp, and the ctypes prototypes of its C ABI.

Search order (the first that loads wins):

1. the path in the environment variable ``FLP_LIBRARY`` (and nothing else
   when it is set: a wrong path is an error, not a fallback);
2. ``ctypes.util.find_library("flp")`` (the linker cache, LD_LIBRARY_PATH);
3. the soname ``libflp.so.<major>`` through the dynamic loader's own search;
4. a build tree beside this package (``<repo>/build/lib``) and the usual
   install prefixes (/usr/local/lib, /usr/lib, with the multiarch folders).

At load the library's major version (``flp_version_number() // 10000``) must
equal :data:`EXPECTED_MAJOR`: same major = same ABI.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from ctypes import (CFUNCTYPE, POINTER, c_char_p, c_double, c_float, c_int, c_int32, c_int64,
                    c_uint, c_uint64, c_void_p)

from .errors import LibraryNotFoundError, LibraryVersionError, error_for_status
from .enums import Status

#: The libflp major version (ABI) this binding is written for.
EXPECTED_MAJOR = 0

# ---- prototypes --------------------------------------------------------------
# Handles and arrays travel as c_void_p: a handle object passes itself through
# its _as_parameter_, a NumPy array its arr.ctypes.data (no copy).
H = c_void_p          # any handle
PH = POINTER(c_void_p)  # flp_x **out
A = c_void_p          # float / int32 array
ST = c_int            # flp_status (a C enum: int)
PI64 = POINTER(c_int64)
PD = POINTER(c_double)
PI = POINTER(c_int)
PU64 = POINTER(c_uint64)
PPF = POINTER(c_void_p)  # const float ** / const int32_t **
PPC = POINTER(c_char_p)  # const char ** (a string owned by libflp)

#: The functions the C headers declare only under ``FLP_EXPERIMENTAL``: exported,
#: but outside the ABI promise (they may change or disappear in any release;
#: doc/CONVENTIONS.md). tests/test_abi_coverage.py checks the set against the headers.
EXPERIMENTAL = frozenset({
    "flp_rule_theta_count", "flp_rule_get_theta", "flp_rule_set_theta", "flp_rule_get_theta_grad",
    "flp_analysis_update_trace", "flp_analysis_interference", "flp_analysis_linear_probe",
})

#: flp_lr_schedule: double (*)(flp_group group, int64_t step, double base_lr, void *user)
LR_SCHEDULE = CFUNCTYPE(c_double, c_int, c_int64, c_double, c_void_p)

#: name -> (restype, argtypes): every function declared with FLP_API in
#: include/flp/*.h (tests/test_abi_coverage.py checks the list against the headers).
PROTOTYPES = {
    # flp_common.h
    "flp_version_number": (c_uint, []),
    "flp_version": (c_char_p, []),
    "flp_strerror": (c_char_p, [c_int]),
    "flp_status_name": (c_char_p, [c_int]),
    "flp_last_error": (c_char_p, []),
    "flp_clear_error": (None, []),
    "flp_set_num_threads": (ST, [c_int]),
    "flp_get_num_threads": (ST, [PI]),
    "flp_set_kernels": (ST, [c_char_p]),
    "flp_kernels": (c_char_p, []),
    "flp_kernels_reason": (c_char_p, []),
    "flp_set_limit": (ST, [c_int, c_int64]),
    "flp_get_limit": (ST, [c_int, PI64]),
    "flp_limit_bounds": (ST, [c_int, PI64, PI64]),
    # flp_rng.h
    "flp_rng_create": (ST, [c_uint64, PH]),
    "flp_rng_free": (None, [H]),
    "flp_rng_seed": (ST, [H, c_uint64]),
    "flp_rng_next": (ST, [H, PU64]),
    "flp_rng_uniform": (ST, [H, c_float, c_float, A, c_int64]),
    "flp_rng_normal": (ST, [H, c_float, c_float, A, c_int64]),
    "flp_rng_get_state": (ST, [H, PU64]),
    "flp_rng_set_state": (ST, [H, PU64]),
    # flp_net.h
    "flp_net_create": (ST, [c_int, PI64, PH]),
    "flp_net_free": (None, [H]),
    "flp_net_add_linear": (ST, [H, c_int64, c_int]),
    "flp_net_add_conv2d": (ST, [H, c_int64, c_int64, c_int64, c_int64, c_int64, c_int]),
    "flp_net_add_relu": (ST, [H]),
    "flp_net_add_softplus": (ST, [H, c_float]),
    "flp_net_add_flatten": (ST, [H]),
    "flp_net_num_layers": (ST, [H, PI]),
    "flp_net_layer_kind": (ST, [H, c_int, PI]),
    "flp_net_layer_shape": (ST, [H, c_int, PI, PI64]),
    "flp_net_io_size": (ST, [H, PI64, PI64]),
    "flp_net_param_count": (ST, [H, c_int, c_int, PI64]),
    "flp_net_get_param": (ST, [H, c_int, c_int, A, c_int64]),
    "flp_net_set_param": (ST, [H, c_int, c_int, A, c_int64]),
    "flp_net_get_grad": (ST, [H, c_int, c_int, A, c_int64]),
    "flp_net_zero_grad": (ST, [H]),
    "flp_net_init": (ST, [H, c_int, H]),
    "flp_net_forward": (ST, [H, c_int64, A, A]),
    "flp_net_backward": (ST, [H, A, A]),
    # flp_plasticity.h
    "flp_feedback_create": (ST, [H, PH]),
    "flp_feedback_free": (None, [H]),
    "flp_feedback_set": (ST, [H, c_int, c_double]),
    "flp_feedback_get": (ST, [H, c_int, PD]),
    "flp_feedback_bounds": (ST, [c_int, PD, PD]),
    "flp_feedback_init": (ST, [H, H, c_float]),
    "flp_feedback_count": (ST, [H, c_int, c_int, PI64]),
    "flp_feedback_get_param": (ST, [H, c_int, c_int, A, c_int64]),
    "flp_feedback_set_param": (ST, [H, c_int, c_int, A, c_int64]),
    "flp_feedback_get_grad": (ST, [H, c_int, c_int, A, c_int64]),
    "flp_feedback_zero_grad": (ST, [H]),
    "flp_rule_create": (ST, [H, c_int, PH]),
    "flp_rule_free": (None, [H]),
    "flp_rule_set": (ST, [H, c_int, c_double]),
    "flp_rule_get": (ST, [H, c_int, PD]),
    "flp_rule_bounds": (ST, [c_int, PD, PD]),
    "flp_rule_kind_of": (ST, [H, PI]),
    "flp_rule_set_plastic_mask": (ST, [H, PI, c_int]),
    "flp_rule_is_plastic": (ST, [H, c_int, PI]),
    "flp_rule_alpha_count": (ST, [H, c_int, PI64]),
    "flp_rule_get_alpha": (ST, [H, c_int, A, c_int64]),
    "flp_rule_set_alpha": (ST, [H, c_int, A, c_int64]),
    "flp_rule_get_alpha_grad": (ST, [H, c_int, A, c_int64]),
    "flp_rule_zero_grad": (ST, [H]),
    "flp_rule_lr_bias_count": (ST, [H, c_int, PI64]),
    "flp_rule_get_lr_bias": (ST, [H, c_int, A, c_int64]),
    "flp_rule_set_lr_bias": (ST, [H, c_int, A, c_int64]),
    "flp_rule_get_lr_bias_grad": (ST, [H, c_int, A, c_int64]),
    # flp_plasticity.h, experimental section
    "flp_rule_theta_count": (ST, [H, PI64]),
    "flp_rule_get_theta": (ST, [H, A, c_int64]),
    "flp_rule_set_theta": (ST, [H, A, c_int64]),
    "flp_rule_get_theta_grad": (ST, [H, A, c_int64]),
    # flp_episode.h
    "flp_episode_create": (ST, [PH]),
    "flp_episode_free": (None, [H]),
    "flp_episode_set_regression": (ST, [H, c_int64, c_int64, c_int64, c_int64, A, A, c_int64,
                                        A, A]),
    "flp_episode_set_classes": (ST, [H, c_int64, c_int64, c_int64, c_int64, A, A, c_int64,
                                     A, A]),
    "flp_episode_shape": (ST, [H, PI64, PI64, PI64, PI64, PI64, PI]),
    "flp_episode_floats": (ST, [H, c_int, PPF, PI64]),
    "flp_episode_labels": (ST, [H, c_int, PPF, PI64]),
    "flp_sampler_create_sine": (ST, [c_uint64, PH]),
    "flp_sampler_free": (None, [H]),
    "flp_sampler_set": (ST, [H, c_int, c_double]),
    "flp_sampler_get": (ST, [H, c_int, PD]),
    "flp_sampler_bounds": (ST, [H, c_int, PD, PD]),
    "flp_sampler_io_size": (ST, [H, PI64, PI64, PI]),
    "flp_sampler_next": (ST, [H, c_int, H]),
    # flp_data.h
    "flp_dataset_open_omniglot": (ST, [c_char_p, c_int, PH]),
    "flp_dataset_open_miniimagenet": (ST, [c_char_p, c_char_p, c_int, PH]),
    "flp_dataset_open_idx": (ST, [c_char_p, c_char_p, PH]),
    "flp_dataset_free": (None, [H]),
    "flp_dataset_num_classes": (ST, [H, PI64]),
    "flp_dataset_class_size": (ST, [H, c_int64, PI64]),
    "flp_dataset_class_name": (ST, [H, c_int64, PPC]),
    "flp_dataset_example_path": (ST, [H, c_int64, c_int64, PPC]),
    "flp_dataset_image_shape": (ST, [H, PI64, PI64, PI64]),
    "flp_dataset_get": (ST, [H, c_int64, c_int64, A, c_int64]),
    "flp_dataset_preload": (ST, [H]),
    "flp_dataset_subset": (ST, [H, PI64, c_int64, PH]),
    "flp_dataset_split_by_alphabet": (ST, [H, c_int64, PH, PH]),
    "flp_dataset_num_alphabets": (ST, [H, PI64]),
    "flp_sampler_create_fewshot": (ST, [H, H, c_uint64, PH]),
    # flp_lifetime.h
    "flp_lifetime_create": (ST, [H, H, H, PH]),
    "flp_lifetime_free": (None, [H]),
    "flp_lifetime_set": (ST, [H, c_int, c_double]),
    "flp_lifetime_get": (ST, [H, c_int, PD]),
    "flp_lifetime_bounds": (ST, [c_int, PD, PD]),
    "flp_lifetime_run": (ST, [H, H, c_int, POINTER(c_float)]),
    "flp_lifetime_final_weight": (ST, [H, c_int, A, c_int64]),
    "flp_lifetime_final_bias": (ST, [H, c_int, A, c_int64]),
    "flp_lifetime_predict": (ST, [H, c_int64, A, A]),
    "flp_lifetime_stats": (ST, [H, PI64, PI64]),
    "flp_lifetime_work": (ST, [H, PD]),
    # flp_analysis.h (experimental, the whole header)
    "flp_analysis_update_trace": (ST, [H, H, c_int64, c_int, PD, PD]),
    "flp_analysis_interference": (ST, [H, H, c_int64, c_int64, PD]),
    "flp_analysis_linear_probe": (ST, [H, H, c_double, PD, PD, A, c_int64]),
    # flp_meta.h
    "flp_meta_create": (ST, [H, H, H, PH]),
    "flp_meta_free": (None, [H]),
    "flp_meta_set": (ST, [H, c_int, c_double]),
    "flp_meta_get": (ST, [H, c_int, PD]),
    "flp_meta_bounds": (ST, [c_int, PD, PD]),
    "flp_meta_set_lr": (ST, [H, c_int, c_double]),
    "flp_meta_get_lr": (ST, [H, c_int, PD]),
    "flp_meta_freeze": (ST, [H, c_int, c_int]),
    "flp_meta_set_step_decay": (ST, [H, c_int, c_double, PI64, c_int]),
    "flp_meta_set_schedule": (ST, [H, LR_SCHEDULE, c_void_p]),
    "flp_meta_zero_grad": (ST, [H]),
    "flp_meta_scale_grad": (ST, [H, c_double]),
    "flp_meta_grad_count": (ST, [H, PI64]),
    "flp_meta_get_grads": (ST, [H, A, c_int64]),
    "flp_meta_set_grads": (ST, [H, A, c_int64]),
    "flp_meta_step": (ST, [H]),
    "flp_meta_train_step": (ST, [H, H, H, POINTER(c_float)]),
    "flp_meta_step_count": (ST, [H, PI64]),
    "flp_meta_grad_norm": (ST, [H, c_int, PD]),
    "flp_checkpoint_save": (ST, [c_char_p, H, H]),
    "flp_checkpoint_load": (ST, [c_char_p, H, H]),
    # flp_params.h
    "flp_meta_tensor_count": (ST, [H, PI]),
    "flp_meta_tensor_info": (ST, [H, c_int, PPC, PI, PI, PI64, PI64]),
    "flp_meta_tensor_find": (ST, [H, c_char_p, PI]),
    "flp_meta_tensor_get": (ST, [H, c_int, c_int, A, c_int64]),
    "flp_meta_tensor_set": (ST, [H, c_int, c_int, A, c_int64]),
    # flp_batch.h
    "flp_batch_create": (ST, [H, PH]),
    "flp_batch_free": (None, [H]),
    "flp_batch_set": (ST, [H, c_int, c_double]),
    "flp_batch_get": (ST, [H, c_int, PD]),
    "flp_batch_bounds": (ST, [c_int, PD, PD]),
    "flp_batch_run": (ST, [H, PH, c_int, A]),
    "flp_batch_train_step": (ST, [H, PH, c_int, A]),
}


def _candidates():
    """Library names and paths to try, in order (FLP_LIBRARY alone when set)."""
    env = os.environ.get("FLP_LIBRARY")
    if env:
        return [env]
    names = []
    found = ctypes.util.find_library("flp")
    if found:
        names.append(found)
    names.append(f"libflp.so.{EXPECTED_MAJOR}")
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", "..", ".."))
    dirs = [os.path.join(repo, "build", "lib")]
    multiarch = getattr(sys.implementation, "_multiarch", None)
    for prefix in ("/usr/local/lib", "/usr/lib", "/usr/local/lib64", "/usr/lib64"):
        if multiarch:
            dirs.append(os.path.join(prefix, multiarch))
        dirs.append(prefix)
    if sys.platform == "darwin":
        soname = f"libflp.{EXPECTED_MAJOR}.dylib"
    else:
        soname = f"libflp.so.{EXPECTED_MAJOR}"
    names += [os.path.join(d, soname) for d in dirs]
    return names


def _declare(lib):
    for name, (restype, argtypes) in PROTOTYPES.items():
        fn = getattr(lib, name)  # AttributeError: the library lacks a function
        fn.restype = restype
        fn.argtypes = argtypes


def check_version(number, expected_major=EXPECTED_MAJOR, where="libflp"):
    """Raise :class:`LibraryVersionError` unless ``number`` (as returned by
    ``flp_version_number()``) has major version ``expected_major``."""
    major = int(number) // 10000
    if major != expected_major:
        raise LibraryVersionError(
            f"{where} has version {major}.{int(number) // 100 % 100}.{int(number) % 100}, "
            f"this flp binding needs major version {expected_major} (same major = same ABI)")


def load_library(path=None, expected_major=EXPECTED_MAJOR):
    """Load libflp (from ``path``, or by the search order above), check its
    major version and declare the prototypes. Returns the ``ctypes.CDLL``."""
    tried = []
    for cand in ([path] if path else _candidates()):
        try:
            lib = ctypes.CDLL(cand)
        except OSError as e:
            tried.append(f"{cand}: {e}")
            continue
        try:
            lib.flp_version_number.restype = c_uint
            lib.flp_version_number.argtypes = []
        except AttributeError:
            tried.append(f"{cand}: not libflp (no flp_version_number)")
            continue
        check_version(lib.flp_version_number(), expected_major, where=cand)
        try:
            _declare(lib)
        except AttributeError as e:
            raise LibraryVersionError(f"{cand} lacks a function this binding needs: {e}") from None
        return lib
    raise LibraryNotFoundError(
        "libflp not found; set FLP_LIBRARY to the path of libflp.so (for a build tree: "
        "build/lib/libflp.so). Tried:\n  " + "\n  ".join(tried))


lib = load_library()


def last_error():
    """The calling thread's last libflp error message ("" if none)."""
    return lib.flp_last_error().decode("utf-8", "replace")


def status_of(code):
    """``code`` as a :class:`Status` where known, else the plain ``int``."""
    try:
        return Status(code)
    except ValueError:
        return int(code)


def raise_status(code, message=None):
    """Raise the :class:`FlpError` subclass for ``code`` with ``message`` (or
    the library's thread-local message, or the status description)."""
    if message is None:
        message = last_error()
    if not message:
        message = lib.flp_strerror(code).decode("utf-8", "replace")
    name = lib.flp_status_name(code).decode("ascii", "replace")
    raise error_for_status(code)(status_of(code), message, name)


def check(code):
    """Raise for a non-zero ``flp_status``; read the message at once, on the
    thread that made the call (the message is thread-local)."""
    if code != 0:
        raise_status(code)
