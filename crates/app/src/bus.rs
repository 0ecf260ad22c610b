//! Realtime events (A1: live messages, receipts, typing, queue updates). Use cases publish after
//! their transaction commits; every WebSocket of every node receives the events addressed to its
//! user. In one process the [`LocalBus`] is a broadcast channel; at scale a NATS implementation of
//! [`Bus`] carries the same events between nodes.

use serde::Serialize;
use tokio::sync::broadcast;

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
