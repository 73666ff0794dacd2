#!/usr/bin/env python3
"""ABI comparisons.

check_abi.py symbols libdh.so baseline   exported dh_* symbols must equal the baseline
check_abi.py layout  abi_layout expected  options-struct layouts must equal the record
Add --update to rewrite the baseline/record after an intended, compatible change
(appending fields or symbols); removing or moving anything is an ABI break.
"""
import subprocess
import sys


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TDRBtdrb" and parts[2].startswith("dh_"):
            syms.add(parts[2].split("@")[0])
    return syms


def compare_layout(old, now):
    """A recorded field must keep its offset and a struct may only grow (fields are
    appended); new fields or structs must be recorded (--update)."""
    def parse(lines):
        d = {}
        for line in lines:
            name, field, val = line.split()
            d[(name, field)] = int(val)
        return d
    o, n = parse(old), parse(now)
    bad = 0
    for key, val in sorted(o.items()):
        if key not in n:
            print(f"ABI BREAK: {key[0]}.{key[1]} was removed")
            bad += 1
        elif key[1] == "sizeof" and n[key] < val:
            print(f"ABI BREAK: {key[0]} shrank from {val} to {n[key]} bytes")
            bad += 1
        elif key[1] != "sizeof" and n[key] != val:
            print(f"ABI BREAK: {key[0]}.{key[1]} moved from offset {val} to {n[key]}")
            bad += 1
    grown = [k for k in n if k in o and k[1] == "sizeof" and n[k] > o[k]]
    added = [k for k in n if k not in o]
    for k in sorted(added + grown):
        print(f"unrecorded: {k[0]}.{k[1]} = {n[k]} (append it with --update if intended)")
    print(f"{len(n)} entries, {bad} breaks, {len(added) + len(grown)} unrecorded")
    return 1 if bad or added or grown else 0


def main():
    mode, target, record = sys.argv[1:4]
    update = "--update" in sys.argv
    if mode == "symbols":
        now = sorted(exported(target))
    else:
        now = subprocess.run([target], check=True, capture_output=True, text=True).stdout.split("\n")
        now = [l for l in now if l.strip()]
    if update:
        open(record, "w").write("\n".join(now) + "\n")
        print(f"wrote {len(now)} lines to {record}")
        return 0
    try:
        old = [l for l in open(record).read().split("\n") if l.strip()]
    except FileNotFoundError:
        print(f"missing record {record}; run with --update")
        return 1
    if mode == "layout":
        return compare_layout(old, now)
    removed = sorted(set(old) - set(now))
    added = sorted(set(now) - set(old))
    for r in removed:
        print(f"ABI BREAK: {r!r} is recorded but {'not exported' if mode == 'symbols' else 'changed'}")
    for a in added:
        print(f"unrecorded: {a!r} (append it with --update if the addition is intended)")
    print(f"{len(now)} entries, {len(removed)} removed/changed, {len(added)} unrecorded")
    return 1 if removed or added else 0


if __name__ == "__main__":
    sys.exit(main())
