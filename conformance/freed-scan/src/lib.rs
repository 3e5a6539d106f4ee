//! # sealwire-freed-scan — TEST-ONLY
//!
//! A global allocator that forwards to the system allocator and, while
//! armed, scans every heap block as it is freed for registered secret
//! patterns (every 8-byte window of every registered secret). A secret found
//! in a freed block is recorded as a [`Finding`]: the secret was left behind
//! in memory the program no longer owns, where a later allocation, a core
//! dump or a heap-spraying attacker can read it.
//!
//! Install it only in a test binary or a fuzz target:
//!
//! ```no_run
//! #[global_allocator]
//! static ALLOC: sealwire_freed_scan::ScanAlloc = sealwire_freed_scan::ScanAlloc::new();
//! # fn main() {}
//! ```
//!
//! Library crates never install it; they may call the safe registry
//! functions ([`register`], [`arm`], [`findings`], ...), which do nothing
//! useful unless the allocator is installed ([`installed`]).
//!
//! ## What it sees
//! * every `dealloc` of a heap block (`Box`, `Vec`, `String`, `VecDeque`,
//!   hash tables, ...), including the blocks of `Vec` and `VecDeque` spare
//!   capacity, which `Drop` impls of the elements never touch;
//! * every `realloc`: it is always carried out as allocate, copy, scan the
//!   old block, free the old block. So a growing `Vec` that would move in a
//!   real allocator is always caught, even where the system allocator could
//!   have grown it in place (stricter than reality, on purpose).
//!
//! Every freed block is zeroed after the scan (armed or not), so that a
//! secret left behind while the scan was off cannot resurface in a later
//! allocation and be blamed on the wrong free.
//!
//! ## What it cannot see
//! * copies on the stack (moves of a key into and out of a function, spilled
//!   temporaries, the stack frames of the primitives): the stack is reused,
//!   never freed;
//! * copies in CPU registers and in SIMD registers;
//! * heap blocks that are never freed (leaked, `mem::forget`, or alive at
//!   process exit), and memory not obtained through the global allocator
//!   (`mmap` by a dependency, static buffers);
//! * secrets that are transformed before being stored (a clamped scalar, an
//!   expanded key schedule, a hash state): only the registered byte strings
//!   are searched for, so register every form that matters;
//! * windows of a secret made of one repeated byte (for example an all-zero
//!   key) are not registered: they would match zeroed memory everywhere.
//!
//! The scan is single-process and global: test binaries that arm it should
//! run the armed sections one at a time (hold a mutex), since frees on other
//! threads are scanned too.

pub mod uninstrumented;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::alloc::System;
use std::sync::Mutex;

/// How many distinct 8-byte windows the registry holds (half the table).
pub const MAX_PATTERNS: usize = TABLE_LEN / 2;
/// How many findings are kept in detail ([`findings`]); more are counted.
pub const MAX_FINDINGS: usize = 256;

const TABLE_BITS: u32 = 16;
const TABLE_LEN: usize = 1 << TABLE_BITS;

/// Open-addressing table of 8-byte windows (0 = empty slot) and the id of
/// the secret each came from. Static, so registering never allocates and
/// the registry itself is never freed.
static TABLE: [AtomicU64; TABLE_LEN] = [const { AtomicU64::new(0) }; TABLE_LEN];
static TABLE_IDS: [AtomicU32; TABLE_LEN] = [const { AtomicU32::new(0) }; TABLE_LEN];
static PATTERNS: AtomicUsize = AtomicUsize::new(0);
static REGISTRY_LOCK: Mutex<()> = Mutex::new(());

static INSTALLED: AtomicBool = AtomicBool::new(false);
static ARMED: AtomicBool = AtomicBool::new(false);
/// Freed blocks are scrubbed and reallocations always move (see
/// [`set_scrubbing`]).
static SCRUB: AtomicBool = AtomicBool::new(true);
static TRACE: AtomicBool = AtomicBool::new(false);
static PHASE: AtomicU32 = AtomicU32::new(0);

static FINDING_COUNT: AtomicUsize = AtomicUsize::new(0);
static FINDING_SECRET: [AtomicU32; MAX_FINDINGS] = [const { AtomicU32::new(0) }; MAX_FINDINGS];
static FINDING_PHASE: [AtomicU32; MAX_FINDINGS] = [const { AtomicU32::new(0) }; MAX_FINDINGS];
static FINDING_LEN: [AtomicUsize; MAX_FINDINGS] = [const { AtomicUsize::new(0) }; MAX_FINDINGS];
static FINDING_OFFSET: [AtomicUsize; MAX_FINDINGS] = [const { AtomicUsize::new(0) }; MAX_FINDINGS];
static TRACES: Mutex<Vec<String>> = Mutex::new(Vec::new());
const MAX_TRACES: usize = 16;

