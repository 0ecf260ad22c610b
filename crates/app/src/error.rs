//! Use-case errors with stable snake_case codes. Messages are safe to show: they never contain
//! personal data, database text or secrets (S3: no PHI in errors).

use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error(
        "Login failed. Check the account name, password and code. Repeated failures pause further attempts for a while."
    )]
    InvalidCredentials,
    #[error("Enter the 6-digit code from your authenticator app.")]
    TotpRequired,
    #[error("Please sign in.")]
    Unauthenticated,
    #[error("You do not have permission for this.")]
    Forbidden,
    #[error("Set up two-factor authentication before accessing patient data.")]
    SecondFactorRequired,
    #[error("Confirm it is you: enter your current authenticator code (or password) again.")]
    StepUpRequired,
    #[error("Your doctor verification has not been approved yet.")]
    NotVerified,
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Conflict(&'static str),
    /// A bounded resource stayed taken for as long as a request may wait (issue 11 item 3).
    #[error("The server is busy; please try again in a moment.")]
    Busy,
    #[error("The security token of this form expired. Reload the page and try again.")]
    Csrf,
    #[error("Too many attempts. Please wait {} minute(s) and try again.", retry_after_secs.div_ceil(60))]
    RateLimited { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(&'static str),
    #[error("internal error")]
    Store(#[source] StoreError),
    #[error("internal error")]
    Crypto(#[from] crypto::CryptoError),
}

impl AppError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { code, message: message.into() }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. } => code,
            Self::InvalidCredentials => "invalid_credentials",
            Self::TotpRequired => "totp_required",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::SecondFactorRequired => "second_factor_required",
            Self::StepUpRequired => "step_up_required",
            Self::NotVerified => "doctor_not_verified",
            Self::NotFound => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Busy => "busy",
            Self::Csrf => "csrf_failed",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) | Self::Store(_) | Self::Crypto(_) => "internal",
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            other => Self::Store(other),
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(StoreError::Db(e))
    }
}

impl From<domain::validate::ValidationError> for AppError {
    fn from(e: domain::validate::ValidationError) -> Self {
        Self::invalid(e.code(), e.message())
    }
}

impl From<domain::id_document::IdError> for AppError {
    fn from(e: domain::id_document::IdError) -> Self {
        Self::invalid(e.code(), e.to_string())
    }
}
