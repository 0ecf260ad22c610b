//! The audit trail (S3): append-only, hash-chained events written in the same transaction as the
//! action they describe. Each event's `hash` is a keyed HMAC over the previous hash and the event's
//! canonical bytes, so a row that is changed, deleted, inserted or reordered breaks the chain, and
//! nobody without the audit key can forge a consistent replacement. `audit_head` holds the last
//! sequence number and hash, which also exposes truncation of the tail. Every chain holds a sealed
//! genesis event ([`GENESIS_ACTION`], written when the key ring is bound), so an emptied log does not
//! verify either (issue 11 item 9).

use chrono::{DateTime, SubsecRound, Utc};
use crypto::KeyRing;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use serde::Serialize;

use crate::{StoreError, dialect, entity::audit_event};

/// One event as the caller describes it; sequence, time and hashes are filled in by [`append`].
#[derive(Debug, Clone, Default)]
pub struct NewAuditEvent {
    pub actor_user_id: Option<String>,
    pub actor_role: Option<String>,
    pub action: String,
    pub subject_patient_id: Option<String>,
    pub resource: Option<String>,
    pub outcome: String,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

/// The action of the sealed event that opens a chain, or anchors one begun before genesis events
/// existed (issue 11 item 9). A chain without one is broken: without it an emptied log (events
/// deleted, head reset) would verify as "0 events".
pub const GENESIS_ACTION: &str = "audit.genesis";

/// The sequence number of the first genesis event, if any (index `ix_audit_action`).
pub async fn genesis_seq(db: &impl ConnectionTrait) -> Result<Option<i64>, StoreError> {
    Ok(audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(GENESIS_ACTION))
        .order_by_asc(audit_event::Column::Seq)
        .one(db)
        .await?
        .map(|e| e.seq))
}

/// Whether any account exists: a database with accounts has audit events (registration is audited).
pub async fn has_users(db: &impl ConnectionTrait) -> Result<bool, StoreError> {
    let q = Query::select().expr(Expr::cust("1")).from(Alias::new("users")).limit(1).to_owned();
    Ok(db.query_one(&q).await?.is_some())
}

/// The fields that are hashed, in a fixed order.
fn canonical(m: &audit_event::Model) -> Vec<u8> {
    let fields: [&str; 11] = [
        &m.seq.to_string(),
        &m.id,
        &m.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        m.actor_user_id.as_deref().unwrap_or(""),
        m.actor_role.as_deref().unwrap_or(""),
        &m.action,
        m.subject_patient_id.as_deref().unwrap_or(""),
        m.resource.as_deref().unwrap_or(""),
        &m.outcome,
        m.client_addr.as_deref().unwrap_or(""),
        m.request_id.as_deref().unwrap_or(""),
    ];
    // Length-prefix every field so no two different events share bytes.
    let mut out = Vec::with_capacity(256);
    for f in fields {
        out.extend_from_slice(&(f.len() as u64).to_be_bytes());
        out.extend_from_slice(f.as_bytes());
    }
    out
}

/// A keyed seal over the head, so the head cannot be rewound to hide deleted tail events without
/// the audit key.
fn head_mac(keys: &KeyRing, seq: i64, hash: &str) -> String {
    hex::encode(crypto::chain::chain_hash(
        keys.audit_key(),
        hash.as_bytes(),
        format!("yiqiao/audit-head/{seq}").as_bytes(),
    ))
}

fn link_hash(keys: &KeyRing, prev_hash: &str, m: &audit_event::Model) -> String {
    hex::encode(crypto::chain::chain_hash(keys.audit_key(), prev_hash.as_bytes(), &canonical(m)))
}

/// Appends `ev` at `at` inside `txn`. If this fails the caller's transaction must fail too.
pub async fn append(
    txn: &DatabaseTransaction,
    keys: &KeyRing,
    at: DateTime<Utc>,
    ev: NewAuditEvent,
) -> Result<i64, StoreError> {
    let (seq, prev_hash) = dialect::lock_audit_head(txn).await?;
    let mut model = audit_event::Model {
        seq: seq + 1,
        id: uuid::Uuid::now_v7().to_string(),
        // PostgreSQL keeps microseconds; hash what both engines store.
        at: at.trunc_subsecs(6),
        actor_user_id: ev.actor_user_id,
        actor_role: ev.actor_role,
        action: ev.action,
        subject_patient_id: ev.subject_patient_id,
        resource: ev.resource,
        outcome: ev.outcome,
        client_addr: ev.client_addr,
        request_id: ev.request_id,
        prev_hash: prev_hash.clone(),
        hash: String::new(),
    };
    model.hash = link_hash(keys, &prev_hash, &model);
    let am: audit_event::ActiveModel = model.clone().into();
    audit_event::Entity::insert(am).exec_without_returning(txn).await?;
    let head = Query::update()
        .table("audit_head")
        .values([
            ("seq", model.seq.into()),
            ("hash", model.hash.clone().into()),
            ("mac", head_mac(keys, model.seq, &model.hash).into()),
        ])
        .and_where(Expr::col("id").eq(1))
        .to_owned();
    txn.execute(&head).await?;
    Ok(model.seq)
}

