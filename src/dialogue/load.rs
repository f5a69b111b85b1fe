//! Loading dialogue files: find them, parse each (YAML with spans), reject duplicate ids, then
//! lower every dialogue (collecting every problem, not just the first) into the plan.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::expr::compile::Schema;
use crate::model::{ColType, RfmCuts, TableKind};
use crate::yaml;

use super::lower::{Checker, FileCtx};
use super::plan::Plan;
use super::raw::RawDialogue;

/// The columns conditions may use, per table.
#[derive(Debug, Clone)]
pub struct Schemas {
    pub tx: Schema,
    pub events: Schema,
    pub customers: Schema,
    /// The catalogue feed's columns, for `item.*`.
    pub catalog: Schema,
}

impl Schemas {
    /// Standard columns only, open to any other name (for `check` without input files).
    pub fn open(numeric: impl Fn(TableKind) -> Vec<String>) -> Self {
        let mk = |kind: TableKind, std: &[&str]| {
            let num = numeric(kind);
            let fields = std
                .iter()
                .map(|n| {
                    let ty = if num.iter().any(|x| x == n) { ColType::Num } else { ColType::Str };
                    ((*n).to_owned(), ty)
                })
                .collect();
            Schema::new(kind, fields, true)
        };
        Self {
            tx: mk(TableKind::Transactions, &["order_id", "product", "category", "quantity", "amount", "channel"]),
            events: mk(TableKind::Events, &["type", "dialogue", "step", "message_id", "answer", "channel"]),
            customers: mk(TableKind::Customers, &[]),
            catalog: mk(TableKind::Catalog, &["item_id", "type", "price", "old_price"]),
        }
    }
}

impl Schemas {
    /// The schemas of loaded data; a table not given keeps `open`'s standard event columns
    /// (closed) or, for customers, none.
    pub fn of_data(data: &crate::input::Data, open: &Schemas) -> Self {
        Schemas {
            tx: if data.tx_given { Schema::of_table(&data.tx) } else { Schema::not_given(TableKind::Transactions) },
            events: data
                .events
                .as_ref()
                .map_or_else(|| Schema::new(TableKind::Events, open.events.fields.clone(), false), Schema::of_table),
            customers: data
                .customers
                .as_ref()
                .map_or_else(|| Schema::new(TableKind::Customers, Vec::new(), false), Schema::of_table),
            catalog: data
                .catalog
                .as_deref()
                .map_or_else(|| Schema::new(TableKind::Catalog, Vec::new(), false), Schema::of_table),
        }
    }
}

struct Source {
    path: PathBuf,
    text: Arc<str>,
    raw: RawDialogue,
    id: String,
}

