//! Reuse (stack) distances in O(log n) per reference: a Fenwick tree over
//! reference times holding a 1 at each page's latest reference. The
//! distance of a reference at time `t` to a page last referenced at `t'` is
//! the number of ones in `(t', t)`: the distinct other pages touched in
//! between. Used by `epc trace stats` and by the simulator's one-pass LRU
//! curve (`offline::stack`).

/// A Fenwick (binary indexed) tree over 1-based positions that can grow.
#[derive(Debug, Default)]
struct Fenwick {
    tree: Vec<u32>,
    total: u32,
}

impl Fenwick {
    /// Makes room for position `n`, doubling: node `i` of the new half
    /// covers `(i - lowbit(i), i]`, all empty except the top node, which
    /// covers everything.
    fn reserve(&mut self, n: usize) {
        if self.tree.len() > n {
            return;
        }
        let old = self.tree.len().max(1);
        let mut new = old;
        while new <= n {
            new *= 2;
        }
        self.tree.resize(new, 0);
        // tree[0] is unused. Lengths are powers of two, so the new nodes
        // that reach back into old positions are exactly the powers of two
        // in [old, new), each covering everything so far.
        let mut p = old;
        while p < new {
            self.tree[p] = self.total;
            p *= 2;
        }
    }

    fn add(&mut self, mut i: usize, delta: i32) {
        self.total = self.total.wrapping_add_signed(delta);
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// Sum over `[1, i]`.
    fn prefix(&self, mut i: usize) -> u32 {
        let mut s = 0u32;
        while i > 0 {
            s = s.wrapping_add(self.tree[i]);
            i &= i - 1;
        }
        s
    }
}

/// The clock of reference times behind reuse distances. The caller keeps
/// each page's last reference time (a map, or a vector for dense ids) and
/// calls [`touch`](Self::touch) once per reference, with times 1, 2, 3, …
#[derive(Debug, Default)]
pub(crate) struct StackClock {
    tree: Fenwick,
}

impl StackClock {
    /// An empty clock, room for `refs` references (it grows beyond).
    pub(crate) fn with_capacity(refs: usize) -> Self {
        let mut c = StackClock::default();
        c.tree.reserve(refs);
        c
    }

    /// Records the reference at time `t` (1-based, increasing by one per
    /// call) to a page last referenced at `prev` (`None`: first reference);
    /// returns its reuse distance, `None` for a first reference.
    pub(crate) fn touch(&mut self, t: u32, prev: Option<u32>) -> Option<u32> {
        let t = t as usize;
        self.tree.reserve(t);
        let d = prev.map(|prev| {
            let prev = prev as usize;
            // Ones in (prev, t): everything so far (all before t) minus
            // those up to prev.
            let d = self.tree.total - self.tree.prefix(prev);
            self.tree.add(prev, -1);
            d
        });
        self.tree.add(t, 1);
        d
    }
}
