//! The crate's module graph, read from the sources under src/: no import cycle between
//! top-level modules, and no subcommand module reaching into another one.
//!
//! A cycle means neither side can be understood (or changed, or tested) without the other;
//! a subcommand calling another subcommand's internals couples two command lines that
//! should only share what `commands/` keeps for both (loading, progress, AWS clients).
//!
//! What counts as a reference: `use` trees (groups, nested groups, multi-line), and paths
//! written inline anywhere in the code that start with `crate::`, `super::` or `self::`,
//! resolved against the file's module (and any inline `mod x { .. }` around them).
//! Comments and string or char literals are blanked out first. Plain relative paths
//! (`interface::X` from `apply`) stay inside their own module and are not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------
// Reading the sources

/// A module path without the leading `crate`: `["apply", "interface"]`.
type ModPath = Vec<String>;

/// One path a file refers to, resolved to an absolute module path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    /// Absolute, without `crate`: `["rollback", "restore_file_now"]`.
    path: ModPath,
    /// 1-based line in the file.
    line: usize,
    /// As written: `crate::rollback::restore_file_now`.
    written: String,
}

struct SourceFile {
    /// Relative to the crate root, for messages: `src/apply/mod.rs`.
    display: String,
    module: ModPath,
    text: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `apply/mod.rs` -> `apply`, `apply/interface.rs` -> `apply::interface`,
/// `journal.rs` -> `journal`, `lib.rs` and `main.rs` -> the crate root (empty).
fn module_of(relative: &Path) -> ModPath {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.strip_suffix(".rs").unwrap_or(&last);
    let at_root = parts.is_empty();
    if stem != "mod" && !(at_root && (stem == "lib" || stem == "main")) {
        parts.push(stem.to_string());
    }
    parts
}

fn read_sources() -> Vec<SourceFile> {
    let src = src_dir();
    let mut paths = Vec::new();
    rs_files(&src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&src).expect("under src/");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            SourceFile {
                display: format!("src/{}", relative.display()),
                module: module_of(relative),
                text,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Parsing

/// The source with comments and string, byte-string, raw-string and char literals replaced
/// by a space; newlines are kept, so line numbers still hold.
fn strip_comments_and_literals(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    // Keep a literal's or comment's newlines, drop everything else in it.
    let newlines = |out: &mut String, from: usize, to: usize| {
        for &ch in &c[from..to.min(c.len())] {
            if ch == '\n' {
                out.push('\n');
            }
        }
    };
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            out.push(' ');
        } else if ch == '/' && next == Some('*') {
            let start = i;
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
            newlines(&mut out, start, i);
        } else if ch == 'r' && (i == 0 || !is_ident(c[i - 1]) || matches!(c[i - 1], 'b' | 'c')) && {
            let mut j = i + 1;
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            c.get(j) == Some(&'"')
        } {
            // r"..." or r#"..."#: ends at a quote followed by as many hashes.
            let start = i;
            let mut hashes = 0;
            i += 1;
            while c[i] == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1; // the opening quote
            while i < c.len() {
                if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push(' ');
            newlines(&mut out, start, i);
        } else if ch == '"' {
            let start = i;
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(' ');
            newlines(&mut out, start, i);
        } else if ch == '\'' && next == Some('\\') {
            // '\n', '\'', '\u{..}'
            i += 3;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else if ch == '\'' && c.get(i + 2) == Some(&'\'') {
            // 'x' (also '"'); anything else after a quote is a lifetime or a label.
            i += 3;
            out.push(' ');
        } else {
            out.push(ch);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Semi,
    Star,
    Other(char),
}

/// Tokens with their 1-based line numbers, from already stripped source.
fn tokenize(stripped: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = stripped.chars().collect();
    let mut toks = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            toks.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            toks.push((Tok::PathSep, line));
            i += 2;
        } else {
            let tok = match ch {
                '{' => Tok::Open,
                '}' => Tok::Close,
                ',' => Tok::Comma,
                ';' => Tok::Semi,
                '*' => Tok::Star,
                other => Tok::Other(other),
            };
            toks.push((tok, line));
            i += 1;
        }
    }
    toks
}

fn ident(toks: &[(Tok, usize)], i: usize) -> Option<&str> {
    match toks.get(i) {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

fn is(toks: &[(Tok, usize)], i: usize, tok: &Tok) -> bool {
    toks.get(i).is_some_and(|(t, _)| t == tok)
}

/// One use tree starting at `toks[*i]`, below `prefix`; every leaf path goes to `out`.
/// Leaves `*i` on the token after the tree (a comma, a closing brace or the semicolon).
fn use_tree(toks: &[(Tok, usize)], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    while let Some((tok, _)) = toks.get(*i) {
        match tok {
            Tok::Ident(s) if s == "as" => {
                *i += 2; // `as name` (or `as _`)
                break;
            }
            Tok::Ident(s) => {
                path.push(s.clone());
                *i += 1;
            }
            Tok::PathSep => *i += 1,
            Tok::Star => {
                *i += 1;
                break;
            }
            Tok::Open => {
                *i += 1;
                loop {
                    match toks.get(*i).map(|(t, _)| t) {
                        None => return,
                        Some(Tok::Close) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Comma) => *i += 1,
                        Some(_) => {
                            let before = *i;
                            use_tree(toks, i, path.clone(), out);
                            if *i == before {
                                *i += 1; // not a use tree after all: step over it
                            }
                        }
                    }
                }
            }
            _ => break,
        }
    }
    if !path.is_empty() {
        out.push(path);
    }
}

/// Resolve a path as written in `module` to an absolute one (without `crate`).
/// `crate::a` is absolute; `self::`/`super::` are relative to `module`; anything else
/// (only seen in `use`) is taken as relative too, which keeps external crates such as
/// `anyhow::Context` inside the file's own module, where they count for nothing.
fn resolve(module: &[String], written: &[String]) -> ModPath {
    let mut segments = written.iter().map(String::as_str).peekable();
    let mut base: Vec<String> = match segments.peek() {
        Some(&"crate") => {
            segments.next();
            Vec::new()
        }
        Some(&"self") => {
            segments.next();
            module.to_vec()
        }
        _ => module.to_vec(),
    };
    while segments.peek() == Some(&"super") {
        segments.next();
        base.pop();
    }
    // `self` inside a group (`use crate::apply::{self, Status}`) names the prefix itself.
    base.extend(segments.filter(|s| *s != "self").map(String::from));
    base
}

/// Every path `file_module`'s source refers to through `use`, `crate::`, `super::` or
/// `self::`, resolved.
fn references(file_module: &[String], source: &str) -> Vec<Reference> {
    let toks = tokenize(&strip_comments_and_literals(source));
    let mut refs = Vec::new();
    // Inline modules (`mod tests { .. }`): their names and the brace depth inside them.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    let current = |inline: &[(String, usize)]| -> ModPath {
        let mut m = file_module.to_vec();
        m.extend(inline.iter().map(|(name, _)| name.clone()));
        m
    };
    while i < toks.len() {
        let (tok, line) = &toks[i];
        match tok {
            Tok::Open => {
                depth += 1;
                i += 1;
            }
            Tok::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Ident(kw)
                if kw == "mod" && ident(&toks, i + 1).is_some() && is(&toks, i + 2, &Tok::Open) =>
            {
                inline.push((
                    ident(&toks, i + 1).unwrap_or_default().to_string(),
                    depth + 1,
                ));
                i += 2; // the brace itself is counted above
            }
            Tok::Ident(kw) if kw == "use" => {
                i += 1;
                let mut paths = Vec::new();
                use_tree(&toks, &mut i, Vec::new(), &mut paths);
                while i < toks.len() && toks[i].0 != Tok::Semi {
                    i += 1;
                }
                let module = current(&inline);
                for written in paths {
                    refs.push(Reference {
                        path: resolve(&module, &written),
                        line: *line,
                        written: format!("use {}", written.join("::")),
                    });
                }
            }
            Tok::Ident(first)
                if matches!(first.as_str(), "crate" | "super" | "self")
                    && is(&toks, i + 1, &Tok::PathSep)
                    && !(i > 0 && is(&toks, i - 1, &Tok::PathSep)) =>
            {
                let mut written = vec![first.clone()];
                i += 1;
                while is(&toks, i, &Tok::PathSep) {
                    match ident(&toks, i + 1) {
                        Some(s) => {
                            written.push(s.to_string());
                            i += 2;
                        }
                        None => break, // `::<` or `::{`: the path ends here
                    }
                }
                refs.push(Reference {
                    path: resolve(&current(&inline), &written),
                    line: *line,
                    written: written.join("::"),
                });
            }
            _ => i += 1,
        }
    }
    refs
}

/// The longest module among `known` that `path` lies in (`rollback::describe` ->
/// `rollback`); `None` for the crate root's own items.
fn owning_module<'a>(known: &'a BTreeSet<ModPath>, path: &[String]) -> Option<&'a ModPath> {
    (1..=path.len())
        .rev()
        .find_map(|n| known.get(&path[..n].to_vec()))
}

/// Subcommand modules: the `m` of every `Command::X(..) => m::run(..)` arm in
/// `dispatch` (src/commands/mod.rs).
fn command_modules(commands_mod_rs: &str) -> BTreeSet<String> {
    let toks = tokenize(&strip_comments_and_literals(commands_mod_rs));
    let start = (0..toks.len())
        .find(|&i| ident(&toks, i) == Some("fn") && ident(&toks, i + 1) == Some("dispatch"))
        .expect("src/commands/mod.rs has no `fn dispatch`");
    let mut found = BTreeSet::new();
    let mut i = start;
    while i + 2 < toks.len() {
        if ident(&toks, i) == Some("Command") && is(&toks, i + 1, &Tok::PathSep) {
            // Skip the pattern to its `=>`, then read `module::`.
            let mut j = i + 2;
            while j + 1 < toks.len()
                && !(is(&toks, j, &Tok::Other('=')) && is(&toks, j + 1, &Tok::Other('>')))
            {
                j += 1;
            }
            if let Some(m) = ident(&toks, j + 2).filter(|_| is(&toks, j + 3, &Tok::PathSep)) {
                found.insert(m.to_string());
            }
            i = j + 2;
        } else {
            i += 1;
        }
    }
    found
}

// ---------------------------------------------------------------------------------------
// The graph

/// `from -> to` between top-level modules, with where each edge comes from.
type Graph = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn top_level_graph(files: &[SourceFile]) -> Graph {
    let known: BTreeSet<ModPath> = files.iter().map(|f| f.module.clone()).collect();
    let mut graph = Graph::new();
    for file in files.iter().filter(|f| !f.module.is_empty()) {
        let from = &file.module[0];
        for r in references(&file.module, &file.text) {
            let Some(target) = owning_module(&known, &r.path) else {
                continue;
            };
            let to = &target[0];
            if to != from {
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to.clone())
                    .or_default()
                    .push(format!("{}:{}: {}", file.display, r.line, r.written));
            }
        }
    }
    graph
}

