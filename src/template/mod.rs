//! Message content: one template file per template key (`templates/<key>.yaml`), with a part
//! per channel written in Jinja (minijinja). Loading compiles every part and checks every
//! variable it reads against what a message can offer (the profile columns, the event
//! columns, remembered facts, the fixed message variables), with located diagnostics; `render`
//! fills a part for one message, sandboxed: no loader (no file access), a fuel limit, a cap on
//! the output size, auto-escaping in HTML parts. Fields in the subset most templates use
//! (literal text, `{{ path | filter(...) }}`, `{% if path %}`) are also compiled for `fast`,
//! which renders them straight from a message's data, with minijinja's text (anything else,
//! and any value the fast path is not sure of, goes to minijinja).
//!
//! ```yaml
//! # templates/welcome.yaml
//! email:
//!   subject: "Welcome, {{ customer.name | first_name }}"
//!   text: |
//!     Hello {{ customer.name | first_name }}, ...
//!   html: "<p>Hello {{ customer.name | first_name }}</p>"   # optional
//! sms:
//!   text: "Welcome! ..."
//! letter:
//!   address: "{{ customer.name }}\n{{ customer.address }}"  # optional
//!   body: ...
//! phone:
//!   script: ...
//! ```

pub mod fast;
pub mod render;
pub mod sms;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::expr::compile::Schema;
use crate::yaml;

pub use minijinja::Value;
pub use render::{Rendered, Vars};

/// Instructions one render may run (a loop over a huge range stops here, with an error
/// naming the template).
pub const FUEL: u64 = 200_000;
/// Bytes one rendered part may have.
pub const MAX_OUTPUT: usize = 1 << 20;
/// SMS segments past which a message is reported, unless kairos.yaml says otherwise.
pub const DEFAULT_SMS_MAX_SEGMENTS: u32 = 2;

type S = Spanned<String>;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPart {
    #[schemars(with = "Option<String>")]
    subject: Option<S>,
    #[schemars(with = "Option<String>")]
    text: Option<S>,
    #[schemars(with = "Option<String>")]
    html: Option<S>,
    #[schemars(with = "Option<String>")]
    address: Option<S>,
    #[schemars(with = "Option<String>")]
    body: Option<S>,
    #[schemars(with = "Option<String>")]
    script: Option<S>,
}

/// What a part of a template is, and so which output field it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Subject,
    Text,
    Html,
    Address,
    Body,
    Script,
}

impl Field {
    pub const ALL: [Field; 6] = [Field::Subject, Field::Text, Field::Html, Field::Address, Field::Body, Field::Script];

    pub fn name(self) -> &'static str {
        match self {
            Field::Subject => "subject",
            Field::Text => "text",
            Field::Html => "html",
            Field::Address => "address",
            Field::Body => "body",
            Field::Script => "script",
        }
    }
}

/// How a channel's messages are shaped, which says which fields its part needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// subject and text, html optional
    Email,
    /// text, counted in segments
    Sms,
    /// body, address optional
    Letter,
    /// a call script
    Call,
    /// text or body (subject optional)
    Other,
}

impl Form {
    /// The form of a declared channel: by its name for the usual ones, else by the kind of
    /// contact it uses.
    pub fn of(channel: &str, contact: Option<&str>) -> Form {
        match (channel, contact) {
            ("email", _) => Form::Email,
            ("sms", _) => Form::Sms,
            ("letter" | "postcard" | "mail", _) => Form::Letter,
            ("phone" | "call", _) => Form::Call,
            (_, Some("email")) => Form::Email,
            (_, Some("address")) => Form::Letter,
            _ => Form::Other,
        }
    }

    fn required(self) -> &'static [Field] {
        match self {
            Form::Email => &[Field::Subject, Field::Text],
            Form::Sms => &[Field::Text],
            Form::Letter => &[Field::Body],
            Form::Call => &[Field::Script],
            Form::Other => &[],
        }
    }

    fn allowed(self) -> &'static [Field] {
        match self {
            Form::Email => &[Field::Subject, Field::Text, Field::Html],
            Form::Sms => &[Field::Text],
            Form::Letter => &[Field::Address, Field::Body],
            Form::Call => &[Field::Script],
            Form::Other => &[Field::Subject, Field::Text, Field::Body],
        }
    }
}

