//! Data sets: a table of finite numbers read from CSV with a header, its
//! row ranges, seeded splits and folds, and its layout for one model
//! ([`ModelData`]): one row-major buffer per data tensor, from which
//! mini-batches are gathered into reused buffers ([`Batch`]).
//!
//! Rows are numbered from 0 in the API (`rows(10..20)`, the indices a split
//! returns); messages about a cell name its line in the file (the header is
//! line 1) and its column by number (from 1) and header name.

use std::ops::{Bound, RangeBounds};
use std::path::Path;

use smallvec::SmallVec;
use symgrad_runtime::random::{self, SplitMix64};

use crate::error::{invalid_option, Error, ErrorKind, Result};
use crate::model::Model;

fn data_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Data, message)
}

/// A table of finite numbers with named columns, one sample per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    columns: Vec<String>,
    /// Row-major, `n_rows * columns.len()` entries.
    values: Vec<f64>,
    /// The file line of each row, for messages; rows built in memory are
    /// numbered as if written after a header (row `i` on line `i + 2`).
    lines: Vec<u64>,
}

impl Dataset {
    /// Reads a CSV file with a header line.
    ///
    /// # Errors
    /// The file cannot be read, or its contents are malformed as described
    /// at [`Dataset::from_csv_str`]; the message starts with the path.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Dataset> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            data_error(format!(
                "{}: the file is not UTF-8 text (at byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ))
        })?;
        Dataset::from_csv_str(&text).map_err(|e| e.context(path.display()))
    }

    /// Reads CSV text: a header of column names, then one row of numbers
    /// per sample. Spaces around cells are ignored, and so are empty lines.
    ///
    /// # Errors
    /// [`ErrorKind::Data`]: no header (the text is empty, or its first line
    /// holds only numbers), no rows, a row with a different number of cells
    /// than the header, or a cell that is not a finite number (naming its
    /// line, its column number and its header name).
    pub fn from_csv_str(text: &str) -> Result<Dataset> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut lines_before = LineCounter::new(text);
        let header = csv.headers().map_err(csv_error)?.clone();
        let columns: Vec<String> = header.iter().map(str::to_string).collect();
        if columns.is_empty() || columns.iter().all(|c| c.is_empty()) {
            return Err(data_error(
                "the data is empty: it needs a header line naming the columns, then one row per sample",
            ));
        }
        if columns.iter().all(|c| c.parse::<f64>().is_ok()) {
            return Err(data_error(format!(
                "line 1 holds only numbers ({}), but it must be a header naming the columns",
                abbreviate(&columns)
            )));
        }
        let mut values = Vec::new();
        let mut lines = Vec::new();
        for record in csv.records() {
            let record = record.map_err(csv_error)?;
            let line = record
                .position()
                .map_or(0, |p| lines_before.line_at(p.byte() as usize));
            if record.len() != columns.len() {
                return Err(data_error(format!(
                    "line {line} has {} cells, but the header has {} columns",
                    record.len(),
                    columns.len()
                )));
            }
            for (col, cell) in record.iter().enumerate() {
                let value: f64 = cell.parse().map_err(|_| {
                    data_error(format!(
                        "line {line}, column {} ({}): '{cell}' is not a number",
                        col + 1,
                        columns[col]
                    ))
                })?;
                if !value.is_finite() {
                    return Err(data_error(format!(
                        "line {line}, column {} ({}): '{cell}' is not a finite number",
                        col + 1,
                        columns[col]
                    )));
                }
                values.push(value);
            }
            lines.push(line);
        }
        if lines.is_empty() {
            return Err(data_error("the data has a header but no rows"));
        }
        Ok(Dataset {
            columns,
            values,
            lines,
        })
    }

    /// A data set from column names and row-major values.
    ///
    /// # Errors
    /// [`ErrorKind::Data`] when there are no columns, the number of values
    /// is not a multiple of the number of columns, or a value is not finite.
    pub fn new(columns: Vec<String>, values: Vec<f64>) -> Result<Dataset> {
        if columns.is_empty() {
            return Err(data_error("a data set needs at least one column"));
        }
        if !values.len().is_multiple_of(columns.len()) {
            return Err(data_error(format!(
                "{} values do not fill rows of {} columns",
                values.len(),
                columns.len()
            )));
        }
        let n_rows = values.len() / columns.len();
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            return Err(data_error(format!(
                "row {}, column {} ({}): {} is not a finite number",
                at / columns.len(),
                at % columns.len() + 1,
                columns[at % columns.len()],
                values[at]
            )));
        }
        Ok(Dataset {
            columns,
            values,
            lines: (0..n_rows as u64).map(|i| i + 2).collect(),
        })
    }

    /// The header's column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The number of columns.
    pub fn n_columns(&self) -> usize {
        self.columns.len()
    }

    /// The number of rows (samples).
    pub fn n_rows(&self) -> usize {
        self.lines.len()
    }

    /// Row `i`'s values. Panics when `i >= n_rows()`.
    pub fn row(&self, i: usize) -> &[f64] {
        let n = self.columns.len();
        &self.values[i * n..(i + 1) * n]
    }

    /// Every value, row-major.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The file line that row `i` was read from (the header is line 1).
    pub fn line(&self, i: usize) -> u64 {
        self.lines[i]
    }

    /// The rows in `range` (half-open, from 0), in order.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidOption`] when the range is empty or reaches past
    /// the last row.
    pub fn rows(&self, range: impl RangeBounds<usize>) -> Result<Dataset> {
        let n = self.n_rows();
        let start = match range.start_bound() {
            Bound::Included(&a) => a,
            Bound::Excluded(&a) => a.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&b) => b.saturating_add(1),
            Bound::Excluded(&b) => b,
            Bound::Unbounded => n,
        };
        if end > n {
            return Err(invalid_option(format!(
                "the rows {start}..{end} reach past the data's {n} rows (rows are numbered from 0)"
            )));
        }
        if start >= end {
            return Err(invalid_option(format!(
                "the rows {start}..{end} are empty (the data has {n} rows, numbered from 0)"
            )));
        }
        Ok(self.select_unchecked(&(start..end).collect::<Vec<_>>()))
    }

    /// The rows at `indices`, in that order (repeats allowed).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidOption`] when an index is not a row.
    pub fn select(&self, indices: &[usize]) -> Result<Dataset> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.n_rows()) {
            return Err(invalid_option(format!(
                "row {bad} does not exist (the data has {} rows, numbered from 0)",
                self.n_rows()
            )));
        }
        Ok(self.select_unchecked(indices))
    }

    fn select_unchecked(&self, indices: &[usize]) -> Dataset {
        let mut values = Vec::with_capacity(indices.len() * self.n_columns());
        for &i in indices {
            values.extend_from_slice(self.row(i));
        }
        Dataset {
            columns: self.columns.clone(),
            values,
            lines: indices.iter().map(|&i| self.lines[i]).collect(),
        }
    }

    /// A seeded split into `(train, validation)`: `round(train_fraction *
    /// n_rows)` rows drawn at random for training, the rest for validation;
    /// each part keeps the file's order. The same seed gives the same split.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidOption`] unless `0 < train_fraction < 1` and both
    /// parts have at least one row.
    pub fn split(&self, train_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(train_fraction > 0.0 && train_fraction < 1.0) {
            return Err(invalid_option(format!(
                "the training fraction must be between 0 and 1 (exclusive), not {train_fraction}"
            )));
        }
        let n_train = (train_fraction * self.n_rows() as f64).round() as usize;
        self.split_counts(n_train, seed)
    }

    /// The same split as [`Dataset::split`], given the validation fraction
    /// (`--validation 0.2`): `round(validation_fraction * n_rows)` rows for
    /// validation, the rest for training.
    ///
    /// # Errors
    /// As [`Dataset::split`].
    pub fn split_validation(
        &self,
        validation_fraction: f64,
        seed: u64,
    ) -> Result<(Dataset, Dataset)> {
        if !(validation_fraction > 0.0 && validation_fraction < 1.0) {
            return Err(invalid_option(format!(
                "the validation fraction must be between 0 and 1 (exclusive), not {validation_fraction}"
            )));
        }
        let n_val = (validation_fraction * self.n_rows() as f64).round() as usize;
        self.split_counts(self.n_rows().saturating_sub(n_val), seed)
    }

    fn split_counts(&self, n_train: usize, seed: u64) -> Result<(Dataset, Dataset)> {
        let n = self.n_rows();
        if n_train == 0 || n_train >= n {
            return Err(invalid_option(format!(
                "splitting {n} rows into {n_train} for training and {} for validation leaves a part empty",
                n - n_train.min(n)
            )));
        }
        let order = permutation(n, &mut random::stream(seed, "split"));
        let mut train = order[..n_train].to_vec();
        let mut validation = order[n_train..].to_vec();
        train.sort_unstable();
        validation.sort_unstable();
        Ok((
            self.select_unchecked(&train),
            self.select_unchecked(&validation),
        ))
    }

    /// The validation rows of each of `k` folds: a seeded permutation of
    /// the rows cut into `k` parts whose sizes differ by at most one, each
    /// part in file order. Every row is in exactly one fold.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidOption`] when `k < 2` or `k > n_rows()`.
    pub fn fold_indices(&self, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
        let n = self.n_rows();
        if k < 2 {
            return Err(invalid_option(format!(
                "cross-validation needs at least 2 folds, not {k}"
            )));
        }
        if k > n {
            return Err(invalid_option(format!(
                "{k} folds need at least {k} rows, but the data has {n}"
            )));
        }
        let order = permutation(n, &mut random::stream(seed, "folds"));
        Ok((0..k)
            .map(|f| {
                let mut part = order[f * n / k..(f + 1) * n / k].to_vec();
                part.sort_unstable();
                part
            })
            .collect())
    }

    /// `(train, validation)` for each of `k` folds ([`Dataset::fold_indices`]):
    /// fold `f` validates on its part and trains on all other rows, in file order.
    ///
    /// # Errors
    /// As [`Dataset::fold_indices`].
    pub fn folds(&self, k: usize, seed: u64) -> Result<Vec<(Dataset, Dataset)>> {
        let parts = self.fold_indices(k, seed)?;
        let mut fold_of = vec![0; self.n_rows()];
        for (f, part) in parts.iter().enumerate() {
            for &i in part {
                fold_of[i] = f;
            }
        }
        Ok((0..k)
            .map(|f| {
                let train: Vec<usize> = (0..self.n_rows()).filter(|&i| fold_of[i] != f).collect();
                (
                    self.select_unchecked(&train),
                    self.select_unchecked(&parts[f]),
                )
            })
            .collect())
    }

    /// The layout of this data for `model`: its columns are the model's
    /// inputs then targets ([`Model::data_sizes`]), either entry by entry
    /// or, for a single vector target, the inputs then one integer class
    /// label column that fills the target one-hot (as `symgrad net` reads
    /// a CSV).
    ///
    /// # Errors
    /// [`ErrorKind::Mismatch`] naming both counts when the columns fit
    /// neither layout; [`ErrorKind::Data`] naming the line and column of a
    /// label that is not a class index.
    pub fn bind<M: Model + ?Sized>(&self, model: &M) -> Result<ModelData> {
        self.layout(model, false)
    }

    /// As [`Dataset::bind`], but the data may also hold the inputs alone
    /// (for prediction); [`ModelData::has_targets`] says which.
    ///
    /// # Errors
    /// As [`Dataset::bind`].
    pub fn bind_inputs<M: Model + ?Sized>(&self, model: &M) -> Result<ModelData> {
        self.layout(model, true)
    }

    fn layout<M: Model + ?Sized>(&self, model: &M, inputs_alone: bool) -> Result<ModelData> {
        let sizes = model.data_sizes();
        let n_inputs = model.n_inputs().min(sizes.len());
        let n_in: usize = sizes[..n_inputs].iter().sum();
        let n_tgt: usize = sizes[n_inputs..].iter().sum();
        let single_vector_target = sizes.len() == n_inputs + 1 && n_tgt > 1;
        let cols = self.n_columns();
        let label = single_vector_target && cols == n_in + 1;
        let alone = inputs_alone && cols == n_in && n_tgt > 0;
        if !(label || alone || cols == n_in + n_tgt) {
            let label_note = if single_vector_target {
                " (or one integer class label column for its one-hot target)"
            } else {
                ""
            };
            let alone_note = if inputs_alone {
                format!(", or the {n_in} input columns alone")
            } else {
                String::new()
            };
            return Err(Error::new(
                ErrorKind::Mismatch,
                format!(
                    "the data has {cols} columns ({}), but the network needs {} columns: \
                     {n_in} for its inputs, then {n_tgt} for its targets{label_note}{alone_note}",
                    abbreviate(&self.columns),
                    n_in + n_tgt
                ),
            ));
        }
        let n = self.n_rows();
        let data_tensors = if alone { n_inputs } else { sizes.len() };
        let mut tensors: Vec<Vec<f64>> = sizes[..data_tensors]
            .iter()
            .map(|&s| Vec::with_capacity(s * n))
            .collect();
        for i in 0..n {
            let row = self.row(i);
            let mut at = 0;
            for (t, &size) in sizes[..n_inputs].iter().enumerate() {
                tensors[t].extend_from_slice(&row[at..at + size]);
                at += size;
            }
            if alone {
                continue;
            }
            if label {
                let value = row[at];
                if value.fract() != 0.0 || value < 0.0 || value >= n_tgt as f64 {
                    return Err(data_error(format!(
                        "line {}, column {} ({}): the label {value} is not a class index from 0 to {}",
                        self.lines[i],
                        at + 1,
                        self.columns[at],
                        n_tgt - 1
                    )));
                }
                let target = &mut tensors[n_inputs];
                let start = target.len();
                target.resize(start + n_tgt, 0.0);
                target[start + value as usize] = 1.0;
            } else {
                for (t, &size) in sizes.iter().enumerate().skip(n_inputs) {
                    tensors[t].extend_from_slice(&row[at..at + size]);
                    at += size;
                }
            }
        }
        let one_hot = !alone
            && sizes.len() == n_inputs + 1
            && n_tgt > 1
            && n_tgt == model.output_size()
            && (label || tensors[n_inputs].chunks(n_tgt).all(is_one_hot));
        Ok(ModelData {
            sizes: sizes[..data_tensors].to_vec(),
            n_inputs,
            rows: n,
            tensors,
            one_hot,
        })
    }
}

