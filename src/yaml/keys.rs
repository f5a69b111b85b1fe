//! Every unknown key of a YAML file at once. serde stops at the first key a struct does not
//! know (`deny_unknown_fields`); this walks the file's node tree against the JSON schema that
//! schemars derives from the same serde structs (so renames, maps and enums agree with serde)
//! and finds every key an object with `additionalProperties: false` does not list, and every
//! unknown variant of an externally tagged enum, each at its own span.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser};

/// A key no struct at its place knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// The key's bytes in the source.
    pub span: Range<usize>,
    pub key: String,
    /// `field` for a struct's key, else the name of the enum's key (`trigger`).
    pub what: String,
    /// The keys accepted there.
    pub expected: Vec<String>,
}

/// More than this and the file is left to serde (whose budget reports it).
const MAX_EVENTS: usize = 1_000_000;
const MAX_DEPTH: usize = 128;

enum Kind {
    Scalar(String),
    Seq(Vec<usize>),
    /// Keys and values, alternating.
    Map(Vec<usize>),
    Alias(usize),
}

struct Node {
    kind: Kind,
    span: Range<usize>,
}

struct Tree {
    nodes: Vec<Node>,
    /// Anchor id to node.
    anchors: HashMap<usize, usize>,
}

/// The first document's node tree, or `None` if the file does not parse (serde says why).
fn build(src: &str) -> Option<(Tree, usize)> {
    let mut parser = Parser::new_from_str(src);
    let mut tree = Tree { nodes: Vec::new(), anchors: HashMap::new() };
    // Open collections: the node and its children so far.
    let mut open: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut root = None;
    let mut events = 0;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.ok()?;
        events += 1;
        if events > MAX_EVENTS || open.len() > MAX_DEPTH {
            return None;
        }
        let range = span.byte_range().unwrap_or(0..0);
        let add = |tree: &mut Tree, kind: Kind, anchor: usize| {
            let id = tree.nodes.len();
            tree.nodes.push(Node { kind, span: range.clone() });
            if anchor != 0 {
                tree.anchors.insert(anchor, id);
            }
            id
        };
        let done = match event {
            Event::Scalar(value, _, anchor, _) => Some(add(&mut tree, Kind::Scalar(value.into_owned()), anchor)),
            Event::Alias(id) => Some(add(&mut tree, Kind::Alias(id), 0)),
            Event::SequenceStart(_, anchor, _) => {
                let id = add(&mut tree, Kind::Seq(Vec::new()), anchor);
                open.push((id, Vec::new()));
                None
            }
            Event::MappingStart(_, anchor, _) => {
                let id = add(&mut tree, Kind::Map(Vec::new()), anchor);
                open.push((id, Vec::new()));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (id, children) = open.pop()?;
                match &mut tree.nodes[id].kind {
                    Kind::Seq(c) | Kind::Map(c) => *c = children,
                    _ => return None,
                }
                Some(id)
            }
            Event::DocumentEnd if root.is_some() => break,
            _ => None,
        };
        if let Some(id) = done {
            match open.last_mut() {
                Some((_, children)) => children.push(id),
                None => root = root.or(Some(id)),
            }
        }
    }
    Some((tree, root?))
}

/// Every unknown key in `src` against `schema` (a schemars root schema with its `$defs`),
/// in source order. Empty when the file does not parse as YAML.
pub fn unknown(src: &str, schema: &Value) -> Vec<Unknown> {
    let Some((tree, root)) = build(src) else { return Vec::new() };
    let mut w = Walk { tree: &tree, root: schema, seen: HashSet::new(), found: Vec::new() };
    w.node(root, schema, "", 0);
    w.found.sort_by_key(|u| u.span.start);
    w.found.dedup_by_key(|u| u.span.start);
    w.found
}

struct Walk<'a> {
    tree: &'a Tree,
    root: &'a Value,
    /// (node, schema) pairs already walked: aliases are walked once per schema.
    seen: HashSet<(usize, *const Value)>,
    found: Vec<Unknown>,
}

