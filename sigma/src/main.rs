//! `sigma`: runs the platform (`sigma run`, the default), an edge worker or a playback node of a
//! scaled-out deployment (`sigma worker`, `sigma playback`), or rebuilds the read models from the
//! log (`sigma replay`).
//! Configuration comes from `SIGMA_*` variables; see the README.
//!
//! This crate is configuration ([`config`]) and wiring ([`app`]: what each role starts, in
//! what order); what runs is in the crates it wires: `sigma-control-plane` (API, deciders,
//! projections, ingest), `sigma-playback`, `sigma-edge-worker`, `sigma-event-log`.

mod app;
mod config;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use app::{Bound, Role, Started};
use clap::{Parser, Subcommand};
use config::Config;

#[derive(Parser)]
#[command(
    name = "sigma",
    version,
    about = "Sigma Live: live streaming with RTMP ingest and LL-HLS playback"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Action>,
}

#[derive(Subcommand)]
enum Action {
    /// Run the platform (the default).
    Run,
    /// Run an edge worker: RTMP ingest only, on a scaled-out deployment's log
    /// (SIGMA_KAFKA_BROKERS) and object store (SIGMA_OBJECT_STORE_URL); no database. Publishers
    /// may move between workers within the reconnect window.
    Worker,
    /// Run a playback node: live and catch-up playlists, media, thumbnails and recordings for
    /// any stream, from a scaled-out deployment's log and object store; no API, no ingest.
    /// Viewers need no sticky sessions: any node serves any request.
    Playback,
    /// Run a control plane: the API, deciders, projections, webhooks, analytics, recording,
    /// retention and the node monitor of a scaled-out deployment whose edge workers ingest and
    /// whose playback nodes serve viewers; no ingest, no playback here.
    Control,
    /// Rebuild every read model from the event log. Stop the platform first.
    Replay,
}

/// Where the process listens, as one line a supervisor (or a test) can read: `http ADDR, rtmp
/// ADDR, metrics ADDR`, with the ports the system gave where the configuration said 0.
fn listening(bound: &Bound) -> String {
    let rtmp = bound
        .rtmp
        .map(|rtmp| format!(", rtmp {rtmp}"))
        .unwrap_or_default();
    format!(
        "  Listening on:  http {}{rtmp}, metrics {}",
        bound.http, bound.metrics
    )
}

fn announce(started: &Started) {
    let http = &started.urls.http;
    let metrics = format!("http://{}/metrics", started.bound.metrics);
    let listening = listening(&started.bound);
    if started.role == Role::Playback {
        println!(
            "\nSigma Live playback node is running.\n  Playback:      {http}/live/<channel id>/index.m3u8\n  Health:        {http}/healthz   Metrics: {metrics}\n{listening}\n"
        );
        return;
    }
    let Some(key_at) = &started.admin_key_at else {
        println!(
            "\nSigma Live edge worker is running.\n  RTMP ingest:   {rtmp}/live/<stream_key>\n  Health:        {http}/healthz   Metrics: {metrics}\n{listening}\n",
            rtmp = started.urls.rtmp
        );
        return;
    };
    if started.role == Role::Control {
        // Its own address: the public one is the front of the playback nodes.
        let http = format!("http://{}", started.bound.http);
        println!(
            "\nSigma Live control plane is running.\n  Dashboard:     {http}/\n  API and docs:  {http}/docs/\n  Health:        {http}/healthz   Metrics: {metrics}\n  Admin key:     in {key_at}\n{listening}\n"
        );
        return;
    }
    println!(
        r#"
Sigma Live is running.
{listening}
  Dashboard:     {http}/   (sign in with the admin key below)
  API and docs:  {http}/docs/
  Health:        {http}/healthz   Metrics: {metrics}
  RTMP ingest:   {rtmp}/live/<stream_key>
  Playback:      {http}/live/<channel id>/index.m3u8
  Admin key:     in {key_at}

Or with the API: create an account, a token and a channel (ADMIN_KEY set to the admin key):
  curl -s -X POST {http}/v1/accounts -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' -d '{{"name":"me"}}'
  curl -s -X POST {http}/v1/tokens -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' -d '{{"account_id":"<account id>"}}'
  curl -s -X POST {http}/v1/channels -H 'Authorization: Bearer <token>' -H 'Content-Type: application/json' -d '{{"name":"studio"}}'
Then push a test stream to the channel's `rtmp_url` and play its `playback_url`:
  ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine -c:v libx264 -preset veryfast -tune zerolatency -g 60 -c:a aac -f flv <rtmp_url>
  ffplay <playback_url>
"#,
        rtmp = started.urls.rtmp,
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn,actix_server=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Config::from_env().context("reading configuration")?;
    match Cli::parse().command.unwrap_or(Action::Run) {
        Action::Run => app::run(config, Role::Platform, announce)
            .await
            .context("running the platform"),
        Action::Control => app::run(config, Role::Control, announce)
            .await
            .context("running the control plane"),
        Action::Worker => app::run(config, Role::Worker, announce)
            .await
            .context("running the edge worker"),
        Action::Playback => app::run(config, Role::Playback, announce)
            .await
            .context("running the playback node"),
        Action::Replay => {
            let log = app::open_log(&config)
                .await
                .context("opening the event log")?;
            let db = sigma_control_plane::db::connect(&config.database_url)
                .await
                .context("opening the database")?;
            let secrets = app::secrets_key(&config).context("the secrets key")?;
            let started = Instant::now();
            let report = sigma_control_plane::project::replay::replay(log, &db, Arc::new(secrets))
                .await
                .context("replaying")?;
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "replayed {} records ({} events) in {seconds:.3} s: {:.0} events/s",
                report.records,
                report.events,
                report.events as f64 / seconds.max(1e-9)
            );
            Ok(())
        }
    }
}