/// The dialogue files in `path` (a folder, read in name order, or one file).
pub fn dialogue_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Box<Diagnostic>> {
    let mut all: Vec<PathBuf> = Vec::new();
    for path in paths {
        if path.is_file() {
            all.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path)
            .map_err(|e| Box::new(Diagnostic::error(path, format!("cannot read the dialogues folder: {e}"))))?;
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let p = entry
                .map_err(|e| Box::new(Diagnostic::error(path, format!("cannot read the dialogues folder: {e}"))))?
                .path();
            // Every `*.yaml` that is not a folder: a link to nothing (or a loop) is read, and
            // fails saying so, rather than being left out without a word.
            if !p.is_dir() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                files.push(p);
            }
        }
        if files.is_empty() {
            return Err(Box::new(Diagnostic::error(path, "no dialogue files (*.yaml) in this folder")));
        }
        files.sort();
        all.extend(files);
    }
    // The same file given twice (a folder and a file in it) is read once.
    let mut seen = Vec::new();
    all.retain(|p| {
        let key = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    Ok(all)
}

/// The problems of the dialogue files' own shape (YAML syntax, unknown keys, value types),
/// which do not depend on kairos.yaml: what `check` still reports when kairos.yaml is broken.
pub fn shape_problems(paths: &[PathBuf]) -> Diagnostics {
    let mut diags = Diagnostics::default();
    match dialogue_files(paths) {
        Err(d) => diags.push(*d),
        Ok(files) => {
            for file in files {
                match std::fs::read_to_string(&file) {
                    Err(e) => diags.push(Diagnostic::error(&file, format!("cannot read: {e}"))),
                    Ok(text) => {
                        if let Err(ds) = yaml::parse::<RawDialogue>(&file, &text.into()) {
                            ds.into_iter().for_each(|d| diags.push(d));
                        }
                    }
                }
            }
        }
    }
    diags
}

/// What the project config tells the checker.
#[derive(Debug, Clone)]
pub struct Known {
    /// Tier names (empty: tiers are not configured; any name is accepted).
    pub tiers: Vec<String>,
    /// Template keys the mail tool has (None: not declared; not checked).
    pub templates: Option<Vec<String>>,
    pub rfm: RfmCuts,
    /// The declared channels: a message on any other is an error.
    pub channels: Vec<String>,
    /// Whether kairos.yaml configures `tiers:` at all (a `by_tier:` without them never applies).
    pub tiers_configured: bool,
}

impl Default for Known {
    fn default() -> Self {
        Known {
            tiers: Vec::new(),
            templates: None,
            rfm: RfmCuts::default(),
            channels: crate::model::DEFAULT_CHANNELS.iter().map(|(c, _)| (*c).to_owned()).collect(),
            tiers_configured: false,
        }
    }
}

/// Load, check and compile every dialogue. Returns the plan (possibly partial) and every
/// diagnostic; the plan is only usable when there are no errors.
pub fn load(paths: &[PathBuf], schemas: &Schemas, known: &Known) -> (Plan, Diagnostics) {
    let tiers = known.tiers.as_slice();
    let mut diags = Diagnostics::default();
    let files = match dialogue_files(paths) {
        Ok(f) => f,
        Err(d) => {
            diags.push(*d);
            return (Plan::default(), diags);
        }
    };
    let mut sources = Vec::new();
    for file in files {
        let text: Arc<str> = match std::fs::read_to_string(&file) {
            Ok(t) => t.into(),
            Err(e) => {
                diags.push(Diagnostic::error(&file, format!("cannot read: {e}")));
                continue;
            }
        };
        match yaml::parse::<RawDialogue>(&file, &text) {
            Err(ds) => ds.into_iter().for_each(|d| diags.push(d)),
            Ok(raw) => {
                let id =
                    raw.id.as_ref().map(|s| s.value.clone()).unwrap_or_else(|| {
                        file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
                    });
                sources.push(Source { path: file, text, raw, id });
            }
        }
    }
    sources.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.path.cmp(&b.path)));
    // Duplicate ids: report every later definition against the first.
    let mut first: BTreeMap<String, PathBuf> = BTreeMap::new();
    sources.retain(|s| {
        if let Some(prev) = first.get(&s.id) {
            let f = FileCtx { path: &s.path, src: &s.text };
            let d = match &s.raw.id {
                Some(id) => f.at(id, format!("duplicate dialogue id `{}`", s.id)),
                // The id is the file's name: point at the file's start.
                None => f.at_span(0..0, format!("duplicate dialogue id `{}` (from the file name)", s.id)),
            };
            diags.push(d.with_hint(format!("`{}` is already defined in {}", s.id, prev.display())));
            false
        } else {
            first.insert(s.id.clone(), s.path.clone());
            true
        }
    });
    let ids: Vec<String> = sources.iter().map(|s| s.id.clone()).collect();
    // Facts any dialogue remembers: every dialogue may read them.
    let mut facts: Vec<String> = sources
        .iter()
        .flat_map(|s| {
            let steps = s.raw.steps.value.iter().map(|st| &st.value);
            let step_facts = steps.clone().flat_map(|st| st.remember.keys());
            let branch_facts = steps.flat_map(|st| st.on.iter().flat_map(|b| b.value.remember.keys()));
            let goal_facts = s.raw.goals.iter().flat_map(|g| g.value.remember.keys());
            step_facts.chain(branch_facts).chain(goal_facts).cloned().collect::<Vec<_>>()
        })
        .collect();
    facts.sort();
    facts.dedup();
    let mut dialogues = Vec::new();
    for s in &sources {
        let f = FileCtx { path: &s.path, src: &s.text };
        let mut c = Checker {
            f,
            ids: &ids,
            tiers,
            templates: known.templates.as_deref(),
            channels: &known.channels,
            tiers_configured: known.tiers_configured,
            rfm: known.rfm.clone(),
            schemas: schemas.clone(),
            facts: &facts,
            diags: &mut diags,
            event_types: Vec::new(),
        };
        dialogues.push(c.dialogue(&s.id, &s.raw));
    }
    // Dialogues that nothing can start, reported at the file's start (where a trigger goes).
    for (i, d) in dialogues.iter().enumerate() {
        if d.trigger_kind == "follow_on" && !dialogues.iter().any(|o| super::analyze::starts(o, i)) {
            let f = FileCtx { path: &sources[i].path, src: &sources[i].text };
            diags.push(
                f.at_span(
                    0..0,
                    format!("dialogue `{}` has no trigger and no other dialogue starts it, so it can never run", d.id),
                )
                .with_severity(Severity::Warning)
                .with_hint("add a `trigger:` or start it from another dialogue with `start:`"),
            );
        }
    }
    // Dialogues that start each other at once, without end.
    if let Some(cycle) = super::analyze::follow_on_cycle(&dialogues) {
        let first = cycle[0];
        let names: Vec<String> = cycle.iter().map(|&i| format!("`{}`", dialogues[i].id)).collect();
        let f = FileCtx { path: &sources[first].path, src: &sources[first].text };
        diags.push(
            f.at_span(0..0, format!("dialogues {} start each other at once without end", names.join(" → ")))
                .with_hint("each ends at the instant it starts and starts the next: add a `wait:`, a `delay:` or a `timeout:` to one of them, or `reentry:` other than always"),
        );
    }
    let mut order: Vec<usize> = (0..dialogues.len()).collect();
    order.sort_by(|&a, &b| {
        dialogues[b].priority.cmp(&dialogues[a].priority).then_with(|| dialogues[a].id.cmp(&dialogues[b].id))
    });
    diags.sort();
    (Plan { dialogues, order, facts }, diags)
}
