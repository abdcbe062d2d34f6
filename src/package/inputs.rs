//! What `fcctl build` may read: each `build.files` source resolved against the project, links
//! followed only while they stay inside the project (or inside a source the config names
//! outside it), and only UTF-8 names, because every package path becomes a zip entry name on
//! FC and an OSS key, both UTF-8 — a lossy conversion would merge two files into one.

use std::borrow::Cow;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};

use super::TreeFile;

/// Why a build input was refused.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// `src` does not exist.
    #[error("build.files: {src} does not exist")]
    Missing {
        /// The source as resolved against the project.
        src: PathBuf,
    },
    /// A link leads out of the project and out of every source named outside it.
    #[error("{link} is a symlink to {target}, outside the project")]
    LinkOutside {
        /// The link.
        link: PathBuf,
        /// Where it resolves.
        target: PathBuf,
    },
    /// A link that does not resolve: dangling, or a loop.
    #[error("{link} is a symlink to `{target}`, which does not resolve: {source}")]
    UnresolvableLink {
        /// The link.
        link: PathBuf,
        /// Its target as written.
        target: String,
        /// Why it does not resolve.
        source: std::io::Error,
    },
    /// A path that leads, through a directory link, back to a directory being walked.
    #[error("{link} leads back to {ancestor} through a symlink: a loop")]
    LinkLoop {
        /// The path where the loop closes.
        link: PathBuf,
        /// The directory it loops back to.
        ancestor: PathBuf,
    },
    /// A file name that is not UTF-8 (shown with the bad bytes as `\xNN`).
    #[error("{path}: the name is not UTF-8")]
    NonUtf8Name {
        /// The path, its bad bytes escaped ([`escaped`]).
        path: String,
    },
    /// A `dst` that is absolute or climbs out of the package tree.
    #[error("build.files: dst `{dst}` leaves the package tree")]
    DstOutside {
        /// The dst as configured.
        dst: String,
    },
    /// A single file mapped to the package root.
    #[error("build.files: {src} is a file, so its dst must name it (not the package root)")]
    FileAtRoot {
        /// The file.
        src: PathBuf,
    },
    /// Two sources map to the same package path.
    #[error("package path `{rel}` comes from two sources: {first} and {second}")]
    SamePath {
        /// The package path.
        rel: String,
        /// One source.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// A package path is a file from one source and a directory from another.
    #[error("package path `{rel}` is a file ({file}) and also the directory of {inner}")]
    FileIsDir {
        /// The package path.
        rel: String,
        /// The file's source.
        file: PathBuf,
        /// The source of a file under it.
        inner: PathBuf,
    },
}

impl crate::exit::Hint for InputError {
    fn hint(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(match self {
            InputError::Missing { .. } => "fix the `src:` of `build.files` in fcctl.yaml",
            InputError::LinkOutside { .. } => {
                "fcctl builds only from the project: copy the file in, name the outside \
                 directory itself as a `build.files` src in fcctl.yaml, or run \
                 `fcctl build --follow-external-links` to ship what the link points to"
            }
            InputError::UnresolvableLink { .. } | InputError::LinkLoop { .. } => {
                "fix or remove the link"
            }
            InputError::NonUtf8Name { .. } => {
                "rename the file to a UTF-8 name: FC code paths and OSS keys are UTF-8, and \
                 replacing the bad bytes could make two files one"
            }
            InputError::DstOutside { .. } => {
                "write `dst` relative to the package root, without `..`, e.g. `model`"
            }
            InputError::FileAtRoot { .. } => "give the file a `dst` such as `data/name.bin`",
            InputError::SamePath { .. } | InputError::FileIsDir { .. } => {
                "give each `build.files` mapping its own `dst` (`bootstrap` and \
                 `lib/libonnxruntime*` are taken by the build)"
            }
        }))
    }
}

/// What reading one mapping found that the user must be told.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Included {
    /// The resolved source, when the config names a path outside the project.
    pub outside: Option<PathBuf>,
    /// Links followed out of the tree under `--follow-external-links`: (link, target).
    pub external_links: Vec<(PathBuf, PathBuf)>,
}

