//! Queues of dense page ids: [`epc_mm::KeyLists`] for the simulator's own
//! numbering, with the links in arrays indexed by id instead of a slab
//! behind a hash index.
//!
//! The simulator numbers a trace's pages `0..distinct` ([`Trace`]), so a
//! page's links, its queue and a policy's per-page state can sit at its id:
//! finding a page is an array access, not a hash lookup. Used by the
//! simulator's dense fast paths ([`super`]); the manager's policies keep
//! `KeyLists`, since live keys are not dense.
//!
//! [`Trace`]: crate::offline::Trace

/// No page (an empty queue's ends, a last page's link).
pub(crate) const NIL: u32 = u32::MAX;
/// The queue of a page in no queue.
const NONE: u8 = u8::MAX;

/// Up to 254 doubly linked FIFO queues over the ids `0..distinct`, each id
/// in at most one queue.
#[derive(Debug)]
pub(crate) struct DenseLists {
    prev: Vec<u32>,
    next: Vec<u32>,
    queue: Vec<u8>,
    head: Vec<u32>,
    tail: Vec<u32>,
    len: Vec<usize>,
}

impl DenseLists {
    /// `queues` empty queues (numbered from 0) over ids below `distinct`.
    pub(crate) fn new(queues: usize, distinct: usize) -> Self {
        assert!(queues < NONE as usize, "at most 254 queues");
        DenseLists {
            prev: vec![NIL; distinct],
            next: vec![NIL; distinct],
            queue: vec![NONE; distinct],
            head: vec![NIL; queues],
            tail: vec![NIL; queues],
            len: vec![0; queues],
        }
    }

    /// The queue holding `id`, if any.
    #[inline]
    pub(crate) fn queue_of(&self, id: u32) -> Option<usize> {
        match self.queue[id as usize] {
            NONE => None,
            q => Some(usize::from(q)),
        }
    }

    /// Number of ids in queue `q`.
    #[inline]
    pub(crate) fn queue_len(&self, q: usize) -> usize {
        self.len[q]
    }

    /// The oldest id of queue `q`.
    #[inline]
    pub(crate) fn front(&self, q: usize) -> Option<u32> {
        match self.head[q] {
            NIL => None,
            id => Some(id),
        }
    }

    /// The id after `id` in its queue (towards the tail).
    #[inline]
    pub(crate) fn next_of(&self, id: u32) -> Option<u32> {
        match self.next[id as usize] {
            NIL => None,
            n => Some(n),
        }
    }

    /// Appends `id` (in no queue) at the tail of queue `q`.
    #[inline]
    pub(crate) fn push_back(&mut self, q: usize, id: u32) {
        debug_assert_eq!(self.queue[id as usize], NONE, "{id} already queued");
        let i = id as usize;
        let t = self.tail[q];
        self.prev[i] = t;
        self.next[i] = NIL;
        self.queue[i] = q as u8;
        if t == NIL {
            self.head[q] = id;
        } else {
            self.next[t as usize] = id;
        }
        self.tail[q] = id;
        self.len[q] += 1;
    }

    /// Takes `id` out of its queue; false if it was in none.
    #[inline]
    pub(crate) fn remove(&mut self, id: u32) -> bool {
        let i = id as usize;
        let q = self.queue[i];
        if q == NONE {
            return false;
        }
        let q = usize::from(q);
        let (p, n) = (self.prev[i], self.next[i]);
        if p == NIL {
            self.head[q] = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            self.tail[q] = p;
        } else {
            self.prev[n as usize] = p;
        }
        self.queue[i] = NONE;
        self.len[q] -= 1;
        true
    }

    /// Removes and returns the oldest id of queue `q`.
    #[inline]
    pub(crate) fn pop_front(&mut self, q: usize) -> Option<u32> {
        let id = self.front(q)?;
        self.remove(id);
        Some(id)
    }

    /// Moves `id` to the tail of queue `q` from wherever it is; false (and
    /// nothing done) if it is in no queue.
    #[inline]
    pub(crate) fn move_to_back(&mut self, q: usize, id: u32) -> bool {
        if !self.remove(id) {
            return false;
        }
        self.push_back(q, id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(l: &DenseLists, q: usize) -> Vec<u32> {
        let mut v = Vec::new();
        let mut at = l.front(q);
        while let Some(id) = at {
            v.push(id);
            at = l.next_of(id);
        }
        v
    }

    #[test]
    fn queues_link_unlink_and_move() {
        let mut l = DenseLists::new(2, 6);
        for id in [3, 1, 4, 0] {
            l.push_back(0, id);
        }
        assert_eq!(order(&l, 0), [3, 1, 4, 0]);
        assert!(l.move_to_back(1, 1));
        assert!(l.move_to_back(0, 3));
        assert_eq!(order(&l, 0), [4, 0, 3]);
        assert_eq!(order(&l, 1), [1]);
        assert_eq!(l.queue_of(1), Some(1));
        assert_eq!(l.queue_of(5), None);
        assert!(!l.move_to_back(0, 5));
        assert!(l.remove(0));
        assert!(!l.remove(0));
        assert_eq!(l.pop_front(0), Some(4));
        assert_eq!(l.pop_front(0), Some(3));
        assert_eq!(l.pop_front(0), None);
        assert_eq!((l.queue_len(0), l.queue_len(1)), (0, 1));
    }
}
