//! Playback session ids as the platform hands them out: `pb_….TAG`, the tag an HMAC of the id
//! under a key only Sigma's processes hold. A player keeps the one its multivariant playlist
//! gave it; an id anyone invented carries no valid tag and is ignored — the playlist is served,
//! nothing is counted — so analytics cannot be inflated and the viewer map cannot be grown with
//! made-up ids.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sigma_shared::ids::PlaybackId;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the HMAC kept in the tag: 64 bits, hex-encoded.
const TAG_BYTES: usize = 8;

/// What a `pb` value turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Pass {
    /// Issued by the platform.
    Valid(PlaybackId),
    /// Shaped like one, but not issued by the platform.
    Forged,
    /// Not even shaped like one.
    Malformed,
}

#[derive(Clone)]
pub struct PlaybackPasses {
    key: Vec<u8>,
}

impl PlaybackPasses {
    /// Passes keyed from `secret` (the deployment's token signing keys, which every process of
    /// it shares), under a name of their own so no other use of the secret can forge one.
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"sigma playback passes v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    /// A new playback session and its pass.
    pub fn issue(&self) -> (PlaybackId, String) {
        let id = PlaybackId::generate();
        (id, self.pass_for(id))
    }

    /// The pass of playback session `id`.
    pub fn pass_for(&self, id: PlaybackId) -> String {
        format!("{id}.{}", hex::encode(self.tag(&id.to_string())))
    }

    pub fn check(&self, pass: &str) -> Pass {
        let Some((id, tag)) = pass.split_once('.') else {
            return match pass.parse::<PlaybackId>() {
                Ok(_) => Pass::Forged,
                Err(_) => Pass::Malformed,
            };
        };
        let (Ok(playback), Ok(tag)) = (id.parse::<PlaybackId>(), hex::decode(tag)) else {
            return Pass::Malformed;
        };
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("any key length");
        mac.update(id.as_bytes());
        match mac.verify_truncated_left(&tag) {
            Ok(()) if tag.len() == TAG_BYTES => Pass::Valid(playback),
            _ => Pass::Forged,
        }
    }

    fn tag(&self, id: &str) -> [u8; TAG_BYTES] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("any key length");
        mac.update(id.as_bytes());
        let full = mac.finalize().into_bytes();
        full[..TAG_BYTES].try_into().expect("a 32-byte HMAC")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_passes_check_and_invented_ones_do_not() {
        let passes = PlaybackPasses::new(b"k1:secret");
        let (id, pass) = passes.issue();
        assert_eq!(passes.check(&pass), Pass::Valid(id));
        let invented = PlaybackId::generate();
        assert_eq!(passes.check(&invented.to_string()), Pass::Forged);
        assert_eq!(
            passes.check(&format!("{invented}.0011223344556677")),
            Pass::Forged
        );
        let (_, tag) = pass.split_once('.').unwrap();
        assert_eq!(
            passes.check(&format!("{invented}.{tag}")),
            Pass::Forged,
            "a tag moved"
        );
        assert_eq!(
            passes.check(&format!("{id}.{}", &tag[..8])),
            Pass::Forged,
            "a short tag"
        );
        assert_eq!(
            PlaybackPasses::new(b"k2:other").check(&pass),
            Pass::Forged,
            "another deployment's pass"
        );
        for malformed in ["../../etc", "pb_zz.00", "", ".", "pb_.x"] {
            assert_eq!(passes.check(malformed), Pass::Malformed, "{malformed}");
        }
    }
}