/// Where sources are read from.
#[derive(Debug, Clone)]
pub struct Sources {
    project: PathBuf,
    follow_external_links: bool,
}

impl Sources {
    /// Sources of the project at `project`; `follow_external_links` lets links leave it.
    pub fn new(project: &Path, follow_external_links: bool) -> std::io::Result<Sources> {
        Ok(Sources {
            project: project.canonicalize()?,
            follow_external_links,
        })
    }

    /// Adds the file or directory tree `src` (as configured: relative to the project, or a path
    /// outside it named on purpose) under `dst` to `out`.
    pub fn add_mapping(
        &self,
        src: &Path,
        dst: &Path,
        out: &mut Vec<TreeFile>,
    ) -> Result<Included, InputError> {
        self.add_mapping_excluding(src, dst, &globset::GlobSet::empty(), out)
    }

    /// [`Sources::add_mapping`] leaving out what `exclude` matches (paths relative to `src`).
    /// An excluded directory is not walked at all, so a project's own `target/` costs nothing.
    pub fn add_mapping_excluding(
        &self,
        src: &Path,
        dst: &Path,
        exclude: &globset::GlobSet,
        out: &mut Vec<TreeFile>,
    ) -> Result<Included, InputError> {
        let dst = package_dst(dst)?;
        let joined = self.project.join(src);
        let mut included = Included::default();
        let resolved = resolve(&joined).map_err(|e| match e {
            Resolve::Missing => InputError::Missing {
                src: joined.clone(),
            },
            Resolve::Link(e) => e,
        })?;
        let mut roots = vec![self.project.clone()];
        if !resolved.starts_with(&self.project) {
            if names_outside(src) {
                included.outside = Some(resolved.clone());
            } else {
                let link = first_link(&self.project, src).unwrap_or_else(|| joined.clone());
                let target = link.canonicalize().unwrap_or_else(|_| resolved.clone());
                if !self.follow_external_links {
                    return Err(InputError::LinkOutside { link, target });
                }
                included.external_links.push((link, target));
            }
            roots.push(resolved.clone());
        }
        if resolved.is_file() {
            if dst.is_empty() {
                return Err(InputError::FileAtRoot { src: joined });
            }
            out.push(tree_file(dst, &joined, &resolved)?);
            return Ok(included);
        }
        let excluded = |e: &walkdir::DirEntry| {
            let rel = e.path().strip_prefix(&joined).unwrap_or(e.path());
            // `dir/**` names everything under a directory; a probe path below it tells
            // whether the directory itself can be skipped.
            exclude.is_match(rel) || (e.file_type().is_dir() && exclude.is_match(rel.join("-")))
        };
        for e in walkdir::WalkDir::new(&joined)
            .follow_links(true)
            .sort_by_file_name()
            .min_depth(1)
            .into_iter()
            .filter_entry(|e| !excluded(e))
        {
            let e = e.map_err(walk_error)?;
            let path = e.path();
            let rel = rel_name(path.strip_prefix(&joined).unwrap_or(path), path)?;
            if e.path_is_symlink() {
                let target = path
                    .canonicalize()
                    .map_err(|source| unresolvable(path, source))?;
                if !roots.iter().any(|r| target.starts_with(r)) {
                    if !self.follow_external_links {
                        return Err(InputError::LinkOutside {
                            link: path.to_path_buf(),
                            target,
                        });
                    }
                    included.external_links.push((path.to_path_buf(), target));
                }
            }
            if !e.file_type().is_file() {
                continue;
            }
            let rel = if dst.is_empty() {
                rel
            } else {
                format!("{dst}/{rel}")
            };
            out.push(tree_file(rel, path, path)?);
        }
        Ok(included)
    }
}

/// A regular file of the tree at `rel`, read from `src` (`meta` is where its metadata comes
/// from: the same file, resolved).
fn tree_file(rel: String, src: &Path, meta: &Path) -> Result<TreeFile, InputError> {
    let md = std::fs::metadata(meta).map_err(|source| unresolvable(src, source))?;
    Ok(TreeFile {
        rel,
        src: src.to_path_buf(),
        size: md.len(),
        mode: md.permissions().mode() & 0o777,
        link: None,
    })
}

