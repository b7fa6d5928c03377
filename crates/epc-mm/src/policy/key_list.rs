//! An ordered set of page keys with O(1) push at the tail, pop at the head
//! and removal of any key: the list behind FIFO and second chance.
//!
//! A doubly linked list in a slab (indices, not pointers, so no `unsafe`)
//! plus a hash index from key to slot. Owners remove single pages often
//! (unmark, teardown), so removal must not scan.

use crate::page::PageKey;
use rustc_hash::FxHashMap;

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    key: PageKey,
    prev: u32,
    next: u32,
}

/// Keys in insertion order, head first.
#[derive(Debug, Default)]
pub(crate) struct KeyList {
    nodes: Vec<Node>,
    index: FxHashMap<PageKey, u32>,
    /// Slots of removed nodes, reused before the slab grows.
    spare: Vec<u32>,
    head: Option<u32>,
    tail: Option<u32>,
}

impl KeyList {
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub(crate) fn contains(&self, key: PageKey) -> bool {
        self.index.contains_key(&key)
    }

    /// Appends `key` at the tail; `false` (and no change) if present.
    pub(crate) fn push_back(&mut self, key: PageKey) -> bool {
        if self.index.contains_key(&key) {
            return false;
        }
        let node = Node {
            key,
            prev: self.tail.unwrap_or(NIL),
            next: NIL,
        };
        let slot = match self.spare.pop() {
            Some(s) => {
                self.nodes[s as usize] = node;
                s
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        match self.tail {
            Some(t) => self.nodes[t as usize].next = slot,
            None => self.head = Some(slot),
        }
        self.tail = Some(slot);
        self.index.insert(key, slot);
        true
    }

    /// Removes and returns the head.
    pub(crate) fn pop_front(&mut self) -> Option<PageKey> {
        let head = self.head?;
        let key = self.nodes[head as usize].key;
        self.unlink(head);
        self.index.remove(&key);
        Some(key)
    }

    /// Removes `key`; `false` if absent.
    pub(crate) fn remove(&mut self, key: PageKey) -> bool {
        match self.index.remove(&key) {
            Some(slot) => {
                self.unlink(slot);
                true
            }
            None => false,
        }
    }

    /// The head (oldest) key.
    pub(crate) fn front(&self) -> Option<PageKey> {
        self.head.map(|s| self.nodes[s as usize].key)
    }

    /// The key after `key` (towards the tail), `None` at the tail or if
    /// `key` is absent.
    pub(crate) fn next_of(&self, key: PageKey) -> Option<PageKey> {
        let slot = *self.index.get(&key)?;
        let next = self.nodes[slot as usize].next;
        (next != NIL).then(|| self.nodes[next as usize].key)
    }

    /// Inserts `key` just before `at` (at the tail if `at` is `None` or
    /// absent); `false` (and no change) if `key` is present.
    pub(crate) fn insert_before(&mut self, key: PageKey, at: Option<PageKey>) -> bool {
        let Some(&at) = at.and_then(|a| self.index.get(&a)) else {
            return self.push_back(key);
        };
        if self.index.contains_key(&key) {
            return false;
        }
        let prev = self.nodes[at as usize].prev;
        let node = Node {
            key,
            prev,
            next: at,
        };
        let slot = match self.spare.pop() {
            Some(s) => {
                self.nodes[s as usize] = node;
                s
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        if prev == NIL {
            self.head = Some(slot);
        } else {
            self.nodes[prev as usize].next = slot;
        }
        self.nodes[at as usize].prev = slot;
        self.index.insert(key, slot);
        true
    }

    /// Moves `key` to the tail; `false` if absent.
    pub(crate) fn move_to_back(&mut self, key: PageKey) -> bool {
        let Some(&slot) = self.index.get(&key) else {
            return false;
        };
        if self.tail == Some(slot) {
            return true;
        }
        // Unlink without freeing the slot, then relink at the tail.
        let Node { prev, next, .. } = self.nodes[slot as usize];
        if prev == NIL {
            self.head = (next != NIL).then_some(next);
        } else {
            self.nodes[prev as usize].next = next;
        }
        // `next` is not NIL: the slot is not the tail.
        self.nodes[next as usize].prev = prev;
        let tail = self.tail.expect("a list with two keys has a tail");
        self.nodes[tail as usize].next = slot;
        self.nodes[slot as usize].prev = tail;
        self.nodes[slot as usize].next = NIL;
        self.tail = Some(slot);
        true
    }

    /// The keys, head first (for tests and validation).
    pub(crate) fn iter(&self) -> impl Iterator<Item = PageKey> + '_ {
        let mut at = self.head;
        std::iter::from_fn(move || {
            let slot = at?;
            let node = self.nodes[slot as usize];
            at = (node.next != NIL).then_some(node.next);
            Some(node.key)
        })
    }

    fn unlink(&mut self, slot: u32) {
        let Node { prev, next, .. } = self.nodes[slot as usize];
        if prev == NIL {
            self.head = (next != NIL).then_some(next);
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = (prev != NIL).then_some(prev);
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.spare.push(slot);
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
        assert!(l.nodes.len() <= 5, "slots are reused");
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
}
