//! A picture of a graph as SVG, laid out here in linear time per sweep, for
//! learners: operands below their users (the output on top, marked), every
//! constant drawn beside each of its uses instead of as a hub, edges
//! entering their user left to right in operand order (so `a - b` reads
//! as drawn), each edge's label (its local derivative, when the caller gives
//! them) next to its edge, and the canvas fitted to the drawing.
//!
//! The layout is layered: a node's layer is one below its lowest user's
//! (the outputs on top); nodes in a layer are ordered by a few barycenter sweeps (the
//! mean position of their neighbours in the layer below, then above), then
//! placed left to right at their neighbours' mean, packed without overlap.
//! Each sweep costs O(nodes + edges), so 2,000 nodes take milliseconds.

use super::DotOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Graph, NodeId, Op};
use std::fmt::Write;

/// Past this many drawn boxes the picture cannot be read; [`svg`] refuses it.
pub const MAX_SVG_NODES: usize = 5_000;

const CHAR_W: f64 = 7.2;
const LINE_H: f64 = 15.0;
const PAD: f64 = 8.0;
const GAP_X: f64 = 24.0;
const GAP_Y: f64 = 70.0;
const SWEEPS: usize = 4;
/// The width of the "output" tag drawn right of an output's box.
const TAG_W: f64 = 50.0;

/// One drawn box: a node of the graph, or one use of a constant.
struct Box_ {
    lines: Vec<String>,
    output: bool,
    /// Room kept free right of the box (for the "output" tag), so that a
    /// neighbour in the row does not cover the tag.
    tag_w: f64,
    constant: bool,
    layer: usize,
    w: f64,
    h: f64,
    x: f64,
    y: f64,
}

/// One edge between boxes, from operand to user, with its label.
struct Edge {
    from: usize,
    to: usize,
    /// Where it enters its user: operand `slot` of `arity`, left to right.
    slot: usize,
    arity: usize,
    label: Option<String>,
}

/// The nodes reachable from `roots` as an SVG picture, annotated as [`super::dot`]
/// is by `options` (edge labels, node notes, the title). A graph of more than
/// [`MAX_SVG_NODES`] boxes is refused with an [`ErrorKind::TooLarge`] error
/// that suggests DOT.
pub fn svg(g: &Graph, roots: &[NodeId], options: &DotOptions) -> Result<String> {
    let order = g.reachable(roots);
    let mut boxes: Vec<Box_> = Vec::new();
    let mut box_of: Vec<Option<usize>> = vec![None; g.len()];
    let mut edges: Vec<Edge> = Vec::new();
    let is_constant = |v: NodeId| matches!(g.op(v), Op::Const(_) | Op::Named(_));
    let new_box = |node: NodeId, layer: usize, output: bool| {
        let mut lines = vec![match (options.labels.get(&node), g.op(node)) {
            (Some(l), _) => l.clone(),
            (None, Op::Var(_)) => g.var_name(node).unwrap_or("?").to_string(),
            (None, op) => op.label(),
        }];
        if let Some(note) = options.node_notes.get(&node) {
            lines.extend(note.lines().map(str::to_string));
        }
        let chars = lines.iter().map(|l| l.chars().count()).max().unwrap_or(1);
        Box_ {
            tag_w: if output { TAG_W } else { 0.0 },
            w: chars as f64 * CHAR_W + 2.0 * PAD,
            h: lines.len() as f64 * LINE_H + PAD,
            lines,
            output,
            constant: is_constant(node),
            layer,
            x: 0.0,
            y: 0.0,
        }
    };
    // Layers: first the longest path from a leaf, constants not counted
    // (the least layer each node can have).
    let mut layer = vec![0usize; g.len()];
    for &v in &order {
        if !is_constant(v) {
            layer[v.index()] = g
                .args(v)
                .iter()
                .filter(|&&a| !is_constant(a))
                .map(|a| layer[a.index()] + 1)
                .max()
                .unwrap_or(0);
        }
    }
    // Then every node moves up to just below its lowest user (outputs to
    // the top row), so that an operand sits beside what uses it and few
    // edges span several rows: `(1 - x)^2` in `100*(y - x^2)^2 + (1 - x)^2`
    // is drawn just under the `+`, not at the bottom with a long edge
    // through the other operand's boxes.
    let top = order
        .iter()
        .filter(|&&v| !is_constant(v))
        .map(|v| layer[v.index()])
        .max()
        .unwrap_or(0);
    let mut lowest_user = vec![usize::MAX; g.len()];
    for &v in order.iter().rev() {
        if is_constant(v) {
            continue;
        }
        layer[v.index()] = match lowest_user[v.index()] {
            usize::MAX => top,
            l => l - 1,
        };
        for &a in g.args(v) {
            lowest_user[a.index()] = lowest_user[a.index()].min(layer[v.index()]);
        }
    }
    for &v in &order {
        if is_constant(v) {
            continue;
        }
        // A root that another drawn node uses (an intermediate equation of a
        // network, say) is not an output: only roots that nothing reads are.
        let output = roots.contains(&v) && lowest_user[v.index()] == usize::MAX;
        box_of[v.index()] = Some(boxes.len());
        boxes.push(new_box(v, layer[v.index()], output));
        if boxes.len() > MAX_SVG_NODES {
            return Err(too_large(boxes.len()));
        }
    }
    for &v in &order {
        let Some(user) = box_of[v.index()] else {
            continue;
        };
        for (slot, &a) in g.args(v).iter().enumerate() {
            let from = match box_of[a.index()] {
                Some(b) => b,
                None => {
                    // A constant: one box per use, one layer below its user.
                    let below = layer[v.index()].saturating_sub(1);
                    boxes.push(new_box(a, below, false));
                    if boxes.len() > MAX_SVG_NODES {
                        return Err(too_large(boxes.len()));
                    }
                    boxes.len() - 1
                }
            };
            // Only the caller's labels (local derivatives): operand order
            // shows as the order in which edges enter their user.
            let label = options.edge_labels.get(&(v, slot)).cloned();
            edges.push(Edge {
                from,
                to: user,
                slot,
                arity: g.args(v).len(),
                label,
            });
        }
    }
    let (width, height) = place(&mut boxes, &edges);
    Ok(render(
        &boxes,
        &edges,
        options.title.as_deref(),
        width,
        height,
    ))
}

