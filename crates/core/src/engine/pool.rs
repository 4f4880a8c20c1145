use std::sync::Mutex;

/// A free list of reusable buffers, so steady-state execution allocates nothing per task:
/// workers take buffers, the writer gives them back after writing.
#[derive(Debug, Default)]
pub(crate) struct Pool<T> {
    free: Mutex<Vec<T>>,
}

impl<T: Default> Pool<T> {
    pub fn take(&self) -> T {
        self.free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default()
    }

    pub fn give(&self, item: T) {
        self.free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(item);
    }
}
