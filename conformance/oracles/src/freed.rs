//! The freed-memory check, as the oracles drive it.
//!
//! The scanning allocator lives in the `sealwire-freed-scan` crate (the one
//! crate allowed `unsafe`); a test binary or fuzz target installs it as its
//! `#[global_allocator]`. This module only uses its safe registry: the
//! oracles register every secret they learn, arm the scan around the
//! library's work, and turn findings into [`Leak`]s of kind
//! [`LeakKind::FreedMemory`].
//!
//! The check runs only when the allocator is installed **and** it is
//! enabled: by [`set_enabled`], or in fuzz targets by the environment
//! variable `SEALWIRE_FREED_SCAN=1`. Without the allocator every function
//! here is a cheap no-op, so the same oracles run in plain `cargo test`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use sealwire_freed_scan as scan;

/// The scanning global allocator (TEST-ONLY) that a fuzz target or test
/// binary installs for the freed-memory check.
pub use sealwire_freed_scan::ScanAlloc;

use super::leak::{Leak, LeakKind, LeakScanner};

// 0 = not decided yet (read the environment), 1 = off, 2 = on.
static ENABLED: AtomicU8 = AtomicU8::new(0);
static WATCHING: AtomicBool = AtomicBool::new(false);
/// The label of every registered secret, by id (the registry's ids).
static LABELS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Turns the check on or off for this process (overrides the environment).
///
/// On also restores the allocator's scrubbing of freed blocks, should a
/// fuzz target have stopped it (it does when it will not scan, before any
/// secret exists): turn the check on before the secrets it should judge
/// are made (a test does it first thing).
pub fn set_enabled(on: bool) {
    if on {
        scan::set_scrubbing(true);
    }
    ENABLED.store(if on { 2 } else { 1 }, Ordering::SeqCst);
}

/// For a process that has decided, before any secret exists, that it will
/// not scan (a fuzz target without `SEALWIRE_FREED_SCAN=1`, in its first
/// execution): stops the allocator's scrubbing of freed blocks and its
/// moving reallocations ([`sealwire_freed_scan::set_scrubbing`]), which
/// only a scan needs.
pub(crate) fn never_scans() {
    if !is_active() {
        scan::set_scrubbing(false);
    }
}

/// True when the scanning allocator is installed and the check is enabled.
pub fn is_active() -> bool {
    if !scan::installed() {
        return false;
    }
    match ENABLED.load(Ordering::Relaxed) {
        0 => {
            let on = std::env::var_os("SEALWIRE_FREED_SCAN").is_some_and(|v| v == "1");
            ENABLED.store(if on { 2 } else { 1 }, Ordering::SeqCst);
            on
        }
        state => state == 2,
    }
}

/// Registers a secret's windows while a [`Watch`] is running.
pub(crate) fn register(label: &str, bytes: &[u8]) {
    if !WATCHING.load(Ordering::Relaxed) {
        return;
    }
    let id = {
        let mut labels = LABELS.lock().unwrap_or_else(|p| p.into_inner());
        labels.push(label.to_owned());
        (labels.len() - 1) as u32
    };
    // A full registry only weakens the check; it cannot cause a false alarm.
    let _ = scan::register(id, bytes);
}

/// Labels the findings recorded from now on with the number of the
/// operation the oracle is running.
pub fn phase(number: u32) {
    if WATCHING.load(Ordering::Relaxed) {
        scan::set_phase(number);
    }
}

/// Runs `f` with the scan paused: for the oracle's own handling of secrets
/// (for example `sealwire::testing::session_secrets`, whose result vector
/// grows by reallocation), which is not the library's behaviour under test.
pub fn paused<T>(f: impl FnOnce() -> T) -> T {
    let was = scan::is_armed();
    scan::disarm();
    let out = f();
    if was {
        scan::arm();
    }
    out
}

/// One armed section. Dropping it without [`Watch::finish`] disarms.
#[derive(Debug)]
pub struct Watch {
    active: bool,
}

impl Watch {
    /// Clears the registry, registers every secret `scanner` knows, and
    /// starts scanning, if the check is active. Secrets added to any
    /// scanner later are registered as they come.
    pub fn begin(scanner: &LeakScanner) -> Self {
        let active = is_active();
        if active {
            scan::reset();
            LABELS.lock().unwrap_or_else(|p| p.into_inner()).clear();
            WATCHING.store(true, Ordering::SeqCst);
            scanner.for_each_secret_window(&mut |label, w| register(label, w));
            scan::arm();
        }
        Self { active }
    }

    /// True when this section really scans.
    pub const fn is_active(&self) -> bool {
        self.active
    }

    /// Stops scanning; a secret found in any freed block is a leak.
    pub fn finish(mut self) -> Result<(), Leak> {
        self.stop();
        if !self.active {
            return Ok(());
        }
        match scan::findings().first() {
            None => Ok(()),
            Some(f) => Err(Leak {
                kind: LeakKind::FreedMemory,
                place: format!(
                    "a freed heap block of {} bytes ({} such blocks in all), during operation {}",
                    f.block_len,
                    scan::finding_count(),
                    f.phase
                ),
                secret: LABELS
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(f.secret_id as usize)
                    .map_or_else(|| format!("secret #{}", f.secret_id), Clone::clone),
                at: format!("block offset {}", f.offset),
            }),
        }
    }

    fn stop(&mut self) {
        if self.active {
            scan::disarm();
            WATCHING.store(false, Ordering::SeqCst);
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop();
    }
}
