//! `kairos graph`: a dialogue as a Mermaid flowchart or a Graphviz DOT graph.

use crate::dialogue::plan::{After, Exit, Trigger};
use crate::dialogue::Plan;
use crate::model::format_duration;

/// Which graph language to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Mermaid,
    Dot,
}

/// An edge of a dialogue graph; parallel edges are merged, their labels one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: String,
}

/// A node: id, label (lines), kind (`start`, `step`, `end`, `goal`, `follow`).
pub type Node = (String, String, &'static str);

/// A dialogue as nodes and edges, in a stable order (the one `render` writes).
#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

fn exit_target(plan: &Plan, e: &Exit, nodes: &mut Vec<(String, String, &'static str)>) -> String {
    match e {
        Exit::Goto(s) => format!("s{s}"),
        Exit::End { outcome, start } => {
            let id = node(nodes, "end", outcome, outcome.clone());
            if let Some(next) = start {
                node(nodes, "follow", &plan.dialogues[*next].id, follow_label(plan, *next));
            }
            id
        }
    }
}

fn follow_label(plan: &Plan, next: usize) -> String {
    format!("start {}", plan.dialogues[next].id)
}

/// The id of the `kind` node labelled `label`, added if new: `end_` or `follow_` and `name`
/// made an identifier, with `_2`, `_3`, ... when another name made the same one
/// (`accepted-offer` and `accepted offer` are two ends, not one).
fn node(nodes: &mut Vec<(String, String, &'static str)>, kind: &'static str, name: &str, label: String) -> String {
    if let Some(id) = node_of(nodes, kind, &label) {
        return id;
    }
    let base = format!("{kind}_{}", sanitize(name));
    let mut id = base.clone();
    let mut n = 1;
    while nodes.iter().any(|(i, _, _)| *i == id) {
        n += 1;
        id = format!("{base}_{n}");
    }
    nodes.push((id.clone(), label, kind));
    id
}

/// The id of an existing node.
fn node_of(nodes: &[(String, String, &'static str)], kind: &str, label: &str) -> Option<String> {
    nodes.iter().find(|(_, l, k)| *k == kind && l == label).map(|(id, _, _)| id.clone())
}

fn branch_label(b: &crate::dialogue::plan::Branch) -> String {
    let conds: Vec<&str> = [&b.cond, &b.when].into_iter().flatten().map(|c| c.src.as_str()).collect();
    if conds.is_empty() {
        b.label.clone()
    } else {
        format!("{} if {}", b.label, conds.join(" and "))
    }
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// The start node: the trigger with its parameters, and the dialogue's `when:`.
fn trigger_label(d: &crate::dialogue::plan::Dialogue) -> String {
    use crate::dialogue::plan::Absence;
    use crate::input::table::format_num;
    let filter =
        |c: &Option<crate::dialogue::plan::Cond>| c.as_ref().map(|c| format!(" where {}", c.src)).unwrap_or_default();
    let window = |v: &crate::expr::Ir| match v {
        crate::expr::Ir::Hist { window: Some(w), .. } => format!(" within {}", format_duration(*w)),
        _ => String::new(),
    };
    let mut label = match &d.trigger {
        None => "started by another dialogue".to_owned(),
        Some(Trigger::Absence(Absence::Fixed { after })) => format!("absence {}", format_duration(*after)),
        Some(Trigger::Absence(Absence::Usual { factor, min_orders, at_least })) => format!(
            "absence > {factor}x usual gap (at least {}, after {min_orders} orders)",
            format_duration(*at_least)
        ),
        Some(Trigger::Event { kind, cond }) => format!("event {kind}{}", filter(cond)),
        Some(Trigger::Announcement { kinds, matcher, cond, index }) => format!(
            "announcement of {}{}{}{}",
            kinds.join(", "),
            matcher.as_ref().map(|m| format!(" matching {}", m.src)).unwrap_or_default(),
            if index.is_some() { " (indexed)" } else { " (scan)" },
            filter(cond)
        ),
        Some(Trigger::NthOrder { n, cond }) => {
            format!("order #{}{}", n.iter().map(u32::to_string).collect::<Vec<_>>().join(", #"), filter(cond))
        }
        Some(Trigger::Purchase { cond }) => format!("purchase{}", filter(cond)),
        Some(Trigger::NewCategory { categories, cond, .. }) => {
            let cats = if categories.is_empty() { String::new() } else { format!(" in {}", categories.join(", ")) };
            format!("{}{cats}{}", d.trigger_kind, filter(cond))
        }
        Some(Trigger::Frequent { of, values, count, within, cond }) => {
            let vals = if values.is_empty() { String::new() } else { format!(" ({})", values.join(", ")) };
            let w = within.map(|w| format!(" within {}", format_duration(w))).unwrap_or_default();
            format!("{}: {count} purchases of one {of}{vals}{w}{}", d.trigger_kind, filter(cond))
        }
        Some(Trigger::Crossing { measure, value, level, cap: None, .. }) => {
            format!("threshold: {measure} reaches {}{}", format_num(*level), window(value))
        }
        Some(Trigger::Crossing { measure, value, level, target, .. }) => format!(
            "one_away: {measure} within {} of {}{}",
            format_num(target - level),
            format_num(*target),
            window(value)
        ),
    };
    if let Some(w) = &d.when {
        label.push_str(&format!("\nwhen {}", w.src));
    }
    label
}

/// The graph of dialogue `d`.
pub fn build(plan: &Plan, d: usize) -> Graph {
    let dlg = &plan.dialogues[d];
    let mut nodes: Vec<(String, String, &'static str)> =
        vec![("start".into(), format!("trigger: {}", trigger_label(dlg)), "start")];
    let mut edges = vec![Edge { from: "start".into(), to: "s0".into(), label: String::new() }];
    for (i, s) in dlg.steps.iter().enumerate() {
        let mut label = s.id.clone();
        for (k, m) in s.ladder.iter().enumerate() {
            let when = if k == 0 {
                if m.offset > 0 {
                    format!(" after {}", format_duration(m.offset))
                } else {
                    String::new()
                }
            } else {
                format!(" +{}", format_duration(m.offset))
            };
            label.push_str(&format!("\n{}{when}{}", m.label(), m.when_label()));
        }
        nodes.push((format!("s{i}"), label, "step"));
        for b in &s.on {
            let to = exit_target(plan, &b.exit, &mut nodes);
            edges.push(Edge { from: format!("s{i}"), to, label: branch_label(b) });
        }
        let wait = match &s.after {
            After::Wait(w, _) => format!("wait {} ", format_duration(*w)),
            _ => String::new(),
        };
        for (c, e) in &s.choices {
            let to = exit_target(plan, e, &mut nodes);
            edges.push(Edge { from: format!("s{i}"), to, label: format!("{wait}if {}", c.src) });
        }
        let otherwise = if s.choices.is_empty() { "" } else { "otherwise" };
        match &s.after {
            After::Now(e) => {
                let to = exit_target(plan, e, &mut nodes);
                edges.push(Edge { from: format!("s{i}"), to, label: otherwise.to_owned() });
            }
            After::Wait(w, e) => {
                let to = exit_target(plan, e, &mut nodes);
                let label =
                    format!("wait {}{}", format_duration(*w), if otherwise.is_empty() { "" } else { ", otherwise" });
                edges.push(Edge { from: format!("s{i}"), to, label });
            }
            After::Timeout(w, e) => {
                let to = exit_target(plan, e, &mut nodes);
                edges.push(Edge { from: format!("s{i}"), to, label: format!("no answer in {}", format_duration(*w)) });
            }
            After::Forever => {}
        }
    }
    for g in &dlg.goals {
        let to = exit_target(plan, &g.exit, &mut nodes);
        edges.push(Edge { from: "goals".into(), to, label: branch_label(g) });
    }
    if !dlg.goals.is_empty() {
        nodes.push(("goals".into(), "any time (goals)".into(), "goal"));
    }
    // Follow-on edges from end nodes.
    let follow: Vec<(String, String)> = nodes
        .iter()
        .filter(|(_, _, k)| *k == "follow")
        .map(|(id, label, _)| (id.clone(), label.clone()))
        .flat_map(|(fid, flabel)| {
            let mut v = Vec::new();
            let walk = |e: &Exit, v: &mut Vec<(String, String)>| {
                if let Exit::End { outcome, start: Some(n) } = e {
                    if follow_label(plan, *n) == flabel {
                        if let Some(end) = node_of(&nodes, "end", outcome) {
                            v.push((end, fid.clone()));
                        }
                    }
                }
            };
            for g in &dlg.goals {
                walk(&g.exit, &mut v);
            }
            for s in &dlg.steps {
                for b in &s.on {
                    walk(&b.exit, &mut v);
                }
                if let After::Now(e) | After::Wait(_, e) | After::Timeout(_, e) = &s.after {
                    walk(e, &mut v);
                }
                for (_, e) in &s.choices {
                    walk(e, &mut v);
                }
            }
            v
        })
        .collect();
    for (from, to) in follow {
        if !edges.iter().any(|e| e.from == from && e.to == to) {
            edges.push(Edge { from, to, label: String::new() });
        }
    }
    // Two ways from one node to another are one edge with both labels, not two labels drawn
    // on top of each other.
    let mut merged: Vec<Edge> = Vec::with_capacity(edges.len());
    for e in edges {
        match merged.iter_mut().find(|m| m.from == e.from && m.to == e.to) {
            Some(m) if !e.label.is_empty() => {
                if !m.label.is_empty() {
                    m.label.push('\n');
                }
                m.label.push_str(&e.label);
            }
            Some(_) => {}
            None => merged.push(e),
        }
    }
    Graph { nodes, edges: merged }
}

pub fn render(plan: &Plan, d: usize, format: Format) -> String {
    let dlg = &plan.dialogues[d];
    let Graph { nodes, edges } = build(plan, d);
    match format {
        Format::Mermaid => {
            // Inside a quoted label Mermaid reads `#name;` as an entity and `<...>` as HTML:
            // each is written as an entity code, so `amount < 10 & #1` shows as written.
            let esc = |s: &str| mermaid_text(s);
            let mut out = format!("flowchart TD\n  %% {}\n", dlg.id);
            for (id, label, kind) in &nodes {
                let l = esc(label);
                out.push_str(&match *kind {
                    "start" => format!("  {id}([\"{l}\"])\n"),
                    "end" => format!("  {id}((\"{l}\"))\n"),
                    "goal" => format!("  {id}{{{{\"{l}\"}}}}\n"),
                    "follow" => format!("  {id}[/\"{l}\"/]\n"),
                    _ => format!("  {id}[\"{l}\"]\n"),
                });
            }
            for e in &edges {
                if e.label.is_empty() {
                    out.push_str(&format!("  {} --> {}\n", e.from, e.to));
                } else {
                    out.push_str(&format!("  {} -- \"{}\" --> {}\n", e.from, esc(&e.label), e.to));
                }
            }
            out
        }
        Format::Dot => {
            let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            let mut out = format!("digraph \"{}\" {{\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n", esc(&dlg.id));
            for (id, label, kind) in &nodes {
                let shape = match *kind {
                    "start" => "oval",
                    "end" => "doublecircle",
                    "goal" => "hexagon",
                    "follow" => "parallelogram",
                    _ => "box",
                };
                out.push_str(&format!("  {id} [shape={shape}, label=\"{}\"];\n", esc(label)));
            }
            for e in &edges {
                if e.label.is_empty() {
                    out.push_str(&format!("  {} -> {};\n", e.from, e.to));
                } else {
                    out.push_str(&format!("  {} -> {} [label=\"{}\"];\n", e.from, e.to, esc(&e.label)));
                }
            }
            out.push_str("}\n");
            out
        }
    }
}

/// Text for a quoted Mermaid label: characters Mermaid would read as markup as entity codes,
/// line breaks as `<br/>`.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '\n' => out.push_str("<br/>"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outcomes (and follow-on dialogues) whose names differ only in punctuation are nodes of
    /// their own: each answer still reaches its own end.
    #[test]
    fn ends_that_make_the_same_identifier_stay_apart() {
        let plan = crate::dialogue::test_plan(&[(
            "a",
            "trigger:\n  purchase: {}\nsteps:\n  - id: ask\n    send: {channel: email, template: ask}\n    on:\n      - {answer: yes, end: accepted-offer}\n      - {answer: no, end: accepted_offer}\n      - {answer: maybe, end: accepted offer}\n",
        )]);
        let g = build(&plan, 0);
        let ends: Vec<(&str, &str)> =
            g.nodes.iter().filter(|n| n.2 == "end").map(|n| (n.0.as_str(), n.1.as_str())).collect();
        assert_eq!(
            ends,
            [
                ("end_accepted_offer", "accepted-offer"),
                ("end_accepted_offer_2", "accepted_offer"),
                ("end_accepted_offer_3", "accepted offer")
            ]
        );
        let to = |answer: &str| g.edges.iter().find(|e| e.label == format!("answer {answer}")).unwrap().to.clone();
        assert_eq!(
            [to("yes"), to("no"), to("maybe")],
            ["end_accepted_offer", "end_accepted_offer_2", "end_accepted_offer_3"]
        );
    }

    #[test]
    fn mermaid_labels_write_markup_characters_as_entity_codes() {
        assert_eq!(mermaid_text("a < 10 & b > \"#1\"\nnext"), "a #lt; 10 #amp; b #gt; #quot;#35;1#quot;<br/>next");
        let plan = crate::dialogue::test_plan(&[(
            "a",
            "trigger:\n  purchase: {}\nsteps:\n  - id: ask\n    send: {channel: email, template: ask}\n    on:\n      - {answer: \"<b>#1</b>\", end: lost}\n",
        )]);
        let out = render(&plan, 0, Format::Mermaid);
        assert!(out.contains("answer #lt;b#gt;#35;1#lt;/b#gt;"), "{out}");
        assert!(!out.contains("<b>"), "{out}");
    }

    #[test]
    fn two_ways_to_one_node_are_one_edge_with_both_labels() {
        let plan = crate::dialogue::test_plan(&[(
            "a",
            "trigger:\n  purchase: {}\nsteps:\n  - id: ask\n    send: {channel: email, template: ask}\n    on:\n      - {answer: no, end: lost}\n    timeout: {after: 3d, end: lost}\n",
        )]);
        let g = build(&plan, 0);
        let to_lost: Vec<&Edge> = g.edges.iter().filter(|e| e.to == "end_lost").collect();
        assert_eq!(to_lost.len(), 1);
        assert_eq!(to_lost[0].label, "answer no\nno answer in 3d");
        assert!(render(&plan, 0, Format::Mermaid).contains("s0 -- \"answer no<br/>no answer in 3d\" --> end_lost"));
    }
}
