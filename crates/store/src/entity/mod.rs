//! SeaORM entities, one per table. Ids are UUIDv7 strings; `_enc` fields are `crypto` blobs.

pub mod annotation;
pub mod app_meta;
pub mod attachment;
pub mod audit_event;
pub mod call;
pub mod call_participant;
pub mod call_recording;
pub mod call_recording_chunk;
pub mod consent;
pub mod consultation;
pub mod consultation_correction;
pub mod consultation_diagnosis;
pub mod consultation_message;
pub mod consultation_read;
pub mod department;
pub mod doctor_verification;
pub mod file;
pub mod institution;
pub mod job;
pub mod patient_profile;
pub mod red_flag_term;
pub mod saved_article;
pub mod session;
pub mod user;
pub mod user_role;
