//! Notifications (E3).

pub mod channels;
