#!/bin/sh
# Records page traces of three programs the policies were NOT tuned on, with
# `epc trace record` (valgrind's lackey), into DIR (default
# target/program-traces), then prints the policy goal tables on them:
#
#   scripts/record_program_traces.sh [DIR]
#
# * xz:     `xz -2` compressing a fixed 256 KiB pseudo-random-text file;
# * sqlite: the sqlite3 shell running a small deterministic SQL workload
#           (inserts, an index, range queries, updates) in memory;
# * gcc:    gcc -O1 (its cc1) compiling a generated C file (12 small
#           functions).
#
# The traces are large (tens of MB compressed) and are not committed; this
# script makes them again (the programs' versions are those of the machine,
# so exact counts can differ between machines). Needs valgrind, xz, python3,
# gcc and sqlite3 (apt-get install valgrind sqlite3). Takes a few minutes
# (lackey slows programs down about 50x).
set -eu
DIR=${1:-target/program-traces}
mkdir -p "$DIR"
EPC=${EPC:-target/release/epc}
[ -x "$EPC" ] || cargo build --release --locked -p epc-cli
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# A fixed input for xz: 256 KiB of words from a deterministic generator.
python3 - "$WORK/input.txt" <<'PY'
import sys, random
r = random.Random(14)
words = [''.join(r.choice('etaoinshrdlu') for _ in range(r.randint(2, 9))) for _ in range(5000)]
with open(sys.argv[1], 'w') as f:
    n = 0
    while n < 1 << 18:
        w = r.choice(words) + (' ' if r.random() < 0.9 else '\n')
        f.write(w)
        n += len(w)
PY
"$EPC" trace record -o "$DIR/xz.trace.zst" -- xz -2 -k -c "$WORK/input.txt" >/dev/null

# The sqlite3 shell itself (no interpreter around it): a generated,
# deterministic SQL workload on an in-memory database.
python3 - "$WORK/db.sql" <<'PY'
import sys, random
r = random.Random(14)
with open(sys.argv[1], 'w') as f:
    f.write('create table t (id integer primary key, k integer, v text);\nbegin;\n')
    for _ in range(3000):
        f.write(f"insert into t (k, v) values ({r.randrange(100000)}, '{'x' * r.randrange(10, 200)}');\n")
    f.write('commit;\ncreate index tk on t (k);\n')
    for _ in range(100):
        lo = r.randrange(100000)
        f.write(f'select count(*), sum(length(v)) from t where k between {lo} and {lo + 500};\n')
        f.write(f"update t set v = '{'y' * r.randrange(10, 200)}' where id = {r.randrange(1, 3001)};\n")
PY
"$EPC" trace record -o "$DIR/sqlite.trace.zst" -- sqlite3 :memory: ".read $WORK/db.sql" >/dev/null

python3 - "$WORK/prog.c" <<'PY'
import sys
with open(sys.argv[1], 'w') as f:
    # No #include: cc1 run directly has no system include path.
    f.write('int printf(const char *, ...);\n')
    for i in range(12):
        f.write(f'static int f{i}(int x) {{ int s = 0; for (int j = 0; j < x; j++) s += (j * {i + 1}) ^ (s >> 3); return s; }}\n')
    f.write('int main(void) { long t = 0;\n')
    for i in range(12):
        f.write(f'  t += f{i}({i});\n')
    f.write('  printf("%ld\\n", t); return 0; }\n')
PY
# The compiler proper (cc1): the `gcc` driver runs it as a child process,
# which valgrind does not follow.
CC1=$(gcc -print-prog-name=cc1)
"$EPC" trace record -o "$DIR/gcc.trace.zst" -- "$CC1" -O1 -quiet "$WORK/prog.c" -o "$WORK/prog.s"

for t in xz sqlite gcc; do "$EPC" trace stats "$DIR/$t.trace.zst" | head -3; done
cargo run --release --locked -p epc-sim --example policy_goals -- --traces "$DIR:xz,sqlite,gcc"
