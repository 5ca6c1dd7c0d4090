//! Lines of a stream turned into channels and records as they arrive.
//!
//! - **JSONL**: one object per line. Every numeric field (nested objects flattened with dots)
//!   is a scalar channel named after the field; the text field (`--text`) is a text channel of
//!   its words ([`tokenize`]).
//! - **CSV**: the header (line 1) names the columns. A column whose first non-empty cell is a
//!   number is numeric: a scalar channel.
//! - **Columns**: numbers split on runs of spaces or tabs. Non-numeric lines before the first
//!   row are a preamble; the last of them with as many names as the row has numbers names the
//!   columns (`vmstat`'s second line), else they are `c1`, `c2`, …. A later line equal to the
//!   header is a repeated header and skipped.
//!
//! Every line (object or row) is also one record of the event channel named after the source,
//! which the LTL monitors see. A channel appears with the first value of its field. A field
//! whose type changes (a number that becomes a string) keeps its first type: the other values
//! are counted per field ([`ParseStats::type_changes`]), never coerced.
//!
//! Time: without a time field a record is stamped with its arrival. With one, it is stamped with
//! that field (seconds as a number, or RFC 3339) relative to the first record's, and the nominal
//! sample period is the median of the first [`PERIOD_DELTAS`] positive steps, after which every
//! scalar channel carries it (a catalog change).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::delimited::{CsvSplitter, number, split_columns, trim};
use super::jsonl::{Leaf, flatten_object};
use super::time::parse_time_s;
use super::{Format, LineError};
use crate::model::{
    Catalog, ChannelId, ChannelInfo, ChannelKind, FieldNames, FieldValue, Fields, Record, Value,
};

/// Steps of the time field whose median is the nominal sample period.
pub const PERIOD_DELTAS: usize = 16;

/// Non-numeric lines kept as header candidates before the first row of columns.
const MAX_PREAMBLE_LINES: usize = 16;

/// What the parser is told about its input.
#[derive(Debug, Clone)]
pub struct ParserOptions {
    pub format: Format,
    /// The event channel's name (the source's name: `--name`, the file's stem, or `stdin`).
    pub name: String,
    /// The field or column that holds each record's time.
    pub time_field: Option<String>,
    /// The string field or column whose words become a text channel.
    pub text_field: Option<String>,
    /// Most channels the source may have; fields beyond it are counted, not channelled.
    pub max_channels: usize,
}

/// What the parser has seen so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParseStats {
    /// Lines taken, blank ones and headers included.
    pub lines: u64,
    /// Records produced, on every channel.
    pub records: u64,
    /// Lines skipped whole (not parseable, wrong number of cells, no usable time).
    pub bad_lines: u64,
    /// Cells skipped in lines that were otherwise used (not a number in a numeric column).
    pub bad_cells: u64,
    /// Values of a field that differ from the field's first type, per field.
    pub type_changes: BTreeMap<String, u64>,
    /// Fields that got no channel because the source had [`ParserOptions::max_channels`].
    pub fields_over_limit: u64,
}

