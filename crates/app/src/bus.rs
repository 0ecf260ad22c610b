//! Realtime events (A1: live messages, receipts, typing, queue updates). Use cases publish after
//! their transaction commits; every WebSocket of every node receives the events addressed to its
//! user. In one process the [`LocalBus`] is a broadcast channel; at scale a NATS implementation of
//! [`Bus`] carries the same events between nodes.

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

/// One event for some users.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Who should receive it (user ids).
    #[serde(skip)]
    pub recipients: Vec<String>,
    /// The JSON sent to the socket; always has a `type` field.
    pub payload: serde_json::Value,
}

pub trait Bus: Send + Sync {
    fn publish(&self, event: Event);
    fn subscribe(&self) -> broadcast::Receiver<Event>;
}

/// The in-process bus.
pub struct LocalBus {
    tx: broadcast::Sender<Event>,
}

impl Default for LocalBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(4096);
        Self { tx }
    }
}

impl Bus for LocalBus {
    fn publish(&self, event: Event) {
        // No subscriber is not an error: nobody is online to notify; clients catch up by sequence.
        let _ = self.tx.send(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

/// Events between nodes through NATS core pub/sub (`[bus] nats = "nats://…"`). Every node
/// subscribes to one subject and hands what it receives to its local sockets. A node delivers its own
/// events locally at once and tags what it publishes with its node id, so it skips its own echo:
/// local delivery never waits on the broker, and a broker outage loses only live pushes, which
/// clients recover by catching up on sequence numbers (`?after=SEQ`) — the database stays the record.
pub struct NatsBus {
    local: LocalBus,
    outbox: mpsc::UnboundedSender<Event>,
}

/// What travels over NATS: the event with its recipients and the sending node.
#[derive(Serialize, Deserialize)]
struct Wire {
    node: String,
    recipients: Vec<String>,
    payload: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS: {0}")]
    Connect(String),
    #[error("cannot subscribe to {subject}: {reason}")]
    Subscribe { subject: String, reason: String },
}

impl NatsBus {
    /// Connects, subscribes to `subject` and starts the forwarding tasks. The subscription is
    /// flushed to the server before this returns, so no event published afterwards is missed.
    pub async fn connect(url: &str, subject: &str) -> Result<Self, BusError> {
        use futures::StreamExt as _;
        let client = async_nats::ConnectOptions::new()
            .name("yiqiao")
            .connect(url)
            .await
            .map_err(|e| BusError::Connect(e.to_string()))?;
        let subscribe_err =
            |e: &dyn std::fmt::Display| BusError::Subscribe { subject: subject.into(), reason: e.to_string() };
        let mut sub = client.subscribe(subject.to_owned()).await.map_err(|e| subscribe_err(&e))?;
        client.flush().await.map_err(|e| subscribe_err(&e))?;
        let node = uuid::Uuid::new_v4().to_string();
        let local = LocalBus::default();
        let inbound = local.tx.clone();
        let me = node.clone();
        tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                match serde_json::from_slice::<Wire>(&msg.payload) {
                    Ok(w) if w.node == me => {}
                    Ok(w) => {
                        let _ = inbound.send(Event { recipients: w.recipients, payload: w.payload });
                    }
                    Err(e) => tracing::warn!(error = %e, "undecodable event on the bus ignored"),
                }
            }
            tracing::error!("NATS subscription ended; live events from other nodes stop");
        });
        // One task publishes, in the order events were raised on this node.
        let (outbox, mut pending) = mpsc::unbounded_channel::<Event>();
        let subject = subject.to_owned();
        tokio::spawn(async move {
            while let Some(ev) = pending.recv().await {
                let wire = Wire { node: node.clone(), recipients: ev.recipients, payload: ev.payload };
                let Ok(body) = serde_json::to_vec(&wire) else { continue };
                if let Err(e) = client.publish(subject.clone(), body.into()).await {
                    tracing::warn!(error = %e, "event not published to NATS; other nodes' clients catch up by sequence");
                }
            }
        });
        Ok(Self { local, outbox })
    }
}

impl Bus for NatsBus {
    fn publish(&self, event: Event) {
        self.local.publish(event.clone());
        let _ = self.outbox.send(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.local.subscribe()
    }
}
