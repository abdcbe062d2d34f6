//! The layering rules of ARCHITECTURE.md, checked on the source: libraries never reach into
//! `commands/`, the protocol client knows nothing above it, and the top-level modules of each
//! crate form no loop (read from `crate::<module>` paths outside `#[cfg(test)]`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::repo;

/// Every `.rs` file under `dir` with its text up to the first `#[cfg(test)]`.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), code));
            }
        }
    }
    out.sort();
    out
}

/// The top-level module a file belongs to (`aliyun/oss/sign.rs` → `aliyun`).
fn top_module(file: &Path) -> String {
    let first = file
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The modules `code` names as `crate::<module>`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .filter(|(i, _)| !code[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(i, m)| {
            code[i + m.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| !m.is_empty())
        .collect()
}

/// top module → the top modules it names.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, code) in sources(src) {
        let from = top_module(&file);
        let to = graph.entry(from.clone()).or_default();
        to.extend(crate_paths(&code).into_iter().filter(|m| *m != from));
    }
    graph
}

/// A cycle in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn only_the_edge_uses_commands_and_the_cli_types() {
    let edge = |f: &Path| f.starts_with("commands") || f == Path::new("main.rs");
    for (file, code) in sources(&repo().join("src")) {
        let names = crate_paths(&code);
        if !edge(&file) && file != Path::new("cli.rs") {
            assert!(
                !names.contains("commands"),
                "{} uses crate::commands",
                file.display()
            );
        }
        if !edge(&file) {
            assert!(
                !names.contains("cli"),
                "{} uses the clap types",
                file.display()
            );
        }
    }
}

#[test]
fn the_protocol_client_knows_nothing_above_it() {
    let graph = module_graph(&repo().join("src"));
    let allowed: BTreeSet<String> = ["exit".to_string()].into();
    assert!(
        graph["aliyun"].is_subset(&allowed),
        "aliyun uses {:?}",
        graph["aliyun"]
    );
}

#[test]
fn top_level_modules_form_no_loop() {
    for src in ["src", "emulator/src", "function/src"] {
        let graph = module_graph(&repo().join(src));
        assert_eq!(find_cycle(&graph), None, "{src}: {graph:#?}");
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), ["b".to_string()].into()),
        ("b".to_string(), ["c".to_string()].into()),
        ("c".to_string(), ["a".to_string()].into()),
    ]
    .into();
    assert_eq!(find_cycle(&graph).unwrap().len(), 4);
}
