//! `train --plot FILE.svg|FILE.png`: a picture of a training run in two
//! panels, one above the other.
//!
//! - Above: the training loss and the validation loss per epoch (left
//!   axis), and the validation accuracy in percent (right axis), with the
//!   epoch whose parameters were kept marked when early stopping chose one.
//! - Below: the gradient norm of every parameter per epoch on a log scale,
//!   which is where vanishing and exploding gradients show: in a deep
//!   sigmoid network the first layers' norms sit decades below the last's.
//!
//! Text needs a font: an SVG names the family (`sans-serif`) and leaves the
//! drawing to the viewer, but plotters measures text to lay it out, and a
//! PNG draws it. The font is a TrueType file found on the system
//! (`$SYMGRAD_FONT`, else the usual places of DejaVu Sans, Liberation Sans,
//! Noto Sans or any sans-serif `.ttf` under `/usr/share/fonts`); without
//! one, `--plot` is an error saying so.

use crate::Failure;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use symgrad_nn::History;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 760;

/// The picture's format, from the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

/// The format `path` asks for; anything but .svg or .png is an error, told
/// before training starts.
pub fn format_of(path: &Path) -> Result<Format, Failure> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => Ok(Format::Svg),
        Some("png") => Ok(Format::Png),
        _ => Err(Failure::input(format!(
            "error: --plot {}: the file must end in .svg or .png",
            path.display()
        ))),
    }
}

/// Where a sans-serif TrueType font may be.
fn font_candidates() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::env::var_os("SYMGRAD_FONT")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    for p in [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
        "/usr/share/fonts/noto/NotoSans-Regular.ttf",
        "/Library/Fonts/Arial.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "C:\\Windows\\Fonts\\arial.ttf",
    ] {
        out.push(PathBuf::from(p));
    }
    // Any other sans-serif regular face, a few levels down.
    let mut dirs = vec![PathBuf::from("/usr/share/fonts")];
    let mut found = Vec::new();
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.ends_with(".ttf")
                    && name.contains("Sans")
                    && !name.contains("Mono")
                    && !name.contains("Bold")
                    && !name.contains("Oblique")
                    && !name.contains("Italic")
                {
                    found.push(path);
                }
            }
        }
    }
    found.sort();
    out.extend(found);
    out
}

/// Registers a system font as plotters' `sans-serif`, once.
fn register_font() -> Result<(), Failure> {
    static REGISTERED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = REGISTERED.get_or_init(|| {
        for path in font_candidates() {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            // plotters keeps fonts for the life of the program.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return Ok(path);
            }
            // Not a font plotters can read: try the next.
        }
        Err(
            "--plot needs a TrueType font to lay out its text, and none was found \
             (install one, e.g. fonts-dejavu-core, or set SYMGRAD_FONT=/path/to/font.ttf)"
                .to_string(),
        )
    });
    result
        .as_ref()
        .map(|_| ())
        .map_err(|e| Failure::io(format!("error: {e}")))
}

/// Draws `history` into `path` (.svg or .png), titled `title`.
pub fn write(path: &Path, history: &History, title: &str) -> Result<(), Failure> {
    let format = format_of(path)?;
    register_font()?;
    let failed = |e: String| Failure::io(format!("error: cannot draw {}: {e}", path.display()));
    match format {
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
                draw(&root, history, title).map_err(failed)?;
                root.present().map_err(|e| failed(e.to_string()))?;
            }
            symgrad_nn::model_file::write_atomically(path, text.as_bytes())
                .map_err(|e| failed(e.to_string()))
        }
        Format::Png => {
            let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
            {
                let root =
                    BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
                draw(&root, history, title).map_err(failed)?;
                root.present().map_err(|e| failed(e.to_string()))?;
            }
            let mut bytes = Vec::new();
            {
                let mut encoder = png::Encoder::new(&mut bytes, WIDTH, HEIGHT);
                encoder.set_color(png::ColorType::Rgb);
                encoder.set_depth(png::BitDepth::Eight);
                let mut writer = encoder.write_header().map_err(|e| failed(e.to_string()))?;
                writer
                    .write_image_data(&pixels)
                    .map_err(|e| failed(e.to_string()))?;
            }
            symgrad_nn::model_file::write_atomically(path, &bytes)
                .map_err(|e| failed(e.to_string()))
        }
    }
}

