//! [`KeyLists`](super::KeyLists) over dense page numbers instead of keys:
//! the queues are doubly linked through a per-page entry (two `u32` links,
//! the queue number and the policy's state) kept in 4096-page chunks
//! allocated on first use, so a page costs 12 bytes (for a state of up to
//! three bytes) and no hash table: the page number is the index.
//!
//! This is what a policy keeps per page when the manager drives it by page
//! ([`PagePolicy`](super::PagePolicy)); the manager already knows each
//! page's key, so the policy need not store it again (issue 13, §5).

const NIL: u32 = u32::MAX;
/// The queue byte of a page in no queue but known (isolated).
const DETACHED: u8 = u8::MAX - 1;
/// The queue byte of a page the lists do not know.
const UNKNOWN: u8 = u8::MAX;
const CHUNK_SHIFT: u32 = 12;
const CHUNK: usize = 1 << CHUNK_SHIFT;

#[derive(Clone, Copy, Debug)]
struct Entry<S> {
    prev: u32,
    next: u32,
    queue: u8,
    state: S,
}

#[derive(Clone, Copy, Debug)]
struct Ends {
    head: u32,
    tail: u32,
    len: usize,
}

/// Up to 253 FIFO queues of pages, each page in at most one queue (or
/// detached: known, with its state, in none), each with a state `S`.
#[derive(Debug)]
pub(crate) struct PageLinks<S> {
    chunks: Vec<Option<Box<[Entry<S>]>>>,
    ends: Vec<Ends>,
    linked: usize,
}

impl<S: Copy + Default> PageLinks<S> {
    /// `queues` empty queues, numbered from 0.
    pub(crate) fn new(queues: usize) -> Self {
        assert!(queues < DETACHED as usize, "at most 253 queues");
        PageLinks {
            chunks: Vec::new(),
            ends: vec![
                Ends {
                    head: NIL,
                    tail: NIL,
                    len: 0
                };
                queues
            ],
            linked: 0,
        }
    }

    #[inline]
    fn entry(&self, page: u32) -> Option<&Entry<S>> {
        let c = self.chunks.get((page >> CHUNK_SHIFT) as usize)?.as_ref()?;
        Some(&c[page as usize & (CHUNK - 1)])
    }

    /// The entry of a page the caller knows to be linked or detached.
    #[inline]
    fn at(&mut self, page: u32) -> &mut Entry<S> {
        let c = self.chunks[(page >> CHUNK_SHIFT) as usize]
            .as_mut()
            .expect("a known page's chunk");
        &mut c[page as usize & (CHUNK - 1)]
    }

    /// The entry of `page`, allocating its chunk.
    fn at_or_alloc(&mut self, page: u32) -> &mut Entry<S> {
        let i = (page >> CHUNK_SHIFT) as usize;
        if self.chunks.len() <= i {
            self.chunks.resize_with(i + 1, || None);
        }
        let c = self.chunks[i].get_or_insert_with(|| {
            vec![
                Entry {
                    prev: NIL,
                    next: NIL,
                    queue: UNKNOWN,
                    state: S::default(),
                };
                CHUNK
            ]
            .into_boxed_slice()
        });
        &mut c[page as usize & (CHUNK - 1)]
    }

    #[inline]
    fn queue_byte(&self, page: u32) -> u8 {
        self.entry(page).map_or(UNKNOWN, |e| e.queue)
    }

    /// Pages in all queues (detached ones not counted).
    pub(crate) fn len(&self) -> usize {
        self.linked
    }