/// Every elementary cycle, each once, starting at its alphabetically first module; at
/// most `limit` of them.
fn cycles(graph: &Graph, limit: usize) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = graph
        .keys()
        .chain(graph.values().flat_map(|m| m.keys()))
        .collect();
    let succ =
        |n: &str| -> Vec<&String> { graph.get(n).map(|m| m.keys().collect()).unwrap_or_default() };
    let mut found = Vec::new();
    for start in &nodes {
        // Only nodes after `start` that can get back to it: each cycle is found once,
        // from its first node, and dead ends are never walked.
        let mut back: BTreeSet<&String> = BTreeSet::new();
        let mut todo = vec![*start];
        while let Some(n) = todo.pop() {
            for (from, tos) in graph {
                if from > *start && tos.contains_key(n) && back.insert(from) {
                    todo.push(from);
                }
            }
        }
        let mut path = vec![(*start).clone()];
        walk(start, &succ, &back, &mut path, &mut found, limit);
        if found.len() >= limit {
            break;
        }
    }
    fn walk<'g>(
        start: &str,
        succ: &dyn Fn(&str) -> Vec<&'g String>,
        allowed: &BTreeSet<&'g String>,
        path: &mut Vec<String>,
        found: &mut Vec<Vec<String>>,
        limit: usize,
    ) {
        let last = path.last().expect("non-empty").clone();
        for next in succ(&last) {
            if found.len() >= limit {
                return;
            }
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_string());
                found.push(cycle);
            } else if allowed.contains(next) && !path.contains(next) {
                path.push(next.clone());
                walk(start, succ, allowed, path, found, limit);
                path.pop();
            }
        }
    }
    found
}

