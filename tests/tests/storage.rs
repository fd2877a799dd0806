//! A data dir on a small file system (a tmpfs this test mounts) that fills while a session is
//! live: at the low watermark new publishers are refused with the reason and the session gets
//! `storage_low`; at the reserve its media are held in memory (`storage_failing`) while it keeps
//! playing; once space is freed the held media reach the disk, the alerts clear, a new
//! publisher goes live, all without a restart; and the log replays into read models equal to
//! those the process kept.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::database::{dump_read_models, empty_read_models};
use sigma_tests::metrics::{ingest_dropped, read};
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::{live as live_publisher, publisher, source_playlist, Publish};
use sigma_tests::wait::until;
use sigma_tests::witness::Witness;

const MIB: u64 = 1 << 20;
const SIZE_MIB: u64 = 160;
const LOW_MIB: u64 = 64;
const RESERVE_MIB: u64 = 40;

/// A tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={SIZE_MIB}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "cannot mount a tmpfs (the test runs as root, as CI does)"
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn free(&self) -> u64 {
        let output = std::process::Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(self.path())
            .output()
            .expect("df runs");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .nth(1)
            .and_then(|line| line.trim().parse().ok())
            .expect("df prints the free bytes")
    }

    /// Grows (or shrinks) the filler file until `free` bytes are left.
    fn fill_to(&self, free: u64) -> PathBuf {
        let filler = self.path().join("filler");
        let current = std::fs::metadata(&filler).map_or(0, |meta| meta.len());
        let size = (current + self.free()).saturating_sub(free);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&filler)
            .unwrap();
        // tmpfs takes pages as they are written: write the growth, do not just set the length.
        if size > current {
            use std::io::{Seek, SeekFrom, Write};
            let mut file = file;
            file.seek(SeekFrom::Start(current)).unwrap();
            let chunk = vec![0x5a; MIB as usize];
            let mut left = size - current;
            while left > 0 {
                let take = left.min(MIB) as usize;
                file.write_all(&chunk[..take]).unwrap();
                left -= take as u64;
            }
        } else {
            file.set_len(size).unwrap();
        }
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn alerts(api: &Api, token: &str, channel_id: &str) -> Vec<Value> {
    api.get(&format!("/v1/alerts?channel_id={channel_id}"), token)
        .await
        .ok()["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn alert_state(api: &Api, token: &str, channel_id: &str, code: &str) -> Option<String> {
    alerts(api, token, channel_id)
        .await
        .iter()
        .find(|alert| alert["code"] == code)
        .map(|alert| alert["state"].as_str().unwrap().to_owned())
}

/// The segment URIs a media playlist lists (relative to it, without a query).
async fn listed_segments(playlist: &str) -> Vec<String> {
    let text = reqwest::get(playlist).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| line.split('?').next().unwrap().to_owned())
        .collect()
}

/// How many of the playlist's segments answer 200, of how many it lists.
async fn segments_served(playlist: &str) -> (usize, usize) {
    let base = playlist.rsplit_once('/').unwrap().0;
    let uris = listed_segments(playlist).await;
    let mut served = 0;
    for uri in &uris {
        if reqwest::get(format!("{base}/{uri}"))
            .await
            .unwrap()
            .status()
            == 200
        {
            served += 1;
        }
    }
    (served, uris.len())
}

#[tokio::test]
async fn a_filling_disk_refuses_new_publishers_holds_live_media_in_memory_and_recovers_without_a_restart(
) {
    let disk = SmallDisk::mount();
    let mut config = SigmaConfig::standalone(&disk.path().join("data"))
        .with("SIGMA_STORAGE_LOW_FREE_MB", LOW_MIB.to_string())
        .with("SIGMA_STORAGE_RESERVE_MB", RESERVE_MIB.to_string())
        .with("SIGMA_STORAGE_SPOOL_MB", (RESERVE_MIB / 2).to_string());
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "disk").await;
    let live = Witness::start(&sigma.url, &api, &token, 600).await;
    let channels = api.get("/v1/channels", &token).await.ok();
    let live_id = channels["data"][0]["id"].as_str().unwrap().to_owned();
    let late = api.create_channel(&token, json!({ "name": "late" })).await;
    let metric = |name: &str| {
        let url = sigma.metrics_url.clone();
        let line = format!("sigma_{name} ");
        async move { read(&url, &line).await.unwrap_or(-1.0) }
    };

    // Below the low watermark: the alert, and a new publisher refused with the reason.
    disk.fill_to((LOW_MIB + RESERVE_MIB) / 2 * MIB);
    until(Duration::from_secs(10), "storage_low raised", || async {
        alert_state(&api, &token, &live_id, "storage_low")
            .await
            .as_deref()
            == Some("open")
    })
    .await;
    let refused = ingest_dropped(&sigma.metrics_url, "refused_storage_low").await;
    let attempt = publisher(late["rtmp_url"].as_str().unwrap(), 5, Publish::default()).status();
    let status = tokio::time::timeout(Duration::from_secs(30), attempt)
        .await
        .expect("the refused publisher gives up")
        .unwrap();
    assert!(!status.success(), "a publisher was admitted on a full disk");
    assert!(ingest_dropped(&sigma.metrics_url, "refused_storage_low").await > refused);
    live.goes_on("below the low watermark", Duration::from_secs(10))
        .await;

    // Down to the reserve: media held in memory, the session keeps playing from there.
    disk.fill_to(RESERVE_MIB * MIB / 2);
    until(
        Duration::from_secs(10),
        "storage_failing raised",
        || async {
            alert_state(&api, &token, &live_id, "storage_failing")
                .await
                .as_deref()
                == Some("open")
        },
    )
    .await;
    let free_at_reserve = disk.free();
    live.goes_on("at the reserve", Duration::from_secs(10))
        .await;
    live.goes_on("still at the reserve", Duration::from_secs(10))
        .await;
    assert!(metric("storage_held_bytes").await > 0.0);
    let playlist = format!("{}/live/{live_id}/source.m3u8", sigma.url);
    let (served, listed) = segments_served(&playlist).await;
    assert_eq!(served, listed, "listed segments not served while held");
    assert!(
        disk.free() + MIB >= free_at_reserve,
        "media went to the disk at the reserve: {} bytes free, {free_at_reserve} before",
        disk.free()
    );

    // Space freed: the held media reach the disk, the alerts clear, a publisher goes live.
    std::fs::remove_file(disk.path().join("filler")).unwrap();
    until(Duration::from_secs(15), "held media stored", || async {
        metric("storage_held_bytes").await == 0.0
    })
    .await;
    for code in ["storage_low", "storage_failing"] {
        until(
            Duration::from_secs(10),
            &format!("{code} cleared"),
            || async {
                alert_state(&api, &token, &live_id, code).await.as_deref() == Some("closed")
            },
        )
        .await;
    }
    let _late_publisher = live_publisher(&late, 30);
    let late_playlist = source_playlist(&sigma.url, &late);
    sigma_tests::hls::until_listed(&late_playlist, 2, Duration::from_secs(30)).await;
    let media = disk.path().join("data/media/live").join(&live_id);
    let missing: Vec<String> = listed_segments(&playlist)
        .await
        .into_iter()
        .filter(|uri| !media.join(uri).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "held segments never stored: {missing:?}"
    );
    sigma.kill().await;

    // What the process kept equals what its log replays.
    let url = format!(
        "sqlite://{}",
        disk.path().join("data").join("sigma.db").display()
    );
    let before = dump_read_models(&url).await;
    empty_read_models(&url).await;
    config.replay().await;
    assert_eq!(dump_read_models(&url).await, before, "replay differs");
}