std::thread_local! {
    /// Set while this thread records a finding (which may allocate and
    /// free): frees inside the hook are not scanned.
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// The scanning allocator. See the crate documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScanAlloc;

impl ScanAlloc {
    /// The allocator, for a `#[global_allocator]` static.
    pub const fn new() -> Self {
        Self
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over. `dealloc` only reads the
// block (which the caller guarantees is live and `layout.size()` bytes long)
// before handing it back; `realloc` is implemented from `alloc`, a copy of
// `min(old, new)` bytes, and `dealloc`, exactly as `GlobalAlloc`'s default.
unsafe impl GlobalAlloc for ScanAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !INSTALLED.load(Ordering::Relaxed) {
            INSTALLED.store(true, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !INSTALLED.load(Ordering::Relaxed) {
            INSTALLED.store(true, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged; the caller upholds the contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::Relaxed) && layout.size() >= 8 {
            // SAFETY: the caller guarantees `ptr` is a live block of
            // `layout.size()` bytes allocated by this allocator.
            let block = unsafe { core::slice::from_raw_parts(ptr, layout.size()) };
            scan_freed(block);
        }
        // Scrub every freed block (armed or not): otherwise a secret left
        // in a block freed while disarmed would reappear in a later
        // allocation (in padding or an unwritten `None` payload) and be
        // reported at that block's free, far from its cause. Not in a
        // process that never scans (`set_scrubbing(false)`).
        if SCRUB.load(Ordering::Relaxed) {
            // SAFETY: as above, the block is live and `layout.size()` long;
            // it is written only before being handed back.
            unsafe { scrub(ptr, layout.size()) };
        }
        // SAFETY: forwarded unchanged; the caller upholds the contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !SCRUB.load(Ordering::Relaxed) && !ARMED.load(Ordering::Relaxed) {
            // A process that never scans: `System`'s own realloc.
            // SAFETY: forwarded unchanged; the caller upholds the contract.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // Always move, so that the old block is scanned as freed memory
        // (a real allocator may move any block it cannot grow in place).
        // SAFETY: the caller guarantees `new_size` is non-zero and, rounded
        // up to `layout.align()`, does not overflow `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size (see above).
        let new_ptr = unsafe { self.alloc(new_layout) };
        if !new_ptr.is_null() {
            // SAFETY: both blocks are live, distinct, and at least
            // `min(old, new)` bytes long.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new_ptr
    }
}

/// Zeroes `len` bytes at `ptr` with volatile writes (plain writes right
/// before `free` may be removed as dead stores).
///
/// # Safety
/// `ptr` must be valid for writes of `len` bytes.
unsafe fn scrub(ptr: *mut u8, len: usize) {
    let words = len / 8;
    for i in 0..words {
        // SAFETY: `8 * i + 8 <= len` bytes are writable; `[u8; 8]` has
        // alignment 1, so the write needs no alignment.
        unsafe { core::ptr::write_volatile(ptr.add(8 * i).cast::<[u8; 8]>(), [0; 8]) };
    }
    for i in words * 8..len {
        // SAFETY: `i < len` and the caller guarantees `len` writable bytes.
        unsafe { core::ptr::write_volatile(ptr.add(i), 0) };
    }
}

fn slot_of(window: u64) -> usize {
    // Fibonacci hashing of the window into the table.
    (window.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TABLE_BITS)) as usize
}

fn lookup(window: u64) -> Option<u32> {
    let mut slot = slot_of(window);
    loop {
        let v = TABLE[slot].load(Ordering::Relaxed);
        if v == 0 {
            return None;
        }
        if v == window {
            return Some(TABLE_IDS[slot].load(Ordering::Relaxed));
        }
        slot = (slot + 1) & (TABLE_LEN - 1);
    }
}

fn scan_freed(block: &[u8]) {
    if PATTERNS.load(Ordering::Relaxed) == 0 || IN_HOOK.with(Cell::get) {
        return;
    }
    for offset in 0..=block.len() - 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&block[offset..offset + 8]);
        if let Some(id) = lookup(u64::from_le_bytes(w)) {
            record(id, block.len(), offset);
            // One finding per block is enough to locate it.
            return;
        }
    }
}

fn record(secret: u32, block_len: usize, offset: usize) {
    let index = FINDING_COUNT.fetch_add(1, Ordering::Relaxed);
    if index < MAX_FINDINGS {
        FINDING_SECRET[index].store(secret, Ordering::Relaxed);
        FINDING_PHASE[index].store(PHASE.load(Ordering::Relaxed), Ordering::Relaxed);
        FINDING_LEN[index].store(block_len, Ordering::Relaxed);
        FINDING_OFFSET[index].store(offset, Ordering::Relaxed);
    }
    if TRACE.load(Ordering::Relaxed) {
        IN_HOOK.with(|h| h.set(true));
        // Allocation inside `dealloc` is allowed (our `alloc` only forwards);
        // frees inside the hook are not scanned (IN_HOOK).
        if let Ok(mut traces) = TRACES.try_lock()
            && traces.len() < MAX_TRACES
        {
            let trace = std::backtrace::Backtrace::force_capture();
            traces.push(format!(
                "secret {secret} in a freed block of {block_len} bytes at offset {offset}:\n{trace}"
            ));
        }
        IN_HOOK.with(|h| h.set(false));
    }
}

/// True once the scanning allocator has served an allocation, that is, when
/// it is the process's global allocator.
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Whether freed blocks are scrubbed and every reallocation moves (the
/// default: on). Scrubbing is what keeps a secret freed while the scan is
/// disarmed from being reported later at the free of a block that reused
/// the memory; a process that will never arm the scan (a fuzz target run
/// without the freed-memory check) turns it off and frees and reallocates
/// at `System`'s speed. Turn it on before the secrets that a later armed
/// scan should judge are made: blocks freed while it was off are not
/// scrubbed.
pub fn set_scrubbing(on: bool) {
    SCRUB.store(on, Ordering::SeqCst);
}

/// The registry is full ([`MAX_PATTERNS`] windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryFull;

impl core::fmt::Display for RegistryFull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "freed-memory registry is full ({MAX_PATTERNS} windows)")
    }
}

