//! Access scopes (B3, S2). A `PatientScope` is proof that the policy layer allowed the holder to
//! read one patient's data; repository functions for patient data require one, so there is no
//! unscoped read of patient data anywhere.

/// Why access to a patient was granted; recorded in the audit trail by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The patient themself (or their linked guardian).
    SelfOrGuardian,
    /// A clinician in a care relationship with the patient.
    CareRelationship,
    /// An admin reviewing identity (registration support), masked views only.
    Administration,
}

#[derive(Debug, Clone)]
pub struct PatientScope {
    patient_id: String,
    grant: Grant,
}

impl PatientScope {
    /// Minted by `app::policy` after it has checked the grant; never constructed from user input.
    pub fn granted(patient_id: impl Into<String>, grant: Grant) -> Self {
        Self { patient_id: patient_id.into(), grant }
    }

    pub fn patient_id(&self) -> &str {
        &self.patient_id
    }

    pub fn grant(&self) -> Grant {
        self.grant
    }
}

/// What one user may see of consultations (S2): their own (and their wards') as a patient, those
/// assigned to them as a doctor, and unclaimed team consultations of their departments. Minted by
/// `app` after it checked roles and verification.
#[derive(Debug, Clone, Default)]
pub struct ConsultationScope {
    pub user_id: String,
    /// The user and the minors they are guardian of.
    pub patient_ids: Vec<String>,
    /// Departments of a verified doctor (empty for everyone else).
    pub department_ids: Vec<String>,
}
