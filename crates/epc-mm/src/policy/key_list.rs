//! The page-key bookkeeping every list policy needs, written once.
//!
//! [`KeyLists`] holds several FIFO queues of page keys in one slab (a
//! doubly linked list per queue, by index, so no `unsafe`) with one hash
//! index from key to slot and a small per-key state. O(1) push at a tail,
//! pop at a head, move between queues and removal of any key: owners remove
//! single pages often (unmark, teardown), so removal must not scan.
//!
//! A key can also be *detached*: still known, with its state, but in no
//! queue. That is how policies keep isolated victims between
//! `select_victims` and `put_back`/`evicted`/`removed` (the manager's
//! contract): [`detach`](KeyLists::detach), then
//! [`push_back`](KeyLists::push_back) to put it back or
//! [`remove`](KeyLists::remove) to forget it, which also forgets a key in a
//! queue, so `removed` is one call whatever the page's state.
//!
//! [`KeyList`] is the one-queue, stateless case (FIFO, second chance, SIEVE
//! and the offline policies).
//!
//! What a key costs (issue 13, §5: the manager's metadata per page): its
//! node (the key, two links, the queue and the state: 32 bytes) and a slot
//! number in the index, a `hashbrown::HashTable<u32>` hashed by the key the
//! node holds (4 bytes and a control byte per bucket), rather than a map
//! that would store the 16-byte key a second time beside the slot (25
//! bytes per bucket).

use crate::page::PageKey;
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use std::hash::BuildHasher;

const NIL: u32 = u32::MAX;
const DETACHED: u8 = u8::MAX;

#[derive(Clone, Copy, Debug)]
struct Node<S> {
    key: PageKey,
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

/// Up to 254 FIFO queues of page keys, each key in at most one queue (or
/// detached), each with a state `S`.
#[derive(Debug)]
pub struct KeyLists<S> {
    nodes: Vec<Node<S>>,
    /// The slot of every known key, hashed by the key its node holds.
    index: HashTable<u32>,
    /// Slots of removed nodes, reused before the slab grows.
    spare: Vec<u32>,
    ends: Vec<Ends>,
    linked: usize,
}

/// The hash of `key` in the index.
#[inline]
fn hash(key: PageKey) -> u64 {
    FxBuildHasher.hash_one(key)
}

impl<S: Copy> KeyLists<S> {
    /// The slot of a known key.
    #[inline]
    fn slot(&self, key: PageKey) -> Option<u32> {
        let nodes = &self.nodes;
        self.index
            .find(hash(key), |&s| nodes[s as usize].key == key)
            .copied()
    }

