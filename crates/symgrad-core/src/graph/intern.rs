//! The hash-consing table: which node, if any, already computes an operation.
//!
//! One flat hash table over every node is a cache miss per lookup once a
//! graph outgrows the caches (W7 at 10^6 nodes spent about half its time on
//! the two misses of each hashbrown probe: control byte, then slot). The
//! passes, though, build nodes in an orderly way: a new node's newest
//! operand (its *anchor*) is almost always near the node being visited
//! (reverse mode walks the graph backwards, builders forwards). So the table
//! is split by anchor into segments of [`ANCHORS_PER_SEGMENT`] consecutive
//! ids, each a small open-addressing table of its own that grows on its own.
//! Consecutive lookups then land in the one or two segments of the region a
//! pass is working on, which stay in cache, and a segment never has to read
//! a node to grow (entries keep their hash). Leaves (no operands) have a
//! segment of their own.
//!
//! Where a graph has many nodes over few anchors (every product of two
//! of `n` variables), their segment is just a larger hash table: never worse
//! than one table for everything.

use super::NodeId;

/// How many consecutive anchor ids share a segment (a power of two). About
/// as many nodes fall into it, so a segment is a few tens of KiB: two of
/// them (the region a pass reads and the one it appends to) fit in L2.
pub(super) const ANCHORS_PER_SEGMENT: usize = 1 << 12;

/// A segment's first size, in slots (a power of two), in a small graph.
const FIRST_SLOTS: usize = 16;

/// The first size of a segment past the first one, which only a graph of
/// more than [`ANCHORS_PER_SEGMENT`] nodes has: room for about as many
/// nodes as anchors, so that it does not grow in ten small steps.
const LARGE_FIRST_SLOTS: usize = 2 * ANCHORS_PER_SEGMENT;

/// An empty slot. A full slot holds `hash << 32 | (id + 1)`, so it is never 0.
const EMPTY: u64 = 0;

/// The hash-consing table of a [`super::Graph`], keyed by a node's 32-bit hash
/// and its anchor; equality is decided by the caller, who has the nodes.
#[derive(Clone, Debug, Default)]
pub(super) struct InternTable {
    /// `segments[k]` holds the nodes whose anchor is in
    /// `k * ANCHORS_PER_SEGMENT .. (k + 1) * ANCHORS_PER_SEGMENT`.
    segments: Vec<Segment>,
    /// The nodes without operands.
    leaves: Segment,
}

/// One open-addressing table with linear probing, at most three quarters full.
#[derive(Clone, Debug, Default)]
struct Segment {
    slots: Vec<u64>,
    len: usize,
    /// `slots.len()` is `2^bits`.
    bits: u32,
}

impl InternTable {
    /// The node with hash `hash` and anchor `anchor` (its newest operand, or
    /// `None` for a leaf) for which `equal` holds; if there is none, records
    /// `new` under that key and returns `None`.
    #[inline]
    pub(super) fn find_or_insert(
        &mut self,
        anchor: Option<NodeId>,
        hash: u32,
        new: NodeId,
        equal: impl Fn(NodeId) -> bool,
    ) -> Option<NodeId> {
        let (segment, first_slots) = match anchor {
            None => (&mut self.leaves, FIRST_SLOTS),
            Some(a) => {
                let k = a.index() / ANCHORS_PER_SEGMENT;
                if k >= self.segments.len() {
                    self.segments.resize_with(k + 1, Segment::default);
                }
                let first = if k == 0 {
                    FIRST_SLOTS
                } else {
                    LARGE_FIRST_SLOTS
                };
                (&mut self.segments[k], first)
            }
        };
        segment.find_or_insert(hash, new, first_slots, equal)
    }

    /// Room for nodes anchored up to id `max_anchor`, so that the segment
    /// list does not grow step by step.
    pub(super) fn reserve_anchors(&mut self, max_anchor: usize) {
        let wanted = max_anchor / ANCHORS_PER_SEGMENT + 1;
        self.segments
            .reserve(wanted.saturating_sub(self.segments.len()));
    }

    /// The number of nodes recorded.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.leaves.len + self.segments.iter().map(|s| s.len).sum::<usize>()
    }
}

impl Segment {
    #[inline]
    fn find_or_insert(
        &mut self,
        hash: u32,
        new: NodeId,
        first_slots: usize,
        equal: impl Fn(NodeId) -> bool,
    ) -> Option<NodeId> {
        if 4 * (self.len + 1) > 3 * self.slots.len() {
            self.grow(first_slots);
        }
        let mask = self.slots.len() - 1;
        let mut i = home(hash, self.bits);
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                self.slots[i] = pack(hash, new);
                self.len += 1;
                return None;
            }
            if (slot >> 32) as u32 == hash {
                let id = unpack_id(slot);
                if equal(id) {
                    return Some(id);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the slots (or makes the first `first_slots`), placing every
    /// entry again from its stored hash.
    #[cold]
    fn grow(&mut self, first_slots: usize) {
        let size = (2 * self.slots.len()).max(first_slots);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
        self.bits = size.trailing_zeros();
        let mask = size - 1;
        for slot in old.into_iter().filter(|&s| s != EMPTY) {
            let mut i = home((slot >> 32) as u32, self.bits);
            while self.slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }
}

/// The first slot to probe for `hash` in a segment of `2^bits` slots: the
/// high bits of the hash times an odd constant, which depend on all of it.
#[inline]
fn home(hash: u32, bits: u32) -> usize {
    let mixed = u64::from(hash.wrapping_mul(0x9E37_79B9)) << 32;
    // A shift by 64 would overflow: shift in two steps.
    ((mixed >> 1) >> (63 - bits)) as usize
}

#[inline]
fn pack(hash: u32, id: NodeId) -> u64 {
    (u64::from(hash) << 32) | (id.index() as u64 + 1)
}

#[inline]
fn unpack_id(slot: u64) -> NodeId {
    NodeId::from_index((slot & 0xFFFF_FFFF) as usize - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries with equal hashes in one segment are told apart by `equal`,
    /// and survive growth.
    #[test]
    fn finds_what_it_recorded_across_growth_and_collisions() {
        let mut t = InternTable::default();
        let keys: Vec<(Option<NodeId>, u32)> = (0..20_000u32)
            .map(|i| {
                let anchor = (i % 3 != 0).then(|| NodeId::from_index((i as usize * 7) % 50_000));
                // Many equal hashes: only `equal` separates them.
                (anchor, i % 97)
            })
            .collect();
        for (i, &(anchor, hash)) in keys.iter().enumerate() {
            let id = NodeId::from_index(i);
            assert_eq!(t.find_or_insert(anchor, hash, id, |_| false), None);
        }
        assert_eq!(t.len(), keys.len());
        for (i, &(anchor, hash)) in keys.iter().enumerate() {
            let want = NodeId::from_index(i);
            let got = t.find_or_insert(anchor, hash, NodeId::from_index(999_999), |c| c == want);
            assert_eq!(got, Some(want));
        }
        assert_eq!(t.len(), keys.len(), "hits add nothing");
    }

    #[test]
    fn ids_up_to_the_largest_round_trip_through_a_slot() {
        let id = NodeId::from_index(u32::MAX as usize - 1);
        assert_eq!(unpack_id(pack(u32::MAX, id)), id);
        assert_ne!(pack(0, NodeId::from_index(0)), EMPTY);
    }
}
