//! Block bookkeeping for the kernel memory.
//!
//! The kernel memory is a Wasm linear memory owned by the engine; this module only decides
//! *where* blocks go. It never touches the bytes, so it is tested without any engine.
//!
//! Layout: the first [`HEADER_SIZE`] bytes are the kernel header (see `kernel.wat`), blocks
//! live above it and are aligned to 8 bytes. The first block after a reset starts at
//! [`HEADER_SIZE`]: that is where a call's input goes, and where the data path reads it. Free space below the high-water mark (`end`)
//! is kept in two ordered maps: by offset (to merge neighbours on free) and by size (best
//! fit on alloc); no free block ever touches `end` (freeing the last block lowers `end`).
//! Alloc and free are O(log n) in the number of blocks and `length` is O(1). `reset` never
//! depends on the size of memory, and a call that made many blocks does not leave a big
//! table behind that every later reset would pay to clear.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// Bytes at the start of kernel memory reserved for the kernel header.
pub const HEADER_SIZE: u64 = 80;

/// Block alignment in bytes.
const ALIGN: u64 = 8;

/// The fewest bytes of kernel memory a block occupies. The host keeps about 100 bytes of
/// bookkeeping per live block (its entry, and at most one free neighbour's); with blocks of
/// at least this size, that stays below the kernel memory the guest has grown, so
/// `alloc(1)` in a loop cannot make the host hold more than the guest's own memory.
const MIN_BLOCK: u64 = 128;

/// The bytes a block of `len` bytes occupies; `None` past `u64::MAX`.
fn block_size(len: u64) -> Option<u64> {
    len.max(MIN_BLOCK).checked_next_multiple_of(ALIGN)
}

/// Above this many slots, `reset` drops the table of live blocks instead of clearing it.
const RESET_KEEP: usize = 4096;

/// Hashes block offsets: the allocator picks them, so a plug-in cannot aim collisions, and
/// a multiply-and-fold is much cheaper than SipHash on the `length` path.
#[derive(Default)]
struct OffsetHasher(u64);

impl Hasher for OffsetHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let h = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type OffsetMap<V> = HashMap<u64, V, BuildHasherDefault<OffsetHasher>>;

/// One allocated block: its requested length and the bytes it occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    len: u64,
    size: u64,
}

/// Where blocks live in the kernel memory.
#[derive(Debug, Clone)]
pub struct Allocator {
    active: OffsetMap<Block>,
    free_by_offset: BTreeMap<u64, u64>,
    free_by_size: BTreeSet<(u64, u64)>,
    end: u64,
    in_use: u64,
}

impl Default for Allocator {
    fn default() -> Self {
        Self::new()
    }
}

impl Allocator {
    /// An allocator with no blocks.
    pub fn new() -> Self {
        Allocator {
            active: OffsetMap::default(),
            free_by_offset: BTreeMap::new(),
            free_by_size: BTreeSet::new(),
            end: HEADER_SIZE,
            in_use: 0,
        }
    }

    /// Places a block of `len` bytes (`len > 0`) in a memory of `memory_len` bytes.
    ///
    /// `Ok(offset)` on success. `Err(required)` when the block does not fit: the memory
    /// must grow to at least `required` bytes before asking again (`u64::MAX` when no
    /// memory could hold it).
    pub fn alloc(&mut self, len: u64, memory_len: u64) -> Result<u64, u64> {
        debug_assert!(len > 0);
        let Some(size) = block_size(len) else {
            return Err(u64::MAX);
        };
        // Best fit among the free blocks. A free block lies below `end`, which lies within
        // the memory the blocks were placed in; the check keeps that true of any memory.
        if let Some(&(free_size, offset)) = self.free_by_size.range((size, 0)..).next() {
            let block_end = offset.saturating_add(size);
            if block_end > memory_len {
                return Err(block_end);
            }
            self.remove_free(offset, free_size);
            if free_size > size {
                self.insert_free(offset + size, free_size - size);
            }
            return Ok(self.activate(offset, len, size));
        }
        // Otherwise extend the high-water mark.
        let start = self.end;
        let Some(new_end) = start.checked_add(size) else {
            return Err(u64::MAX);
        };
        if new_end > memory_len {
            return Err(new_end);
        }
        self.end = new_end;
        Ok(self.activate(start, len, size))
    }

