//! On air and off air: a publication on standby is received but not packaged; put on air it is
//! packaged from its next keyframe on the timeline the platform gave; taken off air its last
//! part and segment are closed. Driven by a real ffmpeg publisher.

use std::time::Duration;

use async_trait::async_trait;
use sigma_media::cmaf::{Output, PackagerConfig, VIDEO_TIMESCALE};
use sigma_edge_worker::ingest::{Admission, OutputError, Publication, PublishName, Refusal, Tally};
use sigma_tests::publish::{publisher, Publish};
use tokio::sync::{mpsc, watch};

/// What the publication saw, in order.
#[derive(Debug)]
enum Seen {
    Output(Output),
    OffAir,
}

/// Admits every publisher on standby and hands the test the switch.
struct Switchboard {
    admitted: mpsc::UnboundedSender<(PublishName, watch::Sender<Tally>)>,
    ended: mpsc::UnboundedSender<Vec<Seen>>,
}

struct Recording {
    tally: watch::Receiver<Tally>,
    seen: Vec<Seen>,
    ended: mpsc::UnboundedSender<Vec<Seen>>,
}

#[async_trait]
impl Admission for Switchboard {
    async fn admit(&self, name: &PublishName) -> Result<Box<dyn Publication>, Refusal> {
        let (switch, tally) = watch::channel(Tally::Standby);
        let _ = self.admitted.send((name.clone(), switch));
        Ok(Box::new(Recording {
            tally,
            seen: Vec::new(),
            ended: self.ended.clone(),
        }))
    }
}

#[async_trait]
impl Publication for Recording {
    fn packaging(&self) -> PackagerConfig {
        PackagerConfig {
            part_target_ms: 200,
            segment_target_ms: 1000,
        }
    }

    fn tally(&mut self) -> watch::Receiver<Tally> {
        self.tally.clone()
    }

    fn stop_signal(&mut self) -> futures::future::BoxFuture<'static, String> {
        Box::pin(std::future::pending())
    }

    async fn output(&mut self, output: Output) -> Result<(), OutputError> {
        self.seen.push(Seen::Output(output));
        Ok(())
    }

    async fn off_air(&mut self) {
        self.seen.push(Seen::OffAir);
    }

    async fn ended(self: Box<Self>) {
        let _ = self.ended.send(self.seen);
    }
}

/// The base media decode time of a fragment's first track (video), in ms.
fn decode_time_ms(fragment: &[u8]) -> u64 {
    let at = fragment
        .windows(4)
        .position(|window| window == b"tfdt")
        .expect("a tfdt box");
    let version = fragment[at + 4];
    let ticks = if version == 1 {
        u64::from_be_bytes(fragment[at + 8..at + 16].try_into().unwrap())
    } else {
        u64::from(u32::from_be_bytes(
            fragment[at + 8..at + 12].try_into().unwrap(),
        ))
    };
    ticks * 1000 / u64::from(VIDEO_TIMESCALE)
}

#[tokio::test]
async fn a_stream_is_packaged_only_while_on_air_from_a_keyframe_on_the_given_timeline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (admitted, mut admissions) = mpsc::unbounded_channel();
    let (ended, mut endings) = mpsc::unbounded_channel();
    tokio::spawn(sigma_edge_worker::rtmp::serve(
        listener,
        std::sync::Arc::new(Switchboard { admitted, ended }),
        sigma_edge_worker::rtmp::RtmpLimits::default(),
    ));
    let url = format!("rtmp://127.0.0.1:{port}/live/sk_backup_0123456789?backup=1");
    let options = Publish {
        real_time: true,
        ..Publish::default()
    };
    let mut ffmpeg = publisher(&url, 6, options).spawn().unwrap();

    let (name, switch) = tokio::time::timeout(Duration::from_secs(20), admissions.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(name.stream_key, "sk_backup_0123456789");
    assert!(name.backup);
    // The scenario's steps are times in the publisher's real-time stream.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    switch.send_replace(Tally::OnAir {
        timeline_start_ms: 5_000,
    });
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    switch.send_replace(Tally::Standby);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    switch.send_replace(Tally::OnAir {
        timeline_start_ms: 20_000,
    });
    assert!(ffmpeg.wait().await.unwrap().success());
    let seen = tokio::time::timeout(Duration::from_secs(20), endings.recv())
        .await
        .unwrap()
        .unwrap();

    // Two times on air, each an init segment, then parts starting on a keyframe at the given
    // point of the timeline; the first closed by going off air.
    let stints: Vec<&[Seen]> = seen.split(|seen| matches!(seen, Seen::OffAir)).collect();
    assert_eq!(stints.len(), 2, "off air once: {seen:?}");
    for (stint, start_ms) in stints.iter().zip([5_000, 20_000]) {
        assert!(
            matches!(stint.first(), Some(Seen::Output(Output::Init(_)))),
            "each time on air begins with an init segment"
        );
        let parts: Vec<_> = stint
            .iter()
            .filter_map(|seen| match seen {
                Seen::Output(Output::Part(part)) => Some(part),
                _ => None,
            })
            .collect();
        assert!(parts[0].independent, "on air from a keyframe");
        assert_eq!(decode_time_ms(&parts[0].bytes), start_ms);
        let seconds: f64 = parts.iter().map(|part| part.duration).sum();
        assert!(seconds > 0.8, "{seconds} s on air from {start_ms} ms");
        assert!(
            matches!(stint.last(), Some(Seen::Output(Output::SegmentEnd { .. }))),
            "the last segment is closed"
        );
    }
    let first_stint: f64 = stints[0]
        .iter()
        .filter_map(|seen| match seen {
            Seen::Output(Output::Part(part)) => Some(part.duration),
            _ => None,
        })
        .sum();
    assert!(
        first_stint < 2.0,
        "nothing is packaged on standby: {first_stint} s in the first time on air"
    );
}