/// One compiled field of a part.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The template's name in the environment: `key/channel.field`.
    pub name: String,
    /// Where the field's value starts in the file (for mapping template errors back).
    node: usize,
    value: String,
    /// The field compiled for the fast path, when it is in the subset that has one.
    fast: Option<fast::Program>,
}

/// One channel's part of a template.
#[derive(Debug, Clone)]
pub struct Part {
    pub form: Form,
    pub fields: BTreeMap<Field, Compiled>,
}

impl Part {
    /// Does every field have a fast-path program?
    pub fn is_fast(&self) -> bool {
        self.fields.values().all(|c| c.fast.is_some())
    }
}

/// Which inputs a template reads, so a message's variables hold only those.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    /// `customer.*` fields read; None: all of them (the whole `customer` is used).
    pub customer: Option<BTreeSet<String>>,
    pub event: Option<BTreeSet<String>>,
    /// `item.*` fields read (an announcement's catalogue row).
    pub item: Option<BTreeSet<String>>,
    pub history: bool,
    pub facts: bool,
}

impl Needs {
    fn none() -> Needs {
        Needs {
            customer: Some(BTreeSet::new()),
            event: Some(BTreeSet::new()),
            item: Some(BTreeSet::new()),
            history: false,
            facts: false,
        }
    }
}

/// One template file.
#[derive(Debug, Clone)]
pub struct Template {
    pub key: String,
    pub file: PathBuf,
    src: Arc<str>,
    pub parts: BTreeMap<String, Part>,
    pub needs: Needs,
}

/// The templates of a project, compiled.
pub struct Templates {
    pub dir: PathBuf,
    env: minijinja::Environment<'static>,
    pub keys: BTreeMap<String, Template>,
    pub sms_max_segments: u32,
    /// Keys whose file has errors (reported with the file): not also "missing".
    broken: std::collections::BTreeSet<String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").field("dir", &self.dir).field("keys", &self.keys.keys()).finish()
    }
}

/// What the checks need to know: the declared channels (with their contact kind), the
/// columns of the inputs, and the facts dialogues remember.
pub struct Known<'a> {
    pub channels: Vec<(String, Option<String>)>,
    pub customers: &'a Schema,
    pub tx: &'a Schema,
    pub events: &'a Schema,
    /// The catalogue's columns, for `item.*`.
    pub catalog: &'a Schema,
    pub facts: BTreeSet<String>,
}

/// The variables every message has, besides the records.
pub const MESSAGE_VARS: &[&str] = &[
    "customer_id",
    "dialogue",
    "instance",
    "step",
    "attempt",
    "channel",
    "contact",
    "template",
    "message_id",
    "send_at",
];
/// The records a template can read fields of.
pub const RECORDS: &[&str] = &["customer", "event", "item", "trigger", "history", "fact"];
/// `trigger.*`: what started the dialogue.
pub const TRIGGER_FIELDS: &[&str] = &["kind", "reason", "at"];
/// `history.*`: the customer's purchases up to the moment the message is sent.
pub const HISTORY_FIELDS: &[&str] = &[
    "orders",
    "lines",
    "spend",
    "spend_365d",
    "first_purchase_at",
    "last_purchase_at",
    "days_since_last_purchase",
    "last_product",
    "last_category",
    "favourite_category",
];
/// minijinja's global functions, which look like variables to the analysis.
const GLOBALS: &[&str] = &["range", "dict", "namespace", "debug"];