    /// `queues` empty queues, numbered from 0.
    pub fn new(queues: usize) -> Self {
        assert!(queues < DETACHED as usize, "at most 254 queues");
        KeyLists {
            nodes: Vec::new(),
            index: HashTable::new(),
            spare: Vec::new(),
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

    /// Keys in all queues (detached ones not counted).
    pub fn len(&self) -> usize {
        self.linked
    }

    /// Whether every queue is empty.
    pub fn is_empty(&self) -> bool {
        self.linked == 0
    }

    /// Keys in queue `q`.
    pub fn queue_len(&self, q: usize) -> usize {
        self.ends[q].len
    }

    /// Whether `key` is in a queue (not detached, not unknown).
    pub fn contains(&self, key: PageKey) -> bool {
        self.queue_of(key).is_some()
    }

    /// The queue holding `key`; `None` if detached or unknown.
    pub fn queue_of(&self, key: PageKey) -> Option<usize> {
        let slot = self.slot(key)?;
        let q = self.nodes[slot as usize].queue;
        (q != DETACHED).then_some(q as usize)
    }

    /// Whether `key` is known, in a queue or detached.
    pub fn is_known(&self, key: PageKey) -> bool {
        self.slot(key).is_some()
    }

    /// The state of a known key.
    pub fn state(&self, key: PageKey) -> Option<S> {
        self.slot(key).map(|s| self.nodes[s as usize].state)
    }

    /// Replaces the state of a known key; `false` if unknown.
    pub fn set_state(&mut self, key: PageKey, state: S) -> bool {
        match self.slot(key) {
            Some(s) => {
                self.nodes[s as usize].state = state;
                true
            }
            None => false,
        }
    }

    /// Appends `key` at the tail of `q` with `state`. A detached key is
    /// re-attached; `false` (and no change) if `key` is already in a queue.
    pub fn push_back(&mut self, q: usize, key: PageKey, state: S) -> bool {
        let at = self.ends[q].tail;
        self.link_before(q, key, state, NIL, at)
    }

    /// Inserts `key` into `q` just before `at` (at the tail if `at` is
    /// `None` or not in `q`); as [`push_back`](Self::push_back) otherwise.
    pub fn insert_before(&mut self, q: usize, key: PageKey, at: Option<PageKey>, state: S) -> bool {
        match at.and_then(|a| self.slot(a)) {
            Some(s) if self.nodes[s as usize].queue as usize == q => {
                let prev = self.nodes[s as usize].prev;
                self.link_before(q, key, state, s, prev)
            }
            _ => self.push_back(q, key, state),
        }
    }

    /// Moves a key (queued or detached) to the tail of `q`, keeping its
    /// state; `false` if unknown.
    pub fn move_to_back(&mut self, q: usize, key: PageKey) -> bool {
        let Some(slot) = self.slot(key) else {
            return false;
        };
        let node = self.nodes[slot as usize];
        if node.queue as usize == q && self.ends[q].tail == slot {
            return true;
        }
        if node.queue != DETACHED {
            self.unlink(slot);
        }
        self.attach(q, slot, NIL, self.ends[q].tail);
        true
    }

    /// Removes the head of `q` entirely and returns it with its state.
    pub fn pop_front(&mut self, q: usize) -> Option<(PageKey, S)> {
        let head = self.ends[q].head;
        if head == NIL {
            return None;
        }
        let node = self.nodes[head as usize];
        self.remove(node.key);
        Some((node.key, node.state))
    }

    /// Detaches the head of `q` (it stays known, with its state).
    pub fn detach_front(&mut self, q: usize) -> Option<PageKey> {
        let head = self.ends[q].head;
        if head == NIL {
            return None;
        }
        self.unlink(head);
        Some(self.nodes[head as usize].key)
    }

    /// Takes `key` out of its queue, keeping it known; `false` unless it
    /// was in a queue.
    pub fn detach(&mut self, key: PageKey) -> bool {
        match self.slot(key) {
            Some(s) if self.nodes[s as usize].queue != DETACHED => {
                self.unlink(s);
                true
            }
            _ => false,
        }
    }

    /// Forgets `key`, queued or detached, returning its state.
    pub fn remove(&mut self, key: PageKey) -> Option<S> {
        let nodes = &self.nodes;
        let (slot, _) = self
            .index
            .find_entry(hash(key), |&s| nodes[s as usize].key == key)
            .ok()?
            .remove();
        if self.nodes[slot as usize].queue != DETACHED {
            self.unlink(slot);
        }
        self.spare.push(slot);
        Some(self.nodes[slot as usize].state)
    }

    /// The head (oldest) key of `q`.
    pub fn front(&self, q: usize) -> Option<PageKey> {
        let h = self.ends[q].head;
        (h != NIL).then(|| self.nodes[h as usize].key)
    }

    /// The key after `key` in its queue (towards the tail); `None` at the
    /// tail, or if `key` is detached or unknown.
    pub fn next_of(&self, key: PageKey) -> Option<PageKey> {
        let slot = self.slot(key)?;
        let node = self.nodes[slot as usize];
        (node.queue != DETACHED && node.next != NIL).then(|| self.nodes[node.next as usize].key)
    }

    /// The keys of `q`, head first.
    pub fn iter(&self, q: usize) -> impl Iterator<Item = PageKey> + '_ {
        let mut at = self.ends[q].head;
        std::iter::from_fn(move || {
            if at == NIL {
                return None;
            }
            let node = self.nodes[at as usize];
            at = node.next;
            Some(node.key)
        })
    }

    /// Links `key` into `q` between `prev` and `next` (slots or NIL).
    fn link_before(&mut self, q: usize, key: PageKey, state: S, next: u32, prev: u32) -> bool {
        let slot = match self.slot(key) {
            Some(s) if self.nodes[s as usize].queue != DETACHED => return false,
            Some(s) => {
                self.nodes[s as usize].state = state;
                s
            }
            None => {
                let node = Node {
                    key,
                    prev: NIL,
                    next: NIL,
                    queue: DETACHED,
                    state,
                };
                let s = match self.spare.pop() {
                    Some(s) => {
                        self.nodes[s as usize] = node;
                        s
                    }
                    None => {
                        self.nodes.push(node);
                        (self.nodes.len() - 1) as u32
                    }
                };
                let nodes = &self.nodes;
                self.index
                    .insert_unique(hash(key), s, |&t| hash(nodes[t as usize].key));
                s
            }
        };
        self.attach(q, slot, next, prev);
        true
    }

    fn attach(&mut self, q: usize, slot: u32, next: u32, prev: u32) {
        let node = &mut self.nodes[slot as usize];
        node.queue = q as u8;
        node.prev = prev;
        node.next = next;
        if prev == NIL {
            self.ends[q].head = slot;
        } else {
            self.nodes[prev as usize].next = slot;
        }
        if next == NIL {
            self.ends[q].tail = slot;
        } else {
            self.nodes[next as usize].prev = slot;
        }
        self.ends[q].len += 1;
        self.linked += 1;
    }

    fn unlink(&mut self, slot: u32) {
        let Node {
            prev, next, queue, ..
        } = self.nodes[slot as usize];
        let q = queue as usize;
        if prev == NIL {
            self.ends[q].head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.ends[q].tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.nodes[slot as usize].queue = DETACHED;
        self.ends[q].len -= 1;
        self.linked -= 1;
    }
}

/// Keys in insertion order, head first: one [`KeyLists`] queue, no state.
#[derive(Debug)]
pub struct KeyList(KeyLists<()>);

impl Default for KeyList {
    fn default() -> Self {
        KeyList(KeyLists::new(1))
    }
}

impl KeyList {
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `key` is in the list.
    pub fn contains(&self, key: PageKey) -> bool {
        self.0.is_known(key)
    }

    /// Appends `key` at the tail; `false` (and no change) if present.
    pub fn push_back(&mut self, key: PageKey) -> bool {
        self.0.push_back(0, key, ())
    }

    /// Removes and returns the head.
    pub fn pop_front(&mut self) -> Option<PageKey> {
        self.0.pop_front(0).map(|(k, ())| k)
    }

    /// Removes `key`; `false` if absent.
    pub fn remove(&mut self, key: PageKey) -> bool {
        self.0.remove(key).is_some()
    }

    /// The head (oldest) key.
    pub fn front(&self) -> Option<PageKey> {
        self.0.front(0)
    }

    /// The key after `key` (towards the tail), `None` at the tail or if
    /// `key` is absent.
    pub fn next_of(&self, key: PageKey) -> Option<PageKey> {
        self.0.next_of(key)
    }

    /// Inserts `key` just before `at` (at the tail if `at` is `None` or
    /// absent); `false` (and no change) if `key` is present.
    pub fn insert_before(&mut self, key: PageKey, at: Option<PageKey>) -> bool {
        self.0.insert_before(0, key, at, ())
    }

    /// Moves `key` to the tail; `false` if absent.
    pub fn move_to_back(&mut self, key: PageKey) -> bool {
        self.0.move_to_back(0, key)
    }

    /// The keys, head first.
    pub fn iter(&self) -> impl Iterator<Item = PageKey> + '_ {
        self.0.iter(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::OwnerId;

    fn k(a: u64) -> PageKey {
        PageKey::new(OwnerId(1), a)
    }

    #[test]
    fn order_push_pop_remove() {
        let mut l = KeyList::default();
        for a in 0..5 {
            assert!(l.push_back(k(a)));
        }
        assert!(!l.push_back(k(2)));
        assert!(l.remove(k(2)));
        assert!(!l.remove(k(2)));
        assert!(l.remove(k(4)));
        assert!(l.remove(k(0)));
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![k(1), k(3)]);
        assert!(l.push_back(k(9)));
        assert_eq!(l.pop_front(), Some(k(1)));
        assert_eq!(l.pop_front(), Some(k(3)));
        assert_eq!(l.pop_front(), Some(k(9)));
        assert_eq!(l.pop_front(), None);
        assert_eq!(l.len(), 0);
        assert!(l.0.nodes.len() <= 5, "slots are reused");
        for a in 0..4 {
            l.push_back(k(a));
        }
        assert!(l.move_to_back(k(0)));
        assert!(l.move_to_back(k(2)));
        assert!(l.move_to_back(k(2)));
        assert!(!l.move_to_back(k(7)));
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![k(1), k(3), k(0), k(2)]);
        assert_eq!(l.front(), Some(k(1)));
        assert_eq!(l.next_of(k(3)), Some(k(0)));
        assert_eq!(l.next_of(k(2)), None);
        assert!(l.insert_before(k(8), Some(k(1))));
        assert!(l.insert_before(k(9), Some(k(0))));
        assert!(l.insert_before(k(10), None));
        assert!(!l.insert_before(k(10), Some(k(1))));
        assert_eq!(
            l.iter().collect::<Vec<_>>(),
            vec![k(8), k(1), k(3), k(9), k(0), k(2), k(10)]
        );
    }

    #[test]
    fn queues_detach_and_states() {
        let mut l: KeyLists<u8> = KeyLists::new(3);
        for a in 0..6 {
            assert!(l.push_back((a % 3) as usize, k(a), a as u8));
        }
        assert_eq!(l.len(), 6);
        assert_eq!(l.queue_len(1), 2);
        assert_eq!(l.detach_front(0), Some(k(0)));
        assert!(!l.contains(k(0)) && l.is_known(k(0)));
        assert_eq!(l.len(), 5);
        assert_eq!(l.state(k(0)), Some(0));
        // Re-attach elsewhere with a new state; a queued key is refused.
        assert!(l.push_back(2, k(0), 9));
        assert!(!l.push_back(1, k(0), 7));
        assert_eq!(l.queue_of(k(0)), Some(2));
        assert_eq!(l.iter(2).collect::<Vec<_>>(), vec![k(2), k(5), k(0)]);
        assert!(l.move_to_back(0, k(2)));
        assert_eq!(l.iter(0).collect::<Vec<_>>(), vec![k(3), k(2)]);
        assert!(l.detach(k(5)));
        assert!(!l.detach(k(5)));
        assert_eq!(l.next_of(k(5)), None);
        assert_eq!(l.remove(k(5)), Some(5));
        assert!(!l.is_known(k(5)));
        assert_eq!(l.pop_front(2), Some((k(0), 9)));
        assert!(l.insert_before(1, k(7), Some(k(4)), 1));
        assert_eq!(l.iter(1).collect::<Vec<_>>(), vec![k(1), k(7), k(4)]);
        assert_eq!(l.len(), 5);
        assert_eq!(
            (0..3).map(|q| l.queue_len(q)).sum::<usize>(),
            l.len(),
            "lengths add up"
        );
    }
}
