//! Repositories: small functions over a connection or transaction (`find_*` → `Option`,
//! `get_*` → error when absent, `list_*`, `insert_*`, `update_*`). Functions that return patient
//! data take a [`scope::PatientScope`] that only the `app` policy layer mints.

pub mod annotation;
pub mod attachment;
pub mod audit;
pub mod call;
pub mod care;
pub mod consent;
pub mod consultation;
pub mod correction;
pub mod file;
pub mod health_record;
pub mod institution;
pub mod invitation;
pub mod job;
pub mod meta;
pub mod monitoring;
pub mod patient;
pub mod red_flag;
pub mod reencrypt;
pub mod scope;
pub mod seal;
pub mod search;
pub mod session;
pub mod user;
pub mod verification;
