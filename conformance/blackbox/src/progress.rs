//! Progress of a long run, for a front end to show (the command line draws
//! it with indicatif, hidden when stderr is not a terminal). The library
//! itself draws nothing: without a hook, `tick` does nothing.

use std::sync::{Mutex, PoisonError};

/// Called with what is running (`"model"`, `"fuzz"`), the steps done and
/// the steps in all.
pub type Hook = Box<dyn Fn(&str, u64, u64) + Send>;

static HOOK: Mutex<Option<Hook>> = Mutex::new(None);

/// Installs `hook` for this process (replacing an earlier one); `None`
/// removes it.
pub fn set(hook: Option<Hook>) {
    *HOOK.lock().unwrap_or_else(PoisonError::into_inner) = hook;
}

/// Reports that `done` of `total` steps of `what` are done.
pub(crate) fn tick(what: &str, done: u64, total: u64) {
    if let Some(h) = HOOK.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
        h(what, done, total);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn ticks_reach_the_hook_and_stop_when_it_is_removed() {
        let seen = Arc::new(AtomicU64::new(0));
        let s = Arc::clone(&seen);
        super::set(Some(Box::new(move |what, done, total| {
            assert_eq!((what, total), ("model", 10));
            s.store(done, Ordering::SeqCst);
        })));
        super::tick("model", 3, 10);
        assert_eq!(seen.load(Ordering::SeqCst), 3);
        super::set(None);
        super::tick("model", 7, 10);
        assert_eq!(seen.load(Ordering::SeqCst), 3);
    }
}
