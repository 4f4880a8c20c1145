//! Buffers of several MB (a cross-trial fold's nodes, its checkpoint copy) asked to be
//! backed by transparent huge pages before they are first touched.
//!
//! Most kernels hand out huge pages only to memory that asks for them (`madvise` mode).
//! Without them, first touching a 34 MB contribution (cross-spectra of 64 channels) takes
//! about 8 700 page faults, and such buffers are made fresh for every node of the fold and
//! every checkpoint: in a 64-channel coherence run the faults took about a tenth of the CPU
//! time. With 2 MB pages there are 512 times fewer. The advice changes no value and is only
//! a hint: where it is refused or unknown, the buffer is the same, with small pages.

/// A huge page on x86-64 and aarch64 with 4 KB base pages.
const HUGE_PAGE: usize = 2 << 20;

/// Buffers smaller than this are left alone: a few huge pages would not pay for the call.
const SMALLEST: usize = 4 * HUGE_PAGE;

/// An empty vector with room for `capacity` values, the room advised to be backed by huge
/// pages when it is large.
pub(crate) fn vec_with_capacity(capacity: usize) -> Vec<f64> {
    let mut values = Vec::with_capacity(capacity);
    if capacity * std::mem::size_of::<f64>() >= SMALLEST {
        advise(values.spare_capacity_mut());
    }
    values
}

/// Asks the kernel to back the whole huge pages inside `room` (not yet touched) with huge
/// pages.
#[cfg(target_os = "linux")]
fn advise<T>(room: &mut [T]) {
    let start = room.as_mut_ptr() as usize;
    let end = start + std::mem::size_of_val(room);
    let first = start.next_multiple_of(HUGE_PAGE);
    let last = end / HUGE_PAGE * HUGE_PAGE;
    if first < last {
        // SAFETY: `[first, last)` lies inside `room`, memory this process owns, and
        // MADV_HUGEPAGE changes only how the kernel backs it, never its contents; a refusal
        // (an old kernel, huge pages disabled) leaves it as it was, so the result is ignored.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise<T>(_room: &mut [T]) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_is_an_ordinary_vector_of_that_capacity() {
        for n in [0, 10, SMALLEST / 8 + 3] {
            let mut v = vec_with_capacity(n);
            assert!(v.is_empty() && v.capacity() >= n);
            v.resize(n, 1.5);
            assert!(v.iter().all(|&x| x == 1.5));
        }
    }
}