    fn activate(&mut self, offset: u64, len: u64, size: u64) -> u64 {
        self.active.insert(offset, Block { len, size });
        self.in_use += size;
        offset
    }

    fn insert_free(&mut self, offset: u64, size: u64) {
        self.free_by_offset.insert(offset, size);
        self.free_by_size.insert((size, offset));
    }

    fn remove_free(&mut self, offset: u64, size: u64) {
        self.free_by_offset.remove(&offset);
        self.free_by_size.remove(&(size, offset));
    }

    /// Frees the block starting at `offset`. Returns false (and changes nothing) when no
    /// block starts there.
    pub fn free(&mut self, offset: u64) -> bool {
        let Some(block) = self.active.remove(&offset) else {
            return false;
        };
        self.in_use -= block.size;
        let mut start = offset;
        let mut size = block.size;
        // Merge with the free block just before.
        if let Some((&prev, &prev_size)) = self.free_by_offset.range(..offset).next_back()
            && prev + prev_size == offset
        {
            self.remove_free(prev, prev_size);
            start = prev;
            size += prev_size;
        }
        // Merge with the free block just after.
        if let Some(&next_size) = self.free_by_offset.get(&(offset + block.size)) {
            self.remove_free(offset + block.size, next_size);
            size += next_size;
        }
        if start + size == self.end {
            self.end = start;
        } else {
            self.insert_free(start, size);
        }
        true
    }

    /// Length of the block starting at `offset`, if one does.
    pub fn length(&self, offset: u64) -> Option<u64> {
        self.active.get(&offset).map(|b| b.len)
    }

    /// Forgets every block.
    pub fn reset(&mut self) {
        if self.active.capacity() > RESET_KEEP {
            self.active = OffsetMap::default();
        } else {
            self.active.clear();
        }
        self.free_by_offset.clear();
        self.free_by_size.clear();
        self.end = HEADER_SIZE;
        self.in_use = 0;
    }

    /// Bytes occupied by live blocks (lengths rounded up to the alignment, at least
    /// [`MIN_BLOCK`] each).
    pub fn bytes_in_use(&self) -> u64 {
        self.in_use
    }

    /// The first byte past every block ever placed since the last reset.
    #[cfg(test)]
    pub fn high_water_mark(&self) -> u64 {
        self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MEM: u64 = 1 << 20;

    #[test]
    fn blocks_are_never_placed_outside_memory() {
        let mut a = Allocator::new();
        let big = a.alloc(300_000, MEM).unwrap();
        a.alloc(8, MEM).unwrap();
        assert!(a.free(big));
        // The free block fits the request but lies beyond a 64 KiB memory: grow first.
        assert_eq!(a.alloc(100_000, 65_536), Err(big + 100_000));
        assert_eq!(a.alloc(100_000, MEM), Ok(big));
    }

    #[test]
    fn freed_blocks_are_reused() {
        let mut a = Allocator::new();
        let x = a.alloc(100, MEM).unwrap();
        let y = a.alloc(100, MEM).unwrap();
        assert_eq!(x, HEADER_SIZE);
        assert!(a.free(x));
        let z = a.alloc(50, MEM).unwrap();
        assert_eq!(z, x, "a freed block is reused");
        assert_eq!(a.length(z), Some(50));
        assert_eq!(a.length(y), Some(100));
        assert!(!a.free(x + 8), "not a block start");
    }

    #[test]
    fn freeing_the_top_lowers_the_high_water_mark() {
        let mut a = Allocator::new();
        let x = a.alloc(8, MEM).unwrap();
        let y = a.alloc(8, MEM).unwrap();
        a.free(x);
        a.free(y);
        assert_eq!(a.high_water_mark(), HEADER_SIZE);
        assert_eq!(a.bytes_in_use(), 0);
    }

    #[test]
    fn asks_for_growth_and_changes_nothing_when_full() {
        let mut a = Allocator::new();
        assert_eq!(a.alloc(100, 128), Err(HEADER_SIZE + MIN_BLOCK));
        assert_eq!(a.high_water_mark(), HEADER_SIZE);
        assert_eq!(a.alloc(u64::MAX, MEM), Err(u64::MAX));
        assert!(matches!(a.alloc(u64::MAX - 100, MEM), Err(r) if r > MEM));
        let x = a.alloc(8, MEM).unwrap();
        a.alloc(8, MEM).unwrap();
        a.free(x);
        // A free block too small for the request stays put when growth is needed.
        let end = HEADER_SIZE + 2 * MIN_BLOCK;
        assert_eq!(a.alloc(200, end + 100), Err(end + 200));
        assert_eq!(a.alloc(8, end + 100), Ok(x));
    }

    /// `alloc(1)` until memory is full: the host's bookkeeping (table capacities times
    /// their entry sizes, with the B-tree maps' node overhead) stays below the memory.
    #[test]
    fn bookkeeping_stays_below_the_memory_it_describes() {
        let memory = 16 * 65_536;
        let mut a = Allocator::new();
        let mut blocks = Vec::new();
        while let Ok(offset) = a.alloc(1, memory) {
            blocks.push(offset);
        }
        // Every other block freed: as many free blocks as the maps can hold.
        for offset in blocks.iter().step_by(2) {
            assert!(a.free(*offset));
        }
        let entry = std::mem::size_of::<(u64, Block)>() + 1;
        let btree_entry = 2 * std::mem::size_of::<(u64, u64)>();
        let host = a.active.capacity() * entry
            + (a.free_by_offset.len() + a.free_by_size.len()) * btree_entry;
        assert!(
            blocks.len() as u64 <= memory / MIN_BLOCK,
            "{} blocks",
            blocks.len()
        );
        assert!(
            (host as u64) < memory,
            "{host} bytes of bookkeeping for a memory of {memory} bytes"
        );
    }

    #[test]
    fn reset_after_a_big_call_leaves_a_small_table() {
        let mut a = Allocator::new();
        for _ in 0..100_000 {
            a.alloc(8, u64::MAX).unwrap();
        }
        assert!(a.active.capacity() >= 100_000);
        a.reset();
        assert!(a.active.capacity() <= RESET_KEEP, "{}", a.active.capacity());
        assert_eq!(a.alloc(8, MEM), Ok(HEADER_SIZE));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Alloc(u64),
        Free(usize),
        Reset,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (1u64..600).prop_map(Op::Alloc),
            4 => any::<usize>().prop_map(Op::Free),
            1 => Just(Op::Reset),
        ]
    }

