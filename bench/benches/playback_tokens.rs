//! What checking a signed channel's playback token adds to a request: a token seen before (a
//! player sends the same one with every reload, segment and part), and one seen for the first
//! time, which is verified (Ed25519 for an account's own key, HMAC-SHA256 for a token the API
//! minted); and handing the token on in a 1-minute LL-HLS playlist.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sigma_playback::fixtures::{self, Recipe};
use sigma_playback::playlist;
use sigma_playback::tokens::{AccountKey, Audience, PlatformKeys, Target, Tokens};
use sigma_shared::ids::{AccountId, ChannelId, PlaybackKeyId};

const SECRET: &[u8] = b"a-token-signing-secret-of-bench-length";

fn platform() -> PlatformKeys {
    PlatformKeys::derive([("k1", SECRET)])
}

fn tokens() -> Tokens {
    Tokens::new(
        platform(),
        prometheus::IntCounter::new("forgot", "all").unwrap(),
    )
}

fn checks(c: &mut Criterion) {
    let (account, channel) = (AccountId::generate(), ChannelId::generate());
    let key_id = PlaybackKeyId::generate();
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let key =
        AccountKey::from_hex(account, &hex::encode(signing.verifying_key().to_bytes())).unwrap();
    let keys = |id: &PlaybackKeyId| (*id == key_id).then(|| key.clone());
    let pem = signing.to_pkcs8_pem(LineEnding::LF).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key_id.to_string());
    let exp = chrono::Utc::now().timestamp() + 3_600;
    let own = jsonwebtoken::encode(
        &header,
        &serde_json::json!({ "sub": channel.to_string(), "aud": "video", "exp": exp }),
        &EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap();
    let minted = platform().mint(&channel.to_string(), Audience::Video, exp);
    let target = Target {
        channel,
        owner: account,
        session: None,
        audience: Audience::Video,
    };
    let now = chrono::Utc::now().timestamp();
    for (label, token) in [("account key (Ed25519)", &own), ("minted (HS256)", &minted)] {
        let warm = tokens();
        assert_eq!(warm.check(Some(token), &target, now, keys), Ok(()));
        c.bench_function(&format!("token seen before, {label}"), |b| {
            b.iter(|| warm.check(Some(token), &target, now, keys))
        });
        c.bench_function(&format!("token seen first, {label}"), |b| {
            b.iter_batched(
                tokens,
                |cold| cold.check(Some(token), &target, now, keys),
                BatchSize::SmallInput,
            )
        });
    }
}

fn handing_on(c: &mut Criterion) {
    let (streams, channel_id) = fixtures::live(&Recipe {
        segments: 65,
        height: 720,
        dvr_window_seconds: 60,
        segment_bytes: 400_000,
        ..Recipe::default()
    });
    let live = streams.get(&channel_id).unwrap();
    let text = playlist::media(live, &live.renditions[0], true);
    let token = platform().mint(&channel_id.to_string(), Audience::Video, 2_000_000_000);
    c.bench_function("token into every URI, 1-minute LL-HLS delta update", |b| {
        b.iter(|| playlist::with_token(&text, &token))
    });
}

criterion_group!(benches, checks, handing_on);
criterion_main!(benches);
