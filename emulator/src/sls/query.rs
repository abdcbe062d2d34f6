//! The subset of SLS's search syntax the emulator answers (no analytics after `|`):
//! `*`, full-text words (`error`, prefix `err*`), phrases (`"disk full"`), `key: value` /
//! `key: "a phrase"` / `key: val*`, combined with `and` (also by juxtaposition), `or` and
//! `not` (case-insensitive operators, `and` binding tighter than `or`). Words match whole
//! tokens (split on the index's token characters), case-insensitively unless the index says
//! `caseSensitive`.

use crate::api_error::ApiError;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    All,
    Text(Term),
    Key(String, Term),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Word(String),
    Prefix(String),
    Phrase(String),
}

/// An or-list of and-lists of possibly negated atoms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    any: Vec<Vec<(bool, Atom)>>,
}

fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::new(400, "ParameterInvalid", m)
}

#[derive(Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Colon,
}

fn lex(q: &str) -> Result<Vec<Tok>, ApiError> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            ':' => {
                chars.next();
                out.push(Tok::Colon);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => s.extend(chars.next()),
                        Some(c) => s.push(c),
                        None => return Err(invalid(format!("unterminated quote in query {q:?}"))),
                    }
                }
                out.push(Tok::Quoted(s));
            }
            '(' | ')' | '|' | '>' | '<' | '=' => {
                return Err(invalid(format!(
                    "query {q:?}: the emulator answers only `*`, words, \"phrases\", `key: value`, and/or/not (no `{c}`: no parentheses, ranges or analytics)"
                )));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, ':' | '"' | '(' | ')' | '|') {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(Tok::Word(s));
            }
        }
    }
    Ok(out)
}

fn term(t: Tok) -> Result<Term, ApiError> {
    Ok(match t {
        Tok::Quoted(s) => Term::Phrase(s),
        Tok::Word(w) => match w.strip_suffix('*') {
            Some(p) if !p.is_empty() => Term::Prefix(p.to_string()),
            Some(_) => return Err(invalid("a lone `*` cannot be a key's value")),
            None => Term::Word(w),
        },
        Tok::Colon => return Err(invalid("unexpected `:` in query")),
    })
}

impl Query {
    pub fn parse(q: &str) -> Result<Query, ApiError> {
        let mut toks = lex(q)?.into_iter().peekable();
        let mut any = vec![Vec::new()];
        let mut negate = false;
        while let Some(t) = toks.next() {
            let word = match &t {
                Tok::Word(w) => Some(w.to_ascii_lowercase()),
                _ => None,
            };
            match word.as_deref() {
                Some("and") => continue,
                Some("or") => {
                    any.push(Vec::new());
                    continue;
                }
                Some("not") => {
                    negate = true;
                    continue;
                }
                _ => {}
            }
            let atom = if toks.peek() == Some(&Tok::Colon) {
                toks.next();
                let Tok::Word(key) = t else {
                    return Err(invalid("a key must be a word before `:`"));
                };
                let v = toks
                    .next()
                    .ok_or_else(|| invalid(format!("key {key} has no value after `:`")))?;
                Atom::Key(key, term(v)?)
            } else if t == Tok::Word("*".into()) {
                Atom::All
            } else {
                Atom::Text(term(t)?)
            };
            any.last_mut().unwrap().push((negate, atom));
            negate = false;
        }
        if negate || any.iter().any(Vec::is_empty) && any.len() > 1 {
            return Err(invalid(format!(
                "query {q:?} ends or has an empty side of `or`"
            )));
        }
        Ok(Query { any })
    }

    /// Keys the query names (each must be indexed).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.any.iter().flatten().filter_map(|(_, a)| match a {
            Atom::Key(k, _) => Some(k.as_str()),
            _ => None,
        })
    }

    /// Whether a log (its contents as pairs) matches, given the logstore's index.
    pub fn matches(&self, contents: &[(String, String)], index: &Value) -> bool {
        self.any.iter().any(|all| {
            all.iter()
                .all(|(neg, atom)| neg ^ atom_matches(atom, contents, index))
        })
    }
}

fn tokens_of(cfg: &Value) -> Vec<char> {
    cfg.get("token")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .flat_map(str::chars)
                .collect()
        })
        .unwrap_or_default()
}

fn case_sensitive(cfg: &Value) -> bool {
    cfg.get("caseSensitive")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn value_matches(value: &str, term: &Term, cfg: &Value) -> bool {
    let fold = |s: &str| {
        if case_sensitive(cfg) {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let value = fold(value);
    match term {
        Term::Phrase(p) => value.contains(&fold(p)),
        Term::Word(w) | Term::Prefix(w) => {
            let w = fold(w);
            let seps = tokens_of(cfg);
            let mut toks = value
                .split(|c: char| seps.contains(&c) || (seps.is_empty() && c.is_whitespace()))
                .filter(|t| !t.is_empty());
            match term {
                Term::Prefix(_) => toks.any(|t| t.starts_with(&w)),
                _ => toks.any(|t| t == w),
            }
        }
    }
}

fn atom_matches(atom: &Atom, contents: &[(String, String)], index: &Value) -> bool {
    match atom {
        Atom::All => true,
        Atom::Text(t) => {
            let line = index.get("line").cloned().unwrap_or(Value::Null);
            contents.iter().any(|(_, v)| value_matches(v, t, &line))
        }
        Atom::Key(k, t) => {
            let cfg = index
                .get("keys")
                .and_then(|ks| ks.get(k))
                .cloned()
                .unwrap_or(Value::Null);
            contents
                .iter()
                .filter(|(key, _)| key == k)
                .any(|(_, v)| value_matches(v, t, &cfg))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn index() -> Value {
        json!({"line": {"token": [" ", ",", ":", "\""]}, "keys": {"request_id": {"type": "text", "token": [" "]}, "status": {"type": "text", "token": [" "]}}})
    }

    fn log(msg: &str, rid: &str, status: &str) -> Vec<(String, String)> {
        vec![
            ("message".into(), msg.into()),
            ("request_id".into(), rid.into()),
            ("status".into(), status.into()),
        ]
    }

    fn m(q: &str, l: &[(String, String)]) -> bool {
        Query::parse(q).unwrap().matches(l, &index())
    }

    #[test]
    fn words_keys_and_or_not() {
        let a = log("Model LOAD failed: bad header", "1-abc-def", "500");
        let b = log("served /classify", "1-xyz", "200");
        for (q, ea, eb) in [
            ("*", true, true),
            ("", true, true),
            ("load", true, false),
            ("lo", false, false),
            ("lo*", true, false),
            ("\"load failed\"", true, false),
            ("request_id: 1-abc-def", true, false),
            ("request_id:\"1-xyz\"", false, true),
            ("request_id: 1-abc", false, false),
            ("status: 500 and failed", true, false),
            ("status: 500 failed", true, false),
            ("status: 500 or status: 200", true, true),
            ("not status: 500", false, true),
            ("served OR header", true, true),
            ("* and not load", false, true),
        ] {
            assert_eq!((m(q, &a), m(q, &b)), (ea, eb), "{q}");
        }
    }

    #[test]
    fn unsupported_syntax_is_refused_with_the_reason() {
        for q in [
            "* | select count(*)",
            "(a or b)",
            "status > 400",
            "\"open",
            "a or",
            "key:",
        ] {
            let e = Query::parse(q).unwrap_err();
            assert_eq!(
                (e.status, e.code.as_ref()),
                (400, "ParameterInvalid"),
                "{q}"
            );
        }
        assert_eq!(
            Query::parse("request_id: x and status: 1")
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["request_id", "status"]
        );
    }
}