/// The line of a record from its starting byte. The csv reader puts a
/// record's start before the empty lines it skips, so they are skipped
/// here too; lines are counted incrementally, records coming in order.
struct LineCounter<'a> {
    text: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> LineCounter<'a> {
        LineCounter {
            text: text.as_bytes(),
            at: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, mut byte: usize) -> u64 {
        while byte < self.text.len() && matches!(self.text[byte], b'\n' | b'\r') {
            byte += 1;
        }
        let byte = byte.min(self.text.len());
        if byte < self.at {
            self.at = 0;
            self.line = 1;
        }
        self.line += self.text[self.at..byte]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.at = byte;
        self.line
    }
}

fn is_one_hot(row: &[f64]) -> bool {
    row.iter().all(|&v| v == 0.0 || v == 1.0) && row.iter().filter(|&&v| v == 1.0).count() == 1
}

/// The first few names of a list, for messages.
fn abbreviate(names: &[String]) -> String {
    if names.len() <= 6 {
        names.join(", ")
    } else {
        format!(
            "{}, ..., {}",
            names[..3].join(", "),
            names[names.len() - 2..].join(", ")
        )
    }
}

fn csv_error(e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the data is not UTF-8 text".to_string(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    };
    match line {
        Some(line) => data_error(format!("line {line}: {message}")),
        None => data_error(message),
    }
}

