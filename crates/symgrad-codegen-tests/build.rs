//! Writes one value+gradient+Hessian function per reference formula, in f64
//! and f32, and a table of them with their points and SymPy's results.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use std::path::Path;
use symgrad_core::emit::{gradient_fn, Float, Param, Returns};

fn main() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/reference.jsonl");
    println!("cargo::rerun-if-changed={}", data.display());
    let text = std::fs::read_to_string(&data).expect("tests/data/reference.jsonl is readable");
    let mut items = TokenStream::new();
    let mut table = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let id = case["id"].as_u64().expect("id");
        let formula = case["formula"].as_str().expect("formula");
        let parsed = symgrad_core::parse::parse(formula).expect("the reference formulas parse");
        // Variables may be Greek letters, which are valid Rust identifiers;
        // parameters are named by position to keep the code simple.
        let params: Vec<Param> = (0..parsed.vars.len())
            .map(|i| Param {
                name: format!("v{i}"),
                len: None,
            })
            .collect();
        let n = params.len();
        for (float, suffix) in [(Float::F64, "f64"), (Float::F32, "f32")] {
            let mut g = parsed.graph.clone();
            let name = format!("case_{id}_{suffix}");
            let item = gradient_fn(
                &mut g,
                parsed.output,
                &parsed.vars,
                &name,
                &params,
                float,
                Returns::Hessian,
            )
            .expect("every reference formula generates code");
            items.extend(item);
        }
        let f64_fn = format_ident!("case_{}_f64", id);
        let f32_fn = format_ident!("case_{}_f32", id);
        let point: Vec<f64> = case["vars"]
            .as_array()
            .expect("vars")
            .iter()
            .map(|v| {
                case["point"][v.as_str().expect("name")]
                    .as_f64()
                    .expect("value")
            })
            .collect();
        let nums = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .expect("array")
                .iter()
                .map(|x| x.as_f64().expect("number"))
                .collect()
        };
        let value = case["value"].as_f64().expect("value");
        let gradient = nums(&case["gradient"]);
        let hessian: Vec<f64> = case["hessian"]
            .as_array()
            .expect("hessian")
            .iter()
            .flat_map(nums)
            .collect();
        let lits = |xs: &[f64]| {
            xs.iter()
                .map(|&x| Literal::f64_unsuffixed(x))
                .collect::<Vec<_>>()
        };
        let (p, gr, he) = (lits(&point), lits(&gradient), lits(&hessian));
        let v = Literal::f64_unsuffixed(value);
        let idl = Literal::u64_unsuffixed(id);
        let args64: Vec<TokenStream> = (0..n)
            .map(|i| {
                let i = Literal::usize_unsuffixed(i);
                quote!(p[#i])
            })
            .collect();
        let args32: Vec<TokenStream> = (0..n)
            .map(|i| {
                let i = Literal::usize_unsuffixed(i);
                quote!(p[#i] as f32)
            })
            .collect();
        table.push(quote! {
            Case {
                id: #idl,
                formula: #formula,
                point: &[#(#p),*],
                value: #v,
                gradient: &[#(#gr),*],
                hessian: &[#(#he),*],
                run_f64: |p: &[f64]| {
                    let (v, g, h) = #f64_fn(#(#args64),*);
                    (v, g.to_vec(), h.iter().flatten().copied().collect())
                },
                run_f32: |p: &[f64]| {
                    let (v, g, h) = #f32_fn(#(#args32),*);
                    (f64::from(v), g.iter().map(|&x| f64::from(x)).collect(), h.iter().flatten().map(|&x| f64::from(x)).collect())
                },
            }
        });
    }
    let file = quote! {
        #items
        /// Value, gradient and row-major Hessian.
        pub type Output = (f64, Vec<f64>, Vec<f64>);
        /// One reference case with its generated functions.
        pub struct Case {
            pub id: u64,
            pub formula: &'static str,
            pub point: &'static [f64],
            pub value: f64,
            pub gradient: &'static [f64],
            pub hessian: &'static [f64],
            pub run_f64: fn(&[f64]) -> Output,
            pub run_f32: fn(&[f64]) -> Output,
        }
        /// Every case, in file order.
        pub const CASES: &[Case] = &[#(#table),*];
    };
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("reference_fns.rs");
    std::fs::write(out, file.to_string()).expect("OUT_DIR is writable");
}
