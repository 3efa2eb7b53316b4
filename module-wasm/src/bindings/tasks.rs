//! The futures the core spawns (the roll loop of an `execute_roll`, a fallback POST),
//! owned like its timers and socket: each has a handle in the runtime, and dropping the
//! handle cancels the future. A cancelled roll loop asks Foundry for no further dice, and
//! a cancelled POST is aborted with its `AbortController`. So a core that is dropped
//! rolls nothing into chat and leaves no request running.

use std::cell::Cell;
use std::rc::Rc;

/// Tells a running future whether it was cancelled.
#[derive(Debug, Clone)]
pub struct CancelFlag(Rc<Cell<bool>>);

impl CancelFlag {
    pub fn is_cancelled(&self) -> bool {
        self.0.get()
    }
}

/// One spawned future's handle; dropping it cancels the future.
#[derive(Debug)]
pub struct Handle {
    cancelled: Rc<Cell<bool>>,
    abort: Option<web_sys::AbortController>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.cancelled.set(true);
        if let Some(controller) = &self.abort {
            controller.abort();
        }
    }
}

/// The futures running for the core, by a number of their own. A list, not a
/// `HashMap`: a few run at a time, and a list keeps the hash table's code out of the
/// .wasm.
#[derive(Debug, Default)]
pub struct Tasks {
    next: u64,
    running: Vec<(u64, Handle)>,
}

impl Tasks {
    /// Registers a future about to be spawned, with the `AbortController` of the request
    /// it makes, if any; returns its number and its cancel flag.
    pub fn register(&mut self, abort: Option<web_sys::AbortController>) -> (u64, CancelFlag) {
        let id = self.next;
        self.next += 1;
        let cancelled = Rc::new(Cell::new(false));
        self.running.push((
            id,
            Handle {
                cancelled: cancelled.clone(),
                abort,
            },
        ));
        (id, CancelFlag(cancelled))
    }

    /// A future that finished hands its handle back; the caller drops it outside any
    /// borrow (aborting a finished request is a no-op).
    #[must_use]
    pub fn finish(&mut self, id: u64) -> Option<Handle> {
        let index = self.running.iter().position(|(held, _)| *held == id)?;
        Some(self.running.swap_remove(index).1)
    }

    /// How many are running.
    pub fn len(&self) -> usize {
        self.running.len()
    }
}
