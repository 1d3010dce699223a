//! `ApiError`: the one error type routes return. Each variant maps to a status and a stable
//! `code`; the body is `{code, message, title, status, detail}` (RFC 7807 fields beside ours).
//! 5xx bodies are opaque; the log keeps the whole cause chain.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use courier_actors::domain::Invalid;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "missing or wrong credentials: send `Authorization: Bearer <API key>` or a session cookie"
    )]
    Unauthorized,
    #[error("this subscription requires an X-Hub-Signature-256 header")]
    SignatureRequired,
    #[error("the X-Hub-Signature-256 signature does not match the body")]
    InvalidSignature,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Validation(String),
    #[error("the request body is not valid JSON for this route: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    BadQuery(String),
    #[error("{0}")]
    InvalidId(String),
    #[error("the request body is larger than the limit (COURIER_MAX_BODY)")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    Conflict(String),
    #[error("this route does not accept that method")]
    MethodNotAllowed,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    PayloadTooDeep(String),
    #[error("the payload was refused by storage: {0}")]
    PayloadRejected(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    CsrfRejected(String),
    #[error(
        "this portal session is read-only: it can show endpoints and deliveries but not change them"
    )]
    ReadOnly,
    #[error(
        "this portal link cannot be opened: it was already used, it expired or it was revoked; \
         ask for a new link"
    )]
    PortalLinkInvalid,
    #[error(
        "this portal session has ended (it expired or its link was revoked); ask for a new link"
    )]
    PortalSessionEnded,
    #[error("the payload does not match the schema of {event_type}: {message} (at {})",
        if path.is_empty() { "the payload's root" } else { path })]
    PayloadInvalid {
        event_type: String,
        path: String,
        message: String,
    },
    #[error("a dependency is unavailable; retry shortly")]
    Unavailable,
    #[error("too many requests are waiting to be stored; retry shortly")]
    Overloaded,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"code": "validation_error", "message": "target_url must use http or https",
    "title": "Bad Request", "status": 400, "detail": "target_url must use http or https"}))]
pub struct ErrorBody {
    /// Stable, machine-readable code.
    pub code: &'static str,
    /// What went wrong, for humans.
    pub message: String,
    /// RFC 7807: the status's reason phrase.
    pub title: &'static str,
    /// RFC 7807: the HTTP status.
    pub status: u16,
    /// RFC 7807: same as `message`.
    pub detail: String,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::SignatureRequired => "signature_required",
            Self::InvalidSignature => "invalid_signature",
            Self::NotFound(_) => "not_found",
            Self::Validation(_) => "validation_error",
            Self::InvalidJson(_) => "invalid_json",
            Self::BadQuery(_) => "invalid_query",
            Self::InvalidId(_) => "invalid_id",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Conflict(_) => "conflict",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::BadRequest(_) => "bad_request",
            Self::PayloadTooDeep(_) => "payload_too_deep",
            Self::PayloadRejected(_) => "payload_rejected",
            Self::Forbidden(_) => "forbidden",
            Self::CsrfRejected(_) => "csrf_rejected",
            Self::ReadOnly => "read_only",
            Self::PortalLinkInvalid => "portal_link_invalid",
            Self::PortalSessionEnded => "portal_session_ended",
            Self::PayloadInvalid { .. } => "payload_invalid",
            Self::Unavailable => "service_unavailable",
            Self::Overloaded => "overloaded",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The `422` for a payload that fails its type's schema in the catalog.
    pub fn payload_invalid(
        event_type: &str,
        violation: courier_actors::catalog::SchemaViolation,
    ) -> Self {
        Self::PayloadInvalid {
            event_type: event_type.to_owned(),
            path: violation.path,
            message: violation.message,
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self::Validation(e.0)
    }
}

impl From<courier_actors::lifecycle::LifecycleError> for ApiError {
    fn from(e: courier_actors::lifecycle::LifecycleError) -> Self {
        use courier_actors::lifecycle::LifecycleError as L;
        match e {
            L::NotFound => Self::NotFound("subscription"),
            L::Invalid(i) => i.into(),
            L::Db(e) => e.into(),
            L::Sealed(e) => Self::Internal(anyhow::Error::new(e)),
        }
    }
}

impl From<courier_actors::persistence::IngestError> for ApiError {
    fn from(e: courier_actors::persistence::IngestError) -> Self {
        use courier_actors::persistence::IngestError as I;
        match e {
            I::Unavailable(_) | I::Stopped => Self::Unavailable,
            I::Overloaded => Self::Overloaded,
            I::Rejected(reason) => Self::PayloadRejected(reason),
            I::Failed(e) => Self::Internal(anyhow::Error::new(e)),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if courier_actors::db::is_unavailable(&e) {
            tracing::warn!(error = %e, "postgres unavailable");
            Self::Unavailable
        } else {
            Self::Internal(e.into())
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized
            | Self::SignatureRequired
            | Self::InvalidSignature
            | Self::PortalLinkInvalid
            | Self::PortalSessionEnded => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Validation(_)
            | Self::InvalidJson(_)
            | Self::BadQuery(_)
            | Self::InvalidId(_)
            | Self::PayloadTooDeep(_) => StatusCode::BAD_REQUEST,
            Self::PayloadRejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) | Self::CsrfRejected(_) | Self::ReadOnly => StatusCode::FORBIDDEN,
            Self::PayloadInvalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let Self::Internal(e) = self {
            tracing::error!(error = ?e, "request failed");
        }
        let message = self.to_string();
        let body = ErrorBody {
            code: self.code(),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: message.clone(),
            message,
        };
        let mut resp = HttpResponse::build(status);
        resp.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let after = if matches!(self, Self::Overloaded) {
                "1"
            } else {
                "5"
            };
            resp.insert_header((header::RETRY_AFTER, HeaderValue::from_static(after)));
        }
        if status == StatusCode::UNAUTHORIZED
            && matches!(
                self,
                Self::Unauthorized | Self::PortalLinkInvalid | Self::PortalSessionEnded
            )
        {
            resp.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        resp.json(body)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