enum Resolve {
    Missing,
    Link(InputError),
}

/// `path` with every link resolved; a link on the way that does not resolve is named.
fn resolve(path: &Path) -> Result<PathBuf, Resolve> {
    match path.canonicalize() {
        Ok(p) => Ok(p),
        Err(source) => {
            let mut prefix = PathBuf::new();
            for c in path.components() {
                prefix.push(c);
                if prefix.symlink_metadata().is_ok_and(|m| m.is_symlink())
                    && prefix.canonicalize().is_err()
                {
                    return Err(Resolve::Link(unresolvable(&prefix, source)));
                }
            }
            Err(Resolve::Missing)
        }
    }
}

fn unresolvable(link: &Path, source: std::io::Error) -> InputError {
    InputError::UnresolvableLink {
        link: link.to_path_buf(),
        target: std::fs::read_link(link)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default(),
        source,
    }
}

fn walk_error(e: walkdir::Error) -> InputError {
    let path = e.path().map(Path::to_path_buf).unwrap_or_default();
    if let Some(ancestor) = e.loop_ancestor() {
        return InputError::LinkLoop {
            ancestor: ancestor.to_path_buf(),
            link: path,
        };
    }
    let source = e
        .into_io_error()
        .unwrap_or_else(|| std::io::Error::other("walk failed"));
    unresolvable(&path, source)
}

/// Whether the configured `src` itself says it is outside the project: absolute, or climbing
/// above the project with `..`. Only then may a source resolve outside without a flag.
fn names_outside(src: &Path) -> bool {
    let mut depth = 0i32;
    for c in src.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => return true,
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
        }
    }
    false
}

/// The first symlink on the way from `project` to `src`, for naming it in the error.
fn first_link(project: &Path, src: &Path) -> Option<PathBuf> {
    let mut p = project.to_path_buf();
    for c in src.components() {
        p.push(c);
        if p.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
            return Some(p);
        }
    }
    None
}

/// A configured `dst` as a package path: relative, `/`-separated, nothing climbing out.
fn package_dst(dst: &Path) -> Result<String, InputError> {
    let mut parts = Vec::new();
    for c in dst.components() {
        match c {
            Component::Normal(s) => parts.push(
                s.to_str()
                    .ok_or_else(|| InputError::NonUtf8Name { path: escaped(dst) })?,
            ),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) | Component::ParentDir => {
                return Err(InputError::DstOutside {
                    dst: dst.to_string_lossy().into_owned(),
                });
            }
        }
    }
    Ok(parts.join("/"))
}

/// `path` for messages: UTF-8 as is, every other byte as `\xNN`, so two names that differ
/// only in such bytes read differently (a lossy conversion shows both as `\u{FFFD}`).
pub fn escaped(path: &Path) -> String {
    use std::fmt::Write as _;
    use std::os::unix::ffi::OsStrExt as _;
    let mut out = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
    out
}

/// `rel` as a `/`-separated UTF-8 package path; `full` names the file in the error.
fn rel_name(rel: &Path, full: &Path) -> Result<String, InputError> {
    let mut parts = Vec::new();
    for c in rel.components() {
        parts.push(
            c.as_os_str()
                .to_str()
                .ok_or_else(|| InputError::NonUtf8Name {
                    path: escaped(full),
                })?,
        );
    }
    Ok(parts.join("/"))
}

