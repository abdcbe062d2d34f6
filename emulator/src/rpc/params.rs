//! Reading an RPC action's parameters (the decoded query): required values, numbers, paging,
//! the SDKs' flattened lists (`Tag.1.Key`) — answered with the gateway's codes when missing
//! or malformed.

use crate::api_error::ApiError;
use crate::infra::Tag;

pub struct Params {
    pairs: Vec<(String, String)>,
}

/// 400 `Missing<Name>`: "<Name> is mandatory for this action." (the gateway's wording).
pub fn missing(name: &str) -> ApiError {
    ApiError::new(
        400,
        format!("Missing{name}"),
        format!("{name} is mandatory for this action."),
    )
}

/// 400 `InvalidParameter` naming the parameter and what it takes.
pub fn invalid(name: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        400,
        "InvalidParameter",
        format!("The specified parameter {name} is not valid: {why}"),
    )
}

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Params {
        Params { pairs }
    }

    /// The value, `None` when absent or empty (the SDKs drop unset fields).
    pub fn get(&self, k: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, k: &str) -> Result<&str, ApiError> {
        self.get(k).ok_or_else(|| missing(k))
    }

    pub fn get_or<'a>(&'a self, k: &str, default: &'a str) -> &'a str {
        self.get(k).unwrap_or(default)
    }

    pub fn int(
        &self,
        k: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ApiError> {
        let Some(v) = self.get(k) else {
            return Ok(default);
        };
        v.parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                invalid(
                    k,
                    format!(
                        "`{v}` must be an integer within {}..={}",
                        range.start(),
                        range.end()
                    ),
                )
            })
    }

    pub fn bool(&self, k: &str) -> Result<Option<bool>, ApiError> {
        match self.get(k) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(invalid(k, format!("`{v}` must be true or false"))),
        }
    }

    /// `PageNumber` (from 1) and `PageSize` (1..=`max`, default `default`).
    pub fn page(&self, default: u64, max: u64) -> Result<(u64, u64), ApiError> {
        Ok((
            self.int("PageNumber", 1, 1..=u64::MAX)?,
            self.int("PageSize", default, 1..=max)?,
        ))
    }

    /// `Tag.N.Key` / `Tag.N.Value` (N from 1, at most 20) in N order; `key`/`value` name the
    /// fields (ECS's own structs say `Key`/`Value` too on requests).
    pub fn tags(&self) -> Result<Vec<Tag>, ApiError> {
        let mut found: Vec<(u64, Tag)> = Vec::new();
        for (k, v) in &self.pairs {
            let Some(rest) = k.strip_prefix("Tag.") else {
                continue;
            };
            let Some((n, field)) = rest.split_once('.') else {
                continue;
            };
            let n: u64 = n
                .parse()
                .ok()
                .filter(|n| (1..=20).contains(n))
                .ok_or_else(|| invalid(k, "N in Tag.N must be 1..=20"))?;
            let i = match found.iter().position(|(m, _)| *m == n) {
                Some(i) => i,
                None => {
                    found.push((
                        n,
                        Tag {
                            key: String::new(),
                            value: String::new(),
                        },
                    ));
                    found.len() - 1
                }
            };
            match field {
                "Key" => found[i].1.key = v.clone(),
                "Value" => found[i].1.value = v.clone(),
                _ => return Err(invalid(k, "a tag has Key and Value")),
            }
        }
        found.sort_by_key(|(n, _)| *n);
        let mut tags = Vec::new();
        for (n, t) in found {
            if t.key.is_empty() {
                return Err(invalid(&format!("Tag.{n}.Key"), "a tag needs a key"));
            }
            if t.key.len() > 128
                || t.value.len() > 128
                || t.key.starts_with("aliyun")
                || t.key.starts_with("acs:")
            {
                return Err(invalid(
                    &format!("Tag.{n}.Key"),
                    "keys and values are at most 128 characters and keys start with neither `aliyun` nor `acs:`",
                ));
            }
            tags.push(t);
        }
        Ok(tags)
    }
}

/// Items of page `number` (from 1) of size `size`.
pub fn page_of<T: Clone>(items: &[T], number: u64, size: u64) -> Vec<T> {
    let start = (number.saturating_sub(1)).saturating_mul(size) as usize;
    items
        .iter()
        .skip(start)
        .take(size as usize)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn required_values_name_the_parameter() {
        let e = p(&[("VpcId", "")]).required("VpcId").unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (400, "MissingVpcId"));
        assert_eq!(e.message, "VpcId is mandatory for this action.");
        assert_eq!(p(&[("VpcId", "vpc-1")]).required("VpcId").unwrap(), "vpc-1");
    }

    #[test]
    fn tags_are_read_in_n_order() {
        let t = p(&[
            ("Tag.2.Key", "b"),
            ("Tag.1.Key", "fcctl:app"),
            ("Tag.1.Value", "cat-dog"),
        ])
        .tags()
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].key.as_str(), t[0].value.as_str()),
            ("fcctl:app", "cat-dog")
        );
        assert_eq!((t[1].key.as_str(), t[1].value.as_str()), ("b", ""));
        assert!(
            p(&[("Tag.1.Value", "v")]).tags().is_err(),
            "value without key"
        );
        assert!(p(&[("Tag.21.Key", "k")]).tags().is_err());
        assert!(p(&[("Tag.1.Key", "acs:x")]).tags().is_err());
    }

    #[test]
    fn paging_is_checked() {
        assert_eq!(p(&[]).page(10, 50).unwrap(), (1, 10));
        assert_eq!(
            p(&[("PageSize", "50"), ("PageNumber", "2")])
                .page(10, 50)
                .unwrap(),
            (2, 50)
        );
        assert!(p(&[("PageSize", "51")]).page(10, 50).is_err());
        assert!(p(&[("PageNumber", "0")]).page(10, 50).is_err());
        assert_eq!(page_of(&[1, 2, 3, 4, 5], 2, 2), [3, 4]);
        assert!(page_of(&[1, 2], 3, 2).is_empty());
    }
}
