//! A webhook receiver for the tests: a real HTTP/1.1 server on 127.0.0.1 that records every
//! request with its headers and arrival time, answers with a chosen status after a chosen delay,
//! and can start down (its port, already its own, refuses connections) and be brought up later.
//! It verifies nothing itself; [`verify`] checks a signature the way a receiver should.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpSocket;
use tokio::task::JoinHandle;

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    pub at: DateTime<Utc>,
    pub event_id: String,
    pub signature: String,
    pub raw: Vec<u8>,
    pub body: Value,
}

/// How the receiver answers.
#[derive(Clone, Copy, Debug)]
pub struct Behaviour {
    pub status: u16,
    pub delay: Duration,
    /// Answers with a `location` naming the receiver on this port (with a 3xx status).
    pub redirect_to: Option<u16>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            status: 200,
            delay: Duration::ZERO,
            redirect_to: None,
        }
    }
}

pub struct Receiver {
    pub port: u16,
    /// The socket, bound but not listening, until [`Receiver::up`].
    socket: Option<TcpSocket>,
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Behaviour,
    server: Option<JoinHandle<()>>,
}

impl Receiver {
    /// A receiver down until [`Receiver::up`]: its socket is bound to a port of the system's
    /// choosing, so the port is its own, but does not listen yet, so connections are refused.
    pub fn down(behaviour: Behaviour) -> Self {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket
            .bind(([127, 0, 0, 1], 0).into())
            .expect("a free port");
        Self {
            port: socket.local_addr().expect("a bound socket").port(),
            socket: Some(socket),
            received: Arc::default(),
            behaviour,
            server: None,
        }
    }

    /// A receiver that is up.
    pub async fn start(behaviour: Behaviour) -> Self {
        let mut receiver = Self::down(behaviour);
        receiver.up().await;
        receiver
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    /// Starts listening (once).
    pub async fn up(&mut self) {
        let socket = self.socket.take().expect("a receiver that is down");
        let listener = socket.listen(1024).expect("listening");
        let (received, behaviour) = (self.received.clone(), self.behaviour);
        self.server = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                connections.spawn(serve(socket, received.clone(), behaviour));
            }
        }));
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    /// Stops listening and drops every open connection.
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

async fn serve(
    socket: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Behaviour,
) {
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut event_id, mut signature) = (0usize, String::new(), String::new());
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).await.unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim().to_owned();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "sigma-event-id" => event_id = value,
                "sigma-signature" => signature = value,
                _ => {}
            }
        }
        let mut raw = vec![0; length];
        if reader.read_exact(&mut raw).await.is_err() {
            return;
        }
        received.lock().unwrap().push(Received {
            at: Utc::now(),
            event_id,
            signature,
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            raw,
        });
        tokio::time::sleep(behaviour.delay).await;
        let location = behaviour.redirect_to.map_or_else(String::new, |port| {
            format!("location: http://127.0.0.1:{port}/hooks\r\n")
        });
        let response = format!(
            "HTTP/1.1 {} Test\r\n{location}content-length: 2\r\n\r\nok",
            behaviour.status
        );
        if write.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Whether `received` carries a valid `v1` signature by `secret`, and how many `v1` it has.
pub fn verify(received: &Received, secret: &str) -> (bool, usize) {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in received.signature.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value.to_owned()),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return (false, signatures.len());
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&received.raw);
    let expected = hex::encode(mac.finalize().into_bytes());
    (signatures.contains(&expected), signatures.len())
}
