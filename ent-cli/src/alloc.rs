//! The process's allocators, told to keep what an import frees.
//!
//! An import frees and takes back hundreds of megabytes per transaction: the records of thousands of people
//! (Rust, on mimalloc, the binary's global allocator) and SQLite's page cache and statement buffers (C, on
//! the C library's `malloc`). Both hand freed memory back to the kernel soon (mimalloc after a second, glibc
//! as soon as the top of its heap holds more than its trim threshold), and the next transaction takes it
//! back one page fault at a time: 1.5 million faults and 12 s of system time in an académie's load, 8% of
//! its wall time. The bulk commands (`import`, `demo`, `migrate`) keep it instead, until the process ends; the
//! portal (`serve`) keeps the allocators' defaults.
//!
//! The scale examples include this file (`#[path]`), so that they measure what `ent` does.

/// `mi_option_purge_delay` of `mimalloc.h` (the same in its versions 2 and 3), which `libmimalloc-sys` does
/// not name: milliseconds before freed memory goes back to the kernel, -1 for never.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Lets the process keep the memory it frees. Call it before the work, from any thread.
// The two calls are plain setters of the allocators' own options (integers), documented as callable at
// any time, from any thread; nothing is dereferenced.
#[allow(unsafe_code)]
pub(crate) fn keep_freed_memory() {
    // SAFETY: `mi_option_set` stores an integer option; mimalloc reads it at its next purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` sets glibc's malloc parameters under its own lock; the values are in range.
    unsafe {
        // Trim the top of the heap only beyond 1 GiB free, and grow it 64 MiB at a time.
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