/// Read and compile every `*.yaml`/`*.yml` file of `dir` (its name without the extension is
/// the template key). Every problem is reported, not only the first.
pub fn load(dir: &Path, known: &Known<'_>, sms_max_segments: u32) -> (Option<Templates>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            let what = if dir.exists() {
                format!("cannot read the templates folder: {e}")
            } else {
                "the templates folder does not exist".to_owned()
            };
            diags.push(Diagnostic::error(dir, what));
            return (None, diags);
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    let mut env = environment();
    let mut keys: BTreeMap<String, Template> = BTreeMap::new();
    let mut broken = std::collections::BTreeSet::new();
    for file in files {
        let key = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        if let Some(first) = keys.get(&key) {
            diags.push(
                Diagnostic::error(&file, format!("a second template for key `{key}`"))
                    .with_note(format!("the first is {}", first.file.display())),
            );
            continue;
        }
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(&file, format!("cannot read: {e}")));
                continue;
            }
        };
        let src: Arc<str> = Arc::from(text);
        match compile_file(&mut env, &file, &key, &src, known, &mut diags) {
            Some(t) => {
                keys.insert(key, t);
            }
            None => {
                broken.insert(key);
            }
        }
    }
    let t = Templates { dir: dir.to_path_buf(), env, keys, sms_max_segments, broken };
    (Some(t), diags)
}

/// The template files of `dir` (`*.yaml`, `*.yml`), in name order; none if it cannot be read.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    files
}

/// The problems of the template files' own shape (YAML syntax, unknown keys), which do not
/// depend on kairos.yaml: what `check` still reports when kairos.yaml is broken.
pub fn shape_problems(dir: &Path) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for file in files(dir) {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        let keys = || schemars::schema_for!(BTreeMap<String, RawPart>);
        let parsed =
            yaml::parse_keyed::<std::collections::HashMap<Spanned<String>, RawPart>>(&file, &text.into(), keys);
        if let Err(ds) = parsed {
            ds.into_iter().for_each(|d| diags.push(d));
        }
    }
    diags
}

/// The sandbox: no loader, fuel, HTML parts auto-escaped, the formatting filters.
fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(64);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.set_keep_trailing_newline(false);
    render::add_filters(&mut env);
    env
}