/// A uniformly random permutation of `0..n` (Fisher–Yates), drawn from `rng`.
pub fn permutation(n: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, rng);
    order
}

/// Shuffles `items` in place (Fisher–Yates): each position's swap partner
/// is drawn without modulo bias (the high half of a 64 by 64 bit product).
pub fn shuffle(items: &mut [usize], rng: &mut SplitMix64) {
    for i in (1..items.len()).rev() {
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        items.swap(i, j);
    }
}

/// Parses a row range as the CLI writes it: `A..B` (half-open, rows from
/// 0), `A..` or `..B`.
///
/// # Errors
/// [`ErrorKind::InvalidOption`] for anything else.
pub fn parse_row_range(spec: &str) -> Result<(Bound<usize>, Bound<usize>)> {
    let bad = || {
        invalid_option(format!(
            "'{spec}' is not a row range: write A..B (rows A to B-1, from 0), A.. or ..B"
        ))
    };
    let (a, b) = spec.trim().split_once("..").ok_or_else(bad)?;
    let end_of = |s: &str| -> Result<Option<usize>> {
        let s = s.trim();
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(|_| bad())
        }
    };
    let start = end_of(a)?.map_or(Bound::Unbounded, Bound::Included);
    let end = end_of(b)?.map_or(Bound::Unbounded, Bound::Excluded);
    Ok((start, end))
}

