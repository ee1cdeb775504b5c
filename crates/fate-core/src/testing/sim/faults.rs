//! Faults, by hand or on a schedule ([`Sim::at`]): cut and repair links, hold and release
//! them, crash and restart hosts.

use super::world::Sim;

impl Sim {
    /// Cuts the link between `a` and `b`: nothing crosses it until [`repair`](Sim::repair).
    /// TCP packets wait and cross after the repair (TCP retransmits), so connections stay
    /// open but hear nothing; a connect gets no answer and times out.
    ///
    /// # Examples
    ///
    /// ```
    /// let sim = fate::testing::sim::Sim::new(1);
    /// sim.host("a", || {});
    /// sim.host("b", || {});
    /// sim.partition("a", "b");
    /// sim.repair("a", "b");
    /// ```
    pub fn partition(&self, a: &str, b: &str) {
        self.fault("partition", a, b, true, false);
    }

    /// Ends a [`partition`](Sim::partition) of the link between `a` and `b`; what waited
    /// crosses now, after the link's latency, in order.
    pub fn repair(&self, a: &str, b: &str) {
        self.fault("repair", a, b, false, false);
    }

    /// Holds every packet between `a` and `b` until [`release`](Sim::release): a link that
    /// stalls, then delivers everything at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let sim = fate::testing::sim::Sim::new(1);
    /// sim.host("a", || {});
    /// sim.host("b", || {});
    /// sim.hold("a", "b");
    /// sim.release("a", "b");
    /// ```
    pub fn hold(&self, a: &str, b: &str) {
        self.fault("hold", a, b, false, true);
    }

    /// Ends a [`hold`](Sim::hold): the held packets cross now, in order.
    pub fn release(&self, a: &str, b: &str) {
        self.fault("release", a, b, false, false);
    }

    fn fault(&self, what: &str, a: &str, b: &str, partitioned: bool, held: bool) {
        let (ia, ib) = (self.host_id(a), self.host_id(b));
        self.record(what, &[ia as u64, ib as u64], || format!("{a} {b}"));
        self.net().borrow_mut().set_fault(ia, ib, partitioned, held);
    }

    /// Crashes host `name`: its timers, tasks and connections vanish without running, its
    /// listeners close, and every peer connected to it receives a reset. Packets sent to it
    /// while it is down are lost. Crashing a host that is down does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let sim = fate::testing::sim::Sim::new(1);
    /// sim.host("db", || println!("db boots"));
    /// sim.crash("db");
    /// assert!(!sim.is_up("db"));
    /// sim.restart("db"); // prints "db boots" again
    /// assert!(sim.is_up("db"));
    /// ```
    pub fn crash(&self, name: &str) {
        let id = self.host_id(name);
        if !self.is_up(name) {
            return;
        }
        self.record("crash", &[id as u64], || name.to_string());
        self.net().borrow_mut().crash(id);
        self.hosts().borrow_mut()[id].halt();
    }

    /// Boots host `name` again with a new reactor, running its boot program, after a
    /// [`crash`](Sim::crash). Restarting a host that is up crashes it first.
    pub fn restart(&self, name: &str) {
        self.crash(name);
        let id = self.host_id(name);
        self.record("restart", &[id as u64], || name.to_string());
        self.net().borrow_mut().hosts[id].up = true;
        let (now, attachment) = (self.instant(), self.attachment(id));
        self.hosts().borrow_mut()[id].boot(now, attachment);
    }

    /// Whether host `name` is up (not crashed).
    pub fn is_up(&self, name: &str) -> bool {
        let id = self.host_id(name);
        self.hosts().borrow()[id].reactor().is_some()
    }
}
