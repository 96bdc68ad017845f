//! A `multipart/form-data` body whose file part is streamed from disk.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;

use crate::{ClientError, ClientResult};

/// Text fields, then one file field named `file`.
pub struct Form {
    boundary: String,
    head: Vec<u8>,
    file: File,
    file_bytes: u64,
    tail: Vec<u8>,
}

impl Form {
    /// The form of `fields` and the file at `path`.
    pub fn new(fields: &[(&str, &str)], path: &Path) -> ClientResult<Form> {
        let boundary = format!("sextant-{}", uuid::Uuid::new_v4().simple());
        let mut head = String::new();
        for (name, value) in fields {
            head.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().replace('"', "_"))
            .unwrap_or_else(|| "upload".into());
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        ));
        let tail = format!("\r\n--{boundary}--\r\n");
        let file = File::open(path).map_err(|e| ClientError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let file_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Form {
            boundary,
            head: head.into_bytes(),
            file,
            file_bytes,
            tail: tail.into_bytes(),
        })
    }

    /// The request's `Content-Type`.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The body's length in bytes.
    pub fn length(&self) -> u64 {
        (self.head.len() + self.tail.len()) as u64 + self.file_bytes
    }

    /// The body, read once.
    pub fn into_reader(self) -> impl Read {
        Cursor::new(self.head)
            .chain(self.file)
            .chain(Cursor::new(self.tail))
    }
}
