#!/usr/bin/env python3
"""check_layers.py [--root DIR] [--order "core data ..."] [--skip-unless-strict] [-v]

Checks that lib/'s folders obey the layer order written in docs/internals.md (the line
"Layer order: core → data → ..."): a file may include a header of, or use a function or
variable defined in, its own folder or a folder earlier in the order, never a later one,
so no two folders depend on each other. Dependencies come from the C sources themselves:
  - includes: every #include "..." of lib/**/*.{c,h}, resolved against the file's folder
    and then lib/;
  - symbols: the dh_/dh__/nn_ functions and variables defined at file scope in lib/**/*.c
    (non-static), and every use of such a name in another folder's file.
Prints each violation with its evidence and exits 1 if there is any (0 otherwise).
With --skip-unless-strict the exit status for violations is 77 (ctest's SKIP_RETURN_CODE)
unless the environment sets DH_LAYERS_STRICT=1.
Also prints, for information, cycles between .c files inside one folder (file A uses a
symbol defined in file B and B one of A's), which never fail the check.
"""
import os
import re
import sys
from collections import defaultdict

DEFAULT_ORDER = "core data nn hash model loss index eval train dist"


def strip_c(text):
    """Remove comments, string and char literals (keeping newlines)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_order(root, arg):
    if arg:
        return arg.replace("→", " ").replace(",", " ").split()
    path = os.path.join(root, "docs", "internals.md")
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            m = re.match(r"\s*Layer order:\s*(.+)$", line)
            if m:
                return [w.strip("`*. ") for w in re.split(r"\s*(?:→|->)\s*", m.group(1)) if w.strip("`*. ")]
    return DEFAULT_ORDER.split()


def lib_files(lib):
    for d, _, names in os.walk(lib):
        for nm in sorted(names):
            if nm.endswith((".c", ".h")):
                yield os.path.join(d, nm)


def folder_of(lib, path):
    rel = os.path.relpath(path, lib)
    return rel.split(os.sep)[0] if os.sep in rel else None


def definitions(code):
    """Non-static file-scope dh_/dh__ functions and variables defined in `code`."""
    defs = set()
    depth = 0
    stmt_start = 0
    i = 0
    n = len(code)
    while i < n:
        c = code[i]
        if c == "{":
            if depth == 0:
                head = code[stmt_start:i]
                m = re.search(r"\b((?:dh|nn)_\w+)\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*$", head)
                if m and not re.search(r"\bstatic\b", head) and "typedef" not in head:
                    defs.add(m.group(1))
                else:
                    m = re.search(r"\b((?:dh|nn)_\w+)\s*(?:\[[^\]]*\])?\s*=\s*$", head)
                    if m and not re.search(r"\b(static|extern)\b", head):
                        defs.add(m.group(1))
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                stmt_start = i + 1
        elif c == ";" and depth == 0:
            head = code[stmt_start:i]
            m = re.search(r"\b((?:dh|nn)_\w+)\s*(?:\[[^\]]*\])?\s*=[^=]", head + " ")
            if m and "(" not in head.split("=")[0] and not re.search(r"\b(static|extern|typedef)\b", head):
                defs.add(m.group(1))
            stmt_start = i + 1
        elif c == "#" and (i == 0 or code[i - 1] == "\n"):
            j = i
            while True:  # skip a preprocessor line with its continuations
                j = code.find("\n", j)
                if j < 0 or code[j - 1] != "\\":
                    break
                j += 1
            i = n if j < 0 else j
            if depth == 0:
                stmt_start = i
            continue
        i += 1
    return defs


def main():
    args = sys.argv[1:]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    order_arg = None
    if "--root" in args:
        root = args[args.index("--root") + 1]
    if "--order" in args:
        order_arg = args[args.index("--order") + 1]
    verbose = "-v" in args
    skip = "--skip-unless-strict" in args and os.environ.get("DH_LAYERS_STRICT", "") not in ("1", "yes", "on")
    lib = os.path.join(root, "lib")
    order = read_order(root, order_arg)
    rank = {f: i for i, f in enumerate(order)}

    files = list(lib_files(lib))
    code = {}
    for p in files:
        code[p] = strip_c(open(p, encoding="utf-8", errors="replace").read())
    # folder -> folder edges with evidence
    edges = defaultdict(list)
    unknown = set()
    for p in files:
        src = folder_of(lib, p)
        if src is None:
            continue
        raw = open(p, encoding="utf-8", errors="replace").read()
        for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', raw, flags=re.M):
            inc = m.group(1)
            cand = [os.path.normpath(os.path.join(os.path.dirname(p), inc)), os.path.normpath(os.path.join(lib, inc))]
            tgt = next((c for c in cand if os.path.exists(c)), None)
            if tgt is None or not tgt.startswith(lib + os.sep):
                continue
            dst = folder_of(lib, tgt)
            if dst and dst != src:
                edges[(src, dst)].append(f'{os.path.relpath(p, root)} includes "{inc}"')
    owner = {}
    file_defs = {}
    for p in files:
        if p.endswith(".c"):
            file_defs[p] = definitions(code[p])
            for s in file_defs[p]:
                owner.setdefault(s, p)
    name_re = re.compile(r"\b(?:dh|nn)_\w+\b")
    file_uses = defaultdict(set)
    for p in files:
        src = folder_of(lib, p)
        if src is None:
            continue
        for s in set(name_re.findall(code[p])):
            q = owner.get(s)
            if q is None or q == p:
                continue
            dst = folder_of(lib, q)
            if dst != src:
                edges[(src, dst)].append(f"{os.path.relpath(p, root)} uses {s} ({os.path.relpath(q, root)})")
            elif p.endswith(".c"):
                file_uses[p].add(q)

    folders = sorted({f for e in edges for f in e} | {folder_of(lib, p) for p in files if folder_of(lib, p)})
    for f in folders:
        if f not in rank:
            unknown.add(f)
    bad = 0
    print(f"layer order: {' -> '.join(order)}")
    for f in sorted(unknown):
        print(f"VIOLATION: folder lib/{f}/ is not in the layer order")
        bad += 1
    for (a, b), ev in sorted(edges.items(), key=lambda kv: (rank.get(kv[0][0], 99), kv[0][1])):
        if a in unknown or b in unknown:
            continue
        if rank[b] > rank[a]:
            bad += 1
            print(f"VIOLATION: {a} -> {b} ({b} comes after {a}); {len(ev)} uses:")
            for e in ev[: (len(ev) if verbose else 6)]:
                print(f"    {e}")
            if len(ev) > 6 and not verbose:
                print(f"    ... {len(ev) - 6} more (-v lists all)")
    mutual = sorted({tuple(sorted(e)) for e in edges if (e[1], e[0]) in edges})
    for a, b in mutual:
        print(f"  (mutual dependency: {a} <-> {b})")
    # informational: cycles between .c files of one folder (Tarjan's SCCs)
    idx, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        idx[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(file_uses.get(v, ())):
            if w not in idx:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(file_uses):
        if v not in idx:
            strong(v)
    for comp in sorted(sccs):
        names = ", ".join(os.path.relpath(c, lib) for c in comp)
        print(f"info: file cycle inside lib/{folder_of(lib, comp[0])}/ ({len(comp)} files): {names}")
    print(f"{len(edges)} folder dependencies, {bad} violations, {len(sccs)} file cycles (informational)")
    if bad:
        return 77 if skip else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
