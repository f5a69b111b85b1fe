//! A dialogue graph (`graph::build`) laid out in layers and drawn as SVG for the report, no
//! script or external renderer needed. Layers by longest path from the start (edges back up
//! are drawn on the right), order within a layer by barycentres, and edge labels placed where
//! they overlap neither a node nor another label.

use std::fmt::Write as _;

use super::graph::Graph;
use super::html::esc;

const CHAR_W: f64 = 7.0;
const LINE_H: f64 = 16.0;
const LABEL_CHAR_W: f64 = 6.6;
const LABEL_LINE_H: f64 = 14.0;
const GAP_X: f64 = 36.0;
const MARGIN: f64 = 16.0;

/// An axis-aligned box: left, top, width, height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }
    fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
}

/// A cubic Bézier curve: start, two control points, end.
pub type Curve = [(f64, f64); 4];

/// Where everything goes.
#[derive(Debug, Clone)]
pub struct Placed {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<Rect>,
    /// Per edge: the path's points (start, control 1, control 2, end) and its label's box.
    pub edges: Vec<(Curve, Option<Rect>)>,
}

fn lines(s: &str) -> Vec<&str> {
    s.split('\n').collect()
}

fn label_size(s: &str) -> (f64, f64) {
    let l = lines(s);
    let w = l.iter().map(|x| x.chars().count()).max().unwrap_or(0) as f64 * LABEL_CHAR_W + 10.0;
    (w, l.len() as f64 * LABEL_LINE_H + 4.0)
}

fn bezier(p: &Curve, t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    (a * p[0].0 + b * p[1].0 + c * p[2].0 + d * p[3].0, a * p[0].1 + b * p[1].1 + c * p[2].1 + d * p[3].1)
}

/// Edge labels wider than this many characters are wrapped at spaces.
const WRAP: usize = 30;

