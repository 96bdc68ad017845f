//! Receiving a multipart upload: text fields in memory, the file streamed to a staging file
//! under the size limit while it is hashed. The staging file is a `tempfile::TempPath`, removed
//! when dropped, so a rejected upload leaves nothing behind.

use std::collections::HashMap;
use std::path::Path;

use axum::extract::Multipart;
use serde_json::json;
use sextant_store::Hasher;
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, ApiResult, ErrorCode, quote};

/// A file received into the scratch directory; deleted on drop.
pub struct StagedFile {
    /// Where it is (removed when dropped).
    pub path: TempPath,
    /// The name the client gave it.
    pub file_name: String,
    /// Its size.
    pub bytes: u64,
    /// Its sha256, hex.
    pub sha256: String,
}

/// The parts of an upload.
pub struct Upload {
    /// Text fields by name.
    pub fields: HashMap<String, String>,
    /// The `file` field.
    pub file: StagedFile,
}

impl Upload {
    /// A required text field.
    pub fn field(&self, name: &str) -> ApiResult<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("the upload has no {name:?} field")))
    }
}

/// Reads a multipart upload with one `file` field of at most `limit` bytes and text fields
/// among `fields`; any other field is refused, naming it and the fields there are.
pub async fn receive(
    mut multipart: Multipart,
    scratch: &Path,
    limit: u64,
    fields_allowed: &[&str],
) -> ApiResult<Upload> {
    tokio::fs::create_dir_all(scratch)
        .await
        .map_err(|e| ApiError::internal(format!("{}: {e}", scratch.display())))?;
    let mut fields = HashMap::new();
    let mut file = None;
    // A field refused is refused once the whole body is read: refusing mid-stream would close
    // the connection while the client still sends the file, and it would see a broken pipe
    // instead of the answer. What a refused field holds is read and dropped, never kept.
    let mut refused: Option<ApiError> = None;
    while let Some(mut field) = multipart.next_field().await? {
        let name = field.name().unwrap_or_default().to_string();
        if name != "file" {
            if !fields_allowed.contains(&name.as_str()) {
                while field.chunk().await?.is_some() {}
                refused.get_or_insert(ApiError::bad_request(format!(
                    "the upload has an unknown field {} (it takes {} and file)",
                    quote(&name),
                    fields_allowed.join(", ")
                )));
                continue;
            }
            match bounded_text(&mut field).await? {
                Some(text) => {
                    fields.insert(name, text);
                }
                None => {
                    refused.get_or_insert(ApiError::bad_request(format!(
                        "field {name:?} is longer than {MAX_FIELD_BYTES} bytes"
                    )));
                }
            }
            continue;
        }
        if file.is_some() {
            return Err(ApiError::bad_request(
                "the upload has more than one file field",
            ));
        }
        let file_name = field.file_name().unwrap_or_default().to_string();
        let (file_handle, path) = tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(scratch)
            .map_err(|e| ApiError::internal(format!("{}: {e}", scratch.display())))?
            .into_parts();
        let mut staged = StagedFile {
            path,
            file_name,
            bytes: 0,
            sha256: String::new(),
        };
        let mut out = tokio::fs::File::from_std(file_handle);
        let mut hasher = Hasher::default();
        while let Some(chunk) = field.chunk().await? {
            staged.bytes += chunk.len() as u64;
            if staged.bytes > limit {
                return Err(ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the file is larger than the upload limit of {limit} bytes"),
                )
                .with_details(json!({ "limit_bytes": limit })));
            }
            hasher.update(&chunk);
            out.write_all(&chunk)
                .await
                .map_err(|e| ApiError::internal(format!("{}: {e}", staged.path.display())))?;
        }
        out.flush()
            .await
            .map_err(|e| ApiError::internal(format!("{}: {e}", staged.path.display())))?;
        staged.sha256 = hasher.finish();
        file = Some(staged);
    }
    if let Some(refused) = refused {
        return Err(refused);
    }
    let file = file.ok_or_else(|| ApiError::bad_request("the upload has no \"file\" field"))?;
    if file.bytes == 0 {
        return Err(ApiError::invalid(format!(
            "the uploaded file {:?} is empty",
            file.file_name
        )));
    }
    Ok(Upload { fields, file })
}

/// The longest text field of an upload.
pub const MAX_FIELD_BYTES: usize = 4096;

/// A text field read to its end, or `None` (the rest dropped as it comes) once it passes
/// [`MAX_FIELD_BYTES`]: a long field never costs more memory than the limit.
async fn bounded_text(
    field: &mut axum::extract::multipart::Field<'_>,
) -> ApiResult<Option<String>> {
    let mut bytes = Vec::new();
    let mut over = false;
    while let Some(chunk) = field.chunk().await? {
        if over || bytes.len() + chunk.len() > MAX_FIELD_BYTES {
            over = true;
            continue;
        }
        bytes.extend_from_slice(&chunk);
    }
    if over {
        return Ok(None);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| ApiError::bad_request("a text field of the upload is not UTF-8"))
}

/// Checks a name for a project, model or dataset: 1–64 letters, digits, `-`, `_`, `.`.
pub fn check_name(what: &str, name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{what} name {} is not valid: use 1–64 letters, digits, '-', '_' or '.'",
            quote(name)
        )))
    }
}
