//! The GUI's static files, embedded in the binary: plotly.js (from the `plotly` wheel on PyPI;
//! its licence and how to update it are in `static/README.md`), our script and our style sheet.
//! Their URLs carry a hash of their contents, so they are served with a year-long cache
//! lifetime and a release that changes one changes its URL. Each is gzipped once, when first
//! asked for (plotly.js: 4.8 MB, 1.5 MB gzipped).

use std::sync::{LazyLock, OnceLock};

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::io::Write;

/// One embedded file.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
    gzipped: OnceLock<Vec<u8>>,
}

static ASSETS: [Asset; 4] = [
    asset(
        "plotly.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/plotly.min.js"),
    ),
    asset(
        "plotly-LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("static/plotly-LICENSE.txt"),
    ),
    asset(
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/app.js"),
    ),
    asset(
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("static/style.css"),
    ),
];

const fn asset(name: &'static str, media_type: &'static str, bytes: &'static [u8]) -> Asset {
    Asset {
        name,
        media_type,
        bytes,
        gzipped: OnceLock::new(),
    }
}

/// The hash of every asset's contents, the version part of their URLs.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in &ASSETS {
        hash.update(asset.name.as_bytes());
        hash.update(asset.bytes);
    }
    hex::encode(&hash.finalize()[..6])
});

/// The URL of asset `name`.
pub fn url(name: &str) -> String {
    format!("/ui/static/{}/{name}", *VERSION)
}

/// Gzips the assets in the background, so the first page does not wait for it.
pub fn warm() {
    std::thread::spawn(|| {
        for asset in &ASSETS {
            asset.gzipped();
        }
    });
}

impl Asset {
    fn gzipped(&self) -> &[u8] {
        self.gzipped.get_or_init(|| {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
            encoder.write_all(self.bytes).expect("gzip into memory");
            encoder.finish().expect("gzip into memory")
        })
    }
}

/// Serves an asset: gzipped when the browser takes it, cached for a year under its versioned
/// URL; an old version's URL answers with the current file, uncached.
pub async fn serve(Path((version, file)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, format!("no such file: {file}")).into_response();
    };
    let cache = if version == *VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if accepts_gzip(&headers) {
        let mut r = asset.gzipped().to_vec().into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        asset.bytes.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.media_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// Whether a request's `Accept-Encoding` takes gzip.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// Gzips a page for a browser that takes it (pages with plot data are large and compress
/// well).
pub fn compress(gzip: bool, html: String) -> Response {
    let mut response = if gzip && html.len() > 1024 {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder
            .write_all(html.as_bytes())
            .expect("gzip into memory");
        let mut r = encoder.finish().expect("gzip into memory").into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        html.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_unless_refused() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