fn compile_file(
    env: &mut minijinja::Environment<'static>,
    file: &Path,
    key: &str,
    src: &Arc<str>,
    known: &Known<'_>,
    diags: &mut Diagnostics,
) -> Option<Template> {
    let keys = || schemars::schema_for!(BTreeMap<String, RawPart>);
    let raw: std::collections::HashMap<Spanned<String>, RawPart> = match yaml::parse_keyed(file, src, keys) {
        Ok(r) => r,
        Err(ds) => {
            ds.into_iter().for_each(|d| diags.push(d));
            return None;
        }
    };
    if raw.is_empty() {
        diags.push(
            Diagnostic::error(file, format!("template `{key}` has no parts"))
                .with_hint("add a part per channel, e.g. `email: {subject: ..., text: ...}`"),
        );
        return None;
    }
    let mut raw: Vec<(Spanned<String>, RawPart)> = raw.into_iter().collect();
    raw.sort_by(|a, b| a.0.value.cmp(&b.0.value));
    let mut parts = BTreeMap::new();
    let mut needs = Needs::none();
    for (channel, part) in raw {
        let ch_span = yaml::span(src, &channel);
        let Some((_, contact)) = known.channels.iter().find(|(c, _)| *c == channel.value) else {
            let hint = did_you_mean(&channel.value, known.channels.iter().map(|(c, _)| c.as_str())).map_or_else(
                || "declare it under `channels:` in kairos.yaml".to_owned(),
                |c| format!("did you mean `{c}`?"),
            );
            diags.push(
                Diagnostic::error(file, format!("unknown channel `{}`", channel.value))
                    .at(src, ch_span)
                    .with_hint(hint),
            );
            continue;
        };
        let form = Form::of(&channel.value, contact.as_deref());
        let given: Vec<(Field, S)> = [
            (Field::Subject, part.subject),
            (Field::Text, part.text),
            (Field::Html, part.html),
            (Field::Address, part.address),
            (Field::Body, part.body),
            (Field::Script, part.script),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.map(|v| (f, v)))
        .collect();
        let missing: Vec<&str> =
            form.required().iter().filter(|f| !given.iter().any(|(g, _)| g == *f)).map(|f| f.name()).collect();
        if !missing.is_empty() {
            diags.push(
                Diagnostic::error(file, format!("the `{}` part needs {}", channel.value, missing.join(" and ")))
                    .at(src, ch_span.clone()),
            );
        }
        if form == Form::Other && !given.iter().any(|(f, _)| matches!(f, Field::Text | Field::Body)) {
            diags.push(
                Diagnostic::error(file, format!("the `{}` part needs text or body", channel.value))
                    .at(src, ch_span.clone()),
            );
        }
        let mut fields = BTreeMap::new();
        for (field, value) in given {
            let node = yaml::span(src, &value).start;
            if !form.allowed().contains(&field) {
                let allowed: Vec<&str> = form.allowed().iter().map(|f| f.name()).collect();
                diags.push(
                    Diagnostic::error(file, format!("a `{}` part has no `{}`", channel.value, field.name()))
                        .at(src, yaml::first_line(src, node..node + 1))
                        .with_hint(format!("it takes {}", allowed.join(", "))),
                );
                continue;
            }
            let name = format!("{key}/{}.{}", channel.value, field.name());
            if let Some(tag) = long_tag(&value.value) {
                let d = Diagnostic::error(
                    file,
                    format!(
                        "a tag of {} bytes in `{name}`: a `{{{{ }}}}` or `{{% %}}` tag holds at most {MAX_TAG} bytes",
                        tag.len()
                    ),
                )
                .with_hint("a chain of thousands of operators or filters would overflow the stack; set parts of it with `{% set %}`");
                let opening = tag.start..tag.start + 2;
                diags.push(match yaml::scalar_range(src, node, &value.value, opening) {
                    Some(r) => d.at(src, r),
                    None => d.at(src, yaml::first_line(src, node..node + 1)),
                });
                continue;
            }
            let c =
                Compiled { name: name.clone(), node, value: value.value.clone(), fast: fast::compile(&value.value) };
            match env.add_template_owned(name.clone(), value.value) {
                Ok(()) => {
                    let t = env.get_template(&name).ok()?;
                    check_vars(&t.undeclared_variables(true), &c, file, src, known, &mut needs, diags);
                    check_filters(&c, file, src, diags);
                    fields.insert(field, c);
                }
                Err(e) => diags.push(template_error(file, src, &c, &e, "syntax error")),
            }
        }
        parts.insert(channel.value, Part { form, fields });
    }
    Some(Template { key: key.to_owned(), file: file.to_path_buf(), src: src.clone(), parts, needs })
}

/// The most bytes one `{{ }}` or `{% %}` tag may hold. minijinja parses, compiles and
/// evaluates a chain of operators (`x | f | f ...`, `- - 1`, `a ~ a ~ ...`, `x.a.a...`) by
/// recursion, a few stack frames per link: 10,000 links overflowed a thread's stack, which
/// aborts the process. 2 KiB is far more than any real expression and a few hundred links.
const MAX_TAG: usize = 2048;

