//! Name resolution: finds imported files under the include roots, binds every name to a type
//! as AOSP does (nested scopes, imports, same package, fully-qualified names), then builds the
//! [`Ir`] that back ends read.

mod annotations;
mod build;
mod load;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::ast::{Decl, DeclKind, Document, Member, QualifiedName};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap};
use crate::ir::{Ir, TypeId};

pub use load::{FileSystem, MemoryFs, RealFs};

/// How many files one compilation may load, imports included. Far above any real interface
/// set; it bounds the work a hostile import graph can cause.
pub const MAX_FILES: usize = 10_000;

/// The largest source file read, in bytes: AIDL files are a few kilobytes.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The result of a compilation that could run: the IR if there were no errors, and the
/// diagnostics either way.
#[derive(Debug)]
pub struct Compilation {
    /// Every file read.
    pub sources: SourceMap,
    /// The resolved types; `None` if any error was found.
    pub ir: Option<Ir>,
    /// Errors and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compilation {
    /// The diagnostics rendered as `path:line:col: error: message` with source lines.
    pub fn render_diagnostics(&self) -> String {
        self.sources.render_all(&self.diagnostics)
    }
}

/// Why a compilation could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A file named as input could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is larger than [`MAX_FILE_BYTES`].
    #[error("{path} is {size} bytes; the limit is {max}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// [`MAX_FILE_BYTES`].
        max: u64,
    },
}

/// Parses, loads imports and resolves `files`, looking up imports under `include_dirs`.
pub fn compile(
    fs: &dyn FileSystem,
    files: &[PathBuf],
    include_dirs: &[PathBuf],
) -> Result<Compilation, RunError> {
    let mut diags = Diagnostics::default();
    let mut r = Resolver {
        fs,
        sources: SourceMap::new(),
        docs: Vec::new(),
        table: HashMap::new(),
        types: Vec::new(),
        loaded: HashMap::new(),
        include_dirs: include_dirs.to_vec(),
        explicit_includes: include_dirs.len(),
        diags: &mut diags,
    };
    for file in files {
        r.load_primary(file)?;
    }
    r.load_references();
    let ir = build::build(&mut r);
    let Resolver { sources, .. } = r;
    let failed = diags.has_errors();
    Ok(Compilation {
        sources,
        ir: if failed { None } else { Some(ir) },
        diagnostics: diags.into_vec(),
    })
}

/// One parsed file.
struct DocInfo {
    file: crate::diagnostics::FileId,
    doc: Document,
    package: Vec<String>,
    primary: bool,
}

/// A declared type before it is built into the IR.
struct Pending {
    doc: usize,
    decl: Decl,
    parent: Option<TypeId>,
    package: Vec<String>,
    path: Vec<String>,
}

impl Pending {
    fn qualified_name(&self) -> String {
        self.package
            .iter()
            .chain(&self.path)
            .cloned()
            .collect::<Vec<_>>()
            .join(".")
    }
}

struct Resolver<'a> {
    fs: &'a dyn FileSystem,
    sources: SourceMap,
    docs: Vec<DocInfo>,
    /// Qualified name to type.
    table: HashMap<String, TypeId>,
    types: Vec<Pending>,
    /// Files read, by path, so that none is read twice.
    loaded: HashMap<PathBuf, usize>,
    /// Import directories: those given first, then the package roots of the input files.
    include_dirs: Vec<PathBuf>,
    /// How many of `include_dirs` were given.
    explicit_includes: usize,
    diags: &'a mut Diagnostics,
}

/// Names that are not looked up: primitives and the built-in types.
pub(crate) const BUILTINS: &[&str] = &[
    "void",
    "boolean",
    "byte",
    "char",
    "int",
    "long",
    "float",
    "double",
    "String",
    "CharSequence",
    "IBinder",
    "ParcelFileDescriptor",
    "FileDescriptor",
    "ParcelableHolder",
    "List",
    "Map",
];

/// Qualified spellings of the built-in types, which may be imported.
pub(crate) const QUALIFIED_BUILTINS: &[(&str, &str)] = &[
    ("java.lang.String", "String"),
    ("java.lang.CharSequence", "CharSequence"),
    ("android.os.IBinder", "IBinder"),
    ("android.os.ParcelFileDescriptor", "ParcelFileDescriptor"),
    ("java.io.FileDescriptor", "FileDescriptor"),
    ("android.os.ParcelableHolder", "ParcelableHolder"),
    ("java.util.List", "List"),
    ("java.util.Map", "Map"),
];