impl ParseStats {
    /// Values of any field whose type changed.
    pub fn type_changed(&self) -> u64 {
        self.type_changes.values().sum()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldType {
    Number,
    Bool,
    Text,
}

impl FieldType {
    fn name(self) -> &'static str {
        match self {
            FieldType::Number => "a number",
            FieldType::Bool => "a boolean",
            FieldType::Text => "a string",
        }
    }
}

/// The record times of a `--time` field, and the sample period estimated from them.
#[derive(Debug, Default)]
struct TimeBase {
    first_s: Option<f64>,
    last_s: Option<f64>,
    deltas: Vec<f64>,
    period_s: Option<f64>,
}

impl TimeBase {
    /// `t_ns` of a record at `t_s`; true in the second value when the period became known.
    fn stamp(&mut self, t_s: f64) -> (u64, bool) {
        let first = *self.first_s.get_or_insert(t_s);
        let mut found = false;
        if let Some(last) = self.last_s
            && self.period_s.is_none()
            && t_s > last
        {
            self.deltas.push(t_s - last);
            if self.deltas.len() == PERIOD_DELTAS {
                self.deltas.sort_by(f64::total_cmp);
                self.period_s = Some(self.deltas[PERIOD_DELTAS / 2]);
                found = true;
            }
        }
        self.last_s = Some(t_s);
        (((t_s - first).max(0.0) * 1e9).round() as u64, found)
    }
}

/// Columns of a CSV or columns input.
#[derive(Debug, Default)]
struct Table {
    names: Vec<String>,
    /// The row's field names, shared by every row's event record, and each column's slot in it.
    shape: FieldNames,
    slots: Vec<usize>,
    /// The columns `--time` and `--text` name, if any.
    time_column: Option<usize>,
    text_column: Option<usize>,
    /// Per column: numeric or not, decided by its first non-empty cell (`None`: not yet).
    numeric: Vec<Option<bool>>,
    /// Per column: its scalar channel, once it has one.
    channels: Vec<Option<ChannelId>>,
}

/// The leaf names of a JSONL line in the order they came, and their event record's shape.
#[derive(Debug, Default)]
struct LineShape {
    /// The names one after the other, and where each ends.
    text: String,
    ends: Vec<usize>,
    fields: FieldNames,
    /// Per leaf: its slot in `fields`.
    slots: Vec<usize>,
}

impl LineShape {
    /// Makes this the shape of the leaves `spans` of `names`, unless it already is.
    fn update(&mut self, names: &str, spans: &[(usize, usize, Leaf<'_>)]) {
        let same = self.text == names
            && self.ends.len() == spans.len()
            && self
                .ends
                .iter()
                .zip(spans)
                .all(|(&end, span)| end == span.1);
        if same {
            return;
        }
        let leaves: Vec<&str> = spans.iter().map(|&(s, e, _)| &names[s..e]).collect();
        (self.fields, self.slots) = FieldNames::from_unsorted(&leaves);
        self.text.clear();
        self.text.push_str(names);
        self.ends.clear();
        self.ends.extend(spans.iter().map(|span| span.1));
    }
}

/// Turns lines into records, growing the catalog as fields appear. See the module doc.
pub struct RecordParser {
    opts: ParserOptions,
    catalog: Catalog,
    catalog_changed: bool,
    /// Scalar channels by field name.
    scalars: FxHashMap<String, ChannelId>,
    /// The first type of every field seen.
    types: FxHashMap<String, FieldType>,
    /// Next `seq` per channel id.
    seqs: Vec<u64>,
    text_channel: Option<ChannelId>,
    table: Option<Table>,
    /// Columns: the names on the non-numeric lines before the first row.
    preamble: Vec<Vec<String>>,
    csv: Option<CsvSplitter>,
    time: TimeBase,
    /// JSONL: the leaves' names of a line, one after the other.
    path: String,
    /// JSONL: the dotted name of the leaf being parsed.
    key: String,
    /// JSONL: leaves of the last line, the next line's first guess.
    leaves_hint: usize,
    /// JSONL: the last line's shape, reused while lines keep their keys in the same order.
    shape: LineShape,
    /// Scalar channels are named `<name>.<field>` (a NATS subject's fields), not `<field>`.
    prefix_fields: bool,
    pub stats: ParseStats,
}

/// The event channel's id: the first channel of every text source.
const EVENT_CHANNEL: ChannelId = 0;

impl RecordParser {
    pub fn new(opts: ParserOptions) -> Self {
        let catalog = Catalog {
            source: format!("{} ({})", opts.name, opts.format),
            channels: vec![ChannelInfo {
                id: EVENT_CHANNEL,
                name: opts.name.clone(),
                kind: ChannelKind::Event { fields: Vec::new() },
                unit: None,
                period_s: None,
            }],
        };
        Self {
            opts,
            catalog,
            catalog_changed: true,
            scalars: FxHashMap::default(),
            types: FxHashMap::default(),
            seqs: vec![0],
            text_channel: None,
            table: None,
            preamble: Vec::new(),
            csv: Some(CsvSplitter::default()),
            time: TimeBase::default(),
            path: String::new(),
            key: String::new(),
            leaves_hint: 8,
            shape: LineShape::default(),
            prefix_fields: false,
            stats: ParseStats::default(),
        }
    }

    /// Names every scalar channel `<name>.<field>`: the fields of a NATS subject `sensors.a`
    /// are `sensors.a.temp`, so that subjects with the same fields keep their channels apart.
    pub fn with_field_prefix(mut self) -> Self {
        self.prefix_fields = true;
        self
    }

    /// Counts `missed` records of the event channel that never arrived (a JetStream stream's
    /// sequence jumped): its next record's `seq` leaves a gap of that many.
    pub fn skip_events(&mut self, missed: u64) {
        self.seqs[EVENT_CHANNEL as usize] += missed;
    }

    pub fn options(&self) -> &ParserOptions {
        &self.opts
    }

    /// The channels so far.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The catalog when it changed since the last call (the first call always has it).
    pub fn take_catalog(&mut self) -> Option<Catalog> {
        std::mem::take(&mut self.catalog_changed).then(|| self.catalog.clone())
    }

    /// The sample period estimated from the time field, once known.
    pub fn period_s(&self) -> Option<f64> {
        self.time.period_s
    }

    /// Parses line `line_no` (counting from 1), received `arrival_ns` after the stream
    /// started, appending its records to `out` and what was wrong with it to `problems`
    /// (a bad line is skipped whole, a bad cell alone). `Err` is an input that cannot be read
    /// at all (a CSV without a header, a time column that does not exist).
    pub fn parse_line(
        &mut self,
        line_no: u64,
        line: &str,
        arrival_ns: u64,
        out: &mut Vec<Record>,
        problems: &mut Vec<LineError>,
    ) -> Result<(), LineError> {
        self.stats.lines += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = if line_no == 1 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        if line.trim().is_empty() {
            return Ok(());
        }
        let before = out.len();
        let result = match self.opts.format {
            Format::Jsonl => {
                self.jsonl_line(line_no, line, arrival_ns, out, problems);
                Ok(())
            }
            Format::Csv => self.csv_line(line_no, line, arrival_ns, out, problems),
            Format::Columns => self.columns_line(line_no, line, arrival_ns, out, problems),
        };
        self.stats.records += (out.len() - before) as u64;
        result
    }

    fn bad_line(&mut self, problems: &mut Vec<LineError>, line: u64, message: String) {
        self.stats.bad_lines += 1;
        problems.push(LineError {
            line,
            field: None,
            message,
        });
    }

    /// The scalar channel of `name`, made when it is new (`None` at the channel limit).
    fn scalar_channel(
        &mut self,
        name: &str,
        problems: &mut Vec<LineError>,
        line: u64,
    ) -> Option<ChannelId> {
        if let Some(id) = self.scalars.get(name) {
            return Some(*id);
        }
        let channel_name = if self.prefix_fields || name == self.opts.name {
            format!("{}.{name}", self.opts.name)
        } else {
            name.to_owned()
        };
        let id = self.add_channel(channel_name, ChannelKind::Scalar, problems, line)?;
        self.scalars.insert(name.to_owned(), id);
        Some(id)
    }

    fn add_channel(
        &mut self,
        name: String,
        kind: ChannelKind,
        problems: &mut Vec<LineError>,
        line: u64,
    ) -> Option<ChannelId> {
        if self.catalog.channels.len() >= self.opts.max_channels {
            if self.stats.fields_over_limit == 0 {
                problems.push(LineError {
                    line,
                    field: Some(name.clone()),
                    message: format!(
                        "field {name:?} gets no channel: the source has its limit of {} channels",
                        self.opts.max_channels
                    ),
                });
            }
            self.stats.fields_over_limit += 1;
            return None;
        }
        // Clients choose channels by name, so names are unique: a field `src` of source `src`
        // is channel `src.src`, and a nested field that flattens to `src.src` too becomes
        // `src.src_2` (the suffixes CSV headers get).
        let mut name = name;
        if self.catalog.channels.iter().any(|c| c.name == name) {
            let base = name;
            name = (2..)
                .map(|n| format!("{base}_{n}"))
                .find(|candidate| self.catalog.channels.iter().all(|c| c.name != *candidate))
                .expect("some suffix is free");
        }
        let id = self.catalog.channels.len() as ChannelId;
        let period_s = match kind {
            ChannelKind::Scalar => self.time.period_s,
            _ => None,
        };
        self.catalog.channels.push(ChannelInfo {
            id,
            name,
            kind,
            unit: None,
            period_s,
        });
        self.seqs.push(0);
        self.catalog_changed = true;
        Some(id)
    }

    // Inlined, so that the value is built in its place in `out` (as a call, it was written to
    // the stack and read back: an eighth of a CSV row's time).
    #[inline(always)]
    fn push(&mut self, out: &mut Vec<Record>, channel: ChannelId, t_ns: u64, value: Value) {
        let seq = &mut self.seqs[channel as usize];
        out.push(Record {
            channel,
            seq: *seq,
            t_ns,
            value,
        });
        *seq += 1;
    }

    /// Notes `name`'s type; false (and counted) when it differs from the field's first one.
    fn same_type(
        &mut self,
        name: &str,
        found: FieldType,
        problems: &mut Vec<LineError>,
        line: u64,
    ) -> bool {
        match self.types.get(name) {
            Some(first) if *first == found => true,
            Some(first) => {
                let count = self.stats.type_changes.entry(name.to_owned()).or_default();
                if *count == 0 {
                    problems.push(LineError {
                        line,
                        field: Some(name.to_owned()),
                        message: format!(
                            "field {name:?} is {} here but was {} before: counted, not coerced",
                            found.name(),
                            first.name()
                        ),
                    });
                }
                *count += 1;
                false
            }
            None => {
                self.types.insert(name.to_owned(), found);
                if let ChannelKind::Event { fields } = &mut self.catalog.channels[0].kind {
                    fields.push(name.to_owned());
                }
                self.catalog_changed = true;
                true
            }
        }
    }

    /// `t_ns` of a record whose time field holds `value`; `Err` says why it has none.
    fn stamp(&mut self, value: Option<&Leaf<'_>>) -> Result<u64, String> {
        let field = self.opts.time_field.as_deref().unwrap_or_default();
        let t_s = match value {
            None => return Err(format!("no time field {field:?}")),
            Some(Leaf::Number(x)) if x.is_finite() => *x,
            Some(Leaf::Text(text)) => match number(text).or_else(|| parse_time_s(text)) {
                Some(t) => t,
                None => {
                    return Err(format!(
                        "time field {field:?} is {text:?}: neither seconds nor an RFC 3339 time"
                    ));
                }
            },
            Some(other) => return Err(format!("time field {field:?} is {other:?}, not a time")),
        };
        let (t_ns, found) = self.time.stamp(t_s);
        if found {
            let period = self.time.period_s;
            for channel in &mut self.catalog.channels {
                if channel.kind == ChannelKind::Scalar {
                    channel.period_s = period;
                }
            }
            self.catalog_changed = true;
        }
        Ok(t_ns)
    }

    fn text_records(
        &mut self,
        text: &str,
        t_ns: u64,
        out: &mut Vec<Record>,
        problems: &mut Vec<LineError>,
        line: u64,
    ) {
        let id = match self.text_channel {
            Some(id) => id,
            None => {
                let name = self.opts.text_field.clone().unwrap_or_default();
                let name = if self.scalars.contains_key(&name) || name == self.opts.name {
                    format!("{name}.text")
                } else {
                    name
                };
                let Some(id) = self.add_channel(name, ChannelKind::Text, problems, line) else {
                    return;
                };
                self.text_channel = Some(id);
                id
            }
        };
        for token in tokenize(text) {
            self.push(out, id, t_ns, Value::Token(token.to_owned()));
        }
    }

    fn jsonl_line(
        &mut self,
        line_no: u64,
        line: &str,
        arrival_ns: u64,
        out: &mut Vec<Record>,
        problems: &mut Vec<LineError>,
    ) {
        // Leaves are collected first (their names in one reused buffer), then channelled.
        let mut names = std::mem::take(&mut self.path);
        let mut key = std::mem::take(&mut self.key);
        let mut spans: Vec<(usize, usize, Leaf<'_>)> = Vec::with_capacity(self.leaves_hint);
        let parsed = flatten_object(line, &mut key, &mut |name, leaf| {
            let start = names.len();
            names.push_str(name);
            spans.push((start, names.len(), leaf));
        });
        self.key = key;
        self.leaves_hint = spans.len();
        if let Err(message) = parsed {
            names.clear();
            self.path = names;
            self.bad_line(problems, line_no, message);
            return;
        }
        let t_ns = match self.opts.time_field.clone() {
            None => Ok(arrival_ns),
            Some(field) => {
                let value = spans
                    .iter()
                    .find(|(s, e, _)| names[*s..*e] == field)
                    .map(|(_, _, v)| v);
                self.stamp(value)
            }
        };
        let t_ns = match t_ns {
            Ok(t) => t,
            Err(message) => {
                names.clear();
                self.path = names;
                self.bad_line(problems, line_no, message);
                return;
            }
        };
        let mut shape = std::mem::take(&mut self.shape);
        shape.update(&names, &spans);
        let mut fields = Fields::with_names(shape.fields.clone());
        for (leaf_index, (start, end, leaf)) in spans.into_iter().enumerate() {
            let slot = shape.slots[leaf_index];
            let name = &names[start..end];
            // The common case in one look-up: a number of a field that has its channel (so
            // its first type was a number too).
            if let Leaf::Number(x) = leaf
                && let Some(&id) = self.scalars.get(name)
            {
                self.push(out, id, t_ns, Value::Scalar(x));
                fields.set(slot, FieldValue::Number(x));
                continue;
            }
            let found = match &leaf {
                Leaf::Number(_) => FieldType::Number,
                Leaf::Bool(_) => FieldType::Bool,
                Leaf::Text(_) => FieldType::Text,
            };
            let typed = self.same_type(name, found, problems, line_no);
            let is_time = self.opts.time_field.as_deref() == Some(name);
            match leaf {
                Leaf::Number(x) => {
                    if typed
                        && !is_time
                        && let Some(id) = self.scalar_channel(name, problems, line_no)
                    {
                        self.push(out, id, t_ns, Value::Scalar(x));
                    }
                    fields.set(slot, FieldValue::Number(x));
                }
                Leaf::Bool(b) => {
                    fields.set(slot, FieldValue::Bool(b));
                }
                Leaf::Text(text) => {
                    if typed && self.opts.text_field.as_deref() == Some(name) {
                        self.text_records(&text, t_ns, out, problems, line_no);
                    }
                    fields.set(slot, FieldValue::Text(text.into_owned()));
                }
            }
        }
        self.shape = shape;
        names.clear();
        self.path = names;
        self.push(out, EVENT_CHANNEL, t_ns, Value::Fields(fields));
    }

    /// Names the columns from a header row: blanks become `cN`, repeats get `_2`, `_3`, ….
    fn start_table(&mut self, names: impl IntoIterator<Item = String>) {
        let mut unique: Vec<String> = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            let base = match name.trim() {
                "" => format!("c{}", i + 1),
                trimmed => trimmed.to_owned(),
            };
            let mut candidate = base.clone();
            let mut suffix = 1;
            while unique.contains(&candidate) {
                suffix += 1;
                candidate = format!("{base}_{suffix}");
            }
            unique.push(candidate);
        }
        for name in &unique {
            self.types.entry(name.clone()).or_insert(FieldType::Number);
        }
        if let ChannelKind::Event { fields } = &mut self.catalog.channels[0].kind {
            fields.extend(unique.iter().cloned());
        }
        self.catalog_changed = true;
        let n = unique.len();
        let (shape, slots) = FieldNames::from_unsorted(&unique);
        let column = |field: &Option<String>| {
            field
                .as_ref()
                .and_then(|f| unique.iter().position(|n| n == f))
        };
        let time_column = column(&self.opts.time_field);
        let text_column = column(&self.opts.text_field);
        self.table = Some(Table {
            time_column,
            text_column,
            names: unique,
            shape,
            slots,
            numeric: vec![None; n],
            channels: vec![None; n],
        });
    }

    /// Checks that the time and text fields name columns of the table.
    fn check_columns(&self, line: u64) -> Result<(), LineError> {
        let Some(table) = &self.table else {
            return Ok(());
        };
        for (flag, field) in [
            ("--time", &self.opts.time_field),
            ("--text", &self.opts.text_field),
        ] {
            if let Some(field) = field
                && !table.names.contains(field)
            {
                return Err(LineError {
                    line,
                    field: Some(field.clone()),
                    message: format!(
                        "{flag} {field:?}: no such column; the columns are {}",
                        table.names.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    fn csv_line(
        &mut self,
        line_no: u64,
        line: &str,
        arrival_ns: u64,
        out: &mut Vec<Record>,
        problems: &mut Vec<LineError>,
    ) -> Result<(), LineError> {
        // Taken out for the call (an `Option`, so taking it costs nothing: a new splitter
        // would build csv-core's state machine again, tens of microseconds).
        let Some(mut splitter) = self.csv.take() else {
            return Ok(());
        };
        let result = match splitter.split(line) {
            Err(message) => {
                self.bad_line(problems, line_no, message);
                Ok(())
            }
            Ok(cells) if self.table.is_none() => {
                if cells.iter().all(|c| number(c).is_some()) {
                    Err(LineError {
                        line: line_no,
                        field: None,
                        message: format!(
                            "this CSV has no header: line {line_no} is all numbers; name the \
                             columns in a first line, or read it with --format columns"
                        ),
                    })
                } else {
                    self.start_table(cells.iter().map(|c| (*c).to_owned()));
                    self.check_columns(line_no)
                }
            }
            Ok(cells) => {
                self.row(
                    line_no,
                    cells.iter().copied(),
                    cells.len(),
                    arrival_ns,
                    out,
                    problems,
                );
                Ok(())
            }
        };
        self.csv = Some(splitter);
        result
    }

    fn columns_line(
        &mut self,
        line_no: u64,
        line: &str,
        arrival_ns: u64,
        out: &mut Vec<Record>,
        problems: &mut Vec<LineError>,
    ) -> Result<(), LineError> {
        let count = split_columns(line).count();
        let all_numbers = split_columns(line).all(|c| number(c).is_some());
        match &mut self.table {
            None if !all_numbers => {
                // Before the first row: a header candidate (or a preamble line).
                if self.preamble.len() == MAX_PREAMBLE_LINES {
                    self.preamble.remove(0);
                }
                self.preamble
                    .push(split_columns(line).map(str::to_owned).collect());
                return Ok(());
            }
            None => {
                let header = std::mem::take(&mut self.preamble)
                    .into_iter()
                    .rev()
                    .find(|names| names.len() == count)
                    .unwrap_or_else(|| (1..=count).map(|i| format!("c{i}")).collect());
                self.start_table(header);
                self.check_columns(line_no)?;
            }
            Some(table) if !all_numbers => {
                let repeated = table.names.len() == count
                    && split_columns(line).zip(&table.names).all(|(a, b)| a == b);
                if repeated {
                    return Ok(());
                }
            }
            Some(_) => {}
        }
        self.row(
            line_no,
            split_columns(line),
            count,
            arrival_ns,
            out,
            problems,
        );
        Ok(())
    }

    /// One row of a table: a record per numeric cell, the text column's words, the event.
    fn row<'c>(
        &mut self,
        line_no: u64,
        cells: impl Iterator<Item = &'c str> + Clone,
        count: usize,
        arrival_ns: u64,
        out: &mut Vec<Record>,
        problems: &mut Vec<LineError>,
    ) {
        let Some(table) = self.table.take() else {
            return;
        };
        let mut table = table;
        if count != table.names.len() {
            let message = format!("{count} fields where the header has {}", table.names.len());
            self.table = Some(table);
            self.bad_line(problems, line_no, message);
            return;
        }
        let t_ns = match self.opts.time_field {
            None => Ok(arrival_ns),
            Some(_) => {
                let cell = table.time_column.and_then(|i| cells.clone().nth(i));
                let leaf = cell
                    .filter(|c| !c.trim().is_empty())
                    .map(|c| match number(c) {
                        Some(x) => Leaf::Number(x),
                        None => Leaf::Text(c.into()),
                    });
                self.stamp(leaf.as_ref())
            }
        };
        let t_ns = match t_ns {
            Ok(t) => t,
            Err(message) => {
                self.table = Some(table);
                self.bad_line(problems, line_no, message);
                return;
            }
        };
        let mut fields = Fields::with_names(table.shape.clone());
        for (i, cell) in cells.enumerate() {
            let cell = trim(cell);
            if cell.is_empty() {
                continue; // a missing value, not a bad one
            }
            let name = &table.names[i];
            let value = number(cell);
            let numeric = *table.numeric[i].get_or_insert(value.is_some());
            match value {
                Some(x) if numeric => {
                    fields.set(table.slots[i], FieldValue::Number(x));
                    if table.time_column == Some(i) {
                        continue;
                    }
                    let id = match table.channels[i] {
                        Some(id) => Some(id),
                        None => {
                            let id = self.scalar_channel(name, problems, line_no);
                            table.channels[i] = id;
                            id
                        }
                    };
                    if let Some(id) = id {
                        self.push(out, id, t_ns, Value::Scalar(x));
                    }
                }
                _ if numeric => {
                    self.stats.bad_cells += 1;
                    problems.push(LineError {
                        line: line_no,
                        field: Some(name.clone()),
                        message: format!("column {name:?}: not a number: {cell:?}"),
                    });
                }
                _ => {
                    if table.text_column == Some(i) {
                        self.text_records(cell, t_ns, out, problems, line_no);
                    }
                    let value = match cell {
                        "true" => FieldValue::Bool(true),
                        "false" => FieldValue::Bool(false),
                        _ => FieldValue::Text(cell.to_owned()),
                    };
                    fields.set(table.slots[i], value);
                }
            }
        }
        self.table = Some(table);
        self.push(out, EVENT_CHANNEL, t_ns, Value::Fields(fields));
    }
}

/// Splits a text into word tokens as the `tokens` generator emits them: words separated by
/// white space, with sentence punctuation (`. , ; : ! ?`) at a word's end as tokens of its own.
pub fn tokenize(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace().flat_map(|word| {
        let core = word.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        let tail = &word[core.len()..];
        let punct = tail
            .char_indices()
            .map(move |(i, c)| &tail[i..i + c.len_utf8()]);
        (!core.is_empty()).then_some(core).into_iter().chain(punct)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(format: Format) -> RecordParser {
        RecordParser::new(ParserOptions {
            format,
            name: "src".to_owned(),
            time_field: None,
            text_field: None,
            max_channels: 4096,
        })
    }

    /// Parses `text` line by line; returns the records, the problems and the catalog.
    fn parse_all(p: &mut RecordParser, text: &str) -> (Vec<Record>, Vec<LineError>) {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            p.parse_line(i as u64 + 1, line, 7, &mut out, &mut problems)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        (out, problems)
    }

    fn names(p: &RecordParser) -> Vec<&str> {
        p.catalog().names().collect()
    }

    #[test]
    fn csv_numeric_columns_become_channels_and_rows_events() {
        let mut p = parser(Format::Csv);
        let (out, problems) = parse_all(&mut p, "t,x,label\n0,1.5,a\n1,oops,b\n2,-3,c\n");
        assert_eq!(names(&p), ["src", "t", "x"]);
        assert_eq!(
            problems,
            vec![LineError {
                line: 3,
                field: Some("x".into()),
                message: "column \"x\": not a number: \"oops\"".into()
            }]
        );
        let x: Vec<(u64, f64)> = out
            .iter()
            .filter(|r| p.catalog().channels[r.channel as usize].name == "x")
            .map(|r| (r.seq, r.value.as_f64().unwrap()))
            .collect();
        assert_eq!(x, vec![(0, 1.5), (1, -3.0)]);
        assert_eq!(p.stats.bad_cells, 1);
    }

    #[test]
    fn jsonl_fields_become_channels_as_they_appear() {
        let mut p = parser(Format::Jsonl);
        let (out, problems) = parse_all(
            &mut p,
            "{\"a\":1,\"cpu\":{\"user\":2}}\n\n{\"a\":3,\"b\":true}\n{\"a\":4,\"late\":5}\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(names(&p), ["src", "a", "cpu.user", "late"]);
        let ChannelKind::Event { fields } = &p.catalog().channels[0].kind else {
            panic!("the first channel is the event channel");
        };
        assert_eq!(fields, &["a", "cpu.user", "b", "late"]);
        // 3 events, a ×3, cpu.user ×1, late ×1; every record stamped with the arrival.
        assert_eq!(out.len(), 8);
        assert!(out.iter().all(|r| r.t_ns == 7));
        let events: Vec<u64> = out
            .iter()
            .filter(|r| r.channel == 0)
            .map(|r| r.seq)
            .collect();
        assert_eq!(events, [0, 1, 2]);
        assert_eq!(p.stats.lines, 4);
        assert_eq!(p.stats.records, 8);
    }

    #[test]
    fn bad_lines_are_skipped_and_type_changes_counted_not_coerced() {
        let mut p = parser(Format::Jsonl);
        let (out, problems) = parse_all(
            &mut p,
            "{\"x\":1}\n{\"x\":\n[1,2]\n{\"x\":\"high\"}\n{\"x\":2}\n",
        );
        let lines: Vec<u64> = problems.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        assert!(
            problems[0].message.starts_with("not a JSON object"),
            "{problems:?}"
        );
        assert!(
            problems[2]
                .message
                .contains("is a string here but was a number")
        );
        assert_eq!(p.stats.bad_lines, 2);
        assert_eq!(p.stats.type_changes.get("x"), Some(&1));
        let x: Vec<f64> = out
            .iter()
            .filter(|r| r.channel == 1)
            .map(|r| r.value.as_f64().unwrap_or(f64::NAN))
            .collect();
        assert_eq!(x, [1.0, 2.0]);
        // The string stays in its event, as it was.
        let Value::Fields(third) = &out.iter().filter(|r| r.channel == 0).nth(1).unwrap().value
        else {
            panic!("events carry fields");
        };
        assert_eq!(third.get("x"), Some(&FieldValue::Text("high".into())));
    }

    #[test]
    fn the_time_field_stamps_records_and_gives_the_period() {
        let mut p = RecordParser::new(ParserOptions {
            time_field: Some("ts".into()),
            ..parser(Format::Jsonl).opts
        });
        let mut text = String::new();
        for i in 0..=PERIOD_DELTAS {
            text.push_str(&format!(
                "{{\"ts\":{},\"v\":{i}}}\n",
                100.0 + 0.25 * i as f64
            ));
        }
        text.push_str("{\"ts\":\"2026-12-06T10:00:00Z\",\"v\":0}\n{\"v\":1}\n");
        let (out, problems) = parse_all(&mut p, &text);
        let v: Vec<u64> = out
            .iter()
            .filter(|r| r.channel == 1)
            .map(|r| r.t_ns)
            .collect();
        assert_eq!(v[..3], [0, 250_000_000, 500_000_000]);
        assert_eq!(p.period_s(), Some(0.25));
        assert_eq!(p.catalog().channels[1].period_s, Some(0.25));
        assert!(!p.catalog().channels.iter().any(|c| c.name == "ts"));
        // An RFC 3339 time is seconds since the epoch too (its field's type change is
        // counted); a line without one is bad.
        assert_eq!(*v.last().unwrap(), ((1_796_551_200.0 - 100.0) * 1e9) as u64);
        let lines: Vec<u64> = problems.iter().map(|e| e.line).collect();
        assert_eq!(lines, [18, 19], "{problems:?}");
        assert_eq!(problems[1].message, "no time field \"ts\"");
    }

    #[test]
    fn columns_take_their_names_from_the_matching_preamble_line() {
        // As `vmstat 1` prints: a group line, the names, rows, and the names again.
        let text = "procs ---memory---\n r b free\n 1 0 900\n 2 0 800\n r b free\n 3 x 700\n 4 5\n";
        let mut p = parser(Format::Columns);
        let (out, problems) = parse_all(&mut p, text);
        assert_eq!(names(&p), ["src", "r", "b", "free"]);
        let lines: Vec<u64> = problems.iter().map(|e| e.line).collect();
        assert_eq!(lines, [6, 7], "{problems:?}");
        assert_eq!(p.stats.bad_cells, 1);
        assert_eq!(p.stats.bad_lines, 1);
        let free: Vec<f64> = out
            .iter()
            .filter(|r| r.channel == 3)
            .filter_map(|r| r.value.as_f64())
            .collect();
        assert_eq!(free, [900.0, 800.0, 700.0]);
        let mut bare = parser(Format::Columns);
        parse_all(&mut bare, "1\t2\n3 4\n");
        assert_eq!(names(&bare), ["src", "c1", "c2"]);
    }

    #[test]
    fn csv_needs_a_header_and_names_a_missing_time_column() {
        let mut p = parser(Format::Csv);
        let err = p
            .parse_line(1, "1,2", 0, &mut Vec::new(), &mut Vec::new())
            .unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("no header"), "{err}");
        let mut p = RecordParser::new(ParserOptions {
            time_field: Some("when".into()),
            ..parser(Format::Csv).opts
        });
        let err = p
            .parse_line(1, "t,x", 0, &mut Vec::new(), &mut Vec::new())
            .unwrap_err();
        assert_eq!(
            err.message,
            "--time \"when\": no such column; the columns are t, x"
        );
    }

    #[test]
    fn text_fields_become_token_channels() {
        let mut p = RecordParser::new(ParserOptions {
            text_field: Some("msg".into()),
            ..parser(Format::Jsonl).opts
        });
        let (out, _) = parse_all(&mut p, "{\"msg\":\"the stream, it loops.\",\"n\":1}\n");
        assert_eq!(names(&p), ["src", "msg", "n"]);
        let tokens: Vec<String> = out
            .iter()
            .filter_map(|r| match &r.value {
                Value::Token(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(tokens, ["the", "stream", ",", "it", "loops", "."]);
        assert_eq!(
            tokenize("a  b!? ..").collect::<Vec<_>>(),
            ["a", "b", "!", "?", ".", "."]
        );
    }

    #[test]
    fn channel_names_stay_unique_when_fields_flatten_to_a_taken_name() {
        let mut p = parser(Format::Jsonl);
        // `src` is the source's name, so its field `src` is channel `src.src`; the nested
        // field that flattens to `src.src` must not take the same name.
        let (records, problems) = parse_all(&mut p, "{\"src\":1}\n{\"src\":{\"src\":2}}\n");
        assert_eq!(names(&p), ["src", "src.src", "src.src_2"]);
        let scalars: Vec<(u32, f64)> = records
            .iter()
            .filter_map(|r| Some((r.channel, r.value.as_f64()?)))
            .collect();
        assert_eq!(scalars, [(1, 1.0), (2, 2.0)]);
        assert!(problems.is_empty(), "{problems:?}");

        let mut csv = parser(Format::Csv);
        parse_all(&mut csv, "src,src.src,a\n1,2,3\n");
        assert_eq!(names(&csv), ["src", "src.src", "src.src_2", "a"]);
    }

    #[test]
    fn fields_beyond_the_channel_limit_are_counted() {
        let mut p = RecordParser::new(ParserOptions {
            max_channels: 3,
            ..parser(Format::Jsonl).opts
        });
        let (out, problems) = parse_all(&mut p, "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}\n");
        assert_eq!(names(&p), ["src", "a", "b"]);
        assert_eq!(p.stats.fields_over_limit, 2);
        assert_eq!(problems.len(), 1, "reported once: {problems:?}");
        assert_eq!(out.len(), 3);
    }
}
