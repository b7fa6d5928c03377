//! Page ids to dense ids (`0..distinct`, in order of first appearance),
//! the one map every simulation's trace goes through once.
//!
//! Real page ids are sparse (w106's 275,177 pages spread over 4 GiB of
//! page numbers, about one page per 1024-page block), so the map is a hash
//! map; most references, though, repeat a page seen shortly before (on
//! w106 and orm-busy 84–90 % find their page in a direct-mapped memo of
//! the last 16,384 pages by hash slot), and the memo's 256 KiB stay in the
//! processor's cache where the map's several MiB do not. A reference the
//! memo answers costs one multiplication and one comparison.

use rustc_hash::FxHashMap;

/// Slots of the memo (a power of two).
const MEMO: usize = 1 << 14;

/// The map from page ids to dense ids.
#[derive(Debug)]
pub(crate) struct DenseIds {
    map: FxHashMap<u64, u32>,
    /// `(page, dense id)` by the page's slot; `u64::MAX` marks an empty
    /// slot (a page with that id goes to the map every time, correctly).
    memo: Vec<(u64, u32)>,
}

impl DenseIds {
    pub(crate) fn new() -> Self {
        DenseIds {
            map: FxHashMap::default(),
            memo: vec![(u64::MAX, 0); MEMO],
        }
    }

    /// Pages seen so far.
    pub(crate) fn distinct(&self) -> usize {
        self.map.len()
    }

    /// The dense id of `page`, numbering it next if it is new.
    #[inline]
    pub(crate) fn id(&mut self, page: u64) -> u32 {
        // Fibonacci hashing: the top bits of the product pick the slot.
        let slot =
            (page.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MEMO.trailing_zeros())) as usize;
        let m = &mut self.memo[slot];
        if m.0 == page && page != u64::MAX {
            return m.1;
        }
        let next = self.map.len() as u32;
        let id = *self.map.entry(page).or_insert(next);
        *m = (page, id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offline::Trace;
    use crate::trace::{BinaryWriter, TraceReader};

    fn reader(bytes: &[u8]) -> TraceReader {
        TraceReader::from_reader(Box::new(std::io::Cursor::new(bytes.to_vec())), "mem", None)
            .unwrap()
    }

    #[test]
    fn a_trace_read_in_blocks_equals_one_read_by_reference() {
        let mut x = 7u64;
        let pages: Vec<u64> = (0..30_000)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if i % 4 == 0 {
                    x >> 20
                } else {
                    x >> 54
                }
            })
            .collect();
        let mut w = BinaryWriter::new(Vec::new()).unwrap();
        for &p in &pages {
            w.write(p).unwrap();
        }
        let binary = w.finish().unwrap();
        let text: String = pages.iter().map(|p| format!("{p}\n")).collect();
        for bytes in [&binary[..], text.as_bytes()] {
            let blocks = Trace::from_reader("t", reader(bytes)).unwrap();
            let singly = Trace::from_pages("t", reader(bytes)).unwrap();
            let by_id = Trace::from_ids("t", &pages).unwrap();
            assert_eq!(blocks.dense(), singly.dense());
            assert_eq!(blocks.dense(), by_id.dense());
            assert_eq!(blocks.distinct(), by_id.distinct());
            assert_eq!(blocks.len(), pages.len());
        }
        // Errors come through: a binary record cut short, an empty trace.
        let cut = Trace::from_reader("t", reader(&binary[..binary.len() - 1]));
        assert!(cut.unwrap_err().to_string().contains("cut short"));
        let empty =
            TraceReader::from_reader(Box::new(std::io::Cursor::new(Vec::new())), "mem", None);
        assert!(empty.is_err() || Trace::from_reader("t", empty.unwrap()).is_err());
    }

    #[test]
    fn ids_are_dense_in_order_of_first_appearance() {
        let mut d = DenseIds::new();
        // Colliding slots, the empty-slot marker and repeats.
        let pages = [7, u64::MAX, 7, 7 + (1 << 50), 0, u64::MAX, 7, 0, 3];
        let ids: Vec<u32> = pages.iter().map(|&p| d.id(p)).collect();
        assert_eq!(ids, [0, 1, 0, 2, 3, 1, 0, 3, 4]);
        assert_eq!(d.distinct(), 5);
        let mut many = DenseIds::new();
        for round in 0..3 {
            for p in 0..50_000u64 {
                assert_eq!(many.id(p * 4097), p as u32, "round {round}");
            }
        }
    }
}
