//! The durable job scheduler (A2 response clocks; E3 reminders build on it). Jobs live in the
//! database with a due time and an idempotency key. A worker claims due jobs — up to 256 at a time —
//! inside a write transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite),
//! runs each handler in a savepoint of that same transaction and marks it done before committing: a
//! job's effects and its `done` mark are one commit, so a crash or `kill -9` neither loses nor
//! repeats it, and several nodes can run workers against one PostgreSQL. One commit for a batch is
//! what lets a spike of reminders due in the same minute go out in seconds. Jobs overdue after
//! downtime run once, oldest first. Everything reads the injected clock, so tests move time to the
//! second.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseTransaction, TransactionTrait};
use serde_json::Value;
use store::{entity::job as j, repo};

use crate::{App, AppError, bus::Event};

/// Attempts before a job is given up (`outcome = failed`, kept for operators).
const MAX_ATTEMPTS: i32 = 8;
/// At most this many jobs per `run_due` call, so one pass cannot starve the process.
const PASS: usize = 20_000;
/// Jobs claimed and committed together.
const CLAIM: u64 = 256;

/// Kinds of job. Adding a kind means adding an arm to [`dispatch`].
pub mod kind {
    /// A consultation's first-response clock ran out: escalate unless a doctor has answered (A2).
    pub const FIRST_RESPONSE: &str = "consultation.first_response";
    /// A call nobody answered becomes `missed` (A1).
    pub const CALL_RING_TIMEOUT: &str = "call.ring_timeout";
    /// A call recording reached the end of its retention period: delete it (F3).
    pub const RECORDING_PURGE: &str = "call.recording.purge";
    /// An urgent monitoring alert nobody acknowledged in time goes to the doctor's team (D4).
    pub const ALERT_ESCALATE: &str = "alert.escalate";
    /// A plan's tasks are topped up two weeks ahead (D2).
    pub const PLAN_EXTEND: &str = "plan.extend";
    /// A care task is due: remind its patient (reading) or doctor (visit) (E3).
    pub const TASK_REMIND: &str = "task.remind";
    /// A care task's window ended: still pending means missed (D2).
    pub const TASK_CLOSE: &str = "task.close";
}

/// Schedules `kind` at `due` inside the caller's transaction, so the job exists exactly when the
/// caller's change commits. A second call with the same `key` changes nothing.
pub async fn schedule(
    txn: &DatabaseTransaction,
    kind: &str,
    key: &str,
    payload: &Value,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    Ok(repo::job::enqueue(
        txn,
        j::Model {
            id: uuid::Uuid::now_v7().to_string(),
            kind: kind.into(),
            idem_key: key.into(),
            payload: payload.to_string(),
            due_at: due,
            attempts: 0,
            max_attempts: MAX_ATTEMPTS,
            last_error: None,
            done_at: None,
            outcome: None,
            created_at: now,
        },
    )
    .await?)
}

/// Runs every job due at the clock's now (up to [`PASS`] jobs); returns how many ran (done or failed).
pub async fn run_due(app: &App) -> Result<usize, AppError> {
    let mut ran = 0;
    while ran < PASS {
        let n = run_batch(app).await?;
        if n == 0 {
            break;
        }
        ran += n;
    }
    Ok(ran)
}

/// When the next pending job is due, for the worker's sleep.
pub async fn next_due(app: &App) -> Result<Option<DateTime<Utc>>, AppError> {
    Ok(repo::job::next_due(&app.store.db).await?)
}

/// The worker loop of `yiqiao serve`: runs due jobs, then sleeps until the next one is due (at most
/// `idle`, so jobs scheduled by other nodes are picked up promptly).
pub async fn work(app: App, idle: std::time::Duration) {
    loop {
        if let Err(e) = run_due(&app).await {
            tracing::error!(error = ?e, "job pass failed; retrying");
        }
        let wait = match next_due(&app).await {
            Ok(Some(due)) => (due - app.clock.now()).to_std().unwrap_or_default().min(idle),
            Ok(None) => idle,
            Err(_) => idle,
        };
        tokio::time::sleep(wait.max(std::time::Duration::from_millis(20))).await;
    }
}

/// Back-off before attempt `n + 1`: 5 s, 10 s, 20 s … capped at 10 minutes.
fn backoff(attempts: i32) -> Duration {
    Duration::seconds((5_i64 << attempts.clamp(0, 7)).min(600))
}

