#!/bin/sh
# Records page traces of three programs the policies were NOT tuned on, with
# `epc trace record` (valgrind's lackey), into DIR (default
# target/program-traces), then prints the policy goal tables on them:
#
#   scripts/record_program_traces.sh [DIR]
#
# * xz:     `xz -9` compressing a fixed 512 KiB pseudo-random-text file;
# * sqlite: python3 running a small deterministic SQLite workload
#           (inserts, an index, range queries, updates);
# * gcc:    gcc -O2 compiling a generated C file.
#
# The traces are large (tens of MB compressed) and are not committed; this
# script makes them again (the programs' versions are those of the machine,
# so exact counts can differ between machines). Needs valgrind, xz, python3
# and gcc. Takes a few minutes (lackey slows programs down about 50x).
set -eu
DIR=${1:-target/program-traces}
mkdir -p "$DIR"
EPC=${EPC:-target/release/epc}
[ -x "$EPC" ] || cargo build --release --locked -p epc-cli
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# A fixed input for xz: 1 MiB of words from a deterministic generator.
python3 - "$WORK/input.txt" <<'PY'
import sys, random
r = random.Random(14)
words = [''.join(r.choice('etaoinshrdlu') for _ in range(r.randint(2, 9))) for _ in range(5000)]
with open(sys.argv[1], 'w') as f:
    n = 0
    while n < 1 << 19:
        w = r.choice(words) + (' ' if r.random() < 0.9 else '\n')
        f.write(w)
        n += len(w)
PY
"$EPC" trace record -o "$DIR/xz.trace.zst" -- xz -9 -k -c "$WORK/input.txt" >/dev/null

cat >"$WORK/db.py" <<'PY'
import sqlite3, random
r = random.Random(14)
db = sqlite3.connect(':memory:')
db.execute('create table t (id integer primary key, k integer, v text)')
db.executemany('insert into t (k, v) values (?, ?)',
               ((r.randrange(100000), 'x' * r.randrange(10, 200)) for _ in range(5000)))
db.execute('create index tk on t (k)')
for _ in range(100):
    lo = r.randrange(100000)
    db.execute('select count(*), sum(length(v)) from t where k between ? and ?', (lo, lo + 500)).fetchone()
    db.execute('update t set v = ? where id = ?', ('y' * r.randrange(10, 200), r.randrange(1, 5001)))
db.commit()
PY
"$EPC" trace record -o "$DIR/sqlite.trace.zst" -- python3 "$WORK/db.py"

python3 - "$WORK/prog.c" <<'PY'
import sys
with open(sys.argv[1], 'w') as f:
    f.write('#include <stdio.h>\n')
    for i in range(300):
        f.write(f'static int f{i}(int x) {{ int s = 0; for (int j = 0; j < x; j++) s += (j * {i + 1}) ^ (s >> 3); return s; }}\n')
    f.write('int main(void) { long t = 0;\n')
    for i in range(300):
        f.write(f'  t += f{i}({i});\n')
    f.write('  printf("%ld\\n", t); return 0; }\n')
PY
"$EPC" trace record -o "$DIR/gcc.trace.zst" -- gcc -O2 -c "$WORK/prog.c" -o "$WORK/prog.o"

for t in xz sqlite gcc; do "$EPC" trace stats "$DIR/$t.trace.zst" | head -3; done
cargo run --release --locked -p epc-sim --example policy_goals -- --traces "$DIR:xz,sqlite,gcc"