const MAX_CYCLES: usize = 50;

#[test]
fn no_import_cycle_between_top_level_modules() {
    let graph = top_level_graph(&read_sources());
    assert!(
        graph.contains_key("commands"),
        "the graph found no references from src/commands at all: the parser is broken"
    );
    let found = cycles(&graph, MAX_CYCLES);
    if found.is_empty() {
        return;
    }
    let mut msg = format!(
        "{} import cycle(s) between top-level modules of src/:\n",
        found.len()
    );
    for cycle in &found {
        msg.push_str(&format!("\n  {}\n", cycle.join(" -> ")));
        for pair in cycle.windows(2) {
            let sites = &graph[&pair[0]][&pair[1]];
            msg.push_str(&format!("    {} -> {}:\n", pair[0], pair[1]));
            for site in sites {
                msg.push_str(&format!("      {site}\n"));
            }
        }
    }
    if found.len() >= MAX_CYCLES {
        msg.push_str(&format!("\n(stopped at {MAX_CYCLES} cycles)\n"));
    }
    msg.push_str(
        "\nBreak each cycle: move what both sides need into a module of its own, or pass it in.\n",
    );
    panic!("{msg}");
}

#[test]
fn command_modules_do_not_import_each_other() {
    let files = read_sources();
    let mod_rs = files
        .iter()
        .find(|f| f.display == "src/commands/mod.rs")
        .expect("src/commands/mod.rs");
    let commands = command_modules(&mod_rs.text);
    let in_commands: BTreeSet<String> = files
        .iter()
        .filter(|f| f.module.len() == 2 && f.module[0] == "commands")
        .map(|f| f.module[1].clone())
        .collect();
    assert!(
        !commands.is_empty() && commands.is_subset(&in_commands),
        "the command modules read from dispatch's arms in src/commands/mod.rs ({commands:?}) \
         should be files in src/commands/ ({in_commands:?}): the parser is broken"
    );
    let known: BTreeSet<ModPath> = files.iter().map(|f| f.module.clone()).collect();
    let mut problems = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.module.len() >= 2 && f.module[0] == "commands")
    {
        for r in references(&file.module, &file.text) {
            let Some(target) = owning_module(&known, &r.path) else {
                continue;
            };
            if target.len() >= 2
                && target[0] == "commands"
                && target[1] != file.module[1]
                && commands.contains(&target[1])
            {
                problems.push(format!(
                    "  {} -> {}  ({}:{}: {})",
                    file.module.join("::"),
                    target.join("::"),
                    file.display,
                    r.line,
                    r.written
                ));
            }
        }
    }
    if !problems.is_empty() {
        let shared: Vec<&String> = in_commands.difference(&commands).collect();
        panic!(
            "modules in src/commands/ refer to a sibling command module:\n{}\n\n\
             Command modules (from dispatch): {}\n\
             Shared helpers they may use: mod, {}\n\
             Move what two commands share into a shared helper, or into the library outside commands/.\n",
            problems.join("\n"),
            commands.iter().cloned().collect::<Vec<_>>().join(", "),
            shared.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
        );
    }
}

