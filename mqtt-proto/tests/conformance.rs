//! Keeps `CONFORMANCE.md` honest. It is generated from `docs/conformance-statements.tsv` (every
//! normative statement of MQTT v3.1.1 and v5.0) and `docs/conformance-map.tsv` (which code
//! enforces a statement and which test proves it). This test checks that every mapped file
//! really cites the statement, that every named test function exists, that every statement the
//! source cites exists, and that `CONFORMANCE.md` is what the two lists produce. Run with
//! `UPDATE_CONFORMANCE=1` to rewrite it after changing the map.
//!
//! `docs/error-classes.tsv` lists every statement of sections 1 to 3 that names an error class
//! (Malformed Packet, Protocol Error); it is checked the same way and rendered at the end.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Statement {
    version: String,
    id: String,
    section: String,
    binds: String,
    topic: String,
    summary: String,
}

struct Mapping {
    code: String,
    test: String,
    note: String,
}

fn rows(path: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1) // header
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn statements() -> Vec<Statement> {
    rows("docs/conformance-statements.tsv")
        .into_iter()
        .map(|c| {
            assert_eq!(c.len(), 6, "bad statement row {c:?}");
            Statement {
                version: c[0].clone(),
                id: c[1].clone(),
                section: c[2].clone(),
                binds: c[3].clone(),
                topic: c[4].clone(),
                summary: c[5].clone(),
            }
        })
        .collect()
}

fn mappings() -> BTreeMap<(String, String), Mapping> {
    let mut map = BTreeMap::new();
    for c in rows("docs/conformance-map.tsv") {
        assert!(c.len() >= 4, "bad map row {c:?}");
        let key = (c[0].clone(), c[1].clone());
        let m = Mapping {
            code: c[2].clone(),
            test: c[3].clone(),
            note: c.get(4).cloned().unwrap_or_default(),
        };
        assert!(map.insert(key.clone(), m).is_none(), "{key:?} mapped twice");
    }
    map
}

#[test]
fn every_mapping_points_at_real_code_and_tests() {
    let known: BTreeSet<(String, String)> = statements()
        .into_iter()
        .map(|s| (s.version, s.id))
        .collect();
    for ((version, id), m) in mappings() {
        assert!(
            known.contains(&(version.clone(), id.clone())),
            "{version} {id} is no statement"
        );
        let code = std::fs::read_to_string(root().join(&m.code))
            .unwrap_or_else(|e| panic!("{version} {id}: {}: {e}", m.code));
        assert!(
            code.contains(&format!("[{id}]")),
            "{} does not cite [{id}] ({version})",
            m.code
        );
        let (file, function) = m.test.split_once("::").unwrap();
        let tests = std::fs::read_to_string(root().join(file))
            .unwrap_or_else(|e| panic!("{version} {id}: {file}: {e}"));
        // A scenario body shared by the runtimes is generic over the runtime.
        assert!(
            tests.contains(&format!("fn {function}("))
                || tests.contains(&format!("fn {function}<")),
            "{file} has no fn {function}"
        );
    }
}

#[test]
fn every_cited_statement_exists() {
    let known: BTreeSet<String> = statements().into_iter().map(|s| s.id).collect();
    let mut cited = BTreeSet::new();
    let mut stack = vec![
        root().join("mqtt-proto/src"),
        root().join("mqtt-session/src"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for part in text.split("[MQTT-").skip(1) {
                    let id = part.split(']').next().unwrap();
                    cited.insert((format!("MQTT-{id}"), path.clone()));
                }
            }
        }
    }
    assert!(cited.len() > 40);
    for (id, path) in cited {
        assert!(
            known.contains(&id),
            "{path:?} cites {id}, which no specification has"
        );
    }
}

/// A statement that names an error class (`docs/error-classes.tsv`).
struct ErrorClass {
    version: String,
    section: String,
    statement: String,
    class: String,
    checked_by: String,
    code: String,
    test: String,
    status: String,
}

fn error_classes() -> Vec<ErrorClass> {
    rows("docs/error-classes.tsv")
        .into_iter()
        .map(|c| {
            assert_eq!(c.len(), 8, "bad error class row {c:?}");
            ErrorClass {
                version: c[0].clone(),
                section: c[1].clone(),
                statement: c[2].clone(),
                class: c[3].clone(),
                checked_by: c[4].clone(),
                code: c[5].clone(),
                test: c[6].clone(),
                status: c[7].clone(),
            }
        })
        .collect()
}

/// Every error class row the decoder checks has code and a test that names its section; the
/// named files and test functions exist.
#[test]
fn every_error_class_points_at_real_code_and_tests() {
    let rows = error_classes();
    assert!(rows.len() > 100);
    for row in &rows {
        let what = format!("{} {} {}", row.version, row.section, row.statement);
        assert!(
            ["decoder", "session", "server"].contains(&row.checked_by.as_str()),
            "{what}: checked_by {}",
            row.checked_by
        );
        if row.checked_by == "decoder" {
            assert!(!row.code.is_empty() && !row.test.is_empty(), "{what}");
            assert!(
                row.status.starts_with("right") || row.status.starts_with("fixed"),
                "{what}: status {}",
                row.status
            );
        }
        if !row.code.is_empty() {
            assert!(root().join(&row.code).is_file(), "{what}: no {}", row.code);
        }
        if row.test.is_empty() {
            continue;
        }
        let (file, function) = row.test.split_once("::").unwrap();
        let tests = std::fs::read_to_string(root().join(file))
            .unwrap_or_else(|e| panic!("{what}: {file}: {e}"));
        assert!(
            tests.contains(&format!("fn {function}(")),
            "{what}: {file} has no fn {function}"
        );
        if row.checked_by == "decoder" {
            assert!(
                tests.contains(&row.section),
                "{what}: {file} never names section {}",
                row.section
            );
        }
    }
}

