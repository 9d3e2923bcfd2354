//! [`Expr`]: the library's front door for formulas known only at run time.

use symgrad_core::diff::{self, Mode, Options, Stats};
use symgrad_core::eval::Program;
use symgrad_core::{print, simplify, Error, ErrorKind, Formula, Graph, NodeId, Result};

/// A parsed formula, ready to be evaluated and differentiated.
///
/// Every method leaves the formula unchanged: derivatives are built in a copy
/// of its graph and returned as [`Derivatives`], which own what they need.
#[derive(Clone, Debug)]
pub struct Expr {
    formula: Formula,
}

impl Expr {
    /// Parses a formula in symgrad's syntax (`x²y + y + 2`, `u = x*y; sin(u) + u^2`).
    ///
    /// ```
    /// let err = symgrad::Expr::parse("x + * y").unwrap_err();
    /// assert_eq!(err.kind(), symgrad::ErrorKind::Syntax);
    /// assert_eq!(err.span().map(|s| s.start), Some(4));
    /// ```
    pub fn parse(src: &str) -> Result<Expr> {
        Ok(Expr {
            formula: symgrad_core::parse::parse(src)?,
        })
    }

    /// The formula as the parser built it: graph, output, variables, bindings.
    pub fn formula(&self) -> &Formula {
        &self.formula
    }

    /// The free variables, in order of first appearance; points are given in this order.
    pub fn vars(&self) -> Vec<&str> {
        self.formula.var_names()
    }

    /// The value at `point` (one value per variable, in the order of [`Expr::vars`]).
    pub fn eval(&self, point: &[f64]) -> Result<f64> {
        check_point(self.formula.vars.len(), point)?;
        let program = Program::compile(
            &self.formula.graph,
            &self.formula.vars,
            &[self.formula.output],
        )?;
        Ok(program.run(point)[0])
    }

    /// The formula simplified, in the formula syntax.
    ///
    /// ```
    /// let f = symgrad::Expr::parse("x*x + x - x")?;
    /// assert_eq!(f.simplified(), "x^2");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn simplified(&self) -> String {
        let mut graph = self.formula.graph.clone();
        let roots = simplify::simplify(&mut graph, &[self.formula.output]);
        print::text(&graph, &roots).formula(0)
    }

    /// The partial derivatives with respect to every variable, by `mode`.
    /// [`Mode::Numeric`] builds the exact derivatives by reverse mode; use
    /// `symgrad::diff::numeric` for finite differences.
    pub fn gradient(&self, mode: Mode) -> Result<Derivatives> {
        let names: Vec<String> = self.vars().iter().map(|s| s.to_string()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.gradient_wrt(&names, mode)
    }

    /// The partial derivatives with respect to the named variables, by `mode`.
    ///
    /// ```
    /// use symgrad::{Expr, Mode};
    /// let f = Expr::parse("cos(w²)")?;
    /// let d = f.gradient_wrt(&["w"], Mode::Forward)?;
    /// assert_eq!(d.exprs(), ["-2*w*sin(w^2)"]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn gradient_wrt(&self, wrt: &[&str], mode: Mode) -> Result<Derivatives> {
        let mut graph = self.formula.graph.clone();
        let wrt = self.resolve(wrt)?;
        let (nodes, stats) = diff::gradient(
            &mut graph,
            self.formula.output,
            &wrt,
            mode,
            Options::default(),
        )?;
        Ok(self.derivatives(graph, nodes, stats))
    }

    /// The `k`-th derivative in one variable.
    ///
    /// ```
    /// let f = symgrad::Expr::parse("x^5")?;
    /// assert_eq!(f.derivative("x", 3)?.exprs(), ["60*x^2"]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn derivative(&self, var: &str, k: usize) -> Result<Derivatives> {
        let mut graph = self.formula.graph.clone();
        let x = self.resolve(&[var])?[0];
        let (node, stats) = diff::nth_derivative(
            &mut graph,
            self.formula.output,
            x,
            k,
            Mode::Forward,
            Options::default(),
        )?;
        Ok(self.derivatives(graph, vec![node], stats))
    }

    /// The Hessian with respect to every variable (forward over reverse).
    pub fn hessian(&self) -> Result<Hessian> {
        let mut graph = self.formula.graph.clone();
        let wrt = self.formula.vars.clone();
        let (_, rows, stats) = diff::hessian(
            &mut graph,
            self.formula.output,
            &wrt,
            Mode::Reverse,
            Options::default(),
        )?;
        let n = wrt.len();
        let flat: Vec<NodeId> = rows.concat();
        Ok(Hessian {
            entries: self.derivatives(graph, flat, stats),
            n,
        })
    }

    fn resolve(&self, names: &[&str]) -> Result<Vec<NodeId>> {
        names
            .iter()
            .map(|&name| {
                self.formula
                    .graph
                    .var_node(name)
                    .filter(|v| self.formula.vars.contains(v))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::UnknownVariable,
                            format!(
                                "the formula has no variable '{name}' (its variables: {})",
                                self.vars().join(", ")
                            ),
                        )
                    })
            })
            .collect()
    }

    fn derivatives(&self, mut graph: Graph, nodes: Vec<NodeId>, stats: Stats) -> Derivatives {
        let simplified = simplify::simplify(&mut graph, &nodes);
        Derivatives {
            graph,
            vars: self.formula.vars.clone(),
            nodes: simplified,
            stats,
        }
    }
}