// ---------------------------------------------------------------------------------------
// The parser's own tests

fn m(path: &str) -> ModPath {
    path.split("::").map(String::from).collect()
}

fn refs_of(module: &str, source: &str) -> Vec<String> {
    references(&m(module), source)
        .into_iter()
        .map(|r| r.path.join("::"))
        .collect()
}

#[test]
fn module_paths_of_files() {
    assert_eq!(module_of(Path::new("apply/mod.rs")), m("apply"));
    assert_eq!(
        module_of(Path::new("apply/interface.rs")),
        m("apply::interface")
    );
    assert_eq!(module_of(Path::new("journal.rs")), m("journal"));
    assert!(module_of(Path::new("lib.rs")).is_empty());
    assert!(module_of(Path::new("main.rs")).is_empty());
}

#[test]
fn a_group_use_names_each_member() {
    assert_eq!(
        refs_of("plan", "use crate::{config, render::RenderedFile};"),
        ["config", "render::RenderedFile"]
    );
}

#[test]
fn a_nested_multi_line_group_use_names_each_leaf() {
    let source = "use crate::{\n    apply::{self, interface::{InterfaceConfig, Other as O}},\n    journal::*,\n};\nfn f() {}";
    assert_eq!(
        refs_of("rollback", source),
        [
            "apply",
            "apply::interface::InterfaceConfig",
            "apply::interface::Other",
            "journal"
        ]
    );
    let lines: Vec<usize> = references(&m("rollback"), source)
        .iter()
        .map(|r| r.line)
        .collect();
    assert_eq!(
        lines,
        [1, 1, 1, 1],
        "a use is reported at the line it starts on"
    );
}

