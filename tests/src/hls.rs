//! A validator for the playlists we serve: m3u8-rs parses the structure (segments, maps,
//! program date-times, variants); the LL-HLS rules of RFC 8216bis that m3u8-rs does not model
//! (parts, part target, server control, preload hints, skips) are checked line by line here.
//! Each rule names the section it comes from.

use std::collections::HashMap;

/// `KEY=value` attributes of a tag line (quotes removed).
fn attributes(list: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    let mut rest = list;
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (
                &quoted[..end],
                quoted.get(end + 1..).unwrap_or("").trim_start_matches(','),
            )
        } else {
            match after.split_once(',') {
                Some((value, next)) => (value, next),
                None => (after, ""),
            }
        };
        found.insert(key.trim().to_owned(), value.to_owned());
        rest = next;
    }
    found
}

fn number(attributes: &HashMap<String, String>, key: &str) -> Option<f64> {
    attributes.get(key)?.parse().ok()
}

/// What a valid media playlist told us.
#[derive(Debug)]
pub struct MediaSummary {
    pub media_sequence: u64,
    pub segments: usize,
    pub parts: usize,
    pub target_duration: u64,
    pub part_target: Option<f64>,
    pub preload_hint: Option<String>,
    pub skipped: u64,
}

/// Checks a media playlist; `low_latency` asks for the LL-HLS rules. Returns every violation.
pub fn validate_media(text: &str, low_latency: bool) -> Result<MediaSummary, Vec<String>> {
    let mut problems = Vec::new();
    let playlist = match m3u8_rs::parse_media_playlist_res(text.as_bytes()) {
        Ok(playlist) => playlist,
        Err(error) => return Err(vec![format!("does not parse: {error:?}")]),
    };
    // §4.4.3.1: every EXTINF, rounded, is at most the target duration.
    for segment in &playlist.segments {
        if (segment.duration.round() as u64) > playlist.target_duration {
            problems.push(format!(
                "segment {} lasts {} > target {}",
                segment.uri, segment.duration, playlist.target_duration
            ));
        }
    }
    if playlist
        .segments
        .first()
        .is_some_and(|segment| segment.map.is_none())
    {
        problems.push("the first segment has no EXT-X-MAP (fMP4 needs one)".into());
    }
    if playlist
        .segments
        .iter()
        .any(|segment| segment.program_date_time.is_none())
    {
        problems.push("a segment without EXT-X-PROGRAM-DATE-TIME".into());
    }

    let lines: Vec<&str> = text.lines().collect();
    let tag = |name: &str| {
        lines
            .iter()
            .find_map(|line| line.strip_prefix(name))
            .map(attributes)
    };
    let part_inf = tag("#EXT-X-PART-INF:");
    let part_target = part_inf.as_ref().and_then(|a| number(a, "PART-TARGET"));
    let server_control = tag("#EXT-X-SERVER-CONTROL:");
    let skipped = tag("#EXT-X-SKIP:")
        .and_then(|a| number(&a, "SKIPPED-SEGMENTS"))
        .unwrap_or(0.0) as u64;
    let preload_hint = tag("#EXT-X-PRELOAD-HINT:").and_then(|a| a.get("URI").cloned());

    // Parts, grouped by the segment they precede (the last group is the segment in progress).
    let mut groups: Vec<Vec<(f64, bool)>> = vec![Vec::new()];
    let mut parts = 0;
    for line in &lines {
        if let Some(list) = line.strip_prefix("#EXT-X-PART:") {
            let part = attributes(list);
            let duration = number(&part, "DURATION").unwrap_or(f64::NAN);
            if !part.contains_key("URI") {
                problems.push(format!("a part without URI: {line}"));
            }
            groups.last_mut().expect("a group").push((
                duration,
                part.get("INDEPENDENT").is_some_and(|v| v == "YES"),
            ));
            parts += 1;
        } else if line.starts_with("#EXTINF") {
            groups.push(Vec::new());
        }
    }

    if low_latency {
        if playlist.version.unwrap_or(1) < 9 {
            problems.push("LL-HLS with parts and skips needs EXT-X-VERSION 9".into());
        }
        let Some(target) = part_target else {
            problems.push("no EXT-X-PART-INF:PART-TARGET".into());
            return Err(problems);
        };
        // §4.4.4.9: each part at most PART-TARGET; all but a segment's last at least 85% of it.
        for group in &groups {
            for (position, (duration, _)) in group.iter().enumerate() {
                if *duration > target + 0.0005 {
                    problems.push(format!("a part lasts {duration} > PART-TARGET {target}"));
                }
                let last = position + 1 == group.len();
                if !last && *duration < 0.85 * target - 0.0005 {
                    problems.push(format!(
                        "a part that is not its segment's last lasts {duration} < 85% of {target}"
                    ));
                }
            }
            if group.first().is_some_and(|(_, independent)| !independent) {
                problems.push("a segment's first part is not INDEPENDENT=YES though segments start on keyframes".into());
            }
        }
        // §4.4.3.8: blocking reload, part hold-back ≥ 3 part targets, skip boundary ≥ 6 targets.
        match server_control {
            None => problems.push("no EXT-X-SERVER-CONTROL".into()),
            Some(control) => {
                if control.get("CAN-BLOCK-RELOAD").map(String::as_str) != Some("YES") {
                    problems.push("CAN-BLOCK-RELOAD is not YES".into());
                }
                match number(&control, "PART-HOLD-BACK") {
                    Some(hold) if hold >= 3.0 * target - 0.0005 => {}
                    other => problems.push(format!(
                        "PART-HOLD-BACK {other:?} < 3 × PART-TARGET {target}"
                    )),
                }
                match number(&control, "CAN-SKIP-UNTIL") {
                    Some(until) if until >= 6.0 * playlist.target_duration as f64 => {}
                    other => {
                        problems.push(format!("CAN-SKIP-UNTIL {other:?} < 6 × target duration"))
                    }
                }
            }
        }
        if preload_hint.is_none() && !playlist.end_list {
            problems.push("a live LL-HLS playlist without EXT-X-PRELOAD-HINT".into());
        }
        // §4.4.5.4: a rendition report names another playlist and where it stands; with parts,
        // LAST-PART too.
        for line in &lines {
            if let Some(list) = line.strip_prefix("#EXT-X-RENDITION-REPORT:") {
                let report = attributes(list);
                let uri_ok = report
                    .get("URI")
                    .is_some_and(|uri| !uri.is_empty() && !uri.contains('?'));
                if !uri_ok
                    || number(&report, "LAST-MSN").is_none()
                    || number(&report, "LAST-PART").is_none()
                {
                    problems.push(format!("an incomplete rendition report: {line}"));
                }
            }
        }
    } else if lines
        .iter()
        .any(|line| line.starts_with("#EXT-X-RENDITION-REPORT:"))
    {
        problems.push("a rendition report in a playlist that is not low-latency".into());
    } else if parts > 0 || part_inf.is_some() {
        problems.push("parts in a playlist that is not low-latency".into());
    }

    if problems.is_empty() {
        Ok(MediaSummary {
            media_sequence: playlist.media_sequence,
            segments: playlist.segments.len(),
            parts,
            target_duration: playlist.target_duration,
            part_target,
            preload_hint,
            skipped,
        })
    } else {
        Err(problems)
    }
}

