//! This binary's global allocator: the system allocator, counting on each
//! thread the bytes that thread has allocated minus those it freed, as
//! requested in each `Layout` (no allocator rounding), and the peak of that
//! count. Counting per thread lets the tests of this binary run side by
//! side: each measures only the work it does on its own thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static NET: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // No destructor, so this works even while a thread is torn down.
    let _ = NET.try_with(|net| {
        let now = net.get() + delta;
        net.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are
// thread-local `Cell`s without a destructor, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes this thread has allocated and not freed (signed: a thread may free
/// what another allocated).
pub fn net() -> isize {
    NET.with(Cell::get)
}

/// [`net`] as a `usize`, for differences between two readings (which wrap
/// back to the exact difference).
pub fn live() -> usize {
    net() as usize
}

/// The highest [`live`] of this thread since [`reset_peak`].
pub fn peak() -> usize {
    PEAK.with(Cell::get) as usize
}

/// Starts a new peak at what this thread holds now.
pub fn reset_peak() {
    let now = net();
    PEAK.with(|peak| peak.set(now));
}
