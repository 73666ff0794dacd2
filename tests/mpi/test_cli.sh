#!/bin/sh
# tests/mpi/test_cli.sh DH PYTHON "MPIRUN FLAGS": under mpirun the dh tool prints exactly
# what the single-process command prints (index search k-NN / radius, text / JSON, shards
# from `dh index split` and rows r::P of one file; dh eval over per-rank parts), and a
# missing shard fails every rank with the file named.
set -eu
DH=$1 PY=$2 MPIRUN=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
"$PY" - <<'PYEOF'
import numpy as np
rng = np.random.default_rng(7)
db = rng.integers(0, 256, (3000, 8), dtype=np.uint8)
db[::3] = db[0]                        # a big tie group
np.save("db.npy", db)
np.save("q.npy", np.concatenate([db[:4], rng.integers(0, 256, (12, 8), dtype=np.uint8)]))
np.save("ql.npy", rng.integers(0, 10, 16).astype(np.int32))
y = rng.integers(0, 10, 3000).astype(np.int32)
np.save("dbl.npy", y)
bounds = [0, 1000, 1000, 2100, 3000]   # rank 1's part is empty
for r in range(4):
    np.save(f"part-{r}.npy", db[bounds[r]:bounds[r + 1]])
    np.save(f"partl-{r}.npy", y[bounds[r]:bounds[r + 1]])
PYEOF
"$DH" index build -o db.dhi db.npy > /dev/null
"$DH" index split db.dhi --shards 4 -o 'shard-%d.dhi' > /dev/null
fail=0
same() { # name, single output file, distributed output file
    if cmp -s "$2" "$3"; then echo "ok   $1"; else echo "FAIL $1"; diff "$2" "$3" | head -5; fail=1; fi
}
for args in "-k 100 --json" "-k 5000" "--radius 20 --json" "--radius 3"; do
    # shellcheck disable=SC2086
    "$DH" index search db.dhi --queries q.npy $args > one.txt
    # shellcheck disable=SC2086
    $MPIRUN -np 4 "$DH" index search 'shard-%d.dhi' --queries q.npy $args > four.txt
    same "index search $args (4 shards)" one.txt four.txt
    # shellcheck disable=SC2086
    $MPIRUN -np 3 "$DH" index search db.dhi --queries q.npy $args > three.txt
    same "index search $args (rows r::3 of one file)" one.txt three.txt
done
"$DH" eval --query-codes q.npy --db-codes db.npy --query-labels ql.npy --db-labels dbl.npy \
    --at 10,500 --radius 20 > one.txt
$MPIRUN -np 4 "$DH" eval --query-codes q.npy --db-codes 'part-%d.npy' --query-labels ql.npy \
    --db-labels 'partl-%d.npy' --at 10,500 --radius 20 > four.txt
same "eval (4 parts, one empty)" one.txt four.txt
"$DH" eval --query-codes q.npy --db-codes db.npy --query-labels ql.npy --db-labels dbl.npy \
    --ties expected --json > one.txt
$MPIRUN -np 4 "$DH" eval --query-codes q.npy --db-codes 'part-%d.npy' --query-labels ql.npy \
    --db-labels 'partl-%d.npy' --ties expected --json > four.txt
same "eval --ties expected --json" one.txt four.txt
rm shard-2.dhi
if $MPIRUN -np 4 "$DH" index search 'shard-%d.dhi' --queries q.npy > out.txt 2> err.txt; then
    echo "FAIL missing shard: exit 0"; fail=1
elif grep -q "rank 2: cannot open 'shard-2.dhi'" err.txt; then echo "ok   missing shard"
else echo "FAIL missing shard message:"; cat err.txt; fail=1; fi
exit $fail
