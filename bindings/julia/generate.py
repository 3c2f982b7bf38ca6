#!/usr/bin/python3
"""generate.py - write bindings/julia/src/Flp.jl from the public headers.

    /usr/bin/python3 bindings/julia/generate.py [--include DIR] [--output FILE]

Reads include/flp/*.h and writes a Julia module wrapping EVERY function
declared with FLP_API with @ccall, plus the headers' constants, status codes
and enums, and the opaque handle types. Nothing but the standard library.
The hand-written layer (src/convenience.jl) is included at the end.

The header parser is also a module (`parse_headers`) that the Python
binding's tests use to check their prototypes against the headers. It reads
the subset of C the public headers use: opaque `typedef struct x x;`,
`typedef enum { A = 0, ... } name;` (and the X-macros: FLP_STATUS_MAP and
the key maps FLP_<HANDLE>_KEY_MAP, expanded by FLP__KEY_ENUM or a
forwarding macro `FLP_<P>_##name = N + (value),`),
`#define NAME integer`, one function-pointer typedef, and declarations
`FLP_API ret name(params);`. What `#ifdef FLP_EXPERIMENTAL ... #endif`
encloses (functions, enumerators, key maps) is parsed like the rest and
marked experimental (an `#else` branch of it is skipped: it holds the empty
definitions of the experimental key maps): the Julia docstrings say so, and the Python binding's tests
check that its docstrings do. The C side checks the result independently
(tests/julia_wrapper.sh lists the FLP_API names with tests/api-names.sh).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))

# Header order: the umbrella's include order (dependencies first), others after.
ORDER = ["flp_common.h", "flp_rng.h", "flp_net.h", "flp_plasticity.h", "flp_episode.h",
         "flp_lifetime.h", "flp_meta.h"]


@dataclass
class Param:
    name: str
    ctype: str          # normalised C type, e.g. "const int64_t *" (arrays become pointers)


@dataclass
class Function:
    name: str
    ret: str
    params: list
    header: str
    doc: str = ""
    deprecated: bool = False
    experimental: bool = False      # declared under #ifdef FLP_EXPERIMENTAL


@dataclass
class Api:
    functions: list = field(default_factory=list)      # [Function], in header order
    enums: dict = field(default_factory=dict)          # name -> [(enumerator, value)]
    structs: list = field(default_factory=list)        # opaque handle type names
    callbacks: dict = field(default_factory=dict)      # typedef name -> C signature text
    defines: dict = field(default_factory=dict)        # NAME -> int
    statuses: list = field(default_factory=list)       # [(NAME, value, message)]
    experimental: set = field(default_factory=set)     # names declared under FLP_EXPERIMENTAL
    keymaps: dict = field(default_factory=dict)        # FLP_X_KEY_MAP -> [(HANDLE, NAME, value, type)]
    keymap_enums: dict = field(default_factory=dict)   # FLP_X_KEY_MAP -> [(enum, prefix, offset)]
    experimental_keymaps: set = field(default_factory=set)  # key maps defined under FLP_EXPERIMENTAL


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|/\*.*?\*/|//[^\n]*|.', re.S)


def strip_comments(text):
    """Remove comments (keeping strings and line structure)."""
    out = []
    for m in _TOKEN.finditer(text):
        t = m.group(0)
        if t.startswith("/*"):
            out.append("\n" * t.count("\n") or " ")
        elif t.startswith("//"):
            out.append(" ")
        else:
            out.append(t)
    return "".join(out)


def doc_comments(text):
    """name -> the /** ... */ comment heading the block of FLP_API declarations
    the function belongs to (declarations right after one comment share it)."""
    docs, current = {}, ""
    pos = 0
    for m in re.finditer(r"/\*\*(.*?)\*/|FLP_API[^;]*;|\n[ \t]*\n|;|#[^\n]*", text, re.S):
        chunk = m.group(0)
        if chunk.startswith("/**"):
            body = m.group(1)
            lines = [re.sub(r"^\s*\*?\s?", "", ln).rstrip() for ln in body.splitlines()]
            current = " ".join(ln.strip() for ln in lines if ln.strip())
        elif chunk.startswith("FLP_API"):
            name = _function_name(chunk)
            if name:
                docs[name] = current
        else:  # blank line, another statement or a preprocessor line ends the block
            current = ""
        pos = m.end()
    return docs


def _function_name(stmt):
    stmt = re.sub(r'FLP_DEPRECATED\s*\(\s*"(?:[^"\\]|\\.)*"\s*\)', " ", stmt)
    m = re.search(r"([A-Za-z_]\w*)\s*\(", stmt.replace("(*", "*"))
    return m.group(1) if m else None


def _norm_type(t):
    t = re.sub(r"\s+", " ", t.replace("*", " * ")).strip()
    return re.sub(r"\* (?=\*)", "*", t)


def parse_param(text):
    text = text.strip()
    if text in ("", "void"):
        return None
    m = re.match(r"^(.*?)([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)$", text, re.S)
    if not m or not m.group(1).strip():
        raise ValueError(f"cannot parse parameter {text!r}")
    ctype = m.group(1)
    if m.group(3):
        ctype += " *" * m.group(3).count("[")
    return Param(m.group(2), _norm_type(ctype))


_EXPERIMENTAL_MARK = "FLP__EXPERIMENTAL_DECLARATION"


def _conditional(line, stack, where):
    """Follow the #if nesting of one preprocessor line. The stack holds
    "experimental" inside an `#ifdef FLP_EXPERIMENTAL` block, "stable" in
    its `#else` branch, None in any other conditional."""
    d = re.match(r"#\s*(\w+)\s*(\w*)", line)
    word = d.group(1) if d else ""
    if word.startswith("if"):
        stack.append("experimental" if word == "ifdef" and d.group(2) == "FLP_EXPERIMENTAL" else None)
    elif word == "else" and stack and stack[-1] == "experimental":
        stack[-1] = "stable"
    elif word == "elif" and stack and stack[-1] is not None:
        raise ValueError(f"{where}: #elif inside #ifdef FLP_EXPERIMENTAL")
    elif word == "endif" and stack:
        stack.pop()


def parse_headers(incdir=None):
    """Parse include/flp/*.h into an :class:`Api`."""
    incdir = incdir or os.path.join(REPO, "include")
    hdir = os.path.join(incdir, "flp")
    names = sorted(os.listdir(hdir))
    names = [h for h in ORDER if h in names] + [h for h in names if h.endswith(".h")
                                                and h not in ORDER]
    api = Api()
    key_enum_macros = {}  # FLP__KEY_ENUM and forwarding macros -> (prefix or None, offset)
    for h in names:
        raw = open(os.path.join(hdir, h), encoding="utf-8").read()
        docs = doc_comments(raw)
        text = strip_comments(raw)
        text = re.sub(r"\\\n", " ", text)  # join continuation lines
        code_lines, conditions = [], []
        for line in text.splitlines():
            s = line.strip()
            if s.startswith("#"):
                _conditional(s, conditions, h)
                if "stable" in conditions:
                    continue  # the non-experimental stand-ins of experimental definitions
                m = re.match(r"#\s*define\s+(FLP_[A-Z0-9_]+)\s+\(?(-?\d+)\)?\s*$", s)
                if m:
                    api.defines[m.group(1)] = int(m.group(2))
                if re.match(r"#\s*define\s+FLP_STATUS_MAP\(X\)", s):
                    for n, v, msg in re.findall(r'X\(\s*(\w+)\s*,\s*(-?\d+)\s*,\s*("(?:[^"\\]|\\.)*")\s*\)', s):
                        api.statuses.append((n, int(v), msg[1:-1]))
                km = re.match(r"#\s*define\s+(FLP_\w+_KEY_MAP(?:_EXPERIMENTAL)?)\(X\)(.*)$", s)
                if km:
                    api.keymaps[km.group(1)] = [
                        (hd, n, int(v), t) for hd, n, v, t in
                        re.findall(r"X\(\s*(\w+)\s*,\s*(\w+)\s*,\s*(-?\d+)\s*,\s*(\w+)\s*,", km.group(2))]
                    if "experimental" in conditions:
                        api.experimental_keymaps.add(km.group(1))
                em = re.match(r"#\s*define\s+(FLP__\w*ENUM)\(\s*handle\s*,\s*name\s*,\s*value[^)]*\)"
                              r"\s*FLP_(?:##handle##|(\w+?))_##name\s*=\s*(?:(\d+)\s*\+\s*)?\(value\)\s*,", s)
                if em:
                    key_enum_macros[em.group(1)] = (em.group(2), int(em.group(3) or 0))
                continue
            if "stable" in conditions:
                continue
            if "experimental" in conditions:
                api.experimental.update(re.findall(r"\b(FLP_[A-Z0-9_]+)\s*=", line))
                line = re.sub(r"\bFLP_API\b", "FLP_API " + _EXPERIMENTAL_MARK, line)
            code_lines.append(line)
        code = " ".join(code_lines)
        code = re.sub(r'extern\s*"C"\s*\{', " ", code)
        for m in re.finditer(r"typedef\s+struct\s+(\w+)\s+(\w+)\s*;", code):
            api.structs.append(m.group(2))
        for m in re.finditer(r"typedef\s+enum\s*\{([^}]*)\}\s*(\w+)\s*;", code):
            body, name = m.group(1), m.group(2)
            if "FLP_STATUS_MAP" in body:
                api.enums[name] = [("FLP_" + n, v) for n, v, _ in api.statuses]
                continue
            items, nxt = [], 0
            for mp, macro in re.findall(r"(FLP_\w+_KEY_MAP(?:_EXPERIMENTAL)?)\(\s*(\w+)\s*\)", body):
                if mp not in api.keymaps or macro not in key_enum_macros:
                    raise ValueError(f"{h}: {name} uses {mp}({macro}), which is not defined before")
                prefix, offset = key_enum_macros[macro]
                api.keymap_enums.setdefault(mp, []).append((name, prefix, offset))
                for hd, n, v, _ in api.keymaps[mp]:
                    items.append((f"FLP_{prefix or hd}_{n}", v + offset))
                    if mp in api.experimental_keymaps:
                        api.experimental.add(f"FLP_{prefix or hd}_{n}")
            body = re.sub(r"FLP_\w+_KEY_MAP(?:_EXPERIMENTAL)?\(\s*\w+\s*\)", " ", body)
            for part in body.split(","):
                part = part.strip()
                if not part:
                    continue
                em = re.match(r"^(\w+)\s*(?:=\s*(-?\d+))?$", part)
                if not em:
                    raise ValueError(f"{h}: cannot parse enumerator {part!r} of {name}")
                val = int(em.group(2)) if em.group(2) is not None else nxt
                items.append((em.group(1), val))
                nxt = val + 1
            api.enums[name] = items
        for m in re.finditer(r"typedef\s+([^;()]+?)\(\s*\*\s*(\w+)\s*\)\s*\(([^;]*)\)\s*;", code):
            api.callbacks[m.group(2)] = f"{m.group(1).strip()} (*)({m.group(3).strip()})"
        for stmt in re.split(r"[;{}]", code):
            if not re.search(r"\bFLP_API\b", stmt):
                continue
            deprecated = "FLP_DEPRECATED" in stmt
            experimental = _EXPERIMENTAL_MARK in stmt
            s = stmt.replace(_EXPERIMENTAL_MARK, " ")
            s = re.sub(r'FLP_DEPRECATED\s*\(\s*"(?:[^"\\]|\\.)*"\s*\)', " ", s)
            s = re.sub(r"__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)", " ", s)
            s = re.sub(r"\bFLP_API\b", " ", s).strip()
            fm = re.match(r"^(.*?)\b([A-Za-z_]\w*)\s*\((.*)\)\s*$", s, re.S)
            if not fm:
                raise ValueError(f"{h}: cannot parse declaration {s!r}")
            params = [p for p in (parse_param(x) for x in fm.group(3).split(",")) if p]
            api.functions.append(Function(fm.group(2), _norm_type(fm.group(1)), params, h,
                                          docs.get(fm.group(2), ""), deprecated, experimental))
            if experimental:
                api.experimental.add(fm.group(2))
    return api


# ---- Julia ------------------------------------------------------------------
_JL_BASE = {"void": "Cvoid", "int": "Cint", "unsigned": "Cuint", "unsigned int": "Cuint",
            "double": "Cdouble", "float": "Cfloat", "char": "Cchar", "size_t": "Csize_t",
            "int8_t": "Int8", "uint8_t": "UInt8", "int16_t": "Int16", "uint16_t": "UInt16",
            "int32_t": "Int32", "uint32_t": "UInt32", "int64_t": "Int64", "uint64_t": "UInt64"}
_JL_KEYWORDS = {"begin", "end", "function", "type", "module", "global", "local", "let", "do",
                "for", "while", "if", "else", "elseif", "try", "catch", "finally", "return",
                "break", "continue", "macro", "quote", "struct", "mutable", "abstract",
                "primitive", "import", "using", "export", "const", "baremodule", "in", "isa"}


def julia_type(ctype, api, arg=True):
    stars = ctype.count("*")
    base = ctype.replace("*", " ").replace("const", " ")
    base = re.sub(r"\s+", " ", base).strip()
    if base == "char" and stars == 1:
        return "Cstring"
    if base in _JL_BASE:
        jl = _JL_BASE[base]
    elif base in api.enums or base in api.structs or base in api.callbacks:
        jl = base
    else:
        raise ValueError(f"no Julia type for C type {ctype!r}")
    for _ in range(stars):
        jl = f"Ptr{{{jl}}}"
    return jl


def julia_name(name):
    return name + "_" if name in _JL_KEYWORDS else name


def c_signature(f):
    ps = ", ".join(f"{p.ctype} {p.name}".replace("* ", "*") for p in f.params) or "void"
    return f"{f.ret} {f.name}({ps})".replace("* ", "*")


def generate_julia(api, headers_label="include/flp"):
    out = []
    w = out.append
    w("# Flp.jl - Julia bindings for libflp over its C ABI.")
    w("#")
    w("# GENERATED by bindings/julia/generate.py from " + headers_label + "/*.h: do not edit.")
    w("# Regenerate with `/usr/bin/python3 bindings/julia/generate.py`; the C test suite")
    w("# (test 'julia-wrapper') fails when this file is out of date or misses a function.")
    w("# Hand-written conveniences live in convenience.jl, included at the end.")
    w("module Flp")
    w("")
    w("# The shared library: FLP_LIBRARY at precompile time, else the loader's search.")
    w('const libflp = get(ENV, "FLP_LIBRARY", "libflp")')
    w("")
    w("# ---- constants (#define) ----")
    for k, v in api.defines.items():
        w(f"const {k} = {v}")
    w("")
    w("# ---- opaque handles ----")
    for s in api.structs:
        w(f"mutable struct {s} end")
    w("")
    w("# ---- enums (C int; values never change, new ones are appended) ----")
    for name, items in api.enums.items():
        w(f"const {name} = Cint")
        for en, v in items:
            mark = "  # experimental (FLP_EXPERIMENTAL)" if en in api.experimental else ""
            w(f"const {en} = {name}({v}){mark}")
        w("")
    if api.statuses:
        w("# status name (without FLP_) and message, from FLP_STATUS_MAP")
        w("const FLP_STATUS_TABLE = Dict{Cint,Tuple{String,String}}(")
        for n, v, msg in api.statuses:
            w(f'    {v} => ("{n}", "{msg}"),')
        w(")")
        w("")
    w("# ---- callbacks (pass @cfunction pointers) ----")
    for name, sig in api.callbacks.items():
        w(f"# {name}: {sig}")
        w(f"const {name} = Ptr{{Cvoid}}")
    w("")
    w("# ---- functions: one @ccall per FLP_API declaration ----")
    for f in api.functions:
        args = [julia_name(p.name) for p in f.params]
        typed = ", ".join(f"{a}::{julia_type(p.ctype, api)}" for a, p in zip(args, f.params))
        ret = julia_type(f.ret, api, arg=False)
        w('"""')
        w(f"    {f.name}({', '.join(args)}) -> {ret}")
        w("")
        w(f"`{c_signature(f)}` ({f.header})")
        if f.experimental:
            w("")
            w("Experimental (`FLP_EXPERIMENTAL` in C): may change or disappear in any release.")
        if f.doc:
            w("")
            w(f.doc.replace("\\", "\\\\").replace("$", "\\$").replace('"""', '\\"\\"\\"'))
        w('"""')
        w(f"function {f.name}({', '.join(args)})")
        w(f"    @ccall libflp.{f.name}({typed})::{ret}")
        w("end")
        w("")
    w("# every wrapped C function, in header order")
    w("const FLP_FUNCTIONS = (" + ", ".join(f":{f.name}" for f in api.functions) + ",)")
    w("# those outside the ABI promise: FLP_EXPERIMENTAL in C, may change in any release")
    w("const FLP_EXPERIMENTAL_FUNCTIONS = (" +
      ", ".join(f":{f.name}" for f in api.functions if f.experimental) + ",)")
    w("")
    w('include("convenience.jl")')
    w("")
    w("end # module Flp")
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate bindings/julia/src/Flp.jl")
    ap.add_argument("--include", default=os.path.join(REPO, "include"),
                    help="folder holding flp/*.h (default: the repository's include/)")
    ap.add_argument("--output", default=os.path.join(HERE, "src", "Flp.jl"),
                    help="file to write ('-' for stdout)")
    a = ap.parse_args(argv)
    api = parse_headers(a.include)
    text = generate_julia(api)
    if a.output == "-":
        sys.stdout.write(text)
    else:
        tmp = a.output + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, a.output)
        print(f"wrote {a.output}: {len(api.functions)} functions", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
