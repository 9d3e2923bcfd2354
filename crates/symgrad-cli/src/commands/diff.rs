//! `symgrad diff`: partial derivatives (gradient, Hessian or k-th derivative),
//! simplified and printed, by one mode or all of them side by side.

use crate::input;
use crate::report::{json_num, num, partial_name, partial_name_latex, table};
use crate::{DiffArgs, DiffFormat, Failure, ModeArg};
use serde_json::{json, Map, Value};
use symgrad_core::diff::{self, numeric, Mode, Options, Stats};
use symgrad_core::emit::{Float, Returns};
use symgrad_core::eval::Program;
use symgrad_core::print::{self, DotOptions, Printed};
use symgrad_core::simplify::simplify;
use symgrad_core::{Error, Formula, Graph, NodeId};

/// One derivative to report: which variables it is taken in, its node, and
/// its simplified node.
struct Entry {
    wrt: Vec<String>,
    node: NodeId,
}

/// The result of one mode.
struct Outcome {
    mode: Mode,
    /// Gradient (or the k-th derivative) entries, in order.
    entries: Vec<Entry>,
    /// Hessian rows, when asked for.
    hessian: Option<Vec<Vec<Entry>>>,
    stats: Stats,
}

pub fn run(args: DiffArgs) -> Result<String, Failure> {
    let (text, mut f) = input::load(&args.source)?;
    if args.format == DiffFormat::Rust {
        // The generated function takes every variable and returns the whole
        // gradient (and Hessian), computed by reverse mode.
        if !args.wrt.is_empty() || args.order.is_some() || args.at.is_some() {
            return Err(Failure::input(
                "error: --format rust prints a function of every variable; \
                 it takes neither --wrt, --order nor --at (use symgrad emit for more options)",
            ));
        }
        let returns = if args.hessian {
            Returns::Hessian
        } else {
            Returns::Gradient
        };
        return super::emit::rust_source(&mut f, "f", Float::F64, returns);
    }
    // `--at` with some of the variables substitutes them (SymPy's `subs`)
    // and leaves the derivatives in the others, without values.
    let substituted = match args.at.as_deref() {
        Some(at) => input::partial_point(at, &f)?,
        None => None,
    };
    let mut at = args.at.as_deref();
    let mut text = text;
    if let Some(values) = &substituted {
        let pairs: Vec<(&str, symgrad_core::Num)> =
            values.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        f = f.substitute(&pairs);
        let shown: Vec<String> = values.iter().map(|(n, v)| format!("{n} = {v}")).collect();
        let mut g = f.graph.clone();
        let simple = simplify(&mut g, &[f.output]);
        text = format!(
            "{} with {}",
            print::text(&g, &simple).formula(0),
            shown.join(", ")
        );
        at = None;
    }
    let wrt = input::wrt(&args.wrt, &f)?;
    let mut point = at.map(|a| input::point(a, &f)).transpose()?;
    if f.vars.is_empty() {
        // A formula without variables: its value needs no point.
        point = Some(Vec::new());
    }
    let options = Options {
        max_paths: args.max_paths,
    };
    if args.order.is_some() && wrt.len() != 1 {
        return Err(Failure::input(format!(
            "error: --order takes one variable, but the formula has {} ({}); name one with --wrt",
            wrt.len(),
            crate::report::name_list(&f.var_names(), "")
        )));
    }
    let mode = args.mode.unwrap_or(if args.order.is_some() {
        ModeArg::Forward
    } else {
        ModeArg::Reverse
    });
    let modes: Vec<Mode> = match mode {
        ModeArg::Reverse => vec![Mode::Reverse],
        ModeArg::Forward => vec![Mode::Forward],
        ModeArg::Paths => vec![Mode::Paths],
        ModeArg::Numeric => {
            if point.is_none() {
                return Err(Failure::input(
                    "error: --mode numeric needs a point: add --at, e.g. --at x=1,y=2",
                ));
            }
            vec![Mode::Numeric]
        }
        ModeArg::All => Mode::EXACT.to_vec(),
    };
    let mut outcomes = Vec::new();
    for &mode in &modes {
        // Numeric mode reports reverse mode's exact derivatives beside its estimate.
        let exact_mode = if mode == Mode::Numeric {
            Mode::Reverse
        } else {
            mode
        };
        let order = args.order.map(usize::from);
        let mut o = compute(&mut f, &wrt, exact_mode, options, args.hessian, order)?;
        o.mode = mode;
        outcomes.push(o);
    }
    let value = match &point {
        Some(p) => Some(evaluate(&f, &[f.output], p)?[0]),
        None => None,
    };
    let numeric = match &point {
        Some(p) if matches!(mode, ModeArg::Numeric | ModeArg::All) => Some(finite_differences(
            &f,
            &wrt,
            p,
            args.hessian,
            args.order.map(usize::from),
        )?),
        _ => None,
    };
    let report = Report {
        text: &text,
        f: &f,
        point: point.as_deref(),
        value,
        numeric,
        all: mode == ModeArg::All,
        substituted: substituted.is_some(),
    };
    match args.format {
        DiffFormat::Text => report.text(&mut outcomes, false),
        DiffFormat::Latex => report.text(&mut outcomes, true),
        DiffFormat::Json => report.json(&mut outcomes),
        DiffFormat::Dot => Ok(report.dot(&mut outcomes)),
        DiffFormat::Rust => unreachable!("handled before differentiation"),
    }
}