    /// Whether every queue is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.linked == 0
    }

    /// Pages in queue `q`.
    pub(crate) fn queue_len(&self, q: usize) -> usize {
        self.ends[q].len
    }

    /// Whether `page` is in a queue (not detached, not unknown).
    #[inline]
    pub(crate) fn contains(&self, page: u32) -> bool {
        self.queue_byte(page) < DETACHED
    }

    /// Whether `page` is known, in a queue or detached.
    #[inline]
    pub(crate) fn is_known(&self, page: u32) -> bool {
        self.queue_byte(page) != UNKNOWN
    }

    /// The state of a known page.
    pub(crate) fn state(&self, page: u32) -> Option<S> {
        self.entry(page)
            .filter(|e| e.queue != UNKNOWN)
            .map(|e| e.state)
    }

    /// Replaces the state of a known page; `false` if unknown.
    pub(crate) fn set_state(&mut self, page: u32, state: S) -> bool {
        if !self.is_known(page) {
            return false;
        }
        self.at(page).state = state;
        true
    }

    /// Moves a page (queued or detached) to the tail of `q`, keeping its
    /// state; `false` if unknown.
    pub(crate) fn move_to_back(&mut self, q: usize, page: u32) -> bool {
        match self.queue_byte(page) {
            UNKNOWN => return false,
            b if b as usize == q && self.ends[q].tail == page => return true,
            DETACHED => {}
            _ => self.unlink(page),
        }
        let tail = self.ends[q].tail;
        self.attach(q, page, NIL, tail);
        true
    }

    /// Appends `page` at the tail of `q` with `state`. A detached page is
    /// re-attached; `false` (and no change) if it is already in a queue.
    pub(crate) fn push_back(&mut self, q: usize, page: u32, state: S) -> bool {
        let at = self.ends[q].tail;
        self.link_before(q, page, state, NIL, at)
    }

    /// Inserts `page` into `q` just before `at` (at the tail if `at` is
    /// `None` or not in `q`); as [`push_back`](Self::push_back) otherwise.
    pub(crate) fn insert_before(&mut self, q: usize, page: u32, at: Option<u32>, state: S) -> bool {
        match at {
            Some(a) if self.queue_byte(a) as usize == q => {
                let prev = self.at(a).prev;
                self.link_before(q, page, state, a, prev)
            }
            _ => self.push_back(q, page, state),
        }
    }

    /// Detaches the head of `q` (it stays known, with its state).
    pub(crate) fn detach_front(&mut self, q: usize) -> Option<u32> {
        let head = self.ends[q].head;
        if head == NIL {
            return None;
        }
        self.unlink(head);
        Some(head)
    }

    /// Removes the head of `q` entirely and returns it.
    pub(crate) fn pop_front(&mut self, q: usize) -> Option<u32> {
        let head = self.ends[q].head;
        if head == NIL {
            return None;
        }
        self.remove(head);
        Some(head)
    }

    /// Forgets `page`, queued or detached, returning its state.
    pub(crate) fn remove(&mut self, page: u32) -> Option<S> {
        match self.queue_byte(page) {
            UNKNOWN => return None,
            DETACHED => {}
            _ => self.unlink(page),
        }
        let e = self.at(page);
        e.queue = UNKNOWN;
        Some(e.state)
    }

    /// The head (oldest) page of `q`.
    pub(crate) fn front(&self, q: usize) -> Option<u32> {
        let h = self.ends[q].head;
        (h != NIL).then_some(h)
    }

    /// The page after `page` in its queue (towards the tail); `None` at
    /// the tail, or if `page` is detached or unknown.
    pub(crate) fn next_of(&self, page: u32) -> Option<u32> {
        let e = self.entry(page)?;
        (e.queue < DETACHED && e.next != NIL).then_some(e.next)
    }

    /// The pages of `q`, head first.
    pub(crate) fn iter(&self, q: usize) -> impl Iterator<Item = u32> + '_ {
        let mut at = self.ends[q].head;
        std::iter::from_fn(move || {
            if at == NIL {
                return None;
            }
            let page = at;
            at = self.entry(page).map_or(NIL, |e| e.next);
            Some(page)
        })
    }

    /// Links `page` into `q` between `prev` and `next` (pages or NIL).
    fn link_before(&mut self, q: usize, page: u32, state: S, next: u32, prev: u32) -> bool {
        let e = self.at_or_alloc(page);
        if e.queue < DETACHED {
            return false;
        }
        e.state = state;
        self.attach(q, page, next, prev);
        true
    }

    fn attach(&mut self, q: usize, page: u32, next: u32, prev: u32) {
        let e = self.at(page);
        e.queue = q as u8;
        e.prev = prev;
        e.next = next;
        if prev == NIL {
            self.ends[q].head = page;
        } else {
            self.at(prev).next = page;
        }
        if next == NIL {
            self.ends[q].tail = page;
        } else {
            self.at(next).prev = page;
        }
        self.ends[q].len += 1;
        self.linked += 1;
    }

    fn unlink(&mut self, page: u32) {
        let Entry {
            prev, next, queue, ..
        } = *self.at(page);
        let q = queue as usize;
        if prev == NIL {
            self.ends[q].head = next;
        } else {
            self.at(prev).next = next;
        }
        if next == NIL {
            self.ends[q].tail = prev;
        } else {
            self.at(next).prev = prev;
        }
        self.at(page).queue = DETACHED;
        self.ends[q].len -= 1;
        self.linked -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_detach_states_and_far_pages() {
        let mut l: PageLinks<u8> = PageLinks::new(3);
        let p = |a: u32| a * 5_000; // pages in different chunks
        for a in 0..6 {
            assert!(l.push_back((a % 3) as usize, p(a), a as u8));
        }
        assert_eq!(l.len(), 6);
        assert_eq!(l.queue_len(1), 2);
        assert_eq!(l.detach_front(0), Some(p(0)));
        assert!(!l.contains(p(0)) && l.is_known(p(0)));
        assert_eq!(l.state(p(0)), Some(0));
        assert!(l.push_back(2, p(0), 9));
        assert!(!l.push_back(1, p(0), 7));
        assert_eq!(l.iter(2).collect::<Vec<_>>(), vec![p(2), p(5), p(0)]);
        assert_eq!(l.remove(p(5)), Some(5));
        assert!(!l.is_known(p(5)));
        assert_eq!(l.remove(p(5)), None);
        assert_eq!(l.next_of(p(2)), Some(p(0)));
        assert_eq!(l.next_of(p(0)), None);
        assert!(l.insert_before(1, 7, Some(p(4)), 1));
        assert!(l.insert_before(1, 8, Some(p(2)), 1), "not in q: tail");
        assert_eq!(l.iter(1).collect::<Vec<_>>(), vec![p(1), 7, p(4), 8]);
        assert_eq!(l.pop_front(1), Some(p(1)));
        assert!(!l.is_known(p(1)));
        assert!(!l.is_known(40_000_000) && l.state(40_000_000).is_none());
        assert_eq!(
            (0..3).map(|q| l.queue_len(q)).sum::<usize>(),
            l.len(),
            "lengths add up"
        );
    }
}
