"""Times one libCacheSim 0.3.5 run on a plain-text trace, parsing included.

Usage: python libcachesim_time.py TRACE.txt POLICY CAPACITY_PAGES REFS
Prints: policy capacity misses seconds. libCacheSim is GPL: this script only
runs it as an outside tool (see bench_vs_libcachesim.sh); nothing of it is
part of the project.
"""

import sys
import time

import libcachesim as lcs

path, policy, cap, refs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
start = time.perf_counter()
param = lcs.ReaderInitParam(ignore_obj_size=True)
reader = lcs.TraceReader(path, lcs.TraceType.PLAIN_TXT_TRACE, param)
cache = {
    "lru": lambda: lcs.LRU(cache_size=cap),
    "fifo": lambda: lcs.FIFO(cache_size=cap),
    # Linux's CLOCK: the faulting access sets the bit.
    "clock": lambda: lcs.Clock(cache_size=cap, init_freq=1),
}[policy]()
miss_ratio, _ = cache.process_trace(reader)
elapsed = time.perf_counter() - start
print(policy, cap, round(miss_ratio * refs), f"{elapsed:.3f}")