fn failure(e: Error) -> Failure {
    Failure::input(format!("error: {}", e.message()))
}

fn names(f: &Formula, vars: &[NodeId]) -> Vec<String> {
    vars.iter()
        .map(|&v| f.graph.var_name(v).unwrap_or("?").to_string())
        .collect()
}

fn compute(
    f: &mut Formula,
    wrt: &[NodeId],
    mode: Mode,
    options: Options,
    hessian: bool,
    order: Option<usize>,
) -> Result<Outcome, Failure> {
    let output = f.output;
    if let Some(k) = order {
        // One variable: differentiate k times with the chosen mode (forward
        // by default: the natural mode for one input, and the one whose
        // repeated derivatives share the most, 3,540 nodes against reverse
        // mode's 55,326 for W5).
        let (d, stats) = diff::nth_derivative(&mut f.graph, output, wrt[0], k, mode, options)
            .map_err(failure)?;
        let name = names(f, wrt).remove(0);
        return Ok(Outcome {
            mode,
            entries: vec![Entry {
                wrt: vec![name; k],
                node: d,
            }],
            hessian: None,
            stats,
        });
    }
    let var_names = names(f, wrt);
    let (grad, rows, stats) = if hessian {
        let (g, h, s) = diff::hessian(&mut f.graph, output, wrt, mode, options).map_err(failure)?;
        (g, Some(h), s)
    } else {
        let (g, s) = diff::gradient(&mut f.graph, output, wrt, mode, options).map_err(failure)?;
        (g, None, s)
    };
    let entries = grad
        .iter()
        .zip(&var_names)
        .map(|(&node, n)| Entry {
            wrt: vec![n.clone()],
            node,
        })
        .collect();
    let hessian = rows.map(|rows| {
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                row.iter()
                    .enumerate()
                    .map(|(j, &node)| Entry {
                        wrt: vec![var_names[i].clone(), var_names[j].clone()],
                        node,
                    })
                    .collect()
            })
            .collect()
    });
    Ok(Outcome {
        mode,
        entries,
        hessian,
        stats,
    })
}

fn evaluate(f: &Formula, nodes: &[NodeId], point: &[f64]) -> Result<Vec<f64>, Failure> {
    let program = Program::compile(&f.graph, &f.vars, nodes).map_err(failure)?;
    Ok(program.run(point))
}

