//! The XML of the OSS REST API: reply bodies (serde via quick-xml) and the two request bodies
//! fcctl sends.

use serde::Deserialize;

use super::OssResp;
use crate::aliyun::error::{Error, Result};
use crate::aliyun::http::request_id_from;

/// DeleteMultipleObjects body, quiet mode (only failures are answered).
pub(super) fn delete_body(keys: &[String]) -> String {
    let mut body =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>");
    for k in keys {
        body.push_str(&format!("<Object><Key>{}</Key></Object>", xml_escape(k)));
    }
    body.push_str("</Delete>");
    body
}

/// CompleteMultipartUpload body; `parts` are (number, ETag without quotes), ascending.
pub(super) fn complete_body(parts: &[(u32, String)]) -> String {
    let mut body = String::from("<CompleteMultipartUpload>");
    for (n, e) in parts {
        body.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>\"{e}\"</ETag></Part>"
        ));
    }
    body.push_str("</CompleteMultipartUpload>");
    body
}

pub(super) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(resp: &OssResp, op: &str) -> Result<T> {
    let text = String::from_utf8_lossy(&resp.body);
    quick_xml::de::from_str(&text).map_err(|e| Error::Decode {
        action: op.into(),
        status: resp.status,
        request_id: request_id_from(&resp.headers),
        detail: format!(
            "{e}; body starts with {:?}",
            text.chars().take(200).collect::<String>()
        ),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct InitiateResult {
    pub(super) upload_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CompleteResult {
    #[serde(rename = "ETag")]
    pub(super) etag: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListPartsResult {
    #[serde(default)]
    pub(super) is_truncated: Option<bool>,
    #[serde(default)]
    pub(super) next_part_number_marker: Option<String>,
    #[serde(default, rename = "Part")]
    pub(super) parts: Vec<PartXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PartXml {
    pub(super) part_number: u32,
    #[serde(rename = "ETag")]
    pub(super) etag: String,
    pub(super) size: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListBucketResult {
    #[serde(default)]
    pub(super) is_truncated: Option<bool>,
    #[serde(default)]
    pub(super) next_continuation_token: Option<String>,
    #[serde(default)]
    pub(super) contents: Vec<ContentsXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ContentsXml {
    pub(super) key: String,
    #[serde(default)]
    pub(super) size: u64,
    #[serde(default, rename = "ETag")]
    pub(super) etag: String,
    #[serde(default)]
    pub(super) last_modified: Option<String>,
}

/// ListMultipartUploads answer (oss2 `xml_utils.parse_list_multipart_uploads`). fcctl sends no
/// `encoding-type`, so keys come back as plain XML text.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListMultipartUploadsResult {
    #[serde(default)]
    pub(super) is_truncated: Option<bool>,
    #[serde(default)]
    pub(super) next_key_marker: Option<String>,
    #[serde(default)]
    pub(super) next_upload_id_marker: Option<String>,
    #[serde(default, rename = "Upload")]
    pub(super) uploads: Vec<UploadXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UploadXml {
    pub(super) key: String,
    pub(super) upload_id: String,
    #[serde(default)]
    pub(super) initiated: Option<String>,
}
