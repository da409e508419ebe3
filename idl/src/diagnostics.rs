//! Source files, spans and diagnostics rendered as `path:line:col: error: message`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A place in a source file: 1-based line and column (in characters), and a length in
/// characters on that line (at least 1 when rendered).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub col: u32,
    /// Length in characters, used to draw the caret.
    pub len: u32,
}

/// The files one compilation has read, so that diagnostics can quote them.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<(PathBuf, String)>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file's text and returns its id.
    pub fn add(&mut self, path: impl Into<PathBuf>, text: String) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push((path.into(), text));
        id
    }

    /// The path a file was read from.
    pub fn path(&self, id: FileId) -> &Path {
        self.files
            .get(id.0 as usize)
            .map_or(Path::new("<unknown>"), |f| f.0.as_path())
    }

    /// The text of a file.
    pub fn text(&self, id: FileId) -> &str {
        self.files.get(id.0 as usize).map_or("", |f| f.1.as_str())
    }

    /// The files, in the order they were added.
    pub fn files(&self) -> impl Iterator<Item = (FileId, &Path, &str)> {
        self.files.iter().enumerate().map(|(i, (p, t))| {
            (
                FileId(u32::try_from(i).unwrap_or(u32::MAX)),
                p.as_path(),
                t.as_str(),
            )
        })
    }

    /// Renders a diagnostic with its source line and a caret under the span.
    pub fn render(&self, d: &Diagnostic) -> String {
        let mut out = format!(
            "{}:{}:{}: {}: {}\n",
            self.path(d.span.file).display(),
            d.span.line,
            d.span.col,
            d.severity,
            d.message
        );
        let line = self
            .text(d.span.file)
            .lines()
            .nth((d.span.line as usize).saturating_sub(1));
        if let Some(line) = line {
            // Quote at most MAX_QUOTED_CHARS characters around the column, so that a huge
            // one-line input does not make huge output.
            let chars: Vec<char> = line
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .collect();
            let col = (d.span.col as usize).saturating_sub(1).min(chars.len());
            let start = col.saturating_sub(MAX_QUOTED_CHARS / 2);
            let end = (start + MAX_QUOTED_CHARS).min(chars.len());
            let quoted: String = chars[start..end].iter().collect();
            let pad = " ".repeat(col - start);
            let carets =
                "^".repeat((d.span.len.max(1) as usize).min(end.saturating_sub(col).max(1)));
            out.push_str(&format!("  {quoted}\n  {pad}{carets}\n"));
        }
        for note in &d.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        out
    }

    /// Renders every diagnostic, one after another.
    pub fn render_all(&self, ds: &[Diagnostic]) -> String {
        ds.iter().map(|d| self.render(d)).collect()
    }
}

/// The most characters of a source line a rendered diagnostic quotes.
pub const MAX_QUOTED_CHARS: usize = 160;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The input is rejected.
    Error,
    /// The input is accepted, but something looks wrong.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One message about the input, pointing at where it applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    pub span: Span,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Further explanation lines.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            notes: Vec::new(),
        }
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
}

/// Collects diagnostics; stops collecting past [`MAX_DIAGNOSTICS`].
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
}

/// How many diagnostics one run keeps: enough to fix a file in one pass, few enough that a
/// garbage input does not produce megabytes of output.
pub const MAX_DIAGNOSTICS: usize = 100;

impl Diagnostics {
    /// Records a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        if self.list.len() < MAX_DIAGNOSTICS {
            self.list.push(d);
        }
    }

    /// Records an error at `span`.
    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::error(span, message));
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }

    /// The number of errors recorded.
    pub fn error_count(&self) -> usize {
        self.list
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Takes the recorded diagnostics.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }
}