/// Central differences at the point, for the variables of `wrt`, in the
/// order the entries are printed: the gradient then the Hessian's rows
/// (`hessian`), or the one k-th derivative (`order`).
fn finite_differences(
    f: &Formula,
    wrt: &[NodeId],
    point: &[f64],
    hessian: bool,
    order: Option<usize>,
) -> Result<(Vec<f64>, Stats), Failure> {
    let program = Program::compile(&f.graph, &f.vars, &[f.output]).map_err(failure)?;
    let index = |w: &NodeId| f.vars.iter().position(|v| v == w);
    if let (Some(k), Some(i)) = (order, wrt.first().and_then(index)) {
        let (d, stats) = numeric::derivative(&program, point, i, k);
        return Ok((vec![d], stats));
    }
    let (all, mut stats) = numeric::gradient(&program, point);
    let mut picked: Vec<f64> = wrt
        .iter()
        .map(|w| index(w).map_or(f64::NAN, |i| all[i]))
        .collect();
    stats.evaluations = 2 * wrt.len();
    stats.passes = stats.evaluations;
    if hessian {
        let (rows, h_stats) = numeric::hessian(&program, point);
        for a in wrt {
            for b in wrt {
                let entry = match (index(a), index(b)) {
                    (Some(i), Some(j)) => rows[i][j],
                    _ => f64::NAN,
                };
                picked.push(entry);
            }
        }
        stats.evaluations += h_stats.evaluations;
        stats.passes = stats.evaluations;
    }
    Ok((picked, stats))
}

struct Report<'a> {
    text: &'a str,
    f: &'a Formula,
    point: Option<&'a [f64]>,
    value: Option<f64>,
    numeric: Option<(Vec<f64>, Stats)>,
    all: bool,
    /// Whether `--at` substituted some variables (`text` then says which).
    substituted: bool,
}

/// The entries of an outcome, flattened: gradient then Hessian rows.
fn flat(o: &Outcome) -> Vec<&Entry> {
    let mut v: Vec<&Entry> = o.entries.iter().collect();
    if let Some(h) = &o.hessian {
        v.extend(h.iter().flatten());
    }
    v
}

