//! Shared formatting: numbers as people and JSON read them, derivative names,
//! and aligned tables.

use serde_json::Value;

/// A number for text output: integers without `.0`, others in shortest
/// round-trip form, non-finite values as `NaN`, `inf`, `-inf`.
pub fn num(x: f64) -> String {
    symgrad_core::explain::fmt_num(x)
}

/// A number to 4 significant digits, for pictures: `3.142`, `0.0001235`,
/// `1.235e+08`; integers below a million as they are.
pub fn sig4(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return num(x);
    }
    if x.fract() == 0.0 && x.abs() < 1e6 {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
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

/// Names for a message, each as `quote` wraps it, cut after the first ten
/// so that a 100,000-variable formula does not print a 1 MB line:
/// `'x1', 'x2', ..., 'x10' and 99,990 more`.
pub fn name_list(names: &[&str], quote: &str) -> String {
    const SHOWN: usize = 10;
    let shown: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("{quote}{n}{quote}"))
        .collect();
    let mut out = shown.join(", ");
    if names.len() > SHOWN {
        out.push_str(&format!(" and {} more", thousands(names.len() - SHOWN)));
    }
    out
}

/// `99990` as `99,990`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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

    #[test]
    fn four_significant_digits() {
        assert_eq!(sig4(std::f64::consts::PI), "3.142");
        assert_eq!(sig4(0.23500371220159452), "0.235");
        assert_eq!(sig4(-1234.5678), "-1235");
        assert_eq!(sig4(0.000123456), "0.0001235");
        assert_eq!(sig4(123456789.0), "1.235e8");
        assert_eq!(sig4(1.5e9 + 0.5), "1.500e9");
        assert_eq!(sig4(24.0), "24");
    }

    #[test]
    fn long_lists_are_cut() {
        let names: Vec<String> = (1..=100_000).map(|i| format!("x{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(
            name_list(&names, "'"),
            "'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9', 'x10' and 99,990 more"
        );
        assert_eq!(name_list(&names[..2], ""), "x1, x2");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
