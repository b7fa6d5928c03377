//! `Machine::validate`: recomputes what the model keeps incrementally (child
//! counts, tracking sets, LP states) from the EPCM and checks every invariant.
//! Meant for tests and fuzzing, at quiescence: no leaf or access running.

use crate::encls::tcs::TcsView;
use crate::epcm::{EpcmEntry, PageType, Perms};
use crate::ids::EpcPageId;
use crate::lp::state_is_inside;
use crate::Machine;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use thiserror::Error;

/// An invariant of the model does not hold.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("machine state invalid: {0}")]
pub struct ValidationError(pub String);

impl Machine {
    /// Checks every invariant of the EPCM, the SECS control blocks, the
    /// tracking state and the logical processors. Call it only while no
    /// leaf or access is running.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let fail = |s: String| Err(ValidationError(s));
        let enclaves = self.enclaves.read().clone();
        let mut children: HashMap<EpcPageId, u32> = HashMap::new();
        let mut busy_tcs: HashMap<EpcPageId, usize> = HashMap::new();
        let issued = self.versions_issued();

        for (id, slot) in self.epc.materialized() {
            if slot.is_busy() {
                return fail(format!("{id:?} is held by a leaf at quiescence"));
            }
            let e = *slot.epcm.lock();
            if !e.valid {
                if e.blocked || e.secs.is_some() {
                    return fail(format!("free {id:?} has state {e:?}"));
                }
                if enclaves.contains_key(&id) {
                    return fail(format!("free {id:?} has a SECS control block"));
                }
                continue;
            }
            match e.secinfo.page_type {
                PageType::Va | PageType::Secs => {
                    let s = e.secinfo;
                    if e.secs.is_some()
                        || e.blocked
                        || e.linaddr.0 != 0
                        || s.pending
                        || s.modified
                        || s.pr
                        || e.modify_epoch.is_some()
                    {
                        return fail(format!("{id:?} ({:?}) has {e:?}", e.secinfo.page_type));
                    }
                    if e.secinfo.page_type == PageType::Secs && !enclaves.contains_key(&id) {
                        return fail(format!("SECS {id:?} has no control block"));
                    }
                    if e.secinfo.page_type == PageType::Va {
                        for (i, w) in slot.data().words.iter().enumerate() {
                            let v = w.load(Ordering::Relaxed);
                            if v > issued {
                                return fail(format!("VA {id:?}[{i}] holds unissued version {v}"));
                            }
                        }
                    }
                }
                PageType::Reg | PageType::Tcs | PageType::Trim => {
                    let Some(secs) = e.secs else {
                        return fail(format!("child {id:?} names no SECS"));
                    };
                    let Some(c) = enclaves.get(&secs) else {
                        return fail(format!("child {id:?} names {secs:?}, not a resident SECS"));
                    };
                    if !c.contains(e.linaddr) || !e.linaddr.is_page_aligned() {
                        return fail(format!("child {id:?} at {} outside ELRANGE", e.linaddr));
                    }
                    let epoch = c.tracking.lock().epoch();
                    if e.block_epoch > epoch {
                        return fail(format!("child {id:?} blocked in a future epoch"));
                    }
                    check_sgx2_bits(id, &e, epoch).or_else(fail)?;
                    *children.entry(secs).or_default() += 1;
                    if e.secinfo.page_type == PageType::Tcs
                        && !e.secinfo.modified
                        && TcsView(slot.data()).is_busy()
                    {
                        *busy_tcs.entry(secs).or_default() += 1;
                    }
                }
            }
        }

        let mut inside_total = 0usize;
        for (secs, c) in &enclaves {
            let counted = children.get(secs).copied().unwrap_or(0);
            let kept = c.children.load(Ordering::Relaxed);
            if counted != kept {
                return fail(format!(
                    "SECS {secs:?} counts {kept} children, the EPCM has {counted}"
                ));
            }
            let t = c.tracking.lock();
            t.check()
                .or_else(|s| fail(format!("tracking of {secs:?}: {s}")))?;
            inside_total += t.inside().len();
            // Every LP inside runs on a busy TCS of this enclave (or on one
            // trimmed under it); every busy TCS has its LP.
            let mut on_tcs = 0usize;
            for lp in t.inside() {
                let shared = match self.lps.get(*lp) {
                    Some(s) if state_is_inside(s.state_now()) => s,
                    _ => return fail(format!("{lp:?} is in {secs:?}'s tracking but not inside")),
                };
                let held = shared.tcs_page().and_then(|p| Some((p, self.epcm(p)?)));
                match held {
                    Some((p, e))
                        if e.valid
                            && e.secs == Some(*secs)
                            && self
                                .epc
                                .slot(p)
                                .is_some_and(|s| TcsView(s.data()).is_busy()) =>
                    {
                        match e.secinfo.page_type {
                            PageType::Tcs => on_tcs += 1,
                            PageType::Trim => {}
                            _ => return fail(format!("{lp:?} runs on {p:?}, a {e:?}")),
                        }
                    }
                    _ => return fail(format!("{lp:?} is inside {secs:?} without a busy TCS")),
                }
            }
            let busy = busy_tcs.get(secs).copied().unwrap_or(0);
            if busy != on_tcs {
                return fail(format!(
                    "{secs:?} has {busy} busy TCS pages but {on_tcs} LPs inside on a TCS",
                ));
            }
        }
        let inside_lps = self
            .lps
            .states()
            .iter()
            .filter(|(_, s)| state_is_inside(*s))
            .count();
        if inside_lps != inside_total {
            return fail(format!(
                "{inside_lps} LPs are inside, tracking knows {inside_total}"
            ));
        }
        Ok(())
    }
}

/// The SGX2 state bits of a child page: PENDING only on a REG page just
/// added (R and W, nothing else pending); PR only on a REG page; MODIFIED
/// only on a TCS or TRIM page, which have no permissions; an EMODPR/EMODT
/// epoch only while its change is unaccepted, and not in the future.
fn check_sgx2_bits(id: EpcPageId, e: &EpcmEntry, epoch: u64) -> Result<(), String> {
    let s = e.secinfo;
    let ok = match s.page_type {
        PageType::Reg => !s.modified && (!s.pending || (!s.pr && s.perms == Perms::RW)),
        PageType::Tcs | PageType::Trim => !s.pending && !s.pr && s.perms == Perms::NONE,
        PageType::Secs | PageType::Va => false,
    };
    if !ok {
        return Err(format!("child {id:?} has impossible SGX2 state {s:?}"));
    }
    match e.modify_epoch {
        Some(_) if !(s.pr || s.modified) => Err(format!(
            "child {id:?} has an EMODPR/EMODT epoch but nothing to accept"
        )),
        Some(m) if m > epoch => Err(format!("child {id:?} modified in a future epoch")),
        _ => Ok(()),
    }
}
