//! API errors: one table of codes, one JSON shape, built in exactly one place.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
pub use sextant_api::ErrorBody;
use sextant_api::ErrorDetail;
use sextant_store::StoreError;

/// Every error the API returns, with its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed (bad JSON, a missing field, a bad query parameter).
    BadRequest,
    /// A named thing does not exist.
    NotFound,
    /// A name is taken, or a thing is in use.
    Conflict,
    /// An upload is over the size limit.
    PayloadTooLarge,
    /// An upload or a request does not fit the project (wrong features, bad values).
    Unprocessable,

    /// Credentials are missing, malformed, unknown, expired or revoked.
    Unauthorized,
    /// The request is refused: a role too low, or a host or origin this server does not serve.
    Forbidden,
    /// A client address failed to authenticate too often.
    TooManyRequests,
    /// A result asked for has not been computed.
    NoResult,
    /// Something failed on the server's side.
    Internal,
    /// A dependency (database, storage) is unavailable.
    Unavailable,
    /// A service in another process did not answer the gateway.
    BadGateway,
}

impl ErrorCode {
    fn parts(self) -> (StatusCode, &'static str) {
        match self {
            ErrorCode::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
            ErrorCode::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorCode::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorCode::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ErrorCode::Unprocessable => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ErrorCode::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ErrorCode::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ErrorCode::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ErrorCode::NoResult => (StatusCode::NOT_FOUND, "no_result"),
            ErrorCode::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ErrorCode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ErrorCode::BadGateway => (StatusCode::BAD_GATEWAY, "bad_gateway"),
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    details: Value,
    denied: bool,
}

/// Marks an answer that refused the caller (credentials, role, or a project they may not see,
/// which answers 404 like one that does not exist): the audit log records it as a denial.
#[derive(Clone, Copy, Debug)]
pub struct Denied;

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            details: Value::Null,
            denied: false,
        }
    }

    /// Marks the error as a refusal of the caller, for the audit log.
    pub fn denied(mut self) -> ApiError {
        self.denied = true;
        self
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    /// A 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    /// A 422.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Unprocessable, message)
    }

    /// A 500; the cause is logged, not shown.
    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %message, "internal error");
        ApiError::new(ErrorCode::Internal, format!("internal error: {message}"))
    }

    /// The error's code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound { .. } => ApiError::new(ErrorCode::NotFound, e.to_string()),
            StoreError::Conflict(message) => ApiError::new(ErrorCode::Conflict, message),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.code.parts();
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if self.denied {
            response.extensions_mut().insert(Denied);
        }
        response
    }
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body over the API's limit.
fn json_too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "the JSON body is larger than the limit of {} bytes",
            crate::ingest::JSON_BODY_LIMIT
        ),
    )
}

/// JSON bodies whose rejections answer in the API's error shape. Every request body of the API
/// is a JSON object: an array is refused, even where serde would read it as a struct's fields
/// in order (a body of all-optional fields would otherwise take `[null]` as "no change").
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> ApiResult<Self> {
        let json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|media| {
                let media = media.trim();
                media == "application/json" || media.ends_with("+json")
            });
        if !json {
            return Err(ApiError::bad_request(
                "invalid JSON body: expected Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    return json_too_large();
                }
                ApiError::bad_request(format!("cannot read the body: {}", e.body_text()))
            })?;
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(ApiError::bad_request(
                "invalid JSON body: expected a JSON object ({...})",
            ));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(ApiJson(value))
    }
}

/// Query strings whose rejections answer in the API's error shape.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Multipart uploads whose rejections (no boundary, not multipart) answer in the API's error
/// shape.
pub struct ApiMultipart(pub axum::extract::Multipart);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> ApiResult<Self> {
        axum::extract::Multipart::from_request(request, state)
            .await
            .map(ApiMultipart)
            .map_err(ApiError::from)
    }
}

/// Path parameters whose rejections answer in the API's error shape.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> ApiError {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return json_too_large();
        }
        ApiError::bad_request(format!("invalid JSON body: {}", e.body_text()))
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> ApiError {
        ApiError::bad_request(format!("invalid query: {}", e.body_text()))
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> ApiError {
        ApiError::bad_request(format!("invalid path: {}", e.body_text()))
    }
}

impl From<axum::extract::multipart::MultipartError> for ApiError {
    fn from(e: axum::extract::multipart::MultipartError) -> ApiError {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(ErrorCode::PayloadTooLarge, e.body_text());
        }
        ApiError::bad_request(format!("invalid multipart upload: {}", e.body_text()))
    }
}

impl From<axum::extract::multipart::MultipartRejection> for ApiError {
    fn from(e: axum::extract::multipart::MultipartRejection) -> ApiError {
        ApiError::bad_request(format!(
            "expected a multipart/form-data upload: {}",
            e.body_text()
        ))
    }
}

/// The most characters of a rejected input that a message quotes.
const QUOTED_CHARS: usize = 64;

/// Quotes an input in a message: whole when short, else its first characters and its length,
/// so that an error never echoes a large input back.
pub fn quote(input: &str) -> String {
    if input.chars().count() <= QUOTED_CHARS {
        return format!("{input:?}");
    }
    let head: String = input.chars().take(QUOTED_CHARS).collect();
    format!("{head:?}… ({} bytes)", input.len())
}