/// Where the string literal opened by the quote at `at` of a template's bytes ends: its
/// closing quote (backslash escapes skipped), or past the end if it is never closed.
fn string_end(b: &[u8], at: usize) -> usize {
    let q = b[at];
    let mut i = at + 1;
    while i < b.len() && b[i] != q {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i
}

/// The first `{{ }}` or `{% %}` tag of `text` longer than `MAX_TAG` (a tag never closed runs
/// to the end), string literals inside skipped, comments and `{% raw %}` text too.
fn long_tag(text: &str) -> Option<Range<usize>> {
    let b = text.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        let close = match (b[i], b[i + 1]) {
            (b'{', b'{') => b'}',
            (b'{', b'%') => b'%',
            (b'{', b'#') => {
                i = text[i + 2..].find("#}").map_or(b.len(), |e| i + 2 + e + 2);
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let start = i;
        i += 2;
        while i < b.len() && !(b[i] == close && b.get(i + 1) == Some(&b'}')) {
            if matches!(b[i], b'"' | b'\'') {
                i = string_end(b, i);
            }
            i += 1;
        }
        let closed = i < b.len();
        let end = (i + 2).min(b.len());
        if end - start > MAX_TAG {
            return Some(start..end);
        }
        // `{% raw %}` text is not tags. (`i` is at the closing `%`, an ASCII byte.)
        let tag = if closed { text.get(start + 2..i).unwrap_or("") } else { "" };
        let tag = tag.trim().trim_matches('-').trim();
        i = end;
        if close == b'%' && tag == "raw" {
            let from = i;
            i = text[from..]
                .match_indices("{%")
                .find(|&(k, _)| text[from + k + 2..].trim_start_matches(['-', ' ', '\t', '\n']).starts_with("endraw"))
                .map_or(b.len(), |(k, _)| from + k);
        }
    }
    None
}

/// The filters a template can use: minijinja's built-in ones and kairos's own.
const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "date",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "first_name",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "money",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "trim",
    "unique",
    "upper",
    "zip",
];

/// Is `name` a filter templates can use? Asked of minijinja itself (a one-filter template
/// rendered once per name and remembered), so the list above only feeds suggestions.
fn filter_exists(name: &str) -> bool {
    use std::sync::{Mutex, OnceLock};
    static KNOWN: OnceLock<Mutex<BTreeMap<String, bool>>> = OnceLock::new();
    let known = KNOWN.get_or_init(|| Mutex::new(BTreeMap::new()));
    let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&k) = known.get(name) {
        return k;
    }
    let env = environment();
    let exists = !matches!(
        env.render_str(&format!("{{{{ 1 | {name} }}}}"), ()),
        Err(e) if e.kind() == minijinja::ErrorKind::UnknownFilter
    );
    known.insert(name.to_owned(), exists);
    exists
}

