#!/usr/bin/env python3
"""Generate ABI test sources from include/dh.h.

gen_abi.py dh.h refs.c layout.c
  refs.c   takes the address of every DH_API function (a link test: each must be exported).
  layout.c prints `struct field offset` and `struct sizeof size` for each *_options struct.
"""
import re
import sys


def main():
    hdr, refs_out, layout_out = sys.argv[1:4]
    text = open(hdr, encoding="utf-8").read()
    text_nc = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    funcs = sorted(set(re.findall(r"DH_API[^;{]*?\b(dh_[a-z0-9_]+)\s*\(", text_nc)))
    with open(refs_out, "w") as f:
        f.write('#define DH_EXPERIMENTAL 1 /* the experimental tier is exported too */\n')
        f.write('#include <stdio.h>\n#include "dh.h"\n')
        f.write("typedef void (*fp)(void);\nstatic const fp refs[] = {\n")
        for fn in funcs:
            f.write(f"    (fp){fn},\n")
        f.write("};\nint main(void)\n{\n    size_t n = 0;\n")
        f.write("    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) n += refs[i] != 0;\n")
        f.write('    printf("%zu public functions linked\\n", n);\n')
        f.write(f"    return n == {len(funcs)} ? 0 : 1;\n}}\n")
    structs = re.findall(r"typedef struct (dh_[a-z0-9_]+)\s*\{(.*?)\}\s*\1\s*;", text_nc, flags=re.S)
    with open(layout_out, "w") as f:
        f.write('#define DH_EXPERIMENTAL 1\n#include <stddef.h>\n#include <stdio.h>\n#include "dh.h"\nint main(void)\n{\n')
        for name, body in structs:
            f.write(f'    printf("{name} sizeof %zu\\n", sizeof({name}));\n')
            for decl in body.split(";"):
                decl = decl.strip()
                if not decl:
                    continue
                m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*$", decl)
                if m:
                    fld = m.group(1)
                    f.write(f'    printf("{name} {fld} %zu\\n", offsetof({name}, {fld}));\n')
        f.write("    return 0;\n}\n")


if __name__ == "__main__":
    main()
