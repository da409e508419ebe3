//! Reading files: the ones named as input, then the ones their names refer to, found under
//! the include roots.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use super::{implied_root, DocInfo, Resolver, RunError, BUILTINS, MAX_FILES, MAX_FILE_BYTES};
use crate::ast::{Decl, DeclKind, Expr, ExprKind, Member, QualifiedName, TypeRef};
use crate::diagnostics::Diagnostic;

/// Where source files come from: the real file system, or memory in tests.
pub trait FileSystem {
    /// Whether `path` is a readable file.
    fn is_file(&self, path: &Path) -> bool;
    /// Reads `path`. A file over `max` bytes is refused as `Err((_, Some(size)))`; other
    /// failures are `Err((cause, None))`.
    fn read(&self, path: &Path, max: u64) -> Result<String, (io::Error, Option<u64>)>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl FileSystem for RealFs {
    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn read(&self, path: &Path, max: u64) -> Result<String, (io::Error, Option<u64>)> {
        let size = std::fs::metadata(path).map_err(|e| (e, None))?.len();
        if size > max {
            return Err((io::Error::other("file too large"), Some(size)));
        }
        std::fs::read_to_string(path).map_err(|e| (e, None))
    }
}

/// Files held in memory, for tests and embedding.
#[derive(Debug, Default, Clone)]
pub struct MemoryFs {
    files: HashMap<PathBuf, String>,
}

impl MemoryFs {
    /// An empty file system.
    pub fn new() -> MemoryFs {
        MemoryFs::default()
    }

    /// Adds (or replaces) a file.
    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> &mut MemoryFs {
        self.files.insert(normalize(&path.into()), text.into());
        self
    }
}

impl FileSystem for MemoryFs {
    fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(&normalize(path))
    }

    fn read(&self, path: &Path, max: u64) -> Result<String, (io::Error, Option<u64>)> {
        let text = self
            .files
            .get(&normalize(path))
            .ok_or_else(|| (io::Error::from(io::ErrorKind::NotFound), None))?;
        if text.len() as u64 > max {
            return Err((io::Error::other("file too large"), Some(text.len() as u64)));
        }
        Ok(text.clone())
    }
}