impl std::error::Error for RegistryFull {}

/// Registers every 8-byte window of `secret` under the id `secret_id`.
/// Windows of one repeated byte are skipped (they would match zeroed or
/// filled memory). Returns how many windows were added.
pub fn register(secret_id: u32, secret: &[u8]) -> Result<usize, RegistryFull> {
    let _guard = REGISTRY_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut added = 0;
    for window in secret.windows(8) {
        if window.iter().all(|&b| b == window[0]) {
            continue;
        }
        let mut w = [0u8; 8];
        w.copy_from_slice(window);
        let value = u64::from_le_bytes(w);
        if lookup(value).is_some() {
            continue;
        }
        if PATTERNS.load(Ordering::Relaxed) >= MAX_PATTERNS {
            return Err(RegistryFull);
        }
        let mut slot = slot_of(value);
        while TABLE[slot].load(Ordering::Relaxed) != 0 {
            slot = (slot + 1) & (TABLE_LEN - 1);
        }
        TABLE_IDS[slot].store(secret_id, Ordering::Relaxed);
        TABLE[slot].store(value, Ordering::Release);
        PATTERNS.fetch_add(1, Ordering::Relaxed);
        added += 1;
    }
    Ok(added)
}

/// How many windows are registered.
pub fn pattern_count() -> usize {
    PATTERNS.load(Ordering::Relaxed)
}

/// Starts scanning freed blocks.
pub fn arm() {
    ARMED.store(true, Ordering::SeqCst);
}

/// Stops scanning freed blocks.
pub fn disarm() {
    ARMED.store(false, Ordering::SeqCst);
}

/// True while freed blocks are scanned.
pub fn is_armed() -> bool {
    ARMED.load(Ordering::Relaxed)
}

/// Labels the findings recorded from now on (a caller-defined number, for
/// example the index of the operation being run).
pub fn set_phase(phase: u32) {
    PHASE.store(phase, Ordering::Relaxed);
}

/// Captures a backtrace for each of the first findings (see
/// [`take_traces`]). Slow; for locating a finding, not for fuzzing.
pub fn set_trace(on: bool) {
    TRACE.store(on, Ordering::Relaxed);
}

/// Disarms, forgets every pattern, finding and trace.
pub fn reset() {
    disarm();
    let _guard = REGISTRY_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    for slot in 0..TABLE_LEN {
        TABLE[slot].store(0, Ordering::Relaxed);
        TABLE_IDS[slot].store(0, Ordering::Relaxed);
    }
    PATTERNS.store(0, Ordering::Relaxed);
    FINDING_COUNT.store(0, Ordering::Relaxed);
    PHASE.store(0, Ordering::Relaxed);
    if let Ok(mut traces) = TRACES.lock() {
        traces.clear();
    }
}

/// A registered secret found in a freed heap block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    /// The id the secret was registered under.
    pub secret_id: u32,
    /// The phase label current when the block was freed.
    pub phase: u32,
    /// The size of the freed block.
    pub block_len: usize,
    /// Where in the block the first matching window starts.
    pub offset: usize,
}

/// How many freed blocks held a registered secret since the last [`reset`].
pub fn finding_count() -> usize {
    FINDING_COUNT.load(Ordering::Relaxed)
}

/// The first [`MAX_FINDINGS`] findings since the last [`reset`].
pub fn findings() -> Vec<Finding> {
    let n = finding_count().min(MAX_FINDINGS);
    (0..n)
        .map(|i| Finding {
            secret_id: FINDING_SECRET[i].load(Ordering::Relaxed),
            phase: FINDING_PHASE[i].load(Ordering::Relaxed),
            block_len: FINDING_LEN[i].load(Ordering::Relaxed),
            offset: FINDING_OFFSET[i].load(Ordering::Relaxed),
        })
        .collect()
}

/// Takes the backtraces captured since [`set_trace`] was turned on.
pub fn take_traces() -> Vec<String> {
    match TRACES.lock() {
        Ok(mut t) => core::mem::take(&mut *t),
        Err(_) => Vec::new(),
    }
}
