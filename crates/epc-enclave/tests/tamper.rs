//! Tamper and replay: a modified sealed page, a modified PCMD, or an older
//! copy put back kills the owning enclave with a clear error; other
//! enclaves finish correctly.

mod common;

use common::*;
use epc_enclave::{EnclaveError, KillReason};
use epc_hw::SealedPage;
use epc_mm::ReclaimPermit;

type Tamper = fn(&mut SealedPage, &SealedPage);

fn run_case(name: &str, tamper: Tamper) {
    let (machine, mm) = system(96, true);
    let victim = build(&machine, &mm, 1, 16, 1);
    let other = build(&machine, &mm, 2, 16, 1);
    let mut tv = victim.thread().unwrap();
    let mut to = other.thread().unwrap();
    let mut permit = ReclaimPermit::new();
    let addr = data_addr(&victim, 3);

    // Keep the current sealed copy, then change the page and evict again so
    // that an older copy exists for replay.
    victim.evict_regular_pages(16, &mut permit).unwrap();
    let old = victim.sealed_copy(addr).expect("evicted");
    tv.write_u64(addr, 0xdead_beef).unwrap();
    victim.evict_regular_pages(16, &mut permit).unwrap();
    assert!(victim.modify_backing(addr, |s| tamper(s, &old)), "{name}");

    let err = tv.read_u64(addr).unwrap_err();
    let EnclaveError::Killed(KillReason::Integrity { page }) = &err else {
        panic!("{name}: expected an integrity kill, got {err}");
    };
    assert_eq!(*page, addr);
    assert!(err.to_string().contains("modified or replayed"), "{err}");
    // Every later access fails the same way, on any page.
    assert!(matches!(
        tv.read_u64(data_addr(&victim, 0)),
        Err(EnclaveError::Killed(KillReason::Integrity { .. }))
    ));
    assert!(victim.thread().is_err());
    assert!(victim.killed().is_some());
    // The victim's pages are gone; the other enclave carries on.
    let u = victim.usage();
    assert_eq!((u.pages, u.backing_bytes), (0, 0), "{name}: {u:?}");
    for i in 0..16 {
        assert_eq!(to.read_u64(data_addr(&other, i)).unwrap(), pattern(2, i, 0));
    }
    drop((tv, to));
    drop((victim, other));
    assert_eq!(mm.free_pages(), 96, "{name}: no page leaked");
    mm.validate().unwrap();
    machine.validate().unwrap();
}

#[test]
fn modified_ciphertext_kills_the_enclave() {
    run_case("ciphertext", |s, _| s.ciphertext[100] ^= 0x40);
}

#[test]
fn modified_pcmd_mac_kills_the_enclave() {
    run_case("mac", |s, _| s.pcmd.mac[0] ^= 1);
}

#[test]
fn modified_pcmd_secinfo_kills_the_enclave() {
    run_case("secinfo", |s, _| s.pcmd.secinfo.perms = epc_hw::Perms::RWX);
}

#[test]
fn modified_pcmd_reserved_kills_the_enclave() {
    run_case("reserved", |s, _| s.pcmd.reserved[7] = 1);
}

#[test]
fn replayed_older_copy_kills_the_enclave() {
    run_case("replay", |s, old| *s = old.clone());
}

#[test]
fn page_of_another_enclave_kills_the_enclave() {
    let (machine, mm) = system(96, true);
    let a = build(&machine, &mm, 1, 8, 1);
    let b = build(&machine, &mm, 2, 8, 1);
    let mut permit = ReclaimPermit::new();
    a.evict_regular_pages(8, &mut permit).unwrap();
    b.evict_regular_pages(8, &mut permit).unwrap();
    // Same linear address in both (same range layout): swap in b's copy.
    let addr = data_addr(&a, 1);
    assert_eq!(addr, data_addr(&b, 1));
    let theirs = b.sealed_copy(addr).unwrap();
    assert!(a.modify_backing(addr, |s| *s = theirs));
    let mut t = a.thread().unwrap();
    assert!(matches!(
        t.read_u64(addr),
        Err(EnclaveError::Killed(KillReason::Integrity { .. }))
    ));
    let mut tb = b.thread().unwrap();
    assert_eq!(tb.read_u64(addr).unwrap(), pattern(2, 1, 0));
}