fn render_error_classes(out: &mut String) {
    let rows = error_classes();
    out.push_str(
        "\n## Error classes\n\n\
         Every statement of MQTT v5.0 sections 1 to 3 that names the class of an error (\"is a \
         Malformed Packet\", \"is a Protocol Error\", or a reason code), and the v3.1.1 \
         equivalents (\"malformed\", \"protocol violation\", \"close the Network Connection\"), \
         with the class the specification names, who can check it and the test that proves the \
         class `Error::reason_code` gives. v3.1.1 has no reason codes: the receiver closes the \
         connection; the code in brackets is the v5 one of the same error. Generated from \
         `docs/error-classes.tsv`.\n\n",
    );
    out.push_str(
        "| version | statements | decoder: right | decoder: fixed | session | server only | open |\n|---|---|---|---|---|---|---|\n",
    );
    for version in ["3.1.1", "5.0"] {
        let of = |f: &dyn Fn(&ErrorClass) -> bool| {
            rows.iter().filter(|r| r.version == version && f(r)).count()
        };
        let _ = writeln!(
            out,
            "| {version} | {} | {} | {} | {} | {} | {} |",
            of(&|_| true),
            of(&|r| r.checked_by == "decoder" && r.status.starts_with("right")),
            of(&|r| r.checked_by == "decoder" && r.status.starts_with("fixed")),
            of(&|r| r.checked_by == "session" && r.status == "session"),
            of(&|r| r.checked_by == "server"),
            of(&|r| r.status.starts_with("open")),
        );
    }
    out.push_str(
        "\n| version | section | statement | class | checked by | enforced by | proved by | status |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in &rows {
        let code = if r.code.is_empty() {
            String::new()
        } else {
            format!("[{0}]({0})", r.code)
        };
        let test = if r.test.is_empty() {
            String::new()
        } else {
            format!("`{}`", r.test)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {code} | {test} | {} |",
            r.version,
            r.section,
            r.statement.replace('|', "\\|"),
            r.class,
            r.checked_by,
            r.status
        );
    }
}

fn status(s: &Statement, m: Option<&Mapping>) -> String {
    match m {
        Some(m) if m.note.is_empty() => "covered".into(),
        Some(m) => format!("covered ({})", m.note),
        None if s.binds == "server" => "server only".into(),
        None if s.topic == "behaviour" => "open: session behaviour".into(),
        None => "open".into(),
    }
}

fn render() -> String {
    let statements = statements();
    let map = mappings();
    let mut out = String::new();
    out.push_str(
        "# Conformance\n\n\
         Every normative statement of MQTT v3.1.1 and MQTT v5.0, with the code that enforces it and the \
         test that proves it. Statements that bind only a server are listed for completeness; a \
         client does not act on them, though its decoder may check what they promise. \"Open\" \
         rows are not yet enforced or not yet proved.\n\n\
         Generated by `mqtt-proto/tests/conformance.rs` from `docs/conformance-statements.tsv` and \
         `docs/conformance-map.tsv`; edit those and run \
         `UPDATE_CONFORMANCE=1 cargo test -p mqtt-sansio-proto --test conformance`.\n\n",
    );
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for s in &statements {
        let st = status(s, map.get(&(s.version.clone(), s.id.clone())));
        let key = st
            .split(' ')
            .next()
            .unwrap()
            .trim_end_matches(':')
            .to_string();
        *counts.entry((s.version.clone(), key)).or_default() += 1;
    }
    out.push_str(
        "| version | statements | covered | open | server only |\n|---|---|---|---|---|\n",
    );
    for version in ["3.1.1", "5.0"] {
        let n = |k: &str| {
            counts
                .get(&(version.to_string(), k.to_string()))
                .copied()
                .unwrap_or(0)
        };
        let total = statements.iter().filter(|s| s.version == version).count();
        let _ = writeln!(
            out,
            "| {version} | {total} | {} | {} | {} |",
            n("covered"),
            n("open"),
            n("server")
        );
    }
    for version in ["3.1.1", "5.0"] {
        let _ = write!(
            out,
            "\n## MQTT {version}\n\n| statement | section | binds | kind | requirement | enforced by | proved by | status |\n|---|---|---|---|---|---|---|---|\n"
        );
        for s in statements.iter().filter(|s| s.version == version) {
            let m = map.get(&(s.version.clone(), s.id.clone()));
            let (code, test) = match m {
                Some(m) => (format!("[{0}]({0})", m.code), format!("`{}`", m.test)),
                None => (String::new(), String::new()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {code} | {test} | {} |",
                s.id,
                s.section,
                s.binds,
                s.topic,
                s.summary.replace('|', "\\|"),
                status(s, m)
            );
        }
    }
    render_error_classes(&mut out);
    out
}

#[test]
fn conformance_md_is_generated_from_the_lists() {
    let path = root().join("CONFORMANCE.md");
    let expected = render();
    if std::env::var_os("UPDATE_CONFORMANCE").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "CONFORMANCE.md is out of date: run UPDATE_CONFORMANCE=1 cargo test -p mqtt-sansio-proto --test conformance"
    );
}
