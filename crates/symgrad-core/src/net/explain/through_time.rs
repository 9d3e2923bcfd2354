//! Backpropagation through time, read off an explanation's unrolled lines.
//!
//! A recurrence `h[t] = ... for t in 1..8` is unrolled into the graph, so
//! the reverse pass gives one adjoint per step, `∂C/∂h[6]` from `∂C/∂h[7]`,
//! `∂C/∂h[5]` from `∂C/∂h[6]`, and a shared weight's gradient as one term
//! per step. This module folds them back into the textbook's form: every
//! step index `N` in step `k`'s line is written relative to `t`
//! (`h[k+1]` becomes `h[t+1]`), and consecutive steps whose lines then read
//! the same are printed once, `for t = 6, ..., 0`; a weight's terms that
//! read the same become `Σ_{t=1..7}`. Nothing is assumed about the
//! network: a step whose line differs (the first, which has no `h[t-1]`, or
//! the last, where the output error enters) is printed as it is, so what is
//! printed is what the unrolled lines say.
//!
//! It works on the printed text (a name immediately followed by `[N]` is a
//! step read: shapes print as `, [16, 4, 4]`, after a space).

/// One printed line: left side, right side.
pub type TextLine = (String, String);

/// The index `NAME[N]` occurrences of `text`: (start of `[`, end after
/// `]`, `N`).
fn step_reads(text: &str) -> Vec<(usize, usize, i64)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut k = 0;
    while let Some(rel) = text[k..].find('[') {
        let open = k + rel;
        k = open + 1;
        // After a name (`h1[7]`), or a LaTeX subscript (`h_{1}[7]`).
        let named = open > 0
            && (bytes[open - 1].is_ascii_alphanumeric() || matches!(bytes[open - 1], b'_' | b'}'));
        let Some(len) = text[open + 1..].find(']') else {
            break;
        };
        let inner = &text[open + 1..open + 1 + len];
        if named && !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = inner.parse::<i64>() {
                out.push((open, open + len + 2, n));
            }
        }
    }
    out
}

/// `text` with each step read `[N]` written `[t±(N-k)]`.
fn relative(text: &str, k: i64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end, n) in step_reads(text) {
        out.push_str(&text[copied..start]);
        let d = n - k;
        out.push_str(&match d {
            0 => "[t]".to_string(),
            d if d > 0 => format!("[t+{d}]"),
            d => format!("[t-{}]", -d),
        });
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The largest step read in `text`.
fn last_step(text: &str) -> Option<i64> {
    step_reads(text).into_iter().map(|(_, _, n)| n).max()
}

/// `text` split at its top-level ` + ` (outside parentheses and brackets).
fn terms(text: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    let bytes = text.as_bytes();
    let mut k = 0;
    while k < bytes.len() {
        match bytes[k] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b' ' if depth == 0 && text[k..].starts_with(" + ") => {
                out.push(&text[start..k]);
                start = k + 3;
                k += 2;
            }
            _ => {}
        }
        k += 1;
    }
    out.push(&text[start..]);
    out
}

/// For the left side of a step's adjoint (one step read, `∂C/∂h1[7]`):
/// the left side relative to `t` (`∂C/∂h1[t]`), which names the family,
/// and the step.
fn step_of(lhs: &str) -> Option<(String, i64)> {
    match step_reads(lhs)[..] {
        [(_, _, n)] => Some((relative(lhs, n), n)),
        _ => None,
    }
}

/// How the folded lines are written: text or LaTeX.
#[derive(Clone, Copy)]
pub enum Notation {
    Text,
    Latex,
}

impl Notation {
    fn steps(self, first: i64, last: i64, count: usize) -> String {
        match (self, count) {
            (Notation::Text, 2) => format!("   for t = {first}, {last}"),
            (Notation::Text, _) => format!("   for t = {first}, ..., {last}"),
            (Notation::Latex, 2) => format!(" \\quad t = {first}, {last}"),
            (Notation::Latex, _) => format!(" \\quad t = {first}, \\ldots, {last}"),
        }
    }

    fn sum(self, low: i64, high: i64, term: &str) -> String {
        let wrapped = terms(term).len() > 1 || term.contains(" - ");
        match self {
            Notation::Text if wrapped => format!("Σ_{{t={low}..{high}}} ({term})"),
            Notation::Text => format!("Σ_{{t={low}..{high}}} {term}"),
            Notation::Latex if wrapped => {
                format!("\\sum_{{t={low}}}^{{{high}}} \\left({term}\\right)")
            }
            Notation::Latex => format!("\\sum_{{t={low}}}^{{{high}}} {term}"),
        }
    }
}

