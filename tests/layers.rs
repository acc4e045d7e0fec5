//! The layers of `src/` (see ARCHITECTURE.md): every top-level module has
//! a layer, and a module may use modules of its own layer or lower ones,
//! never a higher one. The test reads the sources; it needs no build of
//! anything but itself.
//!
//! A file belongs to its top-level module (`src/foo.rs` and `src/foo/**`
//! are `foo`); `src/lib.rs` and `src/bin/**` sit above every layer and are
//! not checked. A reference is any `crate::<module>` in code: `use` lines,
//! `use crate::{a, b::{c}}` groups over any number of lines, and inline
//! paths like `crate::store::now_ms()`. Comments, strings and character
//! literals are skipped. Test code (`#[cfg(test)]`) counts like any other.
//!
//! Violations that exist today are listed in [`KNOWN_VIOLATIONS`] so the
//! test passes while they are removed; an entry that no longer occurs
//! fails the test too, so the list only shrinks.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Every top-level module of `src/lib.rs` and its layer, lowest first.
const LAYERS: &[(&str, u8)] = &[
    // 0. Vocabulary, pure algorithms and leaf utilities: no I/O of their
    //    own beyond a file they are asked to write, no store, no tasks.
    ("auth", 0),      // password hashes, session tokens
    ("calls", 0),     // one line's call state machine, CDRs
    ("domain", 0),    // the shared vocabulary: matches, agent states, time
    ("dial_plan", 0), // what digits a line dials for a number
    ("dsp", 0),       // FSK/DTMF caller ID, tones, over samples
    ("event", 0),     // LineEvent, CallEvent, SmsEvent
    ("phone", 0),     // number normalisation and match keys
    ("sheets", 0),    // CSV/XLSX writers
    // 1. Settings, read and validated once at start.
    ("config", 1),
    ("logging", 1),
    // 2. Persistence: the one door to the database.
    ("store", 2),
    // 3. The line side: device drivers and the call engine task.
    ("devices", 3),
    ("engine", 3),
    // 4. Domain services over stored rows.
    ("access", 4), // who may do what: the one table
    ("customers", 4),
    ("reports", 4),
    ("workorder", 4),
    // 5. Consumers of the events and services on top of the domain.
    ("crm", 5), // lookups in the center's own CRMs, amending pops
    ("metrics", 5),
    ("outbound", 5), // click-to-dial: line choice, dial plan, allowance
    ("pop", 5),
    ("recording", 5),
    ("sms", 5),
    ("webhooks", 5), // delivering the outbox's events, signed
    // 6. Wiring and edges: the line thread, the HTTP server.
    ("lines", 6),
    ("web", 6),
    // 7-8. Simulated devices, and the demo that drives them.
    ("sim", 7),
    ("demo", 8),
];

/// Upward references that exist today and are being removed:
/// (from module, to module). Each must still occur, or the test fails.
const KNOWN_VIOLATIONS: &[(&str, &str)] = &[];

/// One `crate::<to>` in a file of module `from`.
#[derive(Debug, Clone)]
struct Ref {
    file: String,
    line: usize,
    from: String,
    to: String,
}

/// What the sources say: the references between modules, and each
/// checked file with its module.
struct Scan {
    refs: Vec<Ref>,
    files: Vec<(String, String)>,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn layer_of(module: &str) -> Option<u8> {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, layer)| *layer)
}