/// Where the chain first breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub events: u64,
    pub broken: Option<BrokenLink>,
}

/// Walks the whole chain in pages and names the first broken link.
pub async fn verify(db: &impl ConnectionTrait, keys: &KeyRing) -> Result<VerifyReport, StoreError> {
    const PAGE: u64 = 2_000;
    let mut prev_seq = 0_i64;
    let mut prev_hash = "0".repeat(64);
    let mut count = 0_u64;
    let mut genesis = false;
    loop {
        let page = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(prev_seq))
            .order_by_asc(audit_event::Column::Seq)
            .limit(PAGE)
            .all(db)
            .await?;
        let done = (page.len() as u64) < PAGE;
        for ev in page {
            count += 1;
            let broken = |reason| Ok(VerifyReport { events: count, broken: Some(BrokenLink { seq: ev.seq, reason }) });
            if ev.seq != prev_seq + 1 {
                return broken("sequence gap: an event before this one was deleted or this one inserted");
            }
            if ev.prev_hash != prev_hash {
                return broken("previous-hash mismatch: events were removed, inserted or reordered");
            }
            if link_hash(keys, &prev_hash, &ev) != ev.hash {
                return broken("hash mismatch: this event was altered");
            }
            genesis |= ev.action == GENESIS_ACTION;
            prev_seq = ev.seq;
            prev_hash = ev.hash;
        }
        if done {
            break;
        }
    }
    let head = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT seq, hash, mac FROM audit_head WHERE id = 1",
        ))
        .await?
        .ok_or(StoreError::Corrupt)?;
    let head_seq: i64 = head.try_get("", "seq")?;
    let head_hash: String = head.try_get("", "hash")?;
    let mac: String = head.try_get("", "mac")?;
    let sealed = (head_seq == 0 && mac.is_empty()) || mac == head_mac(keys, head_seq, &head_hash);
    if head_seq != prev_seq || head_hash != prev_hash || !sealed {
        return Ok(VerifyReport {
            events: count,
            broken: Some(BrokenLink {
                seq: prev_seq + 1,
                reason: "chain head mismatch: events at the end were deleted",
            }),
        });
    }
    if !genesis {
        let reason = if count == 0 && has_users(db).await? {
            "empty audit log on a database with accounts: its events were deleted"
        } else {
            "no sealed genesis: the start of the audit log was removed"
        };
        return Ok(VerifyReport { events: count, broken: Some(BrokenLink { seq: 1, reason }) });
    }
    Ok(VerifyReport { events: count, broken: None })
}

/// Filters for the auditor's log viewer.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_user_id: Option<String>,
    pub subject_patient_id: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub before_seq: Option<i64>,
    pub limit: u64,
}

/// Newest first, keyset-paginated by `before_seq`.
pub async fn list(db: &impl ConnectionTrait, f: &AuditFilter) -> Result<Vec<audit_event::Model>, StoreError> {
    let mut q = audit_event::Entity::find().order_by_desc(audit_event::Column::Seq);
    if let Some(a) = &f.actor_user_id {
        q = q.filter(audit_event::Column::ActorUserId.eq(a.clone()));
    }
    if let Some(s) = &f.subject_patient_id {
        q = q.filter(audit_event::Column::SubjectPatientId.eq(s.clone()));
    }
    if let Some(a) = &f.action {
        q = q.filter(audit_event::Column::Action.eq(a.clone()));
    }
    if let Some(o) = &f.outcome {
        q = q.filter(audit_event::Column::Outcome.eq(o.clone()));
    }
    if let Some(b) = f.before_seq {
        q = q.filter(audit_event::Column::Seq.lt(b));
    }
    Ok(q.limit(f.limit.clamp(1, 500)).all(db).await?)
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(audit_event::Entity::find().count(db).await?)
}