/// The slices a [`Model`] call takes: one per data tensor.
#[derive(Debug)]
pub struct Slices<'a>(SmallVec<[&'a [f64]; 8]>);

impl<'a> std::ops::Deref for Slices<'a> {
    type Target = [&'a [f64]];
    fn deref(&self) -> &[&'a [f64]] {
        &self.0
    }
}

/// A data set laid out for one model ([`Dataset::bind`]): one row-major
/// buffer per data tensor, the inputs then the targets.
#[derive(Clone, Debug)]
pub struct ModelData {
    sizes: Vec<usize>,
    n_inputs: usize,
    rows: usize,
    tensors: Vec<Vec<f64>>,
    one_hot: bool,
}

impl ModelData {
    /// The number of rows.
    pub fn n_rows(&self) -> usize {
        self.rows
    }

    /// Whether the targets are present (always, unless bound with
    /// [`Dataset::bind_inputs`] to inputs alone).
    pub fn has_targets(&self) -> bool {
        self.tensors.len() > self.n_inputs
    }

    /// Whether there is a single target, one-hot in every row, of the
    /// prediction's size: then accuracy is defined (the argmax of the
    /// prediction against the argmax of the target).
    pub fn one_hot(&self) -> bool {
        self.one_hot
    }

    /// Every data tensor over all rows: the slices a model call takes.
    pub fn all(&self) -> Slices<'_> {
        Slices(self.tensors.iter().map(Vec::as_slice).collect())
    }

