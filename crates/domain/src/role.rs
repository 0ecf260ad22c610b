//! Roles, doctor titles, institution kinds and verification status.
//!
//! - B3 (roles): a user holds one or more [`Role`]s; staff roles are scoped
//!   to an institution (P1, multi-tenant), `PlatformAdmin` and `Auditor`
//!   are platform-wide.
//! - B1 (doctor verification): clinical staff start as
//!   [`VerificationStatus::Pending`] until their licence is reviewed.
//! - B4 (remote expert consultation): only senior [`DoctorTitle`]s may act as
//!   the remote expert.
//! - P1: [`InstitutionKind`] classifies tenants and their referral tier.
//!
//! Invariants: every enum has a stable `snake_case` code (`as_str`, serde,
//! `FromStr` agree), and `ALL` lists every variant.

string_enum! {
    /// What a user may do on the platform (B3).
    pub enum Role("role") {
        /// A person receiving care.
        Patient => "patient",
        /// A licensed physician (B1 verification required).
        Doctor => "doctor",
        /// A registered nurse.
        Nurse => "nurse",
        /// A licensed pharmacist; reviews prescriptions.
        Pharmacist => "pharmacist",
        /// A rehabilitation or other therapist.
        Therapist => "therapist",
        /// Reviews clinical quality (records, prescriptions).
        QualityReviewer => "quality_reviewer",
        /// Administers one institution (tenant).
        InstitutionAdmin => "institution_admin",
        /// Administers the whole platform.
        PlatformAdmin => "platform_admin",
        /// Read-only access to audit logs.
        Auditor => "auditor",
    }
}

impl Role {
    /// Everyone except patients works for an institution or the platform.
    pub const fn is_staff(self) -> bool {
        !matches!(self, Self::Patient)
    }

    /// Roles that deliver care and therefore need credential checks (B1).
    pub const fn is_clinical(self) -> bool {
        matches!(self, Self::Doctor | Self::Nurse | Self::Pharmacist | Self::Therapist)
    }

    /// Chinese display name.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Patient => "患者",
            Self::Doctor => "医生",
            Self::Nurse => "护士",
            Self::Pharmacist => "药师",
            Self::Therapist => "治疗师",
            Self::QualityReviewer => "质控员",
            Self::InstitutionAdmin => "机构管理员",
            Self::PlatformAdmin => "平台管理员",
            Self::Auditor => "审计员",
        }
    }
}

string_enum! {
    /// Professional title of a physician (卫生专业技术职称).
    pub enum DoctorTitle("doctor title") {
        /// 住院医师.
        Resident => "resident",
        /// 主治医师.
        Attending => "attending",
        /// 副主任医师.
        AssociateChief => "associate_chief",
        /// 主任医师.
        Chief => "chief",
    }
}

impl DoctorTitle {
    /// B4: only associate chief and chief physicians may serve as the remote
    /// expert in a consultation.
    pub const fn may_be_remote_expert(self) -> bool {
        matches!(self, Self::AssociateChief | Self::Chief)
    }

    /// Chinese title as printed on certificates.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Resident => "住院医师",
            Self::Attending => "主治医师",
            Self::AssociateChief => "副主任医师",
            Self::Chief => "主任医师",
        }
    }
}

string_enum! {
    /// Kind of tenant institution (P1).
    pub enum InstitutionKind("institution kind") {
        /// 三级医院.
        TertiaryHospital => "tertiary_hospital",
        /// 二级医院.
        SecondaryHospital => "secondary_hospital",
        /// 乡镇卫生院.
        TownshipHealthCentre => "township_health_centre",
        /// 村卫生室.
        VillageClinic => "village_clinic",
        /// 零售药店.
        Pharmacy => "pharmacy",
        /// 健康管理机构.
        HealthManagement => "health_management",
    }
}

impl InstitutionKind {
    /// Level in the hierarchical referral system (分级诊疗).
    ///
    /// `3` tertiary hospital, `2` secondary hospital, `1` township health
    /// centre (primary care with beds). Village clinics, pharmacies and
    /// health-management organisations are `0`: they are not graded
    /// hospitals and sit below (or outside) the referral ladder. Higher is
    /// more specialised; referrals normally go from lower to higher tiers.
    pub const fn tier(self) -> u8 {
        match self {
            Self::TertiaryHospital => 3,
            Self::SecondaryHospital => 2,
            Self::TownshipHealthCentre => 1,
            Self::VillageClinic | Self::Pharmacy | Self::HealthManagement => 0,
        }
    }

    /// Chinese display name.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::TertiaryHospital => "三级医院",
            Self::SecondaryHospital => "二级医院",
            Self::TownshipHealthCentre => "乡镇卫生院",
            Self::VillageClinic => "村卫生室",
            Self::Pharmacy => "药店",
            Self::HealthManagement => "健康管理机构",
        }
    }

    /// English display name.
    pub const fn name_en(self) -> &'static str {
        match self {
            Self::TertiaryHospital => "Tertiary hospital",
            Self::SecondaryHospital => "Secondary hospital",
            Self::TownshipHealthCentre => "Township health centre",
            Self::VillageClinic => "Village clinic",
            Self::Pharmacy => "Pharmacy",
            Self::HealthManagement => "Health management organisation",
        }
    }
}

string_enum! {
    /// Outcome of a credential / real-name verification (B1, B2).
    pub enum VerificationStatus("verification status") {
        /// Submitted, not yet reviewed.
        Pending => "pending",
        /// Reviewed and accepted.
        Approved => "approved",
        /// Reviewed and refused.
        Rejected => "rejected",
    }
}