impl Report<'_> {
    /// Simplifies every entry of `o` (in the formula's graph, which the report
    /// only reads afterwards) and prints them with shared bindings.
    fn print(&self, o: &Outcome, graph: &mut Graph, latex: bool) -> (Printed, Vec<NodeId>) {
        let roots: Vec<NodeId> = flat(o).iter().map(|e| e.node).collect();
        let simple = simplify(graph, &roots);
        // The user's bindings, in canonical form, so that where the
        // derivative contains one it prints under the user's name.
        let bound: Vec<NodeId> = self.f.bindings.iter().map(|b| b.node).collect();
        let bound = simplify(graph, &bound);
        let names: Vec<(NodeId, String)> = bound
            .into_iter()
            .zip(&self.f.bindings)
            .map(|(node, b)| (node, b.name.clone()))
            .collect();
        let printed = if latex {
            print::latex_named(graph, &simple, &names)
        } else {
            print::text_named(graph, &simple, &names)
        };
        (printed, simple)
    }

    fn values(&self, nodes: &[NodeId], graph: &Graph) -> Result<Option<Vec<f64>>, Failure> {
        match self.point {
            Some(p) => {
                let program = Program::compile(graph, &self.f.vars, nodes).map_err(failure)?;
                Ok(Some(program.run(p)))
            }
            None => Ok(None),
        }
    }

    /// The derivatives as lines `name = expression = value`, in text or LaTeX.
    fn text(&self, outcomes: &mut [Outcome], latex: bool) -> Result<String, Failure> {
        if let (true, Some(v)) = (self.f.vars.is_empty(), self.value) {
            return Ok(format!(
                "f = {} has no variables: its value is {}, and every derivative is 0\n",
                self.text.trim(),
                num(v)
            ));
        }
        let mut graph = self.f.graph.clone();
        let mut out = String::new();
        if self.substituted && !latex {
            out.push_str(&format!("f = {}\n", self.text));
        }
        let mut simplified_by_mode = Vec::new();
        let mut values_by_mode = Vec::new();
        for o in outcomes.iter() {
            let (printed, simple) = self.print(o, &mut graph, latex);
            let values = self.values(&simple, &graph)?;
            let indent = match (self.all, latex) {
                (false, _) => "",
                (true, false) => {
                    out.push_str(&format!("{}:\n", o.mode));
                    "  "
                }
                (true, true) => {
                    out.push_str(&format!("% {}\n", o.mode));
                    ""
                }
            };
            for (name, expr) in &printed.bindings {
                out.push_str(&format!("{indent}{name} = {expr}\n"));
            }
            for (i, e) in flat(o).iter().enumerate() {
                let names: Vec<&str> = e.wrt.iter().map(String::as_str).collect();
                let name = if latex {
                    partial_name_latex(&names)
                } else {
                    partial_name(&names)
                };
                out.push_str(&format!("{indent}{name} = {}", printed.exprs[i]));
                if let Some(v) = &values {
                    out.push_str(&format!(" = {}", num(v[i])));
                }
                if o.mode == Mode::Numeric {
                    if let (Some((estimates, _)), Some(v)) = (&self.numeric, &values) {
                        if let Some(est) = estimates.get(i) {
                            out.push_str(&format!(
                                "\n{indent}  central difference ≈ {est:.12e}, error {:.1e}",
                                (est - v[i]).abs()
                            ));
                        }
                    }
                }
                out.push('\n');
            }
            simplified_by_mode.push(simple);
            values_by_mode.push(values);
        }
        if self.all && !latex {
            out.push('\n');
            out.push_str(&self.agreement_table(
                &graph,
                outcomes,
                &simplified_by_mode,
                &values_by_mode,
            ));
        }
        Ok(out)
    }

    /// The table of `--mode all`: whether each mode agrees with reverse mode,
    /// and the work each did.
    fn agreement_table(
        &self,
        graph: &Graph,
        outcomes: &[Outcome],
        simplified: &[Vec<NodeId>],
        values: &[Option<Vec<f64>>],
    ) -> String {
        let mut rows = vec![vec![
            "mode".to_string(),
            "agrees with reverse".to_string(),
            "passes".to_string(),
            "nodes visited".to_string(),
            "paths".to_string(),
            "evaluations".to_string(),
        ]];
        for (k, o) in outcomes.iter().enumerate() {
            let agrees = if k == 0 {
                "-".to_string()
            } else {
                let a = self.agreement(
                    graph,
                    (&simplified[k], &values[k]),
                    (&simplified[0], &values[0]),
                );
                a.describe().to_string()
            };
            rows.push(vec![
                o.mode.to_string(),
                agrees,
                o.stats.passes.to_string(),
                o.stats.nodes_visited.to_string(),
                if o.mode == Mode::Paths {
                    o.stats.paths.to_string()
                } else {
                    "-".to_string()
                },
                "-".to_string(),
            ]);
        }
        match (&self.numeric, values.first()) {
            (Some((estimates, stats)), Some(Some(exact))) => {
                let err = estimates
                    .iter()
                    .zip(exact)
                    .map(|(e, x)| (e - x).abs() / x.abs().max(1.0))
                    .fold(0.0, f64::max);
                rows.push(vec![
                    "numeric".to_string(),
                    format!("approximately (max error {err:.1e})"),
                    stats.passes.to_string(),
                    "-".to_string(),
                    "-".to_string(),
                    stats.evaluations.to_string(),
                ]);
            }
            _ => rows.push(vec![
                "numeric".to_string(),
                "needs --at".to_string(),
                "-".to_string(),
                "-".to_string(),
                "-".to_string(),
                "-".to_string(),
            ]),
        }
        table(&rows)
    }

    /// How one mode's derivatives (simplified nodes, and values at the point
    /// if one was given) compare with another's.
    fn agreement(
        &self,
        graph: &Graph,
        (a, a_values): (&[NodeId], &Option<Vec<f64>>),
        (b, b_values): (&[NodeId], &Option<Vec<f64>>),
    ) -> Agreement {
        if a == b {
            return Agreement::SameExpression;
        }
        match (a_values, b_values) {
            (Some(x), Some(y)) if close(x, y, 1e-12) => Agreement::SameValues,
            (Some(_), Some(_)) => Agreement::Differ,
            _ if self.equal_at_sample_points(graph, a, b) => Agreement::EqualAtSamples,
            _ => Agreement::Differ,
        }
    }

    /// Whether two lists of derivatives have the same values at a few fixed
    /// points: the check `--mode all` makes when no point is given and the
    /// modes' simplified forms differ. Points where either side is not finite
    /// are skipped.
    fn equal_at_sample_points(&self, graph: &Graph, a: &[NodeId], b: &[NodeId]) -> bool {
        let n = self.f.vars.len();
        let (Ok(pa), Ok(pb)) = (
            Program::compile(graph, &self.f.vars, a),
            Program::compile(graph, &self.f.vars, b),
        ) else {
            return false;
        };
        [0.3, 0.7, 1.3].iter().all(|&base| {
            let point: Vec<f64> = (0..n).map(|i| base + 0.17 * i as f64).collect();
            let (va, vb) = (pa.run(&point), pb.run(&point));
            !va.iter().chain(&vb).all(|v| v.is_finite()) || close(&va, &vb, 1e-9)
        })
    }

    fn dot(&self, outcomes: &mut [Outcome]) -> String {
        let mut graph = self.f.graph.clone();
        let o = &outcomes[0];
        let roots: Vec<NodeId> = flat(o).iter().map(|e| e.node).collect();
        let simple = simplify(&mut graph, &roots);
        let options = DotOptions {
            title: Some(format!("derivatives of {}", self.text.trim())),
            ..DotOptions::default()
        };
        print::dot(&graph, &simple, &options)
    }

    fn json(&self, outcomes: &mut [Outcome]) -> Result<String, Failure> {
        let mut graph = self.f.graph.clone();
        let mut per_mode = Vec::new();
        let mut first_simple: Option<Vec<NodeId>> = None;
        let mut first_values: Option<Vec<f64>> = None;
        for o in outcomes.iter() {
            let (printed, simple) = self.print(o, &mut graph, false);
            let values = self.values(&simple, &graph)?;
            let entry_json = |i: usize, e: &Entry| {
                let mut m = Map::new();
                if o.hessian.is_none() || i < o.entries.len() {
                    m.insert("wrt".into(), json!(e.wrt[0]));
                }
                m.insert("expr".into(), json!(printed.formula(i)));
                if let Some(v) = &values {
                    m.insert("value".into(), json_num(v[i]));
                }
                Value::Object(m)
            };
            let entries = flat(o);
            let mut obj = Map::new();
            obj.insert("mode".into(), json!(o.mode.name()));
            if let Some(first) = o.entries.first().filter(|e| e.wrt.len() > 1) {
                let mut d = Map::new();
                d.insert("wrt".into(), json!(first.wrt[0]));
                d.insert("order".into(), json!(first.wrt.len()));
                d.insert("expr".into(), json!(printed.formula(0)));
                if let Some(v) = &values {
                    d.insert("value".into(), json_num(v[0]));
                }
                obj.insert("derivative".into(), Value::Object(d));
            } else {
                let n = o.entries.len();
                let gradient: Vec<Value> = entries[..n]
                    .iter()
                    .enumerate()
                    .map(|(i, e)| entry_json(i, e))
                    .collect();
                obj.insert("gradient".into(), Value::Array(gradient));
                if o.hessian.is_some() {
                    let rows: Vec<Value> = (0..n)
                        .map(|i| {
                            let row: Vec<Value> = (0..n)
                                .map(|j| {
                                    let k = n + i * n + j;
                                    let mut m = Map::new();
                                    m.insert("expr".into(), json!(printed.formula(k)));
                                    if let Some(v) = &values {
                                        m.insert("value".into(), json_num(v[k]));
                                    }
                                    Value::Object(m)
                                })
                                .collect();
                            Value::Array(row)
                        })
                        .collect();
                    obj.insert("hessian".into(), Value::Array(rows));
                }
            }
            let nodes_f = graph.reachable(&[self.f.output]).len();
            let nodes_g = graph.reachable(&simple).len();
            obj.insert(
                "stats".into(),
                json!({
                    "passes": o.stats.passes,
                    "nodes_visited": o.stats.nodes_visited,
                    "paths": o.stats.paths as f64,
                    "evaluations": o.stats.evaluations,
                    "nodes_function": nodes_f,
                    "nodes_derivative": nodes_g,
                }),
            );
            if let Some(first) = &first_simple {
                let a = self.agreement(&graph, (&simple, &values), (first, &first_values));
                obj.insert("agrees".into(), json!(a != Agreement::Differ));
                obj.insert("agreement".into(), json!(a.describe()));
            }
            if first_simple.is_none() {
                first_simple = Some(simple.clone());
                first_values = values.clone();
            }
            per_mode.push(obj);
        }
        let mut top = Map::new();
        top.insert("expr".into(), json!(self.text.trim()));
        top.insert("vars".into(), json!(self.f.var_names()));
        top.insert(
            "mode".into(),
            json!(if self.all {
                "all"
            } else {
                outcomes[0].mode.name()
            }),
        );
        if let Some(v) = self.value {
            top.insert("value".into(), json_num(v));
        }
        let first = per_mode.first().cloned().unwrap_or_default();
        for key in ["gradient", "derivative", "hessian", "stats"] {
            if let Some(v) = first.get(key) {
                top.insert(key.into(), v.clone());
            }
        }
        if let Some((estimates, stats)) = &self.numeric {
            let nums = |xs: &[f64]| xs.iter().map(|&x| json_num(x)).collect::<Vec<_>>();
            let mut m = Map::new();
            match outcomes.first() {
                Some(o) if o.entries.first().is_some_and(|e| e.wrt.len() > 1) => {
                    m.insert("derivative".into(), json_num(estimates[0]));
                }
                Some(o) if o.hessian.is_some() => {
                    let n = o.entries.len();
                    m.insert("gradient".into(), json!(nums(&estimates[..n])));
                    let rows: Vec<Value> = estimates[n..]
                        .chunks(n.max(1))
                        .map(|r| json!(nums(r)))
                        .collect();
                    m.insert("hessian".into(), Value::Array(rows));
                }
                _ => {
                    m.insert("gradient".into(), json!(nums(estimates)));
                }
            }
            m.insert("evaluations".into(), json!(stats.evaluations));
            top.insert("numeric".into(), Value::Object(m));
        }
        if self.all {
            top.insert(
                "modes".into(),
                Value::Array(per_mode.into_iter().map(Value::Object).collect()),
            );
        }
        Ok(format!("{}\n", Value::Object(top)))
    }
}

/// How two modes' results compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agreement {
    /// The same simplified expressions.
    SameExpression,
    /// Different forms with the same values at the given point.
    SameValues,
    /// Different forms, equal at a few sample points (no point was given).
    EqualAtSamples,
    /// Different values.
    Differ,
}

impl Agreement {
    fn describe(self) -> &'static str {
        match self {
            Agreement::SameExpression => "yes (same expression)",
            Agreement::SameValues => "yes (same values)",
            Agreement::EqualAtSamples => "yes (equal at sample points)",
            Agreement::Differ => "NO",
        }
    }
}

/// Whether two value lists agree to a relative tolerance (NaN matches NaN).
fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x == y
                || (x.is_nan() && y.is_nan())
                || (x - y).abs() <= tol * x.abs().max(y.abs()).max(1.0)
        })
}
