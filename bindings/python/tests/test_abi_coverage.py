"""The binding's ctypes prototypes and enums agree with include/flp/*.h."""
import ctypes
import importlib.util
import os
import re
import sys

import pytest

import flp
from flp import _lib

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GENERATOR = os.path.join(REPO, "bindings", "julia", "generate.py")
if not os.path.isdir(os.path.join(REPO, "include", "flp")) or not os.path.exists(GENERATOR):
    pytest.skip("headers or header parser not present (not a source tree)", allow_module_level=True)

spec = importlib.util.spec_from_file_location("flp_generate", GENERATOR)
gen = importlib.util.module_from_spec(spec)
sys.modules["flp_generate"] = gen
spec.loader.exec_module(gen)
API = gen.parse_headers(os.path.join(REPO, "include"))

# The ctypes each C type may be declared with in PROTOTYPES.
SCALARS = {"int": ctypes.c_int, "unsigned": ctypes.c_uint, "double": ctypes.c_double,
           "float": ctypes.c_float, "int64_t": ctypes.c_int64, "uint64_t": ctypes.c_uint64}


def accepted(ctype):
    stars = ctype.count("*")
    base = " ".join(ctype.replace("*", " ").replace("const", " ").split())
    if stars == 0:
        if base == "void":
            return {None}
        if base in API.enums:
            return {ctypes.c_int}
        if base in API.callbacks:
            return {_lib.LR_SCHEDULE}
        return {SCALARS[base]}
    if base == "char" and stars == 1:
        return {ctypes.c_char_p}
    if base == "char" and stars == 2:
        return {ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_char_p)}
    if stars == 2:
        return {ctypes.POINTER(ctypes.c_void_p)}
    if base in API.structs or base in ("void", "float", "int32_t"):
        return {ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)}
    if base in API.enums:
        return {ctypes.POINTER(ctypes.c_int)}
    return {ctypes.POINTER(SCALARS[base])}


def test_prototypes_match_the_headers():
    declared = {f.name: f for f in API.functions}
    stale = sorted(set(_lib.PROTOTYPES) - set(declared))
    assert not stale, f"PROTOTYPES lists functions the headers no longer declare: {stale}"
    for name, (restype, argtypes) in _lib.PROTOTYPES.items():
        f = declared[name]
        assert restype in accepted(f.ret), f"{name}: returns {f.ret}, declared {restype}"
        assert len(argtypes) == len(f.params), f"{name}: {len(f.params)} parameters in C"
        for i, (p, t) in enumerate(zip(f.params, argtypes)):
            assert t in accepted(p.ctype), f"{name}: parameter {i} ({p.ctype} {p.name}) as {t}"


def test_every_header_function_has_a_prototype():
    """Coverage is complete: a function added to include/flp/*.h needs its
    ctypes prototype in flp/_lib.py PROTOTYPES (and a Python wrapper)."""
    declared = {f.name for f in API.functions}
    missing = sorted(declared - set(_lib.PROTOTYPES))
    assert not missing, f"functions without a Python prototype in flp/_lib.py: {missing}"


ENUMS = {"flp_status": flp.Status, "flp_group": flp.Group, "flp_layer_kind": flp.LayerKind,
         "flp_param": flp.Param, "flp_init": flp.Init, "flp_signal": flp.Signal,
         "flp_feedback_key": flp.FeedbackKey, "flp_feedback_tensor": flp.FeedbackTensor,
         "flp_feedback_kind": flp.FeedbackKind, "flp_rule_term": flp.RuleTerm,
         "flp_rule_kind": flp.RuleKind, "flp_granularity": flp.Granularity,
         "flp_rule_key": flp.RuleKey, "flp_episode_array": flp.EpisodeArray,
         "flp_split": flp.Split, "flp_order": flp.Order, "flp_sine_key": flp.SineKey,
         "flp_fewshot_key": flp.FewshotKey,
         "flp_lifetime_key": flp.LifetimeKey, "flp_meta_key": flp.MetaKey,
         "flp_batch_key": flp.BatchKey, "flp_tensor_array": flp.TensorArray, "flp_limit": flp.Limit}


@pytest.mark.parametrize("cname", sorted(ENUMS))
def test_enum_values_match_the_headers(cname):
    py = ENUMS[cname]
    c = dict(API.enums[cname])
    for member in py:
        matches = [k for k, v in c.items() if k.endswith("_" + member.name) and v == member.value]
        assert matches, f"{py.__name__}.{member.name} = {member.value} is not in {cname}: {c}"
    assert len(py) == len(c), f"{cname} has {len(c)} values, {py.__name__} {len(py)}"


def test_experimental_functions_match_the_headers():
    """_lib.EXPERIMENTAL lists exactly what the headers gate behind FLP_EXPERIMENTAL."""
    gated = {f.name for f in API.functions if f.experimental}
    assert gated, "the header parser found no FLP_EXPERIMENTAL section"
    assert set(_lib.EXPERIMENTAL) == gated


@pytest.mark.parametrize("cname", sorted(ENUMS))
def test_experimental_members_are_documented(cname):
    """Every enum member the headers gate is named as experimental in its
    class's docstring, and no other member is."""
    py = ENUMS[cname]
    doc = py.__doc__ or ""
    said = set()
    for line in doc.split("Experimental", 1)[1:]:
        said = set(re.findall(r"\b[A-Z][A-Z0-9_]+\b", line)) & set(py.__members__)
    gated = {m.name for m in py for k, v in API.enums[cname]
             if k in API.experimental and k.endswith("_" + m.name) and v == m.value}
    assert said == gated, f"{py.__name__}: docstring names {sorted(said)} as experimental, the headers gate {sorted(gated)}"


def test_every_key_enum_comes_from_a_key_map():
    """The settings enums are generated by the headers' key maps (and the
    parser expands them): every map feeds an enum the binding has."""
    assert set(API.keymaps) == {"FLP_FEEDBACK_KEY_MAP", "FLP_RULE_KEY_MAP", "FLP_SINE_KEY_MAP",
                                "FLP_FEWSHOT_KEY_MAP", "FLP_LIFETIME_KEY_MAP", "FLP_META_KEY_MAP",
                                "FLP_BATCH_KEY_MAP", "FLP_FEEDBACK_KEY_MAP_EXPERIMENTAL",
                                "FLP_RULE_KEY_MAP_EXPERIMENTAL", "FLP_LIFETIME_KEY_MAP_EXPERIMENTAL"}
    for mp, uses in API.keymap_enums.items():
        for cname, _, _ in uses:
            assert cname in ENUMS, f"{mp} generates {cname}, which has no Python enum"


@pytest.mark.parametrize("mp", sorted(gen.parse_headers(os.path.join(REPO, "include")).keymaps))
def test_python_key_enums_match_the_key_maps(mp):
    """Every key of a C key map is in the Python enum it generates, with the
    same value (a forwarded map, as the batch forwards the lifetime's keys,
    with its offset)."""
    assert API.keymap_enums.get(mp), f"{mp} generates no enum"
    for cname, prefix, offset in API.keymap_enums[mp]:
        py = ENUMS[cname]
        for handle, name, value, _ in API.keymaps[mp]:
            assert name in py.__members__, f"{prefix or handle}_{name} ({mp}) is missing from {py.__name__}"
            assert py[name].value == value + offset, \
                f"{py.__name__}.{name} = {py[name].value}, {mp} says {value + offset}"