fn too_large(n: usize) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!(
            "the picture would have more than {MAX_SVG_NODES} boxes ({n} so far), too many to \
             read; use --format dot (Graphviz: dot -Tsvg) for large graphs"
        ),
    )
}

/// Orders the boxes within their layers and gives them coordinates; returns
/// the drawing's width and height.
fn place(boxes: &mut [Box_], edges: &[Edge]) -> (f64, f64) {
    let layers = boxes.iter().map(|b| b.layer).max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, b) in boxes.iter().enumerate() {
        rows[b.layer].push(i);
    }
    let mut below: Vec<Vec<usize>> = vec![Vec::new(); boxes.len()];
    let mut above: Vec<Vec<usize>> = vec![Vec::new(); boxes.len()];
    // Where along its user an operand's edge enters, as an offset in row
    // positions: sorting a row by its users' positions plus these offsets
    // puts the operands of one user in operand order, so `a - b` has `a`
    // left and the edges into one box do not cross.
    let mut above_offset: Vec<Vec<f64>> = vec![Vec::new(); boxes.len()];
    for e in edges {
        below[e.to].push(e.from);
        above[e.from].push(e.to);
        above_offset[e.from].push((e.slot as f64 + 1.0) / (e.arity as f64 + 1.0) - 0.5);
    }
    // Positions within rows, refined by barycenters.
    let mut pos = vec![0.0f64; boxes.len()];
    let set_positions = |rows: &[Vec<usize>], pos: &mut [f64]| {
        for row in rows {
            for (k, &i) in row.iter().enumerate() {
                pos[i] = k as f64;
            }
        }
    };
    set_positions(&rows, &mut pos);
    let barycenter = |i: usize, nbrs: &[Vec<usize>], pos: &[f64]| {
        let n = &nbrs[i];
        if n.is_empty() {
            pos[i]
        } else {
            n.iter().map(|&j| pos[j]).sum::<f64>() / n.len() as f64
        }
    };
    for _ in 0..SWEEPS {
        for r in 1..layers {
            let keys: Vec<f64> = rows[r]
                .iter()
                .map(|&i| barycenter(i, &below, &pos))
                .collect();
            sort_row(&mut rows[r], &keys);
            set_positions(&rows[r..=r], &mut pos);
        }
        for r in (0..layers.saturating_sub(1)).rev() {
            let keys: Vec<f64> = rows[r]
                .iter()
                .map(|&i| {
                    let n = &above[i];
                    if n.is_empty() {
                        return pos[i];
                    }
                    n.iter()
                        .zip(&above_offset[i])
                        .map(|(&j, &d)| pos[j] + d)
                        .sum::<f64>()
                        / n.len() as f64
                })
                .collect();
            sort_row(&mut rows[r], &keys);
            set_positions(&rows[r..=r], &mut pos);
        }
    }
    // x: each row packed left to right, then pulled towards its neighbours'
    // centres without overlapping or reordering.
    for row in &rows {
        let mut x = 0.0;
        for &i in row {
            boxes[i].x = x;
            x += boxes[i].w + boxes[i].tag_w + GAP_X;
        }
    }
    let centre = |b: &Box_| b.x + b.w / 2.0;
    for pass in 0..2 * SWEEPS {
        let upward = pass % 2 == 0;
        let range: Vec<usize> = if upward {
            (1..layers).collect()
        } else {
            (0..layers.saturating_sub(1)).rev().collect()
        };
        for r in range {
            let nbrs = if upward { &below } else { &above };
            let wanted: Vec<f64> = rows[r]
                .iter()
                .map(|&i| {
                    let n = &nbrs[i];
                    if n.is_empty() {
                        centre(&boxes[i])
                    } else {
                        n.iter().map(|&j| centre(&boxes[j])).sum::<f64>() / n.len() as f64
                    }
                })
                .collect();
            pack(boxes, &rows[r], &wanted);
        }
    }
    let min_x = boxes.iter().map(|b| b.x).fold(f64::INFINITY, f64::min);
    let row_h: Vec<f64> = rows
        .iter()
        .map(|row| row.iter().map(|&i| boxes[i].h).fold(0.0, f64::max))
        .collect();
    // The output's layer on top: y grows downwards, layers upwards.
    let mut y_of = vec![0.0; layers];
    let mut y = 0.0;
    for r in (0..layers).rev() {
        y_of[r] = y;
        y += row_h[r] + GAP_Y;
    }
    for b in boxes.iter_mut() {
        b.x -= min_x;
        b.y = y_of[b.layer] + (row_h[b.layer] - b.h) / 2.0;
    }
    let width = boxes
        .iter()
        .map(|b| b.x + b.w + b.tag_w)
        .fold(0.0, f64::max);
    (width, (y - GAP_Y).max(0.0))
}

