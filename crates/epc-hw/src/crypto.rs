//! Paging crypto: AES-128-GCM under a key generated when the machine is
//! created and never exposed, as EWB and ELDU use it (SDM pseudocode):
//!
//! * nonce: the page's version, `TMP_VER << 32` as a 96-bit IV (the version
//!   is unique per key and never zero, zero marking an empty VA slot);
//! * additional data: the 128-byte MAC header, binding the enclave id (0 for
//!   SECS and VA pages), the SECINFO flags and the linear address. The model
//!   also binds PCMD.ENCLAVEID and PCMD's reserved bytes, so that a change to
//!   any byte of PCMD fails the MAC;
//! * plaintext: the 4 KiB page; the tag goes to PCMD.MAC.
//!
//! `ring` is used because it was the fastest of the well-kept AEAD crates on
//! the project machine (see `docs/BENCHMARKS.md`: ring against aes-gcm).

use crate::ids::{EnclaveId, LinearAddress};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_128_GCM};
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;

/// The fields the MAC binds besides the page itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MacHeader {
    pub(crate) eid: EnclaveId,
    pub(crate) secinfo_flags: u64,
    pub(crate) linaddr: LinearAddress,
    pub(crate) pcmd_enclave_id: EnclaveId,
    pub(crate) pcmd_reserved: [u8; 40],
}

impl MacHeader {
    fn bytes(&self) -> [u8; 128] {
        let mut h = [0u8; 128];
        h[0..8].copy_from_slice(&self.eid.0.to_le_bytes());
        h[8..16].copy_from_slice(&self.secinfo_flags.to_le_bytes());
        h[16..24].copy_from_slice(&self.linaddr.0.to_le_bytes());
        h[24..32].copy_from_slice(&self.pcmd_enclave_id.0.to_le_bytes());
        h[32..72].copy_from_slice(&self.pcmd_reserved);
        h
    }
}

/// The processor's paging key (CR_BASE_PK).
pub(crate) struct PagingKey {
    key: LessSafeKey,
}

impl fmt::Debug for PagingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PagingKey(<hidden>)")
    }
}

/// The key could not be generated (the OS random source failed).
#[derive(Debug, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct KeyError;

impl PagingKey {
    /// A fresh random key, as at every simulated power-on.
    pub(crate) fn generate() -> Result<PagingKey, KeyError> {
        let mut bytes = [0u8; 16];
        SystemRandom::new().fill(&mut bytes).map_err(|_| KeyError)?;
        let unbound = UnboundKey::new(&AES_128_GCM, &bytes).map_err(|_| KeyError)?;
        Ok(PagingKey {
            key: LessSafeKey::new(unbound),
        })
    }

    fn nonce(version: u64) -> Nonce {
        // TMP_VER << 32 as a 96-bit little-endian integer.
        let mut n = [0u8; 12];
        n[4..12].copy_from_slice(&version.to_le_bytes());
        Nonce::assume_unique_for_key(n)
    }

    /// Encrypts `page` in place and returns the tag.
    pub(crate) fn seal(&self, version: u64, header: &MacHeader, page: &mut [u8; 4096]) -> [u8; 16] {
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Self::nonce(version),
                Aad::from(header.bytes()),
                page.as_mut_slice(),
            )
            .expect("AES-GCM sealing of 4 KiB cannot exceed the input limit");
        let mut out = [0u8; 16];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Decrypts `page` in place if the tag matches; on a mismatch the buffer
    /// holds garbage and `false` is returned.
    pub(crate) fn open(
        &self,
        version: u64,
        header: &MacHeader,
        tag: &[u8; 16],
        page: &mut [u8; 4096],
    ) -> bool {
        self.key
            .open_in_place_separate_tag(
                Self::nonce(version),
                Aad::from(header.bytes()),
                Tag::from(*tag),
                page.as_mut_slice(),
                0..,
            )
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> MacHeader {
        MacHeader {
            eid: EnclaveId(7),
            secinfo_flags: 0x203,
            linaddr: LinearAddress(0x1000),
            pcmd_enclave_id: EnclaveId(7),
            pcmd_reserved: [0; 40],
        }
    }

    #[test]
    fn seal_open_round_trip_and_binding() {
        let k = PagingKey::generate().unwrap();
        let mut page = [0u8; 4096];
        page[..5].copy_from_slice(b"hello");
        let mut sealed = page;
        let tag = k.seal(1, &header(), &mut sealed);
        assert_ne!(&sealed[..5], b"hello");

        let mut p = sealed;
        assert!(k.open(1, &header(), &tag, &mut p));
        assert_eq!(p, page);

        let mut p = sealed;
        assert!(!k.open(2, &header(), &tag, &mut p), "other version");
        let mut h = header();
        h.linaddr = LinearAddress(0x2000);
        let mut p = sealed;
        assert!(!k.open(1, &h, &tag, &mut p), "other address");

        let other = PagingKey::generate().unwrap();
        let mut p = sealed;
        assert!(!other.open(1, &header(), &tag, &mut p), "other key");
    }
}