/// Replaces the whole-name occurrences of `from` in `text` by `to`.
fn replace_name(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(k) = rest.find(from) {
        let after = rest[k + from.len()..].chars().next();
        let whole = !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '[');
        out.push_str(&rest[..k]);
        out.push_str(if whole { to } else { from });
        rest = &rest[k + from.len()..];
    }
    out.push_str(rest);
    out
}

/// The backpropagation-through-time lines of a recurrent network, from its
/// post-activation lines `adjoints` and its parameters' `gradients`;
/// `aliases` pairs an adjoint's text with the step adjoint that is the same
/// node (`∂C/∂a1` and `∂C/∂h1[7]` for `a1 = h1[7]`). Empty when the
/// network has no recurrence.
pub fn fold(
    adjoints: &[TextLine],
    gradients: &[TextLine],
    aliases: &[(String, String)],
    notation: Notation,
) -> Vec<TextLine> {
    let unalias = |text: &str| {
        aliases
            .iter()
            .fold(text.to_string(), |t, (from, to)| replace_name(&t, from, to))
    };
    let mut out = Vec::new();
    // Each family's step adjoints, last step first (as printed).
    let mut seen: Vec<String> = Vec::new();
    for (lhs, _) in adjoints {
        let Some((family, _)) = step_of(lhs) else {
            continue;
        };
        if seen.contains(&family) {
            continue;
        }
        seen.push(family.clone());
        let mut steps: Vec<(i64, &str, String)> = adjoints
            .iter()
            .filter_map(|(l, r)| {
                let (f, k) = step_of(l)?;
                (f == family).then_some((k, l.as_str(), r.clone()))
            })
            .collect();
        steps.sort_by_key(|s| std::cmp::Reverse(s.0));
        let mut k = 0;
        while k < steps.len() {
            let (step, lhs, rhs) = &steps[k];
            // The last step is where the output error enters: as it is.
            if k == 0 {
                out.push((lhs.to_string(), rhs.clone()));
                k += 1;
                continue;
            }
            let template = relative(&unalias(rhs), *step);
            let mut end = k + 1;
            while end < steps.len()
                && steps[end].0 == steps[end - 1].0 - 1
                && relative(&unalias(&steps[end].2), steps[end].0) == template
            {
                end += 1;
            }
            if end - k > 1 {
                let last = steps[end - 1].0;
                out.push((
                    family.clone(),
                    format!("{template}{}", notation.steps(*step, last, end - k)),
                ));
            } else {
                out.push((lhs.to_string(), rhs.clone()));
            }
            k = end;
        }
    }
    if out.is_empty() {
        return out;
    }
    for (lhs, rhs) in gradients {
        let rhs = unalias(rhs);
        let parts = terms(&rhs);
        if parts.len() < 2 || !parts.iter().any(|p| last_step(p).is_some()) {
            continue;
        }
        let mut folded = Vec::new();
        let mut k = 0;
        while k < parts.len() {
            let Some(step) = last_step(parts[k]) else {
                folded.push(parts[k].to_string());
                k += 1;
                continue;
            };
            let template = relative(parts[k], step);
            let mut end = k + 1;
            let mut low = step;
            while end < parts.len()
                && last_step(parts[end]) == Some(low - 1)
                && relative(parts[end], low - 1) == template
            {
                low -= 1;
                end += 1;
            }
            folded.push(if end - k > 1 {
                notation.sum(low, step, &template)
            } else {
                parts[k].to_string()
            });
            k = end;
        }
        out.push((lhs.clone(), folded.join(" + ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_reads_are_names_followed_by_a_number() {
        let t = "reshape(h1[7], [16, 4, 4]) + v[0] + w[t]";
        let reads: Vec<i64> = step_reads(t).into_iter().map(|r| r.2).collect();
        assert_eq!(reads, [7, 0]);
        assert_eq!(
            relative(t, 6),
            "reshape(h1[t+1], [16, 4, 4]) + v[t-6] + w[t]"
        );
        assert_eq!(
            terms("(a + b) c + d[1 + 2] + e"),
            ["(a + b) c", "d[1 + 2]", "e"]
        );
        assert_eq!(
            replace_name("∂C/∂a1 + ∂C/∂a10", "∂C/∂a1", "X"),
            "X + ∂C/∂a10"
        );
    }
}