/// Sorts a row by its keys, stably (ties keep their order).
fn sort_row(row: &mut [usize], keys: &[f64]) {
    let mut pairs: Vec<(f64, usize)> = keys.iter().copied().zip(row.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (slot, (_, i)) in row.iter_mut().zip(pairs) {
        *slot = i;
    }
}

/// Places the boxes of one row as near their wanted centres as the order and
/// the gaps allow: the mean of a left-to-right placement (each box at its
/// wish or pushed right by its left neighbour) and a right-to-left one
/// (pushed left). Both keep the gaps, so their mean does too.
fn pack(boxes: &mut [Box_], row: &[usize], wanted: &[f64]) {
    let n = row.len();
    let mut from_left = vec![0.0; n];
    let mut limit = f64::NEG_INFINITY;
    for k in 0..n {
        let i = row[k];
        from_left[k] = (wanted[k] - boxes[i].w / 2.0).max(limit);
        limit = from_left[k] + boxes[i].w + boxes[i].tag_w + GAP_X;
    }
    let mut limit = f64::INFINITY;
    for k in (0..n).rev() {
        let i = row[k];
        let from_right = (wanted[k] - boxes[i].w / 2.0).min(limit - boxes[i].w - boxes[i].tag_w);
        limit = from_right - GAP_X;
        boxes[i].x = (from_left[k] + from_right) / 2.0;
    }
}

fn render(boxes: &[Box_], edges: &[Edge], title: Option<&str>, w: f64, h: f64) -> String {
    let margin = 16.0;
    let title_h = if title.is_some() { 28.0 } else { 0.0 };
    // The right edge of everything drawn, for a canvas fitted to it.
    let mut right = w + 2.0 * margin;
    let mut left: f64 = 0.0;
    if let Some(t) = title {
        right = right.max(2.0 * margin + t.chars().count() as f64 * 8.5);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" \
         fill=\"#555\"/></marker></defs>"
    );
    let (ox, oy) = (margin, margin + title_h);
    if let Some(t) = title {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"14\" font-weight=\"bold\">{}</text>",
            margin,
            margin + 12.0,
            xml(t)
        );
    }
    // Edges first, so boxes and labels sit on top of them.
    let mut labels = String::new();
    for e in edges {
        let (a, b) = (&boxes[e.from], &boxes[e.to]);
        let (x1, y1) = (ox + a.x + a.w / 2.0, oy + a.y);
        // Operands enter their user side by side, in slot order, so that
        // the order of `a - b` shows and labels do not meet at one point.
        let share = (e.slot as f64 + 1.0) / (e.arity as f64 + 1.0);
        let (x2, y2) = (ox + b.x + b.w * share, oy + b.y + b.h);
        let my = (y1 + y2) / 2.0;
        let _ = writeln!(
            out,
            "<path d=\"M{x1:.1},{y1:.1} C{x1:.1},{my:.1} {x2:.1},{my:.1} {x2:.1},{y2:.1}\" \
             fill=\"none\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>"
        );
        if let Some(l) = &e.label {
            // Next to the edge, a third of the way down from its user, on a
            // white ground so that crossing lines do not hide it: left of
            // the edge for a user's left operands, right of it for the
            // others, so that the labels of one box's edges do not meet.
            let t = 0.3;
            let (lx, ly) = bezier((x2, y2), (x2, my), (x1, my), (x1, y1), t);
            let lw = l.chars().count() as f64 * CHAR_W * 0.92 + 6.0;
            let x0 = if 2 * (e.slot + 1) < e.arity + 1 {
                lx - 3.0 - lw
            } else {
                lx + 3.0
            };
            left = left.min(x0 - margin);
            right = right.max(x0 + lw + margin);
            let _ = writeln!(
                labels,
                "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{lw:.1}\" height=\"14\" fill=\"white\" \
                 fill-opacity=\"0.85\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#1a5fb4\" \
                 font-size=\"11\">{}</text>",
                ly - 7.0,
                x0 + 3.0,
                ly + 4.0,
                xml(l)
            );
        }
    }
    for b in boxes {
        let (x, y) = (ox + b.x, oy + b.y);
        let (fill, stroke, width) = match (b.output, b.constant) {
            (true, _) => ("#fff4d6", "#b5651d", 2.5),
            (false, true) => ("#f2f2f2", "#999", 1.0),
            _ => ("#eef5ff", "#333", 1.2),
        };
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"5\" \
             fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>",
            b.w, b.h
        );
        for (k, line) in b.lines.iter().enumerate() {
            let weight = if k == 0 { " font-weight=\"bold\"" } else { "" };
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\"{weight}>{}</text>",
                x + b.w / 2.0,
                y + PAD / 2.0 + (k as f64 + 0.8) * LINE_H,
                xml(line)
            );
        }
        if b.output {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#b5651d\" font-size=\"11\">output</text>",
                x + b.w + 4.0,
                y + 12.0
            );
        }
    }
    // Labels last, so that no box hides one.
    out.push_str(&labels);
    out.push_str("</svg>\n");
    // The view box starts at the leftmost label (which may lie left of the
    // boxes), so the canvas fits the drawing on both sides.
    let left = left.min(0.0);
    let (vw, vh) = (right - left, h + 2.0 * margin + title_h);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{vw:.0}\" height=\"{vh:.0}\" \
         viewBox=\"{left:.0} 0 {vw:.0} {vh:.0}\" font-family=\"monospace\" font-size=\"12\">\n\
         <rect x=\"{left:.0}\" width=\"{vw:.0}\" height=\"{vh:.0}\" fill=\"white\"/>\n{out}"
    )
}