/// Checks a multivariant playlist: every variant has BANDWIDTH, CODECS and (for video)
/// RESOLUTION. Returns the variants' URIs.
pub fn validate_multivariant(text: &str) -> Result<Vec<m3u8_rs::VariantStream>, Vec<String>> {
    let playlist = m3u8_rs::parse_master_playlist_res(text.as_bytes())
        .map_err(|error| vec![format!("does not parse: {error:?}")])?;
    let mut problems = Vec::new();
    if playlist.variants.is_empty() {
        problems.push("no variants".into());
    }
    for variant in &playlist.variants {
        if variant.bandwidth == 0 {
            problems.push(format!("{}: BANDWIDTH 0", variant.uri));
        }
        let codecs = variant.codecs.clone().unwrap_or_default();
        if codecs.is_empty() {
            problems.push(format!("{}: no CODECS", variant.uri));
        }
        if codecs.contains("avc1") && variant.resolution.is_none() {
            problems.push(format!("{}: video without RESOLUTION", variant.uri));
        }
    }
    if problems.is_empty() {
        Ok(playlist.variants)
    } else {
        Err(problems)
    }
}

/// Waits until the media playlist at `url` lists at least `segments` segments (the stream
/// plays), polling as a player would; panics after `limit`.
pub async fn until_listed(url: &str, segments: usize, limit: std::time::Duration) {
    crate::wait::until(
        limit,
        &format!("{url} lists {segments} segments"),
        || async {
            let Ok(answer) = reqwest::get(url).await else {
                return false;
            };
            answer
                .text()
                .await
                .unwrap_or_default()
                .matches("#EXTINF")
                .count()
                >= segments
        },
    )
    .await;
}

/// Reads in a row that must all find the playlist final: behind the round-robin front of the
/// topology each of its two playback nodes follows the log on its own, so one may serve a
/// playlist final a moment before the other does; four reads cover each node twice.
const FINAL_READS: usize = 4;

/// Waits until the media playlist at `url` is final (`EXT-X-ENDLIST`) wherever it is served
/// from, and returns it; panics after `limit`. A player (ffmpeg) reading it then sees a VOD,
/// not a live playlist to join at its edge.
pub async fn until_final(url: &str, limit: std::time::Duration) -> String {
    crate::wait::until_some(limit, &format!("{url} is final"), || async {
        let mut seen = Vec::with_capacity(FINAL_READS);
        for _ in 0..FINAL_READS {
            let text = reqwest::get(url).await.ok()?.text().await.ok()?;
            if !text.contains("#EXT-X-ENDLIST") {
                return None;
            }
            seen.push(text);
        }
        seen.pop()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_with_quotes_and_commas() {
        let parsed = attributes(r#"DURATION=0.200,URI="a/b,c.m4s",INDEPENDENT=YES"#);
        assert_eq!(parsed["URI"], "a/b,c.m4s");
        assert_eq!(parsed["INDEPENDENT"], "YES");
        assert_eq!(parsed["DURATION"], "0.200");
    }

    #[test]
    fn the_validator_catches_broken_ll_hls() {
        let broken = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.200\n\
            #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.400,CAN-SKIP-UNTIL=6.0\n\
            #EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n\
            #EXT-X-PART:DURATION=0.300,URI=\"0.0.m4s\"\n#EXT-X-PART:DURATION=0.100,URI=\"0.1.m4s\"\n\
            #EXT-X-PART:DURATION=0.100,URI=\"0.2.m4s\"\n#EXTINF:2.000,\n0.m4s\n\
            #EXT-X-RENDITION-REPORT:URI=\"360p.m3u8\",LAST-MSN=0\n";
        let problems = validate_media(broken, true).unwrap_err().join("\n");
        for expected in [
            "incomplete rendition report",
            "VERSION 9",
            "0.3 > PART-TARGET",
            "85%",
            "INDEPENDENT",
            "PART-HOLD-BACK",
            "PRELOAD-HINT",
            "lasts 2 > target 1",
        ] {
            assert!(
                problems.contains(expected),
                "{expected} not reported:\n{problems}"
            );
        }
    }
}
