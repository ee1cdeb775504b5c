//! Making sure every child is reaped: the shutdown trigger and the SIGCHLD fallback.
//!
//! Each reactor that spawned a child gets one `before shutdown` trigger. When the reactor
//! stops, it applies each live child's [`OnShutdown`] policy: `Kill` sends SIGKILL and the
//! shutdown waits until the child has been reaped; `Detach` closes the pipes and hands the child
//! to a thread that waits for it. A child still alive when the reactor is *dropped* (without a
//! `stop`) gets the same policy from `Process`'s `Drop`.
//!
//! Without pidfds (Linux < 5.3, or a seccomp policy that forbids `pidfd_open`) exits are
//! learned from SIGCHLD: one signal-hook watch per reactor, registered before the spawn, and
//! on each delivery `try_wait` on every child this reactor owns — never `waitpid(-1)`, which
//! would steal other libraries' children. Signals coalesce; polling all children covers that.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use signal_hook_mio::v1_0::Signals;

use super::child::{Process, Stage};
use super::OnShutdown;
use crate::reactor::io::{IoHandler, IoRegistration, Readiness};
use crate::reactor::{Phase, Reactor, SystemEvent, TriggerWait};

/// Set once `pidfd_open` failed with "not supported": later spawns go straight to SIGCHLD.
static NO_PIDFD: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The processes of this thread's reactor, for the shutdown trigger; `reactor_id` says
    /// which reactor they (and the installed trigger) belong to.
    static LIVE: RefCell<Live> = const {
        RefCell::new(Live { reactor_id: 0, processes: Vec::new() })
    };
    /// This thread's SIGCHLD watch, while one is registered.
    static SIGCHLD: RefCell<Weak<SigchldWatch>> = const { RefCell::new(Weak::new()) };
}

struct Live {
    reactor_id: u64,
    processes: Vec<Weak<Process>>,
}

pub(crate) fn pidfd_unsupported() -> bool {
    NO_PIDFD.load(Ordering::Relaxed)
}

pub(crate) fn note_pidfd_unsupported() {
    NO_PIDFD.store(true, Ordering::Relaxed);
}

/// Remembers `process` for the shutdown trigger, installing the trigger on first use.
pub(crate) fn track(reactor: &Reactor, process: &Rc<Process>) {
    let install = LIVE.with(|live| {
        let mut live = live.borrow_mut();
        let fresh = live.reactor_id != reactor.inner.id;
        if fresh {
            live.reactor_id = reactor.inner.id;
            live.processes.clear();
        }
        let n = live.processes.len();
        if n >= 64 && n.is_power_of_two() {
            live.processes.retain(|p| p.strong_count() > 0);
        }
        live.processes.push(Rc::downgrade(process));
        fresh
    });
    if install {
        reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, shut_down);
    }
}

/// The shutdown trigger: kill or detach every live child; wait for the killed ones.
fn shut_down() -> TriggerWait {
    let processes: Vec<Rc<Process>> = LIVE.with(|live| {
        let mut live = live.borrow_mut();
        live.reactor_id = 0;
        std::mem::take(&mut live.processes)
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    });
    let mut killed = Vec::new();
    for process in processes {
        if process.stage() != Stage::Running {
            continue;
        }
        match process.on_shutdown {
            OnShutdown::Kill => {
                if process.signal(libc::SIGKILL).is_ok() {
                    killed.push(process);
                }
            }
            OnShutdown::Detach => process.detach(),
        }
    }
    if killed.is_empty() {
        return TriggerWait::from(());
    }
    TriggerWait::future(AllReaped(killed))
}

/// Resolves once every process in it has been reaped or detached.
struct AllReaped(Vec<Rc<Process>>);

impl Future for AllReaped {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.retain(|p| {
            let waiting = p.stage() == Stage::Running;
            if waiting {
                p.add_waiter(cx.waker());
            }
            waiting
        });
        if self.0.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The SIGCHLD watch of one reactor: the signal-hook self-pipe, and the children it polls.
pub(crate) struct SigchldWatch {
    signals: RefCell<Signals>,
    reg: RefCell<Option<IoRegistration>>,
    children: RefCell<Vec<Rc<Process>>>,
    /// A check is queued with `call_soon`.
    check_queued: Cell<bool>,
}

impl IoHandler for SigchldWatch {
    fn ready(&self, _: Readiness) {
        // Drain the self-pipe; which signals arrived does not matter, only that some did.
        self.signals.borrow_mut().pending().for_each(drop);
        self.check();
    }
}

impl SigchldWatch {
    /// This thread's watch, registered with `reactor` if it was not yet. Call before
    /// spawning, so that no SIGCHLD of the new child can be missed.
    pub(crate) fn get(reactor: &Reactor) -> std::io::Result<Rc<SigchldWatch>> {
        if let Some(watch) = SIGCHLD.with(|w| w.borrow().upgrade()) {
            if watch.reg.borrow().is_some() {
                return Ok(watch);
            }
        }
        let watch = Rc::new(SigchldWatch {
            signals: RefCell::new(Signals::new([libc::SIGCHLD])?),
            reg: RefCell::new(None),
            children: RefCell::new(Vec::new()),
            check_queued: Cell::new(false),
        });
        let reg = reactor.inner.register_io(
            &mut *watch.signals.borrow_mut(),
            mio::Interest::READABLE,
            watch.clone(),
            std::panic::Location::caller(),
        )?;
        *watch.reg.borrow_mut() = Some(reg);
        SIGCHLD.with(|w| *w.borrow_mut() = Rc::downgrade(&watch));
        Ok(watch)
    }

    /// Adds a child; checks it once soon, in case it exited before it was added.
    pub(crate) fn add(self: &Rc<Self>, process: Rc<Process>) {
        process.watch_sigchld();
        self.children.borrow_mut().push(process);
        if !self.check_queued.replace(true) {
            let watch = self.clone();
            crate::reactor::current().call_soon(move || watch.check());
        }
    }

    /// Reaps every child that has exited; unregisters the watch when none is left.
    fn check(&self) {
        self.check_queued.set(false);
        let children = std::mem::take(&mut *self.children.borrow_mut());
        let mut alive = Vec::with_capacity(children.len());
        for child in children {
            if !child.try_reap() && child.stage() == Stage::Running {
                alive.push(child);
            }
        }
        let mut children = self.children.borrow_mut();
        children.extend(alive);
        if children.is_empty() {
            drop(children);
            if let Some(reg) = self.reg.borrow_mut().take() {
                let _ = reg.deregister(&mut *self.signals.borrow_mut());
            }
        }
    }
}
