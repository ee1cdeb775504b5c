//! The only `unsafe` in fate-bench: thin wrappers over the libc calls the measurements need,
//! and the global allocator ([`MiMalloc`]).
//!
//! Each function is safe to call from any thread; errors come back as `io::Error` from `errno`.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

/// Whose resource usage [`rusage`] reads.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Who {
    /// The calling thread only (`RUSAGE_THREAD`).
    Thread,
    /// The whole process, every thread, reaped children excluded (`RUSAGE_SELF`).
    Process,
    /// This process's children that have been waited for (`RUSAGE_CHILDREN`).
    Children,
}

/// User and system CPU time of the calling thread, this process or its reaped children.
pub(crate) fn rusage(who: Who) -> io::Result<(Duration, Duration)> {
    let who = match who {
        Who::Thread => libc::RUSAGE_THREAD,
        Who::Process => libc::RUSAGE_SELF,
        Who::Children => libc::RUSAGE_CHILDREN,
    };
    let mut ru = MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `ru` points to writable memory the size of a `rusage`; getrusage only writes it.
    let rc = unsafe { libc::getrusage(who, ru.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: getrusage returned 0, so it filled the whole struct (and zeroed() made every
    // byte initialised even before that).
    let ru = unsafe { ru.assume_init() };
    Ok((timeval(ru.ru_utime), timeval(ru.ru_stime)))
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// The CPU-time clock of the calling thread, readable from any thread of this process
/// with [`clock_time`] while the thread lives.
pub(crate) fn thread_cpu_clock() -> io::Result<libc::clockid_t> {
    let mut id: libc::clockid_t = 0;
    // SAFETY: pthread_self() is the live calling thread and `id` is a valid out-pointer.
    let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(id)
}

/// The current value of `clock` (any clock id, including a thread CPU clock).
pub(crate) fn clock_time(clock: libc::clockid_t) -> io::Result<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; an invalid clock id (a thread that has exited)
    // makes clock_gettime fail with EINVAL, it does not touch memory.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Pins the calling thread to one CPU.
pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: cpu_set_t is plain bits; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` was checked against CPU_SETSIZE, so CPU_SET writes inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The CPUs this thread may run on, ascending.
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain bits; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is a writable cpu_set_t of the size passed.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let cpus = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` < CPU_SETSIZE, so CPU_ISSET reads inside `set`.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect();
    Ok(cpus)
}

/// Hands freed heap memory back to the kernel, so one implementation's garbage does not
/// pre-fault pages for the next one run in the same process.
#[cfg(target_env = "gnu")]
pub(crate) fn malloc_trim() {
    // SAFETY: malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Without glibc there is nothing to trim.
#[cfg(not(target_env = "gnu"))]
pub(crate) fn malloc_trim() {}

/// Hands the memory the allocators hold free back to the kernel: glibc's (`malloc_trim`)
/// and mimalloc's — every arena's free pages, whichever thread freed them, at once rather
/// than after mimalloc's purge delay and the freeing thread's next allocation. So that a
/// reading of resident memory counts what is in use, not what an allocator keeps cached.
pub(crate) fn release_free_memory() {
    malloc_trim();
    // SAFETY: mi_collect has no preconditions; it only frees and purges unused memory.
    unsafe {
        mi_collect(true);
    }
}

extern "C" {
    /// Frees what mimalloc holds unused and purges its arenas' free pages, all of them with
    /// `force` (from mimalloc's extended API, linked in with it).
    fn mi_collect(force: bool);
}

/// The global allocator: mimalloc, through plain `mi_malloc` whenever the alignment asked
/// for is at most a pointer's (every mimalloc block has that), `mi_malloc_aligned` otherwise.
///
/// The `mimalloc` crate sends every allocation through `mi_malloc_aligned`. In mimalloc 3 its
/// fast path only takes a free block of the page at hand; once that page of a size class that
/// is not a power of two fills up, each further block of that size is over-allocated from the
/// next class through the slow path (a 160-byte block takes 192 bytes, a 96-byte one 112).
/// Workloads that keep hundreds of thousands of blocks alive (`deferred --batch`, `spawn`,
/// `conns`) paid that in memory and time, whichever implementation ran.
pub(crate) struct MiMalloc;

/// Every block mimalloc hands out is aligned to at least this.
const MI_MIN_ALIGN: usize = std::mem::size_of::<usize>();

#[cfg(test)]
extern "C" {
    /// The usable size of the block at `p` (from mimalloc's extended API, linked in with it).
    fn mi_usable_size(p: *const std::ffi::c_void) -> usize;
}

// SAFETY: every method hands the request to mimalloc, which returns blocks of at least the
// requested size aligned as the layout asks (or null); `mi_free` takes any mimalloc block.
unsafe impl std::alloc::GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys as mi;
        if layout.align() <= MI_MIN_ALIGN {
            // SAFETY: any size; mimalloc aligns every block to MI_MIN_ALIGN.
            unsafe { mi::mi_malloc(layout.size()).cast() }
        } else {
            // SAFETY: `layout.align()` is a power of two, as mimalloc requires.
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys as mi;
        if layout.align() <= MI_MIN_ALIGN {
            // SAFETY: as in `alloc`.
            unsafe { mi::mi_zalloc(layout.size()).cast() }
        } else {
            // SAFETY: as in `alloc`.
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        // SAFETY: the caller passes a block this allocator returned.
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        use libmimalloc_sys as mi;
        if layout.align() <= MI_MIN_ALIGN {
            // SAFETY: the caller passes a block this allocator returned; mimalloc keeps
            // MI_MIN_ALIGN for the moved block too.
            unsafe { mi::mi_realloc(ptr.cast(), new_size).cast() }
        } else {
            // SAFETY: as above, with the alignment asked for.
            unsafe { mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast() }
        }
    }
}

/// The usable size of the heap block behind `b` (the size class it was given).
#[cfg(test)]
pub(crate) fn usable_size<T>(b: &T) -> usize {
    // SAFETY: `b` points into a live block of the global allocator, which is mimalloc's.
    unsafe { mi_usable_size(std::ptr::from_ref(b).cast()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Far more blocks than one mimalloc page holds, of a size that is not a power of two:
    /// each stays in its own size class (the `mimalloc` crate's allocator gave 192-byte blocks
    /// to all but the first page's worth).
    #[test]
    fn blocks_keep_their_size_class_after_a_page_fills() {
        let blocks: Vec<Box<[u64; 20]>> = (0..20_000).map(|i| Box::new([i; 20])).collect();
        let oversized = blocks.iter().filter(|b| usable_size(&***b) != 160).count();
        assert_eq!(oversized, 0);
    }
}
