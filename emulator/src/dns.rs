//! The emulator's DNS: which custom domain names "resolve" to this FC endpoint. FC refuses
//! CreateCustomDomain for a name that is not a CNAME of `<account>.<region>.fc.aliyuncs.com`
//! (400 `DomainNameNotResolved`); nothing on this machine is, so the emulator keeps a table in
//! its data dir (`dns.json`): names under `fcctl.localhost` always resolve, others once added
//! (`fcctl local dns add NAME`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Names under this suffix resolve without an entry (they never leave the machine).
pub const ALWAYS_RESOLVED_SUFFIX: &str = ".fcctl.localhost";

fn table(data_dir: &Path) -> PathBuf {
    data_dir.join("dns.json")
}

fn read(data_dir: &Path) -> BTreeSet<String> {
    std::fs::read(table(data_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Whether `name` resolves to this emulator's FC endpoint.
pub fn resolves(data_dir: &Path, name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.ends_with(ALWAYS_RESOLVED_SUFFIX) || read(data_dir).contains(&name)
}

/// Adds `name` to the table (the emulator need not run; it reads the table per request).
pub fn add(data_dir: &Path, name: &str) -> std::io::Result<()> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
        });
    if !valid {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("`{name}` is not a domain name"),
        ));
    }
    let mut names = read(data_dir);
    names.insert(name);
    std::fs::create_dir_all(data_dir)?;
    let tmp = data_dir.join(format!("dns.json.{}", std::process::id()));
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(&names).expect("strings serialise"),
    )?;
    std::fs::rename(tmp, table(data_dir))
}

#[cfg(test)]
mod tests {
    #[test]
    fn localhost_names_resolve_others_once_added() {
        let d = tempfile::tempdir().unwrap();
        assert!(super::resolves(d.path(), "cat-dog.fcctl.localhost"));
        assert!(!super::resolves(d.path(), "cat-dog.example.com"));
        super::add(d.path(), "Cat-Dog.Example.com.").unwrap();
        assert!(super::resolves(d.path(), "cat-dog.example.com"));
        assert!(super::add(d.path(), "bad name").is_err());
    }
}