/// Claims up to [`CLAIM`] due jobs and runs them in one transaction (group commit: one fsync for the
/// batch), each handler inside a savepoint of its own: a failing job rolls back only its own writes
/// and records the attempt, the others' effects and `done` marks commit together.
async fn run_batch(app: &App) -> Result<usize, AppError> {
    let now = app.clock.now();
    let txn = app.store.begin_write().await?;
    let jobs = repo::job::claim_due(&txn, now, CLAIM).await?;
    if jobs.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    let n = jobs.len();
    let mut events = Vec::new();
    // Reminders (a spike of them due in the same minute) run together: one read per table, rows
    // written in multi-row statements, one `done` update. Should that fail, each runs on its own below.
    let (reminders, mut others): (Vec<j::Model>, Vec<j::Model>) =
        jobs.into_iter().partition(|j| j.kind == kind::TASK_REMIND && task_of(j).is_some());
    if !reminders.is_empty() {
        let tasks: Vec<String> = reminders.iter().filter_map(task_of).collect();
        let savepoint = txn.begin().await?;
        match crate::monitoring::tasks::remind_many(app, &savepoint, &tasks).await {
            Ok(evs) => {
                savepoint.commit().await?;
                let ids: Vec<String> = reminders.iter().map(|j| j.id.clone()).collect();
                repo::job::mark_done_many(&txn, &ids, now).await?;
                events.extend(evs);
            }
            Err(e) => {
                savepoint.rollback().await?;
                tracing::warn!(error = ?e, jobs = reminders.len(), "batched reminders failed; running them one by one");
                others.extend(reminders);
            }
        }
    }
    for mut job in others {
        let savepoint = txn.begin().await?;
        job.attempts += 1;
        match dispatch(app, &savepoint, &job).await {
            Ok(evs) => {
                savepoint.commit().await?;
                job.done_at = Some(now);
                job.outcome = Some("done".into());
                job.last_error = None;
                events.extend(evs);
            }
            Err(e) => {
                savepoint.rollback().await?;
                tracing::warn!(kind = %job.kind, id = %job.id, error = ?e, "job attempt failed");
                job.last_error = Some(e.code().into());
                if job.attempts >= job.max_attempts {
                    job.done_at = Some(now);
                    job.outcome = Some("failed".into());
                } else {
                    job.due_at = now + backoff(job.attempts);
                }
            }
        }
        repo::job::update(&txn, job).await?;
    }
    txn.commit().await?;
    for e in events {
        app.bus.publish(e);
    }
    Ok(n)
}

/// The task a `task.remind` job is about.
fn task_of(job: &j::Model) -> Option<String> {
    let payload: Value = serde_json::from_str(&job.payload).ok()?;
    payload["task"].as_str().map(str::to_owned)
}

/// Runs one job's handler inside the claiming transaction; returns the events to publish after commit.
async fn dispatch(app: &App, txn: &DatabaseTransaction, job: &j::Model) -> Result<Vec<Event>, AppError> {
    let payload: Value = serde_json::from_str(&job.payload).map_err(|_| AppError::Internal("job payload"))?;
    let arg = |name: &str| payload[name].as_str().map(str::to_owned).ok_or(AppError::Internal("job argument"));
    match job.kind.as_str() {
        kind::FIRST_RESPONSE => crate::consultation::escalate_if_unanswered(app, txn, &arg("consultation")?).await,
        kind::CALL_RING_TIMEOUT => {
            crate::call::ring_timeout(app, txn, &arg("call")?, payload["participant"].as_str()).await
        }
        kind::RECORDING_PURGE => crate::call::purge_recording(app, txn, &arg("recording")?).await,
        kind::ALERT_ESCALATE => crate::monitoring::escalate(app, txn, &arg("alert")?).await,
        kind::PLAN_EXTEND => crate::monitoring::tasks::extend_job(app, txn, &arg("plan")?).await,
        kind::TASK_REMIND => crate::monitoring::tasks::remind(app, txn, &arg("task")?).await,
        kind::TASK_CLOSE => crate::monitoring::tasks::close(app, txn, &arg("task")?).await,
        _ => Err(AppError::Internal("unknown job kind")),
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0).num_seconds(), 5);
        assert_eq!(backoff(1).num_seconds(), 10);
        assert_eq!(backoff(3).num_seconds(), 40);
        assert_eq!(backoff(20).num_seconds(), 600);
    }
}