    proptest! {
        /// Random alloc/free/reset sequences against a model (a list of live blocks):
        /// blocks never overlap, stay inside memory and above the header, and lengths,
        /// frees and the bytes in use agree with the model.
        #[test]
        fn matches_a_simple_model(ops in proptest::collection::vec(op(), 1..300)) {
            let memory = 16 * 1024;
            let mut a = Allocator::new();
            let mut live: Vec<(u64, u64)> = Vec::new();
            for op in ops {
                match op {
                    Op::Alloc(len) => match a.alloc(len, memory) {
                        Ok(off) => {
                            prop_assert!(off >= HEADER_SIZE && off % ALIGN == 0);
                            prop_assert!(off + len <= memory);
                            for &(o, l) in &live {
                                prop_assert!(off + len <= o || o + l <= off, "overlap");
                            }
                            live.push((off, len));
                        }
                        Err(required) => {
                            // Failure is honest: no free block is big enough and the
                            // high-water mark has no room left below the memory's end.
                            let size = block_size(len).unwrap();
                            prop_assert!(required > memory);
                            prop_assert!(a.free_by_size.range((size, 0)..).next().is_none());
                            prop_assert!(a.high_water_mark() + size > memory);
                        }
                    },
                    Op::Free(i) if !live.is_empty() => {
                        let (off, _) = live.swap_remove(i % live.len());
                        prop_assert!(a.free(off));
                        prop_assert!(!a.free(off), "double free is refused");
                    }
                    Op::Free(_) => prop_assert!(!a.free(HEADER_SIZE)),
                    Op::Reset => {
                        a.reset();
                        live.clear();
                    }
                }
                for &(o, l) in &live {
                    prop_assert_eq!(a.length(o), Some(l));
                }
                let used: u64 = live.iter().map(|&(_, l)| block_size(l).unwrap()).sum();
                prop_assert_eq!(a.bytes_in_use(), used);
                // No free block touches the high-water mark.
                if let Some((&o, &s)) = a.free_by_offset.last_key_value() {
                    prop_assert!(o + s < a.end);
                }
                prop_assert_eq!(a.free_by_offset.len(), a.free_by_size.len());
            }
            if live.is_empty() {
                prop_assert_eq!(a.high_water_mark(), HEADER_SIZE, "everything merged back");
            }
        }
    }
}