/// Refuses a tree where two sources claim one path, or a file sits where another source puts
/// a directory: one of them would silently be lost.
pub fn check_paths(files: &[TreeFile]) -> Result<(), InputError> {
    let mut seen: HashMap<&str, &TreeFile> = HashMap::with_capacity(files.len());
    for f in files {
        if let Some(first) = seen.insert(&f.rel, f) {
            return Err(InputError::SamePath {
                rel: f.rel.clone(),
                first: first.src.clone(),
                second: f.src.clone(),
            });
        }
    }
    for f in files {
        let mut rest = f.rel.as_str();
        while let Some((parent, _)) = rest.rsplit_once('/') {
            if let Some(file) = seen.get(parent) {
                return Err(InputError::FileIsDir {
                    rel: parent.to_string(),
                    file: file.src.clone(),
                    inner: f.src.clone(),
                });
            }
            rest = parent;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    struct Project {
        _dir: tempfile::TempDir,
        root: PathBuf,
        outside: PathBuf,
    }

    /// A project with `model/a.onnx` and, beside it (outside), `secret/key`.
    fn project() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proj");
        let outside = dir.path().join("secret");
        std::fs::create_dir_all(root.join("model")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("model/a.onnx"), b"model").unwrap();
        std::fs::write(outside.join("key"), b"AK secret").unwrap();
        Project {
            root: dir.path().canonicalize().unwrap().join("proj"),
            outside: dir.path().canonicalize().unwrap().join("secret"),
            _dir: dir,
        }
    }

    fn add(p: &Project, src: &str, follow: bool) -> Result<(Vec<TreeFile>, Included), InputError> {
        let mut out = Vec::new();
        let inc = Sources::new(&p.root, follow).unwrap().add_mapping(
            Path::new(src),
            Path::new("model"),
            &mut out,
        )?;
        Ok((out, inc))
    }

    fn rels(v: &[TreeFile]) -> Vec<&str> {
        v.iter().map(|f| f.rel.as_str()).collect()
    }

    #[test]
    fn exclude_globs_leave_out_files_and_whole_directories_of_a_mapping() {
        let p = project();
        for (f, body) in [
            ("README.md", "notes"),
            ("scripts/export.py", "code"),
            ("target/fcctl/nas/model/a.onnx", "old build"),
            ("labels.txt", "red"),
            ("sub/notes.md", "more"),
        ] {
            let path = p.root.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        let mut b = globset::GlobSetBuilder::new();
        for g in ["**/*.md", "scripts/**", "target/**"] {
            b.add(globset::Glob::new(g).unwrap());
        }
        let mut out = Vec::new();
        Sources::new(&p.root, false)
            .unwrap()
            .add_mapping_excluding(
                Path::new("."),
                Path::new("model"),
                &b.build().unwrap(),
                &mut out,
            )
            .unwrap();
        let rels: Vec<&str> = out.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["model/labels.txt", "model/model/a.onnx"]);
    }

    #[test]
    fn a_link_to_a_file_outside_the_project_is_refused_naming_link_and_target() {
        let p = project();
        symlink(p.outside.join("key"), p.root.join("model/creds.json")).unwrap();
        let e = add(&p, "model", false).unwrap_err();
        let InputError::LinkOutside { link, target } = &e else {
            panic!("{e}")
        };
        assert_eq!(link, &p.root.join("model/creds.json"));
        assert_eq!(target, &p.outside.join("key"));
    }

    #[test]
    fn a_directory_link_leaving_the_project_is_refused_before_its_files_are_read() {
        let p = project();
        symlink("../../secret", p.root.join("model/more")).unwrap();
        let e = add(&p, "model", false).unwrap_err();
        assert!(
            matches!(&e, InputError::LinkOutside { link, .. } if link.ends_with("model/more")),
            "{e}"
        );
    }

    #[test]
    fn a_relative_src_that_is_a_link_out_of_the_project_is_refused() {
        let p = project();
        symlink(&p.outside, p.root.join("weights")).unwrap();
        let e = add(&p, "weights", false).unwrap_err();
        assert!(
            matches!(&e, InputError::LinkOutside { link, .. } if link == &p.root.join("weights")),
            "{e}"
        );
    }

    #[test]
    fn follow_external_links_ships_the_target_and_reports_the_link() {
        let p = project();
        symlink(p.outside.join("key"), p.root.join("model/creds.json")).unwrap();
        let (files, inc) = add(&p, "model", true).unwrap();
        assert_eq!(rels(&files), ["model/a.onnx", "model/creds.json"]);
        assert_eq!(files[1].size, 9);
        assert_eq!(
            inc.external_links,
            [(p.root.join("model/creds.json"), p.outside.join("key"))]
        );
    }

    #[test]
    fn a_source_named_outside_the_project_is_read_and_reported() {
        let p = project();
        let (files, inc) = add(&p, "../secret", false).unwrap();
        assert_eq!(rels(&files), ["model/key"]);
        assert_eq!(inc.outside.as_deref(), Some(p.outside.as_path()));
        let (_, inc) = add(&p, p.outside.to_str().unwrap(), false).unwrap();
        assert_eq!(inc.outside.as_deref(), Some(p.outside.as_path()));
    }

    #[test]
    fn an_absolute_src_inside_the_project_is_not_reported_as_outside() {
        let p = project();
        let (files, inc) = add(&p, p.root.join("model").to_str().unwrap(), false).unwrap();
        assert_eq!(rels(&files), ["model/a.onnx"]);
        assert_eq!(inc, Included::default());
    }

    #[test]
    fn links_inside_the_project_are_followed_as_files() {
        let p = project();
        std::fs::write(p.root.join("README"), b"readme").unwrap();
        symlink("../README", p.root.join("model/readme")).unwrap();
        symlink("a.onnx", p.root.join("model/b.onnx")).unwrap();
        let (files, inc) = add(&p, "model", false).unwrap();
        assert_eq!(
            rels(&files),
            ["model/a.onnx", "model/b.onnx", "model/readme"]
        );
        assert_eq!(files[2].size, 6);
        assert_eq!(inc, Included::default());
    }

    #[test]
    fn a_link_loop_is_an_error_not_a_hang() {
        for (name, target) in [("self", "."), ("up", "..")] {
            let p = project();
            symlink(target, p.root.join("model").join(name)).unwrap();
            let e = add(&p, "model", false).unwrap_err();
            assert!(
                matches!(&e, InputError::LinkLoop { link, .. }
                    if link.starts_with(p.root.join("model").join(name))),
                "{e}"
            );
        }
        let p = project();
        symlink("y", p.root.join("model/x")).unwrap();
        symlink("x", p.root.join("model/y")).unwrap();
        let e = add(&p, "model", false).unwrap_err();
        assert!(
            matches!(&e, InputError::UnresolvableLink { link, .. } if link.ends_with("model/x")),
            "{e}"
        );
    }

    #[test]
    fn a_dangling_link_is_named() {
        let p = project();
        symlink("gone", p.root.join("model/g")).unwrap();
        let e = add(&p, "model", false).unwrap_err();
        assert!(
            matches!(&e, InputError::UnresolvableLink { link, target, .. }
                if link.ends_with("model/g") && target == "gone"),
            "{e}"
        );
    }

    #[test]
    fn a_non_utf8_file_name_is_refused_naming_the_file() {
        use std::os::unix::ffi::OsStrExt as _;
        let p = project();
        let bad = std::ffi::OsStr::from_bytes(b"bad\xffname.bin");
        std::fs::write(p.root.join("model").join(bad), b"x").unwrap();
        let e = add(&p, "model", false).unwrap_err();
        let InputError::NonUtf8Name { path } = &e else {
            panic!("{e}")
        };
        assert!(path.ends_with("model/bad\\xFFname.bin"), "{path}");
    }

    #[test]
    fn a_dst_climbing_out_or_absolute_is_refused() {
        let p = project();
        for dst in ["../../x", "/etc", "a/../../b"] {
            let mut out = Vec::new();
            let e = Sources::new(&p.root, false)
                .unwrap()
                .add_mapping(Path::new("model"), Path::new(dst), &mut out)
                .unwrap_err();
            assert!(matches!(e, InputError::DstOutside { .. }), "{dst}: {e}");
        }
    }

    fn tf(rel: &str, src: &str) -> TreeFile {
        TreeFile {
            rel: rel.into(),
            src: src.into(),
            size: 1,
            mode: 0o644,
            link: None,
        }
    }

    #[test]
    fn two_sources_for_one_package_path_are_refused() {
        let e = check_paths(&[tf("model/a", "x/a"), tf("model/a", "y/a")]).unwrap_err();
        assert!(matches!(e, InputError::SamePath { .. }), "{e}");
        let e = check_paths(&[tf("model", "m"), tf("model/a", "y/a")]).unwrap_err();
        assert!(
            matches!(e, InputError::FileIsDir { ref rel, .. } if rel == "model"),
            "{e}"
        );
        check_paths(&[tf("model/a", "x/a"), tf("model.a", "y")]).unwrap();
    }
}