impl Resolver<'_> {
    fn register(&mut self, doc: usize, decl: &Decl, parent: Option<TypeId>) {
        let package = self.docs[doc].package.clone();
        let mut path = parent.map_or_else(Vec::new, |p| self.types[p.0].path.clone());
        path.push(decl.name.name.clone());
        let id = TypeId(self.types.len());
        let pending = Pending {
            doc,
            decl: decl.clone(),
            parent,
            package,
            path,
        };
        let fqn = pending.qualified_name();
        if let Some(&other) = self.table.get(&fqn) {
            let other_span = self.types[other.0].decl.name.span;
            let where_ = format!(
                "{}:{}:{}",
                self.sources.path(other_span.file).display(),
                other_span.line,
                other_span.col
            );
            self.diags.push(
                Diagnostic::error(decl.name.span, format!("type `{fqn}` is defined twice"))
                    .note(format!("first defined at {where_}")),
            );
            return;
        }
        self.table.insert(fqn, id);
        self.types.push(pending);
        let members = match &decl.kind {
            DeclKind::Interface { members, .. }
            | DeclKind::Parcelable { members, .. }
            | DeclKind::Union { members, .. } => members.as_slice(),
            _ => &[],
        };
        for m in members {
            if let Member::Type(nested) = m {
                self.register(doc, nested, Some(id));
            }
        }
        if let DeclKind::Union { members, .. } = &decl.kind {
            let has_tag = members
                .iter()
                .any(|m| matches!(m, Member::Type(t) if t.name.name == "Tag"));
            if !has_tag {
                self.register(doc, &union_tag(decl, members), Some(id));
            }
        }
    }

    /// The nested type of `parent` named `name`.
    fn child(&self, parent: TypeId, name: &str) -> Option<TypeId> {
        let fqn = format!("{}.{name}", self.types[parent.0].qualified_name());
        self.table
            .get(&fqn)
            .copied()
            .filter(|t| self.types[t.0].parent == Some(parent))
    }

    /// Binds the longest prefix of `parts` that names a type, seen from `scope` in document
    /// `doc`. Returns the type and how many parts it used.
    fn lookup_prefix(
        &self,
        doc: usize,
        scope: Option<TypeId>,
        parts: &[&str],
    ) -> Option<(TypeId, usize)> {
        let first = *parts.first()?;
        let mut found = None;
        // Enclosing types and their nested types, innermost first.
        let mut s = scope;
        while let Some(t) = s {
            if let Some(c) = self.child(t, first) {
                found = Some(c);
                break;
            }
            if self.types[t.0].path.last().map(String::as_str) == Some(first) {
                found = Some(t);
                break;
            }
            s = self.types[t.0].parent;
        }
        let info = &self.docs[doc];
        if found.is_none() {
            found = info
                .doc
                .imports
                .iter()
                .filter(|i| i.parts.last().map(|p| p.name.as_str()) == Some(first))
                .find_map(|i| self.table.get(&i.dotted()).copied());
        }
        if found.is_none() {
            // The same package; the longest prefix first, for dotted unstructured names.
            for k in (1..=parts.len()).rev() {
                let mut fqn = info.package.join(".");
                if !fqn.is_empty() {
                    fqn.push('.');
                }
                fqn.push_str(&parts[..k].join("."));
                if let Some(&t) = self.table.get(&fqn) {
                    return Some(self.extend(t, k, parts));
                }
            }
        }
        if let Some(t) = found {
            return Some(self.extend(t, 1, parts));
        }
        // A fully-qualified name: the longest prefix that is a type.
        (1..=parts.len())
            .rev()
            .find_map(|k| self.table.get(&parts[..k].join(".")).map(|&t| (t, k)))
    }

    /// Follows nested types from `t`, which `parts[..used]` named, as far as `parts` go.
    fn extend(&self, mut t: TypeId, mut used: usize, parts: &[&str]) -> (TypeId, usize) {
        while let Some(c) = parts.get(used).and_then(|p| self.child(t, p)) {
            t = c;
            used += 1;
        }
        (t, used)
    }

    /// The type `name` names, if all its parts name one.
    fn lookup_type(
        &self,
        doc: usize,
        scope: Option<TypeId>,
        name: &QualifiedName,
    ) -> Option<TypeId> {
        let parts: Vec<&str> = name.parts.iter().map(|p| p.name.as_str()).collect();
        match self.lookup_prefix(doc, scope, &parts) {
            Some((t, used)) if used == parts.len() => Some(t),
            _ => None,
        }
    }
}

/// The `Tag` enum AOSP declares inside every union: one enumerator per member, numbered
/// from 0 in order.
fn union_tag(decl: &Decl, members: &[Member]) -> Decl {
    let span = decl.name.span;
    let ident = |name: &str| crate::ast::Ident {
        name: name.to_string(),
        span,
    };
    let enumerators = members
        .iter()
        .filter_map(|m| match m {
            Member::Field(f) => Some(crate::ast::Enumerator {
                name: f.name.clone(),
                value: None,
                doc: None,
                annotations: Vec::new(),
            }),
            _ => None,
        })
        .collect();
    Decl {
        name: ident("Tag"),
        annotations: vec![crate::ast::Annotation {
            name: ident("Backing"),
            params: vec![(
                ident("type"),
                crate::ast::Expr {
                    kind: crate::ast::ExprKind::Str("int".to_string()),
                    span,
                },
            )],
            span,
        }],
        doc: Some(format!("Which member a `{}` holds.", decl.name.name)),
        kind: DeclKind::Enum { enumerators },
    }
}

/// The import root a file implies: the directory above its package directories.
fn implied_root(path: &Path, package: &[String]) -> Option<PathBuf> {
    let mut dir = path.parent()?.to_path_buf();
    for part in package.iter().rev() {
        if dir.file_name()? != part.as_str() {
            return None;
        }
        dir = dir.parent()?.to_path_buf();
    }
    if dir.as_os_str().is_empty() {
        dir = PathBuf::from(".");
    }
    Some(dir)
}