/// Strips `./` parts so that one file reached two ways is read once.
fn normalize(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

impl Resolver<'_> {
    fn read_file(&mut self, path: &Path, primary: bool) -> Result<Option<usize>, RunError> {
        let key = normalize(path);
        if let Some(&doc) = self.loaded.get(&key) {
            if primary {
                self.docs[doc].primary = true;
            }
            return Ok(Some(doc));
        }
        if self.docs.len() >= MAX_FILES {
            return Ok(None);
        }
        let text = match self.fs.read(path, MAX_FILE_BYTES) {
            Ok(t) => t,
            Err((_, Some(size))) => {
                return Err(RunError::TooLarge {
                    path: path.to_path_buf(),
                    size,
                    max: MAX_FILE_BYTES,
                })
            }
            Err((source, None)) => {
                return Err(RunError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let file = self.sources.add(path, text);
        let doc = crate::parser::parse(file, self.sources.text(file), self.diags);
        let package: Vec<String> = doc
            .package
            .as_ref()
            .map(|p| p.parts.iter().map(|i| i.name.clone()).collect())
            .unwrap_or_default();
        let index = self.docs.len();
        self.loaded.insert(key, index);
        let decls = doc.decls.clone();
        self.docs.push(DocInfo {
            file,
            doc,
            package,
            primary,
        });
        for d in &decls {
            self.register(index, d, None);
        }
        Ok(Some(index))
    }

    /// Reads a file named as input and checks that its path fits its package and type name.
    pub(super) fn load_primary(&mut self, path: &Path) -> Result<(), RunError> {
        let Some(index) = self.read_file(path, true)? else {
            return Ok(());
        };
        let info = &self.docs[index];
        let decls = info.doc.decls.clone();
        let package = info.package.clone();
        let package_span = info.doc.package.as_ref().map(|p| p.span);
        for extra in decls.iter().skip(1) {
            self.diags.error(
                extra.name.span,
                "a file must declare exactly one top-level type",
            );
        }
        if let Some(first) = decls.first() {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let dotted_match = first
                .name
                .name
                .strip_prefix(stem)
                .is_some_and(|rest| rest.starts_with('.'));
            if stem != first.name.name && !dotted_match {
                self.diags.push(
                    Diagnostic::error(
                        first.name.span,
                        format!(
                            "type `{}` must be declared in a file named `{}.aidl`",
                            first.name.name, first.name.name
                        ),
                    )
                    .note(format!("it is in `{}`", path.display())),
                );
            }
        }
        let has_dirs = path.parent().is_some_and(|p| !p.as_os_str().is_empty());
        if let (Some(root), Some(span)) = (implied_root(path, &package), package_span) {
            let absolute = |p: &Path| std::path::absolute(p).map(|a| normalize(&a)).ok();
            let explicit = &self.include_dirs[..self.explicit_includes];
            if !explicit.is_empty()
                && !explicit
                    .iter()
                    .any(|d| absolute(d).is_some() && absolute(d) == absolute(&root))
            {
                self.diags.push(
                    Diagnostic::error(
                        span,
                        format!(
                            "the package root of `{}` is `{}`, which is not an import directory",
                            path.display(),
                            root.display()
                        ),
                    )
                    .note("add it with -I"),
                );
            }
        }
        match implied_root(path, &package) {
            Some(root) if !self.include_dirs.contains(&root) => self.include_dirs.push(root),
            Some(_) => {}
            None if has_dirs || !package.is_empty() => {
                if let Some(span) = package_span {
                    let want = package.join("/");
                    self.diags.push(
                        Diagnostic::error(
                            span,
                            format!(
                                "package `{}` does not match the file's location",
                                package.join(".")
                            ),
                        )
                        .note(format!(
                            "a file in package `{}` must be under a `{want}/` directory",
                            package.join(".")
                        )),
                    );
                }
            }
            None => {}
        }
        Ok(())
    }

    /// Reads the files that the loaded files' names point to, until nothing new is found.
    pub(super) fn load_references(&mut self) {
        let mut next = 0;
        while next < self.docs.len() {
            let doc = next;
            next += 1;
            let mut names = Vec::new();
            for import in &self.docs[doc].doc.imports {
                names.push(import.clone());
            }
            for d in &self.docs[doc].doc.decls {
                collect_decl(d, &mut names);
            }
            let package = self.docs[doc].package.clone();
            self.check_ambiguous_imports(doc);
            for name in names {
                let parts: Vec<&str> = name.parts.iter().map(|p| p.name.as_str()).collect();
                if parts.len() == 1 && BUILTINS.contains(&parts[0]) {
                    continue;
                }
                if self
                    .lookup_prefix(doc, None, &parts)
                    .is_some_and(|(_, used)| used == parts.len() || used + 1 == parts.len())
                {
                    continue;
                }
                for candidate in candidates(&package, &parts) {
                    let dirs = self.include_dirs.clone();
                    // The first import directory that has the file wins.
                    let Some(path) = dirs
                        .iter()
                        .map(|d| d.join(&candidate))
                        .find(|p| self.fs.is_file(p))
                    else {
                        continue;
                    };
                    if !self.loaded.contains_key(&normalize(&path)) {
                        // A file that exists but cannot be read is reported where it is
                        // used, as an unresolved name.
                        let _ = self.read_file(&path, false);
                    }
                }
            }
        }
    }
}

/// The largest `.hash` file read: one 40-character line per frozen version.
const MAX_HASH_FILE_BYTES: u64 = 64 * 1024;

impl Resolver<'_> {
    /// The frozen version of document `doc`: its package root is `aidl_api/<module>/<N>` and
    /// holds a `.hash` file.
    pub(super) fn frozen_version(&self, doc: usize) -> Option<crate::ir::Version> {
        let info = &self.docs[doc];
        let root = implied_root(self.sources.path(info.file), &info.package)?;
        let number: i32 = root.file_name()?.to_str()?.parse().ok()?;
        if root.parent()?.parent()?.file_name()? != "aidl_api" {
            return None;
        }
        let text = self
            .fs
            .read(&root.join(".hash"), MAX_HASH_FILE_BYTES)
            .ok()?;
        let hash = text
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())?
            .to_string();
        Some(crate::ir::Version { number, hash })
    }

    /// Reports imports whose file exists under more than one import directory.
    fn check_ambiguous_imports(&mut self, doc: usize) {
        let imports = self.docs[doc].doc.imports.clone();
        for import in imports {
            let parts: Vec<&str> = import.parts.iter().map(|p| p.name.as_str()).collect();
            let Some((last, dirs)) = parts.split_last() else {
                continue;
            };
            let mut relative: PathBuf = dirs.iter().collect();
            relative.push(format!("{last}.aidl"));
            let mut found: Vec<PathBuf> = Vec::new();
            for dir in &self.include_dirs {
                let path = normalize(&dir.join(&relative));
                if self.fs.is_file(&path) && !found.contains(&path) {
                    found.push(path);
                }
            }
            if found.len() > 1 {
                let list: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
                self.diags.push(
                    Diagnostic::error(
                        import.span,
                        format!("import `{}` is ambiguous: it is found in more than one import directory", import.dotted()),
                    )
                    .note(format!("candidates: {}", list.join(", "))),
                );
            }
        }
    }
}

/// The relative file paths where the type a name starts with may be defined.
fn candidates(package: &[String], parts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(first) = parts.first() {
        let mut p: PathBuf = package.iter().collect();
        p.push(format!("{first}.aidl"));
        out.push(p);
    }
    for k in 0..parts.len() {
        let mut p: PathBuf = parts[..k].iter().collect();
        p.push(format!("{}.aidl", parts[k]));
        out.push(p);
    }
    out
}

fn collect_decl(d: &Decl, names: &mut Vec<QualifiedName>) {
    match &d.kind {
        DeclKind::Interface { members, .. }
        | DeclKind::Parcelable { members, .. }
        | DeclKind::Union { members, .. } => {
            for m in members {
                match m {
                    Member::Method(m) => {
                        collect_type(&m.ret, names);
                        for a in &m.args {
                            collect_type(&a.ty, names);
                        }
                    }
                    Member::Const(f) | Member::Field(f) => {
                        collect_type(&f.ty, names);
                        if let Some(v) = &f.value {
                            collect_expr(v, names);
                        }
                    }
                    Member::Type(t) => collect_decl(t, names),
                }
            }
        }
        DeclKind::Enum { enumerators } => {
            for e in enumerators {
                if let Some(v) = &e.value {
                    collect_expr(v, names);
                }
            }
        }
        DeclKind::Unstructured { .. } => {}
    }
}

fn collect_type(t: &TypeRef, names: &mut Vec<QualifiedName>) {
    names.push(t.name.clone());
    for a in &t.args {
        collect_type(a, names);
    }
    for e in t.dims.iter().flatten() {
        collect_expr(e, names);
    }
}

fn collect_expr(e: &Expr, names: &mut Vec<QualifiedName>) {
    match &e.kind {
        ExprKind::Ref(n) => names.push(n.clone()),
        ExprKind::Unary(_, a) => collect_expr(a, names),
        ExprKind::Binary(_, a, b) => {
            collect_expr(a, names);
            collect_expr(b, names);
        }
        ExprKind::Ternary(a, b, c) => {
            collect_expr(a, names);
            collect_expr(b, names);
            collect_expr(c, names);
        }
        ExprKind::Array(items) => items.iter().for_each(|i| collect_expr(i, names)),
        _ => {}
    }
}