/// The filters a field's text applies (`| name`), each with its byte range in the text:
/// inside `{{ }}` and `{% %}` only, string literals skipped.
fn filters_used(text: &str) -> Vec<(&str, Range<usize>)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut inside = false;
    while i < b.len() {
        if !inside {
            if b[i] == b'{' && matches!(b.get(i + 1), Some(b'{' | b'%')) {
                inside = true;
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        match b[i] {
            b'}' | b'%' if b.get(i + 1) == Some(&b'}') => {
                inside = false;
                i += 2;
            }
            b'"' | b'\'' => i = string_end(b, i) + 1,
            b'|' => {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if i > start {
                    out.push((&text[start..i], start..i));
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// The arguments of a filter call whose name ends at byte `at` of `text`: None without
/// parentheses (or when they are never closed); else each argument's byte range, and its
/// value when it is a plain string literal (`'$'`, `"%d/%m"`).
fn filter_args(text: &str, at: usize) -> Option<Vec<(Option<String>, Range<usize>)>> {
    let b = text.as_bytes();
    let mut i = at;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    if b.get(i) != Some(&b'(') {
        return None;
    }
    let mut args = Vec::new();
    let (mut depth, mut start) = (0usize, i + 1);
    let push = |from: usize, to: usize, args: &mut Vec<(Option<String>, Range<usize>)>| {
        let raw = &text[from..to];
        let lead = raw.len() - raw.trim_start().len();
        let r = from + lead..from + lead + raw.trim().len();
        if !r.is_empty() {
            args.push((string_literal(&text[r.clone()]), r));
        }
    };
    i += 1;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => i = string_end(b, i),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth > 0 => depth -= 1,
            b')' => {
                push(start, i, &mut args);
                return Some(args);
            }
            b',' if depth == 0 => {
                push(start, i, &mut args);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The value of `s` if it is one string literal and nothing else (escapes `\\`, `\'`, `\"`,
/// `\n`, `\t` undone; any other escape, and so any doubt, gives None).
fn string_literal(s: &str) -> Option<String> {
    let q = s.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let body = s.strip_prefix(q)?.strip_suffix(q)?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(match chars.next()? {
                e @ ('\\' | '\'' | '"') => e,
                'n' => '\n',
                't' => '\t',
                _ => return None,
            }),
            c if c == q => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// What kairos's own filters take: at most this many arguments, each a string.
fn own_filter_arity(name: &str) -> Option<(usize, &'static str)> {
    match name {
        "money" => Some((1, "at most one argument, a currency symbol: `money` or `money(\"$\")`")),
        "date" => Some((1, "at most one argument, a strftime format: `date` or `date(\"%d/%m/%Y\")`")),
        "first_name" => Some((0, "no arguments: `first_name`")),
        _ => None,
    }
}

/// Every filter a field applies must exist: an unknown one (`defualt`) is an error here, at
/// its place, rather than a failed `run`. kairos's own filters (`money`, `date`,
/// `first_name`) must be given what they take, and a literal `date` format must be one.
fn check_filters(c: &Compiled, file: &Path, src: &Arc<str>, diags: &mut Diagnostics) {
    let place = |d: Diagnostic, range: Range<usize>| match yaml::scalar_range(src, c.node, &c.value, range) {
        Some(r) => d.at(src, r),
        None => d.at(src, yaml::first_line(src, c.node..c.node + 1)),
    };
    for (name, range) in filters_used(&c.value) {
        if let (Some((most, takes)), Some(args)) = (own_filter_arity(name), filter_args(&c.value, range.end)) {
            if args.len() > most {
                let extra = args[most].1.start..args[args.len() - 1].1.end;
                let d = Diagnostic::error(
                    file,
                    format!(
                        "filter `{name}` in `{}` is given {} argument{}: it takes {takes}",
                        c.name,
                        args.len(),
                        if args.len() == 1 { "" } else { "s" }
                    ),
                );
                diags.push(place(d, extra));
            } else if let (Some(first), false) = (args.first(), most == 0) {
                match &first.0 {
                    Some(fmt) if name == "date" && render::date_items(Some(fmt)).is_none() => {
                        let d = Diagnostic::error(
                            file,
                            format!("filter `date` in `{}`: {fmt:?} is not a strftime format", c.name),
                        )
                        .with_hint("e.g. `%-d %B %Y` (5 March 2025), `%d/%m/%Y`, `%Y-%m-%d %H:%M`".to_owned());
                        diags.push(place(d, first.1.clone()));
                    }
                    _ => {}
                }
            }
        }
        if filter_exists(name) {
            continue;
        }
        let hint = crate::diag::did_you_mean(name, FILTERS.iter().copied().filter(|f| filter_exists(f)))
            .map_or_else(|| format!("the filters are: {}", FILTERS.join(", ")), |x| format!("did you mean `{x}`?"));
        let d = Diagnostic::error(file, format!("unknown filter `{name}` in `{}`", c.name)).with_hint(hint);
        diags.push(place(d, range));
    }
}

/// A minijinja error as a diagnostic at its place in the file.
fn template_error(file: &Path, src: &Arc<str>, c: &Compiled, e: &minijinja::Error, what: &str) -> Diagnostic {
    let detail = e.detail().map_or_else(|| e.kind().to_string(), str::to_owned);
    let d = Diagnostic::error(file, format!("{what} in `{}`: {detail}", c.name));
    match e.range().and_then(|r| yaml::scalar_range(src, c.node, &c.value, r)) {
        Some(r) => d.at(src, yaml::first_line(src, r)),
        None => match e
            .line()
            .and_then(|l| line_range(&c.value, l))
            .and_then(|r| yaml::scalar_range(src, c.node, &c.value, r))
        {
            Some(r) => d.at(src, yaml::first_line(src, r)),
            None => d.at(src, yaml::first_line(src, c.node..c.node + 1)),
        },
    }
}

/// The byte range of 1-based line `line` of `text`.
fn line_range(text: &str, line: usize) -> Option<Range<usize>> {
    let mut start = 0;
    for (i, l) in text.split('\n').enumerate() {
        if i + 1 == line {
            return Some(start..start + l.len());
        }
        start += l.len() + 1;
    }
    None
}

/// Where `path` (a variable such as `customer.nmae`) is first read in a template's text.
fn find_var(text: &str, path: &str) -> Option<Range<usize>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(i) = text[from..].find(path).map(|i| i + from) {
        let before = text[..i].chars().next_back();
        let after = text[i + path.len()..].chars().next();
        if !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident) {
            return Some(i..i + path.len());
        }
        from = i + path.len();
    }
    None
}

/// Check the variables a field reads; record which inputs it needs.
fn check_vars(
    vars: &std::collections::HashSet<String>,
    c: &Compiled,
    file: &Path,
    src: &Arc<str>,
    known: &Known<'_>,
    needs: &mut Needs,
    diags: &mut Diagnostics,
) {
    let mut vars: Vec<&String> = vars.iter().collect();
    vars.sort();
    for var in vars {
        let (root, field) = match var.split_once('.') {
            Some((r, f)) => (r, Some(f.split('.').next().unwrap_or(f))),
            None => (var.as_str(), None),
        };
        let problem: Option<(String, Option<String>)> = match (root, field) {
            (r, _) if MESSAGE_VARS.contains(&r) || GLOBALS.contains(&r) => None,
            ("customer", f) => {
                note_field(&mut needs.customer, f);
                f.and_then(|f| unknown_column(f, known.customers, "customer", "the customers file"))
            }
            ("event", f) => {
                note_field(&mut needs.event, f);
                f.and_then(|f| {
                    let in_tx = known.tx.fields.iter().any(|(n, _)| n == f) || known.tx.open;
                    let in_ev = known.events.fields.iter().any(|(n, _)| n == f) || known.events.open;
                    (!in_tx && !in_ev).then(|| {
                        let names = known.tx.fields.iter().chain(&known.events.fields).map(|(n, _)| n.as_str());
                        (
                            format!("unknown variable `event.{f}`: neither the transactions nor the events file has a column `{f}`"),
                            did_you_mean(f, names).map(|x| format!("did you mean `event.{x}`?")),
                        )
                    })
                })
            }
            ("item", f) => {
                note_field(&mut needs.item, f);
                f.and_then(|f| unknown_column(f, known.catalog, "item", "the catalogue file"))
            }
            ("trigger", Some(f)) if !TRIGGER_FIELDS.contains(&f) => Some((
                format!("unknown variable `trigger.{f}`"),
                Some(did_you_mean(f, TRIGGER_FIELDS.iter().copied()).map_or_else(
                    || format!("`trigger` has {}", TRIGGER_FIELDS.join(", ")),
                    |x| format!("did you mean `trigger.{x}`?"),
                )),
            )),
            ("trigger", _) => None,
            ("history", f) => {
                needs.history = true;
                match f {
                    Some(f) if !HISTORY_FIELDS.contains(&f) => Some((
                        format!("unknown variable `history.{f}`"),
                        Some(did_you_mean(f, HISTORY_FIELDS.iter().copied()).map_or_else(
                            || format!("`history` has {}", HISTORY_FIELDS.join(", ")),
                            |x| format!("did you mean `history.{x}`?"),
                        )),
                    )),
                    // Spend with no amount column would render 0 for everyone, silently.
                    Some(f @ ("spend" | "spend_365d")) => {
                        known.tx.measure_problem(crate::model::Measure::Spend).map(|_| {
                            (
                                format!("`history.{f}` sums an `amount` column, which the transactions file lacks,"),
                                Some("map the amount column with `columns:` in kairos.yaml".to_owned()),
                            )
                        })
                    }
                    _ => None,
                }
            }
            ("fact", f) => {
                needs.facts = true;
                match f {
                    Some(f) if !known.facts.contains(f) => Some((
                        format!("unknown variable `fact.{f}`: no dialogue remembers `{f}`"),
                        did_you_mean(f, known.facts.iter().map(String::as_str))
                            .map(|x| format!("did you mean `fact.{x}`?")),
                    )),
                    _ => None,
                }
            }
            (r, _) => {
                let all = MESSAGE_VARS.iter().chain(RECORDS).copied();
                Some((
                    format!("unknown variable `{r}`"),
                    Some(did_you_mean(r, all).map_or_else(
                        || format!("templates can use {}, and {}", RECORDS.join(", "), MESSAGE_VARS.join(", ")),
                        |x| format!("did you mean `{x}`?"),
                    )),
                ))
            }
        };
        if let Some((message, hint)) = problem {
            let at = find_var(&c.value, var)
                .or_else(|| find_var(&c.value, root))
                .and_then(|r| yaml::scalar_range(src, c.node, &c.value, r))
                .unwrap_or_else(|| yaml::first_line(src, c.node..c.node + 1));
            diags.push(Diagnostic::error(file, format!("{message} in `{}`", c.name)).at(src, at).with_hint_opt(hint));
        }
    }
}

fn note_field(set: &mut Option<BTreeSet<String>>, field: Option<&str>) {
    match (set.as_mut(), field) {
        (Some(s), Some(f)) => {
            s.insert(f.to_owned());
        }
        (Some(_), None) => *set = None,
        (None, _) => {}
    }
}

fn unknown_column(f: &str, schema: &Schema, record: &str, file: &str) -> Option<(String, Option<String>)> {
    let bare = file.strip_prefix("the ").unwrap_or(file);
    if schema.open || schema.fields.iter().any(|(n, _)| n == f) {
        return None;
    }
    if schema.fields.is_empty() {
        return Some((format!("unknown variable `{record}.{f}`: no {bare} is given"), None));
    }
    Some((
        format!("unknown variable `{record}.{f}`: {file} has no column `{f}`"),
        did_you_mean(f, schema.fields.iter().map(|(n, _)| n.as_str())).map(|x| format!("did you mean `{record}.{x}`?")),
    ))
}

/// A template named by a dialogue: (key, channel, dialogue file, what names it, and the
/// file's text with the range of the key in it).
pub type TemplateUse<'u> = (&'u str, &'u str, &'u Path, String, (&'u std::sync::Arc<str>, std::ops::Range<usize>));

impl Templates {
    /// The template of `key`, if there is one.
    pub fn get(&self, key: &str) -> Option<&Template> {
        self.keys.get(key)
    }

    /// Every (template key, channel) the dialogues send that has no template or no part for
    /// the channel, as errors in the dialogue file. `uses` yields (key, channel, dialogue
    /// file, which step).
    /// Problems with the templates the dialogues name: (key, channel, dialogue file, what
    /// names it, and where in the file's text the key is written).
    pub fn missing<'u>(&self, uses: impl IntoIterator<Item = TemplateUse<'u>>) -> Vec<Diagnostic> {
        let mut out: BTreeMap<(PathBuf, String), Diagnostic> = BTreeMap::new();
        for (key, channel, file, at, (source, span)) in uses {
            let problem = match self.keys.get(key) {
                None if self.broken.contains(key) => None,
                None => {
                    let hint = did_you_mean(key, self.keys.keys().map(String::as_str)).map_or_else(
                        || format!("add {}", self.dir.join(format!("{key}.yaml")).display()),
                        |k| format!("did you mean `{k}`?"),
                    );
                    Some((format!("{at}: template `{key}` has no file in {}", self.dir.display()), hint))
                }
                Some(t) if !t.parts.contains_key(channel) => {
                    let has: Vec<&str> = t.parts.keys().map(String::as_str).collect();
                    Some((
                        format!("{at}: template `{key}` has no `{channel}` part (it has {})", has.join(", ")),
                        format!("add a `{channel}:` part to {}", t.file.display()),
                    ))
                }
                Some(_) => None,
            };
            if let Some((message, hint)) = problem {
                out.entry((file.to_path_buf(), message.clone()))
                    .or_insert_with(|| Diagnostic::error(file, message).at(source, span).with_hint(hint));
            }
        }
        // In the order they are written in each file.
        let mut out: Vec<Diagnostic> = out.into_values().collect();
        out.sort_by_key(|d| (d.file.clone(), d.span.as_ref().map(|r| r.start)));
        out
    }
}

#[cfg(test)]
mod tests;
