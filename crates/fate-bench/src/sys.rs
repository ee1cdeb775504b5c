//! The only `unsafe` in fate-bench: thin wrappers over the libc calls the measurements need.
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