/// Distinct colours for the parameters' lines (Tableau's ten).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The colour of parameter `k` of `n`: the ten distinct colours for a
/// small network; for a deeper one, a dark-to-light ramp in file order
/// (first layer dark blue, last yellow), so that the stack of lines reads
/// as the layers in order, which is what shows a vanishing gradient.
fn param_color(k: usize, n: usize) -> RGBColor {
    if n <= PALETTE.len() {
        return PALETTE[k];
    }
    // Anchors of a perceptually even ramp (dark blue, teal, green, yellow).
    const RAMP: [(f64, f64, f64); 4] = [
        (68.0, 1.0, 84.0),
        (49.0, 104.0, 142.0),
        (53.0, 183.0, 121.0),
        (230.0, 200.0, 30.0),
    ];
    let t = k as f64 / (n - 1) as f64 * (RAMP.len() - 1) as f64;
    let i = (t.floor() as usize).min(RAMP.len() - 2);
    let f = t - i as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    let (a, b) = (RAMP[i], RAMP[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VALIDATION: RGBColor = RGBColor(255, 127, 14);
const ACCURACY: RGBColor = RGBColor(44, 160, 44);

/// How a panel's values map to its y axis.
#[derive(Clone, Copy, Debug)]
enum Scale {
    /// The values themselves, from `lo` to `hi`.
    Linear { lo: f64, hi: f64 },
    /// log10 of the values, over whole decades `10^lo` to `10^hi`.
    Decades { lo: f64, hi: f64 },
}

impl Scale {
    /// A scale for `values` (the finite ones; on a log scale, the positive
    /// ones): a log scale when asked for, or when the values are positive and
    /// span more than three decades (a diverging loss), else linear.
    fn fit(values: impl Iterator<Item = f64> + Clone, log: bool) -> Scale {
        let finite = values.filter(|v| v.is_finite());
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in finite.clone() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            return if log {
                Scale::Decades { lo: -3.0, hi: 0.0 }
            } else {
                Scale::Linear { lo: 0.0, hi: 1.0 }
            };
        }
        if log || (lo > 0.0 && hi / lo > 1e3) {
            let positive = finite.filter(|v| *v > 0.0);
            let lo = positive.clone().fold(f64::INFINITY, f64::min);
            let hi = positive.fold(f64::NEG_INFINITY, f64::max);
            if lo > hi {
                return Scale::Decades { lo: -3.0, hi: 0.0 };
            }
            let (dlo, dhi) = (lo.log10().floor(), hi.log10().ceil());
            return Scale::Decades {
                lo: dlo,
                hi: dhi.max(dlo + 1.0),
            };
        }
        // Padded, so that a flat line is still drawn inside the frame, and
        // not below 0 for values that are not.
        let pad = ((hi - lo) * 0.05).max(hi.abs() * 0.05).max(1e-12);
        let bottom = if lo >= 0.0 {
            (lo - pad).max(0.0)
        } else {
            lo - pad
        };
        Scale::Linear {
            lo: bottom,
            hi: hi + pad,
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        match *self {
            Scale::Linear { lo, hi } | Scale::Decades { lo, hi } => lo..hi,
        }
    }

    /// Where `v` goes on the axis; `None` for a value that cannot be drawn.
    fn at(&self, v: f64) -> Option<f64> {
        match self {
            _ if !v.is_finite() => None,
            Scale::Linear { .. } => Some(v),
            Scale::Decades { .. } => (v > 0.0).then(|| v.log10()),
        }
    }

    /// How many labels the axis gets: every decade, up to eleven.
    fn labels(&self) -> usize {
        match *self {
            Scale::Linear { .. } => 10,
            Scale::Decades { lo, hi } => ((hi - lo) as usize + 1).min(11),
        }
    }

    /// The label at axis position `v`.
    fn label(&self, v: f64) -> String {
        match self {
            Scale::Linear { .. } => compact(v),
            Scale::Decades { .. } => decade(v),
        }
    }

    fn describe(&self, what: &str) -> String {
        match self {
            Scale::Linear { .. } => what.to_string(),
            Scale::Decades { .. } => format!("{what} (log scale)"),
        }
    }
}

/// A linear axis label: up to four decimals without trailing zeros, or
/// three significant figures with an exponent for large and small values.
fn compact(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-3..1e5).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".to_string()
        } else {
            s.to_string()
        }
    } else {
        format!("{v:.2e}")
    }
}

