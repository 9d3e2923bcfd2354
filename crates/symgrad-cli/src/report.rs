//! Shared formatting: numbers as people and JSON read them, derivative names,
//! and aligned tables.

use serde_json::Value;

/// A number for text output: integers without `.0`, others in shortest
/// round-trip form, non-finite values as `NaN`, `inf`, `-inf`.
pub fn num(x: f64) -> String {
    symgrad_core::explain::fmt_num(x)
}

/// A number for JSON: non-finite values become the strings "NaN", "inf", "-inf"
/// (JSON has no such numbers), per the output contract.
pub fn json_num(x: f64) -> Value {
    if x.is_finite() {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    } else {
        Value::String(num(x))
    }
}

/// `∂f/∂x`, `∂²f/∂x∂y`, `∂²f/∂x²`, `∂³f/∂x³`.
pub fn partial_name(vars: &[&str]) -> String {
    let sup = |k: usize| {
        if k == 1 {
            String::new()
        } else {
            superscript(k)
        }
    };
    let denominator: String = runs(vars)
        .into_iter()
        .map(|(v, k)| format!("∂{v}{}", sup(k)))
        .collect();
    format!("∂{}f/{denominator}", sup(vars.len()))
}

/// The LaTeX form of [`partial_name`].
pub fn partial_name_latex(vars: &[&str]) -> String {
    let sup = |k: usize| {
        if k == 1 {
            String::new()
        } else {
            format!("^{{{k}}}")
        }
    };
    let denominator: String = runs(vars)
        .into_iter()
        .map(|(v, k)| format!("\\partial {v}{}", sup(k)))
        .collect();
    format!("\\frac{{\\partial{} f}}{{{denominator}}}", sup(vars.len()))
}

/// Consecutive equal names with their counts: `[x, x, y]` is `[(x, 2), (y, 1)]`.
fn runs<'a>(vars: &[&'a str]) -> Vec<(&'a str, usize)> {
    let mut out: Vec<(&str, usize)> = Vec::new();
    for &v in vars {
        match out.last_mut() {
            Some((last, k)) if *last == v => *k += 1,
            _ => out.push((v, 1)),
        }
    }
    out
}

fn superscript(k: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    k.to_string()
        .chars()
        .map(|c| DIGITS[c.to_digit(10).unwrap_or(0) as usize])
        .collect()
}

/// Rows of cells as a left-aligned table with two spaces between columns.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivative_names() {
        assert_eq!(partial_name(&["x"]), "∂f/∂x");
        assert_eq!(partial_name(&["x", "y"]), "∂²f/∂x∂y");
        assert_eq!(partial_name(&["x", "x"]), "∂²f/∂x²");
        assert_eq!(partial_name(&["x"; 10]), "∂¹⁰f/∂x¹⁰");
    }
}