/// The point at `t` of the cubic Bézier curve p0 p1 p2 p3.
fn bezier(p0: (f64, f64), p1: (f64, f64), p2: (f64, f64), p3: (f64, f64), t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    (
        a * p0.0 + b * p1.0 + c * p2.0 + d * p3.0,
        a * p0.1 + b * p1.1 + c * p2.1 + d * p3.1,
    )
}

/// `text` escaped for XML.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    #[test]
    fn constants_are_drawn_at_each_use_and_the_output_is_marked() {
        // 2 is used three times: three boxes labelled 2, no hub.
        let f = parse("2*x + 2*y + x^2").unwrap();
        let s = svg(&f.graph, &[f.output], &DotOptions::default()).unwrap();
        assert_eq!(s.matches("font-weight=\"bold\">2</text>").count(), 3, "{s}");
        assert_eq!(s.matches(">output</text>").count(), 1);
        assert!(s.starts_with("<svg"));
        assert!(s.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn boxes_of_a_row_do_not_overlap() {
        let f = parse("sin(a*b) + cos(b*c) + exp(c*d) + a*d + (a + b)*(c + d)").unwrap();
        let s = svg(&f.graph, &[f.output], &DotOptions::default()).unwrap();
        // Read the rectangles back: same y, x ranges disjoint.
        let rects: Vec<(f64, f64, f64)> = s
            .lines()
            .filter(|l| l.starts_with("<rect x=") && l.contains("rx=\"5\""))
            .map(|l| {
                let num = |key: &str| -> f64 {
                    let start = l.find(key).unwrap() + key.len();
                    let end = start + l[start..].find('"').unwrap();
                    l[start..end].parse().unwrap()
                };
                (num("x=\""), num("y=\""), num("width=\""))
            })
            .collect();
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                if (a.1 - b.1).abs() < 1e-6 {
                    assert!(
                        a.0 + a.2 <= b.0 + 1e-6 || b.0 + b.2 <= a.0 + 1e-6,
                        "{a:?} {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn too_many_boxes_are_refused_with_a_pointer_to_dot() {
        let terms: Vec<String> = (0..3000).map(|i| format!("x{i}*y{i}")).collect();
        let f = parse(&terms.join(" + ")).unwrap();
        let e = svg(&f.graph, &[f.output], &DotOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooLarge);
        assert!(e.message().contains("--format dot"), "{}", e.message());
    }
}
