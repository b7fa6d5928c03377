//! A loom model of the SECS handshake of the fault fast path
//! (`src/secs_gate.rs`, compiled here with loom's atomics): two faults
//! enter as children, lock-free when the gate lets them, else under the
//! enclave lock (reloading the SECS if it was evicted), while an evictor
//! under the enclave lock writes the SECS out whenever the gate lets it
//! hide it.
//!
//! Checked in every interleaving: a child that entered uses the SECS that
//! is in the EPC, for as long as it is counted (it is never written out or
//! replaced under it).

#![cfg(loom)]

#[allow(dead_code)]
#[path = "../src/secs_gate.rs"]
mod secs_gate;

use loom::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use loom::sync::{Arc, Mutex};
use loom::thread;
use secs_gate::SecsGate;

struct Model {
    gate: SecsGate,
    /// The enclave lock, over whether the enclave thinks the SECS is
    /// resident and at which page.
    lock: Mutex<(bool, u32)>,
    /// The hardware's view: the SECS is in the EPC, at page `page`.
    in_epc: AtomicBool,
    page: AtomicU32,
}

fn fault(m: &Model) {
    let secs = match m.gate.enter() {
        Some(secs) => secs,
        None => {
            let mut s = m.lock.lock().unwrap();
            if !s.0 {
                // Reload into a new page.
                s.1 += 1;
                m.page.store(s.1, SeqCst);
                m.in_epc.store(true, SeqCst);
                s.0 = true;
                m.gate.show(s.1);
            }
            m.gate.add_child();
            s.1
        }
    };
    // ELDU under the SECS; the evictor's write-back would make it
    // non-resident, which no child may see before it is uncounted.
    assert!(m.in_epc.load(SeqCst), "ELDU under an evicted SECS");
    assert_eq!(m.page.load(SeqCst), secs, "ELDU under a stale SECS");
    m.gate.remove_child();
}

fn evict(m: &Model) {
    let mut s = m.lock.lock().unwrap();
    if s.0 && m.gate.try_hide() {
        m.in_epc.store(false, SeqCst);
        s.0 = false;
    }
}

#[test]
fn a_counted_child_always_has_its_secs() {
    loom::model(|| {
        let m = Arc::new(Model {
            gate: SecsGate::new(0),
            lock: Mutex::new((true, 0)),
            in_epc: AtomicBool::new(true),
            page: AtomicU32::new(0),
        });
        let faults: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || fault(&m))
            })
            .collect();
        evict(&m);
        for f in faults {
            f.join().unwrap();
        }
        // Once the children are gone the SECS may always leave.
        evict(&m);
        assert!(!m.in_epc.load(SeqCst));
    });
}

#[test]
fn a_fault_against_two_evictions() {
    loom::model(|| {
        let m = Arc::new(Model {
            gate: SecsGate::new(0),
            lock: Mutex::new((true, 0)),
            in_epc: AtomicBool::new(true),
            page: AtomicU32::new(0),
        });
        let faults: Vec<_> = (0..1)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    fault(&m);
                    fault(&m);
                })
            })
            .collect();
        evict(&m);
        evict(&m);
        for f in faults {
            f.join().unwrap();
        }
    });
}