/// A label with its long lines wrapped at spaces (a word longer than `WRAP` stays whole).
fn wrap(label: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in label.split('\n') {
        let mut cur = String::new();
        for word in line.split(' ') {
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > WRAP {
                out.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push(cur);
    }
    out.join("\n")
}

/// The graph with its edge labels wrapped for drawing.
fn wrapped(g: &Graph) -> Graph {
    let mut g = g.clone();
    for e in &mut g.edges {
        e.label = wrap(&e.label);
    }
    g
}

/// Lay the graph out (edge labels as given; `svg` wraps long ones first).
pub fn place(g: &Graph) -> Placed {
    let n = g.nodes.len();
    let idx = |id: &str| g.nodes.iter().position(|(n, _, _)| n == id);
    let edges: Vec<(usize, usize)> = g.edges.iter().filter_map(|e| Some((idx(&e.from)?, idx(&e.to)?))).collect();
    // Back edges: found by a depth-first walk from the roots in node order.
    let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
    let mut back = vec![false; edges.len()];
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            let out: Vec<usize> = (0..edges.len()).filter(|&k| edges[k].0 == v).collect();
            if *next < out.len() {
                let k = out[*next];
                *next += 1;
                let w = edges[k].1;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => back[k] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    // Longest path layers over the forward edges (a DAG).
    let mut rank = vec![0usize; n];
    for _ in 0..n {
        let mut changed = false;
        for (k, &(a, b)) in edges.iter().enumerate() {
            if !back[k] && a != b && rank[b] < rank[a] + 1 {
                rank[b] = rank[a] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let layers = rank.iter().max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for v in 0..n {
        rows[rank[v]].push(v);
    }
    // Barycentre sweeps: each node moves towards the mean position of its neighbours.
    let mut pos = vec![0.0f64; n];
    let set_pos = |rows: &Vec<Vec<usize>>, pos: &mut Vec<f64>| {
        for r in rows {
            for (i, &v) in r.iter().enumerate() {
                pos[v] = i as f64;
            }
        }
    };
    set_pos(&rows, &mut pos);
    for sweep in 0..4 {
        let down = sweep % 2 == 0;
        let order: Vec<usize> =
            if down { (1..layers).collect() } else { (0..layers.saturating_sub(1)).rev().collect() };
        for l in order {
            let mut keyed: Vec<(f64, usize, usize)> = rows[l]
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let nb: Vec<f64> = edges
                        .iter()
                        .filter_map(|&(a, b)| {
                            let other = if down && b == v {
                                a
                            } else if !down && a == v {
                                b
                            } else {
                                return None;
                            };
                            (rank[other] != rank[v]).then_some(pos[other])
                        })
                        .collect();
                    let bc = if nb.is_empty() { i as f64 } else { nb.iter().sum::<f64>() / nb.len() as f64 };
                    (bc, i, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            rows[l] = keyed.into_iter().map(|(_, _, v)| v).collect();
            set_pos(&rows, &mut pos);
        }
    }
    // Sizes.
    let size: Vec<(f64, f64)> = g
        .nodes
        .iter()
        .map(|(_, label, kind)| {
            let l = lines(label);
            let chars = l.iter().map(|x| x.chars().count()).max().unwrap_or(0) as f64;
            let pad = if *kind == "goal" || *kind == "follow" { 44.0 } else { 24.0 };
            ((chars * CHAR_W + pad).max(80.0), l.len() as f64 * LINE_H + 14.0)
        })
        .collect();
    // Rows: room between layers for the labels of the edges leaving them.
    let mut y = MARGIN;
    let mut nodes = vec![Rect { x: 0.0, y: 0.0, w: 0.0, h: 0.0 }; n];
    let row_w: Vec<f64> = rows
        .iter()
        .map(|r| r.iter().map(|&v| size[v].0).sum::<f64>() + GAP_X * r.len().saturating_sub(1) as f64)
        .collect();
    let widest = row_w.iter().copied().fold(0.0, f64::max);
    for (l, r) in rows.iter().enumerate() {
        let h = r.iter().map(|&v| size[v].1).fold(0.0, f64::max);
        let mut x = MARGIN + (widest - row_w[l]) / 2.0;
        for &v in r {
            nodes[v] = Rect { x, y: y + (h - size[v].1) / 2.0, w: size[v].0, h: size[v].1 };
            x += size[v].0 + GAP_X;
        }
        let label_lines = g
            .edges
            .iter()
            .zip(&edges)
            .filter(|(_, (a, _))| rank[*a] == l)
            .map(|(e, _)| if e.label.is_empty() { 0 } else { lines(&e.label).len() })
            .sum::<usize>()
            .min(8);
        y += h + 46.0 + label_lines as f64 * LABEL_LINE_H;
    }
    let mut width = MARGIN * 2.0 + widest;
    let height = y - 46.0 + MARGIN;
    // Edges: forward ones leave the bottom and enter the top, spread over the node's width;
    // back and same-layer ones go round on the right.
    // Ports in the order of the other ends, left to right, so a node's edges do not cross.
    let forward = |k: usize| !back[k] && rank[edges[k].1] > rank[edges[k].0];
    let mut port_out = vec![(0usize, 1usize); edges.len()];
    let mut port_in = vec![(0usize, 1usize); edges.len()];
    for v in 0..n {
        let mut outs: Vec<usize> = (0..edges.len()).filter(|&k| forward(k) && edges[k].0 == v).collect();
        outs.sort_by(|&a, &b| nodes[edges[a].1].cx().total_cmp(&nodes[edges[b].1].cx()).then(a.cmp(&b)));
        for (i, &k) in outs.iter().enumerate() {
            port_out[k] = (i, outs.len());
        }
        let mut ins: Vec<usize> = (0..edges.len()).filter(|&k| forward(k) && edges[k].1 == v).collect();
        ins.sort_by(|&a, &b| nodes[edges[a].0].cx().total_cmp(&nodes[edges[b].0].cx()).then(a.cmp(&b)));
        for (i, &k) in ins.iter().enumerate() {
            port_in[k] = (i, ins.len());
        }
    }
    let spread = |r: &Rect, (k, of): (usize, usize)| r.x + r.w * (k as f64 + 1.0) / (of as f64 + 1.0);
    let mut placed_labels: Vec<Rect> = Vec::new();
    let mut around = 0.0;
    let mut paths = Vec::with_capacity(edges.len());
    for (k, &(a, b)) in edges.iter().enumerate() {
        let (ra, rb) = (nodes[a], nodes[b]);
        let pts = if forward(k) {
            let s = (spread(&ra, port_out[k]), ra.y + ra.h);
            let t = (spread(&rb, port_in[k]), rb.y);
            let dy = (t.1 - s.1).max(20.0) / 2.0;
            [s, (s.0, s.1 + dy), (t.0, t.1 - dy), t]
        } else {
            around += 1.0;
            let right = ra.x.max(rb.x) + ra.w.max(rb.w) + 28.0 * around;
            let s = (ra.x + ra.w, ra.y + ra.h / 2.0);
            let t = (rb.x + rb.w, rb.y + rb.h / 2.0 + if a == b { 8.0 } else { 0.0 });
            let s = if a == b { (s.0, s.1 - 8.0) } else { s };
            width = width.max(right + 20.0);
            [s, (right, s.1), (right, t.1), t]
        };
        let label = &g.edges[k].label;
        let rect = (!label.is_empty()).then(|| {
            let (w, h) = label_size(label);
            let at = |t: f64, dx: f64| {
                let (x, y) = bezier(&pts, t);
                Rect { x: x - w / 2.0 + dx, y: y - h / 2.0, w, h }
            };
            let free = |r: &Rect| {
                r.x >= 0.0 && !nodes.iter().any(|n| n.overlaps(r)) && !placed_labels.iter().any(|l| l.overlaps(r))
            };
            let mut choice = None;
            'search: for dx in [0.0, 1.0, -1.0, 2.0, -2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0] {
                for t in [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8] {
                    let r = at(t, dx * (w / 2.0 + 6.0));
                    if free(&r) {
                        choice = Some(r);
                        break 'search;
                    }
                }
            }
            // Nowhere free between: beside the graph, level with the edge's middle.
            let r = choice.unwrap_or_else(|| {
                let mid = bezier(&pts, 0.5);
                Rect { x: width + 8.0, y: mid.1 - h / 2.0, w, h }
            });
            width = width.max(r.x + r.w + MARGIN);
            placed_labels.push(r);
            r
        });
        paths.push((pts, rect));
    }
    let height = paths.iter().filter_map(|(_, r)| r.map(|r| r.y + r.h + MARGIN)).fold(height, f64::max);
    Placed { width, height, nodes, edges: paths }
}

/// The graph as an `<svg>` element; `uid` keeps its marker id apart from other graphs' on the page.
pub fn svg(g: &Graph, uid: &str) -> String {
    let g = &wrapped(g);
    let p = place(g);
    let mut s = String::new();
    let marker = format!("arrow-{uid}");
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"dialogue graph\" width=\"{:.0}\" height=\"{:.0}\" viewBox=\"0 0 {:.0} {:.0}\" font-family=\"system-ui, Helvetica, Arial, sans-serif\">",
        p.width.ceil(),
        p.height.ceil(),
        p.width.ceil(),
        p.height.ceil()
    );
    let _ = writeln!(
        s,
        "<defs><marker id=\"{marker}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#5b6475\"/></marker></defs>"
    );
    for (pts, _) in &p.edges {
        let _ = writeln!(
            s,
            "<path d=\"M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"none\" stroke=\"#5b6475\" stroke-width=\"1.3\" marker-end=\"url(#{marker})\"/>",
            pts[0].0, pts[0].1, pts[1].0, pts[1].1, pts[2].0, pts[2].1, pts[3].0, pts[3].1
        );
    }
    for ((node_id, label, kind), r) in g.nodes.iter().zip(&p.nodes) {
        let (fill, stroke) = match *kind {
            "start" => ("#e8f0fb", "#3b6fb6"),
            "end" => ("#eaf6ef", "#2f8f5b"),
            "goal" => ("#fff6e0", "#c98a00"),
            "follow" => ("#f3f5f9", "#5b6475"),
            _ => ("#ffffff", "#1d2330"),
        };
        let _ = write!(s, "<g data-node=\"{}\">", esc(node_id));
        match *kind {
            "goal" => {
                let i = 14.0;
                let _ = write!(
                    s,
                    "<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"/>",
                    r.x, r.y + r.h / 2.0, r.x + i, r.y, r.x + r.w - i, r.y, r.x + r.w, r.y + r.h / 2.0, r.x + r.w - i, r.y + r.h, r.x + i, r.y + r.h
                );
            }
            "follow" => {
                let i = 14.0;
                let _ = write!(
                    s,
                    "<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"/>",
                    r.x + i, r.y, r.x + r.w, r.y, r.x + r.w - i, r.y + r.h, r.x, r.y + r.h
                );
            }
            _ => {
                let rx = match *kind {
                    "start" => 16.0,
                    "end" => r.h / 2.0,
                    _ => 4.0,
                };
                let _ = write!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"{rx:.1}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{}\"/>",
                    r.x, r.y, r.w, r.h, if *kind == "end" { "2.5" } else { "1.5" }
                );
            }
        }
        let ls = lines(label);
        let top = r.y + (r.h - ls.len() as f64 * LINE_H) / 2.0 + 12.0;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{top:.1}\" text-anchor=\"middle\" font-size=\"12\" fill=\"#1d2330\">",
            r.cx()
        );
        for (i, l) in ls.iter().enumerate() {
            let weight = if i == 0 && *kind == "step" { " font-weight=\"700\"" } else { "" };
            let _ = write!(
                s,
                "<tspan x=\"{:.1}\" dy=\"{}\"{weight}>{}</tspan>",
                r.cx(),
                if i == 0 { 0.0 } else { LINE_H },
                esc(l)
            );
        }
        s.push_str("</text></g>\n");
    }
    for (e, (_, rect)) in g.edges.iter().zip(&p.edges) {
        let Some(r) = rect else { continue };
        let _ = write!(
            s,
            "<g class=\"edge-label\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.92\" stroke=\"#d9dee7\"/>",
            r.x, r.y, r.w, r.h
        );
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#3a4252\">",
            r.cx(),
            r.y + 13.0
        );
        for (i, l) in lines(&e.label).iter().enumerate() {
            let _ = write!(
                s,
                "<tspan x=\"{:.1}\" dy=\"{}\">{}</tspan>",
                r.cx(),
                if i == 0 { 0.0 } else { LABEL_LINE_H },
                esc(l)
            );
        }
        s.push_str("</text></g>\n");
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_wrap_at_spaces() {
        assert_eq!(
            wrap("purchase if category in [\"furniture\", \"kitchen\"]"),
            "purchase if category in\n[\"furniture\", \"kitchen\"]"
        );
        assert_eq!(wrap("answer no\nno answer in 3d"), "answer no\nno answer in 3d");
        assert_eq!(wrap(&"x".repeat(40)), "x".repeat(40));
    }

    /// Every shipped dialogue: no edge label overlaps a node or another label, and nodes do
    /// not overlap each other.
    #[test]
    fn shipped_graphs_have_no_overlapping_labels_or_nodes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogues");
        let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        files.sort();
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let plan = crate::dialogue::test_plan(&refs);
        assert_eq!(plan.dialogues.len(), files.len());
        for d in 0..plan.dialogues.len() {
            let g = wrapped(&super::super::graph::build(&plan, d));
            let p = place(&g);
            let id = &plan.dialogues[d].id;
            let labels: Vec<Rect> = p.edges.iter().filter_map(|(_, r)| *r).collect();
            assert_eq!(labels.len(), g.edges.iter().filter(|e| !e.label.is_empty()).count(), "{id}");
            for (i, a) in labels.iter().enumerate() {
                assert!(
                    a.x >= 0.0 && a.x + a.w <= p.width + 0.01 && a.y + a.h <= p.height + 0.01,
                    "{id}: label {i} outside"
                );
                for n in &p.nodes {
                    assert!(!a.overlaps(n), "{id}: label {i} overlaps a node");
                }
                for b in &labels[i + 1..] {
                    assert!(!a.overlaps(b), "{id}: labels overlap");
                }
            }
            for (i, a) in p.nodes.iter().enumerate() {
                for b in &p.nodes[i + 1..] {
                    assert!(!a.overlaps(b), "{id}: nodes overlap");
                }
            }
        }
    }
}
