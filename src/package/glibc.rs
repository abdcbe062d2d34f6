//! ELF checks: x86-64, and the highest `GLIBC_x.y` symbol version the binary needs.

use std::collections::BTreeMap;
use std::path::Path;

use object::Object as _;
use object::read::elf::{ElfFile64, Sym as _};

use crate::config::GlibcVersion;

/// What an ELF needs from glibc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfReport {
    /// Highest `GLIBC_x.y` required (None for static binaries).
    pub glibc_max: Option<GlibcVersion>,
    /// Undefined dynamic symbols per required glibc version.
    pub symbols: BTreeMap<GlibcVersion, Vec<String>>,
}

impl ElfReport {
    /// Symbols needing a glibc newer than `floor`, as `name@GLIBC_x.y`.
    pub fn too_new(&self, floor: GlibcVersion) -> Vec<String> {
        self.symbols
            .range((std::ops::Bound::Excluded(floor), std::ops::Bound::Unbounded))
            .flat_map(|(v, syms)| syms.iter().map(move |s| format!("{s}@GLIBC_{v}")))
            .collect()
    }
}

/// Errors from [`inspect`].
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// Unreadable file.
    #[error("reading {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a 64-bit ELF or not parsable.
    #[error("{path} is not a 64-bit ELF executable: {detail}")]
    NotElf {
        /// File.
        path: String,
        /// Parser message.
        detail: String,
    },
    /// Wrong machine.
    #[error(
        "{path} is built for {arch}, but FC custom runtimes run x86-64 (x86_64-unknown-linux-gnu)"
    )]
    WrongArch {
        /// File.
        path: String,
        /// Architecture found.
        arch: String,
    },
}

/// Parses `path` and collects its glibc symbol-version requirements.
pub fn inspect(path: &Path) -> Result<ElfReport, ElfError> {
    let p = path.display().to_string();
    let data = std::fs::read(path).map_err(|source| ElfError::Io {
        path: p.clone(),
        source,
    })?;
    inspect_bytes(&data, &p)
}

/// [`inspect`] on bytes already read.
pub fn inspect_bytes(data: &[u8], name: &str) -> Result<ElfReport, ElfError> {
    let not_elf = |e: object::Error| ElfError::NotElf {
        path: name.to_string(),
        detail: e.to_string(),
    };
    let elf = ElfFile64::<object::Endianness>::parse(data).map_err(not_elf)?;
    if elf.architecture() != object::Architecture::X86_64 {
        return Err(ElfError::WrongArch {
            path: name.to_string(),
            arch: format!("{:?}", elf.architecture()),
        });
    }
    let endian = elf.endian();
    let mut symbols: BTreeMap<GlibcVersion, Vec<String>> = BTreeMap::new();
    let mut record = |ver: &[u8], sym: Option<String>| {
        let ver = String::from_utf8_lossy(ver);
        if let Some(rest) = ver.strip_prefix("GLIBC_")
            && let Ok(v) = rest.parse::<GlibcVersion>()
        {
            let e = symbols.entry(v).or_default();
            if let Some(s) = sym
                && !e.contains(&s)
            {
                e.push(s);
            }
        }
    };
    let sections = elf.elf_section_table();
    if let Some(versions) = sections.versions(endian, data).map_err(not_elf)? {
        let dynsym = elf.elf_dynamic_symbol_table();
        let strings = dynsym.strings();
        for (i, sym) in dynsym.symbols().iter().enumerate() {
            if !sym.is_undefined(endian) {
                continue;
            }
            let idx = versions.version_index(endian, object::SymbolIndex(i));
            if let Ok(Some(v)) = versions.version(idx) {
                let name = sym
                    .name(endian, strings)
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .unwrap_or_default();
                record(v.name(), Some(name));
            }
        }
    }
    // Also every version listed in .gnu.version_r, even without a symbol referencing it.
    if let Some((mut verneeds, link)) = sections.gnu_verneed(endian, data).map_err(not_elf)? {
        let strings = sections.strings(endian, data, link).map_err(not_elf)?;
        while let Some((_need, mut aux)) = verneeds.next().map_err(not_elf)? {
            while let Some(a) = aux.next().map_err(not_elf)? {
                if let Ok(n) = a.name(endian, strings) {
                    record(n, None);
                }
            }
        }
    }
    Ok(ElfReport {
        glibc_max: symbols.keys().next_back().copied(),
        symbols,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_needs_some_glibc() {
        let exe = std::env::current_exe().unwrap();
        let r = inspect(&exe).unwrap();
        let max = r.glibc_max.expect("dynamically linked against glibc");
        assert!(max >= GlibcVersion(2, 2), "{max}");
        assert!(r.too_new(GlibcVersion(2, 99)).is_empty());
        assert!(!r.too_new(GlibcVersion(2, 0)).is_empty());
    }

    #[test]
    fn rejects_non_elf() {
        assert!(matches!(
            inspect_bytes(b"#!/bin/sh\necho hi\n", "x"),
            Err(ElfError::NotElf { .. })
        ));
    }
}
