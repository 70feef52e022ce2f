//! The `trawl` binary's memory allocator: jemalloc, with the settings measured for a crawl.
//!
//! Why not the system allocator: a crawl allocates and frees at a high rate from many threads
//! (bodies, parsed links, and above all sled, which copies a tree node on every insert). With
//! glibc malloc that was the largest single cost in the profile (~16% of all CPU samples in
//! `malloc`, `free` and their consolidation). Measured against glibc (tuned: 2 arenas, 256 KiB
//! mmap threshold), same build otherwise: the Rust docs crawl (20,000 pages, 6 interleaved runs)
//! 4,249 -> 4,948 pages/s, CPU 6.94 -> 6.00 s, peak RSS 77 -> 91 MB; `trawl bench scale-1m`
//! 3,586 -> 4,439-4,685 pages/s, CPU 398 -> 317-333 s, one run each (the README has the
//! figures of the release as a whole).
//!
//! The settings, compiled in through jemalloc's `malloc_conf` symbol (the environment variable
//! `_RJEM_MALLOC_CONF` still overrides each of them), each measured on the Rust docs crawl:
//! - `narenas:2`: jemalloc's default is 4 arenas per core; a crawl's threads (runtime workers,
//!   parse workers, the persist stage, sled's I/O pool) then spread their memory over 8 arenas,
//!   each with its own free pages: 145 MB peak RSS. Two arenas: ~30 MB less, no loss of speed.
//! - `dirty_decay_ms:300`: freed pages go back to the OS within ~0.3 s instead of 10 s (the
//!   crawl frees ~100 MB/s of bodies). 0 costs a page fault for every page reused: 300,000
//!   faults instead of 50,000 and 25% slower, for ~20 MB less. 3 s: half the faults of 300 ms
//!   but no faster over 14 interleaved rounds, and ~5 MB more.
//! - `tcache_max:4096`: each thread caches freed blocks up to 4 KiB only, not 32 KiB: with ~15
//!   threads, caches of body-sized blocks held ~10 MB (101 -> 91 MB); no measurable loss of speed.
//!   No thread cache at all: 84 MB, but 5% slower.
//!
//! The library crates do not pick an allocator: programs that embed them choose their own.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc reads its options from this symbol (a NUL-terminated C string) at its first allocation.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
static malloc_conf: &[u8; 45] = b"narenas:2,dirty_decay_ms:300,tcache_max:4096\0";

#[cfg(test)]
mod tests {
    use std::ffi::{c_char, c_int, c_void};

    extern "C" {
        /// jemalloc's control interface (prefixed `_rjem_` as tikv-jemalloc-sys builds it).
        fn _rjem_mallctl(
            name: *const c_char,
            old: *mut c_void,
            old_len: *mut usize,
            new: *mut c_void,
            new_len: usize,
        ) -> c_int;
    }

    fn read_option<T: Default>(name: &std::ffi::CStr) -> T {
        let mut value = T::default();
        let mut len = std::mem::size_of::<T>();
        // SAFETY: `value` is a writable T and `len` its size, as mallctl requires.
        let status = unsafe {
            _rjem_mallctl(
                name.as_ptr(),
                (&mut value as *mut T).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(status, 0, "mallctl {name:?}");
        value
    }

    #[test]
    fn jemalloc_runs_with_the_compiled_in_options() {
        assert_eq!(read_option::<u32>(c"opt.narenas"), 2);
        assert_eq!(read_option::<isize>(c"opt.dirty_decay_ms"), 300);
        assert_eq!(read_option::<usize>(c"opt.tcache_max"), 4096);
    }
}
