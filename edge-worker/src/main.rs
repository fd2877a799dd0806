//! `sigma-edge-worker`: the ingest process of a scaled-out deployment. Ingest is not built yet.

fn main() {
    eprintln!(
        "sigma-edge-worker: RTMP ingest is not built yet; run `sigma` (make run) for the API"
    );
    std::process::exit(2);
}