fn is_known(from: &str, to: &str) -> bool {
    KNOWN_VIOLATIONS.iter().any(|&(f, t)| f == from && t == to)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module of a file, from its path under `src/`; `None` for
/// the crate root and the binaries, which may use everything.
fn module_of(relative: &Path) -> Option<String> {
    if relative == Path::new("lib.rs") || relative == Path::new("main.rs") {
        return None;
    }
    let first = relative.components().next()?.as_os_str().to_str()?;
    if first == "bin" {
        return None;
    }
    Some(first.strip_suffix(".rs").unwrap_or(first).to_string())
}

/// Reads every checked file of `src/`.
fn scan() -> Scan {
    let src = src_dir();
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths.sort();
    let mut scan = Scan {
        refs: Vec::new(),
        files: Vec::new(),
    };
    for path in paths {
        let relative = path.strip_prefix(&src).expect("a file under src/");
        let Some(module) = module_of(relative) else {
            continue;
        };
        let shown = format!("src/{}", relative.to_string_lossy().replace('\\', "/"));
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {shown}: {e}"));
        for (line, to) in crate_refs(&text) {
            if to != module {
                scan.refs.push(Ref {
                    file: shown.clone(),
                    line,
                    from: module.clone(),
                    to,
                });
            }
        }
        scan.files.push((module, shown));
    }
    scan
}

/// The modules `src/lib.rs` declares (`mod x;`, `pub mod x;`), with their lines.
fn declared_modules(lib: &str) -> Vec<(usize, String)> {
    let code: String = blank_comments_and_literals(lib).into_iter().collect();
    let mut out = Vec::new();
    for (i, line) in code.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(p) = words.iter().position(|w| *w == "mod") {
            if let Some(name) = words.get(p + 1).and_then(|w| w.strip_suffix(';')) {
                out.push((i + 1, name.to_string()));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The extractor.

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn blank(out: &mut [char], from: usize, to: usize) {
    let to = to.min(out.len());
    for c in &mut out[from..to] {
        if *c != '\n' {
            *c = ' ';
        }
    }
}

/// After the opening quote of a string at `start`: the index past its
/// closing quote.
fn string_end(c: &[char], start: usize) -> usize {
    let mut j = start;
    while j < c.len() {
        match c[j] {
            '\\' => j += 2,
            '"' => return j + 1,
            _ => j += 1,
        }
    }
    c.len()
}

/// A raw string (`r"..."`, `r#"..."#`, `br"..."`) starting at `i`: the
/// index past its end; `None` when none starts there.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if c.get(j).copied() == Some('b') {
        j += 1;
    }
    if c.get(j).copied() != Some('r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while c.get(j).copied() == Some('#') {
        hashes += 1;
        j += 1;
    }
    if c.get(j).copied() != Some('"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k).copied() == Some('#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

/// A character literal starting at the quote at `i`: the index past it;
/// `None` for a lifetime or a label.
fn char_literal_end(c: &[char], i: usize) -> Option<usize> {
    match c.get(i + 1).copied() {
        Some('\\') => {
            // The escaped character, then anything up to the closing quote
            // (`'\u{1F600}'`).
            let mut j = i + 3;
            while j < c.len() && c[j] != '\'' && c[j] != '\n' {
                j += 1;
            }
            (c.get(j).copied() == Some('\'')).then_some(j + 1)
        }
        Some(_) if c.get(i + 2).copied() == Some('\'') => Some(i + 3),
        _ => None,
    }
}

/// The text with comments, strings and character literals replaced by
/// spaces (newlines kept, so lines still count right).
fn blank_comments_and_literals(src: &str) -> Vec<char> {
    let c: Vec<char> = src.chars().collect();
    let mut out = c.clone();
    let n = c.len();
    let mut i = 0;
    while i < n {
        let after_ident = i > 0 && is_ident(c[i - 1]);
        match c[i] {
            '/' if c.get(i + 1).copied() == Some('/') => {
                let end = c[i..]
                    .iter()
                    .position(|&ch| ch == '\n')
                    .map_or(n, |p| i + p);
                blank(&mut out, i, end);
                i = end;
            }
            '/' if c.get(i + 1).copied() == Some('*') => {
                let mut depth = 0usize;
                let mut j = i;
                while j < n {
                    if c[j] == '/' && c.get(j + 1).copied() == Some('*') {
                        depth += 1;
                        j += 2;
                    } else if c[j] == '*' && c.get(j + 1).copied() == Some('/') {
                        depth -= 1;
                        j += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        j += 1;
                    }
                }
                blank(&mut out, i, j);
                i = j;
            }
            '"' => {
                let end = string_end(&c, i + 1);
                blank(&mut out, i, end);
                i = end;
            }
            'r' | 'b' if !after_ident => match raw_string_end(&c, i) {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => i += 1,
            },
            '\'' => match char_literal_end(&c, i) {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    out
}

fn starts_with(c: &[char], i: usize, pattern: &str) -> bool {
    pattern
        .chars()
        .enumerate()
        .all(|(k, p)| c.get(i + k).copied() == Some(p))
}

fn skip_whitespace(c: &[char], mut i: usize) -> usize {
    while i < c.len() && c[i].is_whitespace() {
        i += 1;
    }
    i
}

fn ident_at(c: &[char], i: usize) -> String {
    c[i..].iter().take_while(|&&ch| is_ident(ch)).collect()
}

/// Every `crate::<name>` in the code of `src`, as (line, name): paths,
/// and each item of a `crate::{...}` group (nested groups give their
/// first segment; `self` is skipped).
fn crate_refs(src: &str) -> Vec<(usize, String)> {
    let c = blank_comments_and_literals(src);
    let line_of = |pos: usize| c[..pos].iter().filter(|&&ch| ch == '\n').count() + 1;
    let mut refs = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if !starts_with(&c, i, "crate") || (i > 0 && is_ident(c[i - 1])) {
            i += 1;
            continue;
        }
        let mut j = skip_whitespace(&c, i + "crate".len());
        i += "crate".len();
        if !starts_with(&c, j, "::") {
            continue;
        }
        j = skip_whitespace(&c, j + 2);
        match c.get(j).copied() {
            Some('{') => {
                let mut depth = 0usize;
                let mut expect_name = false;
                let mut k = j;
                while k < c.len() {
                    let ch = c[k];
                    match ch {
                        '{' => {
                            depth += 1;
                            expect_name = depth == 1;
                        }
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        ',' if depth == 1 => expect_name = true,
                        _ if depth == 1 && expect_name && is_ident_start(ch) => {
                            let (line, name) = (line_of(k), ident_at(&c, k));
                            k += name.chars().count();
                            if name != "self" {
                                refs.push((line, name));
                            }
                            expect_name = false;
                            continue;
                        }
                        _ if depth == 1 && !ch.is_whitespace() => expect_name = false,
                        _ => {}
                    }
                    k += 1;
                }
            }
            Some(ch) if is_ident_start(ch) => refs.push((line_of(j), ident_at(&c, j))),
            _ => {}
        }
    }
    refs
}

// ---------------------------------------------------------------------------
// The checks.

#[test]
fn every_module_has_a_layer() {
    let lib = fs::read_to_string(src_dir().join("lib.rs")).expect("src/lib.rs");
    let declared = declared_modules(&lib);
    let mut problems = Vec::new();
    for (line, module) in &declared {
        if layer_of(module).is_none() {
            problems.push(format!(
                "src/lib.rs:{line}: module `{module}` has no layer: add it to LAYERS in tests/layers.rs"
            ));
        }
    }
    let mut reported = BTreeSet::new();
    for (module, file) in &scan().files {
        if layer_of(module).is_none() && reported.insert(module.clone()) {
            problems.push(format!(
                "{file}:1: module `{module}` has no layer: add it to LAYERS in tests/layers.rs"
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (module, _) in LAYERS {
        if !seen.insert(*module) {
            problems.push(format!("LAYERS lists `{module}` twice"));
        }
        if !declared.iter().any(|(_, m)| m == module) {
            problems.push(format!(
                "LAYERS lists `{module}`, which src/lib.rs does not declare: remove it"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the layer table:\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_module_imports_a_higher_layer() {
    let mut problems = Vec::new();
    for r in &scan().refs {
        let Some(to) = layer_of(&r.to) else {
            problems.push(format!(
                "{}:{}: crate::{} is no module of LAYERS in tests/layers.rs",
                r.file, r.line, r.to
            ));
            continue;
        };
        // A module without a layer is reported by `every_module_has_a_layer`.
        let Some(from) = layer_of(&r.from) else {
            continue;
        };
        if to > from && !is_known(&r.from, &r.to) {
            problems.push(format!(
                "{}:{}: `{}` (layer {from}) uses crate::{} (layer {to}); a module may use \
                 only its own layer and lower ones: move what it needs down, or turn the \
                 dependency round (see ARCHITECTURE.md)",
                r.file, r.line, r.from, r.to
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "layer violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_known_violation_still_occurs() {
    let refs = scan().refs;
    let mut problems = Vec::new();
    for &(from, to) in KNOWN_VIOLATIONS {
        match (layer_of(from), layer_of(to)) {
            (Some(f), Some(t)) if t > f => {
                if !refs.iter().any(|r| r.from == from && r.to == to) {
                    problems.push(format!(
                        "KNOWN_VIOLATIONS lists (\"{from}\", \"{to}\"), but no file of `{from}` \
                         uses crate::{to} any more: remove the entry"
                    ));
                }
            }
            (Some(f), Some(t)) => problems.push(format!(
                "KNOWN_VIOLATIONS lists (\"{from}\", \"{to}\"), but `{from}` (layer {f}) may use \
                 `{to}` (layer {t}): remove the entry"
            )),
            _ => problems.push(format!(
                "KNOWN_VIOLATIONS lists (\"{from}\", \"{to}\"), which names a module without a layer"
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "known violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn extractor_reads_paths_and_groups_and_skips_comments_and_literals() {
    let src = r##"
use crate::event::{CallEvent, LineEvent};
use crate::{config, store::{Store, StoreHandle}};
use crate::{
    phone::Normalizer,
    self,
    dsp::{cid, fsk},
};
// use crate::web::Nothing;
/// see crate::reports::stats
/* crate::sms in a /* nested */ block comment */
fn f<'a>(x: &'a str) -> char {
    let _ = "crate::metrics::Metrics \" crate::pop";
    let _ = r#"crate::lines"#;
    let _ = mycrate::auth::x;
    let _ = pub_crate_demo;
    let _ = crate::recording::source::open(x);
    let q = '"'; crate::sim::run(); '\''
}
pub(crate) fn g() {}
"##;
    let want: Vec<(usize, String)> = [
        (2, "event"),
        (3, "config"),
        (3, "store"),
        (5, "phone"),
        (7, "dsp"),
        (17, "recording"),
        (18, "sim"),
    ]
    .into_iter()
    .map(|(line, m)| (line, m.to_string()))
    .collect();
    assert_eq!(crate_refs(src), want);
}

#[test]
fn extractor_reads_a_path_at_the_start_and_macro_paths() {
    let refs = crate_refs("crate::alpha::f();\nlet b = b'x'; let x = $crate::beta::X;");
    assert_eq!(
        refs,
        vec![(1, "alpha".to_string()), (2, "beta".to_string())]
    );
}

#[test]
fn files_belong_to_their_top_level_module() {
    assert_eq!(
        module_of(Path::new("devices/gsm/pdu.rs")).as_deref(),
        Some("devices")
    );
    assert_eq!(module_of(Path::new("config.rs")).as_deref(), Some("config"));
    assert_eq!(
        module_of(Path::new("store/mod.rs")).as_deref(),
        Some("store")
    );
    assert_eq!(module_of(Path::new("lib.rs")), None);
    assert_eq!(module_of(Path::new("bin/callpop/main.rs")), None);
}

#[test]
fn lib_rs_declarations_are_read() {
    let lib = "//! docs: mod nothing;\npub mod alpha;\nmod beta;\n#[cfg(test)]\nmod tests {\n}\n";
    assert_eq!(
        declared_modules(lib),
        vec![(2, "alpha".to_string()), (3, "beta".to_string())]
    );
}
