//! Notification channels (E3). Filled in by the channel work.