impl<'a> Walk<'a> {
    /// Follow `$ref`s (to `#/$defs/...` of the root).
    fn resolve(&self, mut s: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(r) = s.get("$ref").and_then(Value::as_str) else { break };
            let Some(target) = r.strip_prefix('#').and_then(|p| self.root.pointer(p)) else { break };
            s = target;
        }
        s
    }

    /// The node an alias stands for (the node itself otherwise).
    fn target(&self, mut n: usize) -> usize {
        for _ in 0..32 {
            match self.tree.nodes[n].kind {
                Kind::Alias(a) => match self.tree.anchors.get(&a) {
                    Some(&t) => n = t,
                    None => break,
                },
                _ => break,
            }
        }
        n
    }

    fn scalar(&self, n: usize) -> Option<&'a str> {
        match &self.tree.nodes[self.target(n)].kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The alternatives of `anyOf`/`oneOf`, resolved.
    /// (nested ones flattened: `Option<Enum>` is `anyOf: [{oneOf: [...]}, null]`).
    fn alternatives(&self, s: &'a Value) -> Vec<&'a Value> {
        let mut out = Vec::new();
        self.collect_alternatives(s, &mut out, 0);
        out
    }

    fn collect_alternatives(&self, s: &'a Value, out: &mut Vec<&'a Value>, depth: usize) {
        for a in ["anyOf", "oneOf"].iter().filter_map(|k| s.get(*k).and_then(Value::as_array)).flatten() {
            let a = self.resolve(a);
            if !Self::is_object(a) && depth < 8 && (a.get("anyOf").is_some() || a.get("oneOf").is_some()) {
                self.collect_alternatives(a, out, depth + 1);
            } else {
                out.push(a);
            }
        }
    }

    /// `name`: the key under which this node sits (names an enum's unknown variant).
    fn node(&mut self, n: usize, schema: &'a Value, name: &str, depth: usize) {
        let n = self.target(n);
        let schema = self.resolve(schema);
        if depth > MAX_DEPTH || !self.seen.insert((n, schema as *const Value)) {
            return;
        }
        match &self.tree.nodes[n].kind {
            Kind::Map(children) => self.map(children, schema, name, depth),
            Kind::Seq(items) => {
                let item = schema.get("items").filter(|i| i.is_object()).or_else(|| {
                    let arrays: Vec<_> = self.alternatives(schema).into_iter().filter_map(|a| a.get("items")).collect();
                    (arrays.len() == 1).then(|| arrays[0])
                });
                if let Some(item) = item {
                    for &i in items {
                        self.node(i, item, name, depth + 1);
                    }
                }
            }
            Kind::Scalar(_) | Kind::Alias(_) => {}
        }
    }

    fn is_object(s: &Value) -> bool {
        s.get("properties").is_some()
            || s.get("additionalProperties").is_some()
            || s.get("type")
                .is_some_and(|t| t == "object" || t.as_array().is_some_and(|a| a.iter().any(|x| x == "object")))
    }

    fn map(&mut self, children: &[usize], schema: &'a Value, name: &str, depth: usize) {
        let object = if Self::is_object(schema) {
            schema
        } else {
            let objects: Vec<&Value> = self.alternatives(schema).into_iter().filter(|a| Self::is_object(a)).collect();
            match objects.as_slice() {
                [] => return,
                [one] => *one,
                many => return self.variant(children, many, name, depth),
            }
        };
        let props = object.get("properties").and_then(Value::as_object);
        let extra = object.get("additionalProperties");
        for pair in children.chunks(2) {
            let [k, v] = pair else { continue };
            let Some(key) = self.scalar(*k) else { continue };
            if key == "<<" {
                // A merge key: the merged mappings are part of this one.
                let v = self.target(*v);
                let merged: Vec<usize> = match &self.tree.nodes[v].kind {
                    Kind::Seq(items) => items.iter().map(|&i| self.target(i)).collect(),
                    _ => vec![v],
                };
                for m in merged {
                    if let Kind::Map(c) = &self.tree.nodes[m].kind {
                        if self.seen.insert((m, object as *const Value)) && depth < MAX_DEPTH {
                            self.map(c, object, name, depth + 1);
                        }
                    }
                }
                continue;
            }
            if let Some(p) = props.and_then(|p| p.get(key)) {
                self.node(*v, p, key, depth + 1);
                continue;
            }
            match extra {
                Some(Value::Bool(false)) => self.found.push(Unknown {
                    span: self.tree.nodes[*k].span.clone(),
                    key: key.to_owned(),
                    what: "field".to_owned(),
                    expected: props.map(|p| p.keys().cloned().collect()).unwrap_or_default(),
                }),
                Some(s) if s.is_object() => self.node(*v, s, key, depth + 1),
                _ => {}
            }
        }
    }

    /// A mapping where one of several object schemas fits: an externally tagged enum (each
    /// alternative one required key) is chosen by its single key.
    fn variant(&mut self, children: &[usize], alts: &[&'a Value], name: &str, depth: usize) {
        let tag = |a: &Value| -> Option<String> {
            match a.get("required")?.as_array()?.as_slice() {
                [Value::String(t)] => Some(t.clone()),
                _ => None,
            }
        };
        let tags: Vec<String> = alts.iter().filter_map(|a| tag(a)).collect();
        if tags.len() != alts.len() {
            return;
        }
        let [k, v] = children else { return };
        let Some(key) = self.scalar(*k) else { return };
        match alts.iter().find(|a| tag(a).as_deref() == Some(key)) {
            Some(alt) => {
                if let Some(p) = alt.get("properties").and_then(|p| p.get(key)) {
                    self.node(*v, p, key, depth + 1);
                }
            }
            None => self.found.push(Unknown {
                span: self.tree.nodes[*k].span.clone(),
                key: key.to_owned(),
                what: if name.is_empty() { "variant".to_owned() } else { name.to_owned() },
                expected: tags,
            }),
        }
    }
}
