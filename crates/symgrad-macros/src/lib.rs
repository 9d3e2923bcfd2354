//! Compile-time gradients for symgrad: the `grad!` macro and the
//! `#[gradient]` attribute.
//!
//! Both turn mathematics written at compile time into the same hash-consed
//! expression graph the formula parser builds, differentiate it (reverse
//! mode; the Hessian forward over reverse) and splice straight-line Rust into
//! the user's crate: no tape, no allocation, absolute paths only
//! (`::symgrad::__private`, `::core`).
//!
//! The macro works in phases, as thiserror does:
//!
//! 1. **parse** (`sig`, `body`): syn's tree becomes a small typed AST
//!    whose nodes keep a reference to the syn node they came from, so that
//!    every error is spanned on the tokens it is about. Names are resolved
//!    and types (integer or float) checked here; every unsupported construct
//!    is reported, and all errors are combined into one `syn::Error`.
//! 2. **expand** (`expand`): the AST is evaluated symbolically into a
//!    [`Graph`](symgrad_core::Graph), `for` loops unrolled (integer
//!    arithmetic on loop variables is folded as it goes), so building is
//!    linear in the size of the unrolled function. For the gradient,
//!    loops that only accumulate (`s += term(x[i], x[i + 1])`) are instead
//!    expanded once and kept as loops (`looped`).
//! 3. **emit** (`emit`): `symgrad_core::emit::rust::gradient_parts` lowers
//!    the graph and its derivatives to SSA and Rust tokens, or, with kept
//!    loops, `looped::gradient_parts` emits straight-line code around real
//!    `for` loops.
//!
//! After an error the macro still emits the user's function and a correctly
//! typed stub for the generated one, so the user sees the real error and
//! not a cascade of "cannot find function" errors. Nothing in this crate
//! panics on user input.

mod body;
mod callee;
mod emit;
mod expand;
mod formula;
mod looped;
mod network;
mod sig;

use proc_macro::TokenStream;

/// The value and gradient of a closure or of a formula, as a function.
///
/// ```
/// use symgrad::grad;
///
/// let f = grad!(|x: f64, y: f64| x.powi(2) * y + y + 2.0);
/// assert_eq!(f(3.0, 4.0), (42.0, [24.0, 10.0]));
///
/// let g = grad!("x²y + y + 2", wrt = [x, y]);
/// assert_eq!(g(3.0, 4.0), (42.0, [24.0, 10.0]));
/// ```
///
/// The closure form takes `f64` or `f32` parameters (scalars or arrays
/// `[f64; N]`) and accepts the same bodies as [`macro@gradient`]. The formula
/// form takes a string in symgrad's formula syntax and the variables, in
/// parameter order, after `wrt =`; every variable of the formula must be
/// listed and every listed name used.
///
/// The result is a function item (not a closure: it captures nothing)
/// returning `(value, [gradient; n])`, the gradient in parameter order.
#[proc_macro]
pub fn grad(input: TokenStream) -> TokenStream {
    emit::grad(input.into()).into()
}

/// Adds `NAME_gradient` (and with `#[gradient(hessian)]`, `NAME_hessian`)
/// next to a float function, keeping the function itself unchanged.
///
/// ```
/// use symgrad::gradient;
///
/// #[gradient(hessian)]
/// fn quad(x: f64, y: f64) -> f64 {
///     x.powi(2) * y + y + 2.0
/// }
///
/// assert_eq!(quad(3.0, 4.0), 42.0);
/// assert_eq!(quad_gradient(3.0, 4.0), (42.0, [24.0, 10.0]));
/// assert_eq!(
///     quad_hessian(3.0, 4.0),
///     (42.0, [24.0, 10.0], [[8.0, 6.0], [6.0, 0.0]])
/// );
/// ```
///
/// Parameters are `f64` or `[f64; N]` (or all `f32`), the return type the
/// same float type. `NAME_gradient` has the same parameters and returns
/// `(F, [F; n])`, where a scalar parameter contributes one entry and an
/// array parameter `N`, in order; `NAME_hessian` returns
/// `(F, [F; n], [[F; n]; n])`. Both have the function's visibility.
///
/// The body may use `let` and `let mut` bindings, `=`, `+=`, `-=`, `*=`,
/// `/=`, `+ - * /`, unary minus, float and integer literals, the float
/// methods `powi powf sqrt exp ln log10 log2 sin cos tan asin acos atan sinh
/// cosh tanh abs max min recip` (as `x.sin()` or `f64::sin(x)`), the
/// constants in `std::f64::consts` (`PI`, `E`, `TAU`, ...), `symgrad::sigmoid`,
/// `symgrad::relu` and `symgrad::softplus`, indexing arrays with constant
/// integer expressions, `x.len()`, and `for i in A..B` / `A..=B` loops with
/// constant bounds (the loop variable may appear in index arithmetic and as
/// `i as f64`). In `_gradient`, a loop that only accumulates
/// (`s += term(x[i], x[i + 1])`, affine indices, no accumulator read inside)
/// stays a Rust loop; any other loop, and every loop in `_hessian`, is
/// unrolled. The last statement is the result, bare or
/// as `return expr;`.
#[proc_macro_attribute]
pub fn gradient(args: TokenStream, item: TokenStream) -> TokenStream {
    emit::gradient(args.into(), item.into()).into()
}

/// A network file (`.sg`) compiled into a struct at build time.
///
/// `network!(Mnist, "nets/mnist.sg")` (the path relative to the crate's
/// directory; `pub Mnist` for a public struct; `, f32` after the path for
/// single precision) defines `Mnist`, `MnistParams` (one `Vec` per
/// parameter, public) and `MnistGradient<'_>` (one slice per parameter):
///
/// - `Mnist::init(seed)`: parameters from the file's initializers (the
///   random ones drawn from `seed` exactly as `symgrad net init` draws them);
///   `Mnist::with_params(params)`.
/// - `loss(&mut self, x, y) -> F`: the mean loss over the `m` samples in the
///   data arguments (one row-major slice per `input` and `target`, in file
///   order, `m` samples each).
/// - `loss_and_gradient(&mut self, x, y) -> (F, MnistGradient)`: the mean
///   loss and its gradient, in one backward pass over the batch.
/// - `forward(&mut self, x) -> &[F]`: the prediction (the last equation
///   before `loss` that uses no target) for each sample.
///
/// Each method runs the plan the interpreter runs (`symgrad_core::plan`) as
/// straight-line calls of `symgrad_runtime::kernels`, over buffers
/// allocated on the first call for a batch size and reused after. A bad file
/// is a compile error that names the file, line and column.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    network::network(input.into()).into()
}