#[test]
fn super_and_self_resolve_against_the_file_and_inline_modules() {
    assert_eq!(
        refs_of(
            "commands::setup",
            "fn f() { super::rollback::print_report(&r); }"
        ),
        ["commands::rollback::print_report"]
    );
    assert_eq!(
        refs_of("config::load", "use super::{validate, Cluster};"),
        ["config::validate", "config::Cluster"]
    );
    assert_eq!(
        refs_of("apply", "use super::journal::Journal;"),
        ["journal::Journal"]
    );
    assert_eq!(
        refs_of("apply", "use self::interface::X;"),
        ["apply::interface::X"]
    );
    // `super` inside `mod tests { .. }` is the file's own module; after the block it is not.
    assert_eq!(
        refs_of("journal", "mod tests {\n    use super::*;\n    fn t() { super::x(); }\n}\nfn g() { super::rollback::y(); }"),
        ["journal", "journal::x", "rollback::y"]
    );
}

#[test]
fn inline_crate_paths_count_anywhere_in_code() {
    assert_eq!(
        refs_of(
            "apply",
            "fn f() -> crate::plan::Plan { let x = crate::rollback::restore(h, j)?; crate::iam::policy::<T>(c) }"
        ),
        ["plan::Plan", "rollback::restore", "iam::policy"]
    );
    // `pub(crate)` and `pub(super)` are visibility, not paths.
    assert!(refs_of("apply", "pub(crate) fn f() {} pub(super) struct S;").is_empty());
}

#[test]
fn paths_in_comments_and_literals_do_not_count() {
    let source = r####"
// use crate::rollback;
/// See [`crate::rollback::describe`].
/* crate::iam_role::x /* nested crate::plan::y */ still a comment crate::notify::z */
fn f() {
    let a = "crate::rollback::x";
    let b = "escaped \" crate::rollback::y";
    let c = r#"raw " crate::rollback::z"#;
    let d = b"crate::rollback::w";
    let e = '"'; let q = '\''; let l: &'static str = "x";
    let real = crate::journal::Journal::new();
}
"####;
    assert_eq!(refs_of("apply", source), ["journal::Journal::new"]);
    let lines: Vec<usize> = references(&m("apply"), source)
        .iter()
        .map(|r| r.line)
        .collect();
    assert_eq!(lines, [11], "line numbers survive the stripping");
}

#[test]
fn command_modules_come_from_dispatch_arms() {
    let source = r#"
mod aws;
mod setup;
use crate::cli::{Cli, Command};
fn helper() { let _ = Command::Nothing; }
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Setup(args) => setup::run(args, verbosity),
        Command::Man => completions::man(),
        Command::Iam(cmd) => iam::run(cmd),
    }
}
"#;
    let found: Vec<String> = command_modules(source).into_iter().collect();
    assert_eq!(found, ["completions", "iam", "setup"]);
}

#[test]
fn cycles_are_listed_in_full_from_their_first_module() {
    let mut graph = Graph::new();
    for (a, b) in [
        ("rollback", "iam_role"),
        ("iam_role", "apply"),
        ("apply", "rollback"),
        ("apply", "plan"),
        ("x", "y"),
        ("y", "x"),
    ] {
        graph
            .entry(a.into())
            .or_default()
            .entry(b.into())
            .or_default()
            .push(String::new());
    }
    let found: Vec<String> = cycles(&graph, MAX_CYCLES)
        .iter()
        .map(|c| c.join(" -> "))
        .collect();
    assert_eq!(
        found,
        ["apply -> rollback -> iam_role -> apply", "x -> y -> x"]
    );
    graph.remove("y");
    graph.remove("iam_role");
    assert!(cycles(&graph, MAX_CYCLES).is_empty());
}