    /// The input tensors over all rows.
    pub fn inputs(&self) -> Slices<'_> {
        Slices(
            self.tensors[..self.n_inputs]
                .iter()
                .map(Vec::as_slice)
                .collect(),
        )
    }

    /// The single target over all rows when [`ModelData::one_hot`].
    pub fn one_hot_target(&self) -> Option<&[f64]> {
        self.one_hot.then(|| self.tensors[self.n_inputs].as_slice())
    }

    /// Copies the rows at `rows` (indices from 0) into `batch`, reusing its
    /// buffers: after the first batch of the largest size, no allocation.
    /// Panics when an index is not a row.
    pub fn gather(&self, rows: &[usize], batch: &mut Batch) {
        batch.tensors.resize_with(self.tensors.len(), Vec::new);
        for ((buffer, source), &size) in
            batch.tensors.iter_mut().zip(&self.tensors).zip(&self.sizes)
        {
            buffer.clear();
            for &r in rows {
                buffer.extend_from_slice(&source[r * size..(r + 1) * size]);
            }
        }
        batch.rows = rows.len();
    }
}

/// Reused buffers for one mini-batch: one per data tensor.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    tensors: Vec<Vec<f64>>,
    rows: usize,
}

impl Batch {
    /// Empty buffers.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// The number of rows gathered.
    pub fn n_rows(&self) -> usize {
        self.rows
    }

    /// The slices a model call takes.
    pub fn slices(&self) -> Slices<'_> {
        Slices(self.tensors.iter().map(Vec::as_slice).collect())
    }
}