/// The label of a whole decade `10^k` (others are not labelled): plain
/// decimals from 0.001 to 1000, else `1e-5`.
fn decade(k: f64) -> String {
    if (k - k.round()).abs() > 1e-9 {
        return String::new();
    }
    let k = k.round() as i32;
    if (-3..=3).contains(&k) {
        format!("{}", 10f64.powi(k))
    } else {
        format!("1e{k}")
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    history: &History,
    title: &str,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, ("sans-serif", 24)).map_err(e)?;
    let (upper, lower) = root.split_vertically(HEIGHT as i32 * 47 / 100);
    let epochs = &history.epochs;
    // Epochs are whole numbers; one epoch still gets an axis of some width.
    let last = epochs.last().map_or(1, |e| e.epoch).max(2) as i32;
    let x_range = 1..last;
    let markers = epochs.len() <= 40;

    // Above: losses (left axis) and validation accuracy (right axis).
    let losses = epochs
        .iter()
        .flat_map(|ep| [Some(ep.train_loss), ep.val_loss])
        .flatten();
    let loss_scale = Scale::fit(losses, false);
    let (lo, hi) = (loss_scale.range().start, loss_scale.range().end);
    let has_accuracy = epochs.iter().any(|ep| ep.val_accuracy.is_some());
    let caption = if has_accuracy {
        "Loss and validation accuracy per epoch"
    } else {
        "Loss per epoch (no accuracy: no validation rows, or a target that is not one-hot)"
    };
    let mut chart = ChartBuilder::on(&upper)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .right_y_label_area_size(70)
        .build_cartesian_2d(x_range.clone(), loss_scale.range())
        .map_err(e)?
        .set_secondary_coord(x_range.clone(), 0.0..100.0);
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(loss_scale.describe("mean loss"))
        .x_labels(10)
        .y_labels(loss_scale.labels())
        .y_label_formatter(&|v| loss_scale.label(*v))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(e)?;
    if has_accuracy {
        chart
            .configure_secondary_axes()
            .y_desc("validation accuracy (%)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .draw()
            .map_err(e)?;
    }
    let series = |f: &dyn Fn(&symgrad_nn::Epoch) -> Option<f64>| -> Vec<(i32, f64)> {
        epochs
            .iter()
            .filter_map(|ep| {
                f(ep)
                    .filter(|v| v.is_finite())
                    .map(|v| (ep.epoch as i32, v))
            })
            .collect()
    };
    let train = series(&|ep| loss_scale.at(ep.train_loss));
    let val = series(&|ep| ep.val_loss.and_then(|v| loss_scale.at(v)));
    let acc = series(&|ep| ep.val_accuracy.map(|a| 100.0 * a));
    chart
        .draw_series(LineSeries::new(train.clone(), TRAIN.stroke_width(2)))
        .map_err(e)?
        .label("training loss")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], TRAIN.stroke_width(2)));
    if markers {
        chart
            .draw_series(train.iter().map(|&p| Circle::new(p, 3, TRAIN.filled())))
            .map_err(e)?;
    }
    if !val.is_empty() {
        chart
            .draw_series(LineSeries::new(val.clone(), VALIDATION.stroke_width(2)))
            .map_err(e)?
            .label("validation loss")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], VALIDATION.stroke_width(2))
            });
        if markers {
            chart
                .draw_series(val.iter().map(|&p| Circle::new(p, 3, VALIDATION.filled())))
                .map_err(e)?;
        }
    }
    if !acc.is_empty() {
        chart
            .draw_secondary_series(DashedLineSeries::new(
                acc.clone(),
                6,
                4,
                ACCURACY.stroke_width(2),
            ))
            .map_err(e)?
            .label("validation accuracy (right axis)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], ACCURACY.stroke_width(2)));
        if markers {
            chart
                .draw_secondary_series(acc.iter().map(|&p| Circle::new(p, 3, ACCURACY.filled())))
                .map_err(e)?;
        }
    }
    if let (Some(best), true) = (history.best_epoch, history.stopped.is_some()) {
        let best = best as i32;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(best, lo), (best, hi)],
                BLACK.mix(0.5).stroke_width(1),
            )))
            .map_err(e)?
            .label(format!("epoch kept ({best})"))
            .legend(|(x, y)| {
                PathElement::new(vec![(x + 12, y - 6), (x + 12, y + 6)], BLACK.mix(0.5))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::MiddleRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(e)?;

    // Below: each parameter's gradient norm on a log scale, drawn as
    // log10 of the norm on whole decades, so that every decade is labelled
    // (plotters' own log axis leaves narrow ranges unlabelled).
    let norms = epochs.iter().flat_map(|ep| ep.grad_norms.iter().copied());
    let norm_scale = Scale::fit(norms, true);
    let mut chart = ChartBuilder::on(&lower)
        .caption(
            "Gradient norm ‖∂C/∂θ‖₂ of each parameter per epoch (log scale, mean over the epoch's steps)",
            ("sans-serif", 18),
        )
        .margin(12)
        // The right margin of the panel above's accuracy axis, so that the
        // two panels' epochs line up.
        .margin_right(82)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, norm_scale.range())
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(norm_scale.describe("gradient norm"))
        .x_labels(10)
        .y_labels(norm_scale.labels())
        .y_label_formatter(&|v| norm_scale.label(*v))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(e)?;
    let n_params = history.param_names.len();
    // Where each line ends, in the panel's pixels, for its label.
    let mut ends: Vec<(String, RGBColor, (i32, i32))> = Vec::new();
    for (k, name) in history.param_names.iter().enumerate() {
        let color = param_color(k, n_params);
        let points: Vec<(i32, f64)> = epochs
            .iter()
            .filter_map(|ep| {
                ep.grad_norms
                    .get(k)
                    .copied()
                    .and_then(|v| norm_scale.at(v))
                    .map(|v| (ep.epoch as i32, v))
            })
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(e)?;
        if markers {
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(e)?;
        }
        if let Some(&last) = points.last() {
            ends.push((name.clone(), color, chart.backend_coord(&last)));
        }
    }
    // Each line is named at its right end, in its colour: with ten layers a
    // legend box would cover the lines and repeat colours. Labels are
    // pushed apart so that none overlaps the next, keeping their order.
    let (base_x, base_y) = lower.get_base_pixel();
    let (_, panel_height) = lower.dim_in_pixel();
    let spacing = 14;
    ends.sort_by_key(|(_, _, (_, y))| *y);
    let mut placed: Vec<i32> = Vec::with_capacity(ends.len());
    for (_, _, (_, y)) in &ends {
        let y = match placed.last() {
            Some(&prev) => (*y).max(prev + spacing),
            None => *y,
        };
        placed.push(y);
    }
    // Labels pushed past the panel's bottom move up together.
    let bottom = base_y + panel_height as i32 - 4;
    if let Some(&lowest) = placed.last() {
        if lowest > bottom {
            let shift = lowest - bottom;
            for y in placed.iter_mut() {
                *y -= shift;
            }
        }
    }
    for ((name, color, (x, _)), y) in ends.iter().zip(&placed) {
        let style = TextStyle::from(("sans-serif", 13).into_font())
            .color(color)
            .pos(Pos::new(HPos::Left, VPos::Center));
        lower
            .draw(&Text::new(
                name.clone(),
                (x - base_x + 8, y - base_y),
                style,
            ))
            .map_err(e)?;
    }
    Ok(())
}