fn check_point(n: usize, point: &[f64]) -> Result<()> {
    if point.len() == n {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidValue,
            format!(
                "expected {n} values (one per variable), got {}",
                point.len()
            ),
        ))
    }
}

/// Derivatives of a formula, simplified, each a node of their own graph.
#[derive(Clone, Debug)]
pub struct Derivatives {
    graph: Graph,
    vars: Vec<NodeId>,
    nodes: Vec<NodeId>,
    stats: Stats,
}

impl Derivatives {
    /// Each derivative in the formula syntax. A subexpression shared between
    /// them is written out in each (see [`Derivatives::printed`] for bindings).
    pub fn exprs(&self) -> Vec<String> {
        let printed = print::text(&self.graph, &self.nodes);
        (0..self.nodes.len())
            .map(|i| {
                if printed.bindings.is_empty() {
                    printed.exprs[i].clone()
                } else {
                    printed.formula(i)
                }
            })
            .collect()
    }

    /// The derivatives printed together, shared subexpressions as bindings.
    pub fn printed(&self) -> print::Printed {
        print::text(&self.graph, &self.nodes)
    }

    /// The derivatives in LaTeX.
    pub fn latex(&self) -> print::Printed {
        print::latex(&self.graph, &self.nodes)
    }

    /// The values at `point` (one value per variable of the formula).
    pub fn eval(&self, point: &[f64]) -> Result<Vec<f64>> {
        check_point(self.vars.len(), point)?;
        Ok(Program::compile(&self.graph, &self.vars, &self.nodes)?.run(point))
    }

    /// The graph holding the derivatives, and their nodes in it.
    pub fn graph(&self) -> (&Graph, &[NodeId]) {
        (&self.graph, &self.nodes)
    }

    /// The work differentiation did.
    pub fn stats(&self) -> Stats {
        self.stats
    }
}

/// A Hessian: `n × n` second derivatives.
#[derive(Clone, Debug)]
pub struct Hessian {
    entries: Derivatives,
    n: usize,
}

impl Hessian {
    /// Entry `(i, j)` in the formula syntax, row by row.
    pub fn exprs(&self) -> Vec<Vec<String>> {
        let flat = self.entries.exprs();
        flat.chunks(self.n.max(1)).map(<[String]>::to_vec).collect()
    }

    /// The values at `point`, row by row.
    pub fn eval(&self, point: &[f64]) -> Result<Vec<Vec<f64>>> {
        let flat = self.entries.eval(point)?;
        Ok(flat.chunks(self.n.max(1)).map(<[f64]>::to_vec).collect())
    }

    /// The entries as [`Derivatives`], row-major.
    pub fn entries(&self) -> &Derivatives {
        &self.entries
    }
}
