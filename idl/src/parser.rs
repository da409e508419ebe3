//! A recursive-descent parser for AIDL, with error recovery so that one run reports several
//! errors.

use crate::ast::*;
use crate::diagnostics::{Diagnostics, FileId, Span};
use crate::lexer::{tokenize, Token, TokenKind};

mod expr;

/// How deeply types, expressions and nested declarations may nest. Real files nest a few
/// levels; the limit keeps hostile input from exhausting the stack.
pub const MAX_NESTING: usize = 64;

/// Parses one file. Syntax errors go to `diags`; the returned document holds what could be
/// parsed.
pub fn parse(file: FileId, text: &str, diags: &mut Diagnostics) -> Document {
    let tokens = tokenize(file, text, diags);
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        diags,
    };
    p.document()
}

/// Marker for a syntax error already reported.
struct Reported;

type PResult<T> = Result<T, Reported>;

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    diags: &'a mut Diagnostics,
}

/// Words that start a declaration.
const DECL_WORDS: &[&str] = &["interface", "parcelable", "enum", "union"];

impl Parser<'_> {
    fn peek(&self) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[self.pos.min(last)]
    }

    fn peek_at(&self, n: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + n).min(last)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.kind != TokenKind::Eof {
            self.pos += 1;
        }
        t
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.peek().is_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek().is_ident(w) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn error_here(&mut self, what: &str) -> Reported {
        let t = self.peek().clone();
        let found = match t.kind {
            TokenKind::Eof => "end of file".to_string(),
            TokenKind::Str => format!("\"{}\"", t.text),
            _ => format!("`{}`", t.text),
        };
        self.diags
            .error(t.span, format!("expected {what}, found {found}"));
        Reported
    }

    fn expect_punct(&mut self, p: &str) -> PResult<Span> {
        if self.peek().is_punct(p) {
            Ok(self.bump().span)
        } else {
            Err(self.error_here(&format!("`{p}`")))
        }
    }

    fn ident(&mut self, what: &str) -> PResult<Ident> {
        if self.peek().kind == TokenKind::Ident {
            let t = self.bump();
            Ok(Ident {
                name: t.text,
                span: t.span,
            })
        } else {
            Err(self.error_here(what))
        }
    }

    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            let span = self.peek().span;
            self.diags.error(
                span,
                format!("nesting deeper than {MAX_NESTING} levels is not supported"),
            );
            return Err(Reported);
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn qualified_name(&mut self, what: &str) -> PResult<QualifiedName> {
        let first = self.ident(what)?;
        let mut parts = vec![first];
        while self.peek().is_punct(".") && self.peek_at(1).kind == TokenKind::Ident {
            self.bump();
            parts.push(self.ident(what)?);
        }
        Ok(QualifiedName {
            span: join(parts[0].span, parts[parts.len() - 1].span),
            parts,
        })
    }

    /// Skips to just after the next `;` at this brace depth, or to before the `}` that closes
    /// it (or to a declaration keyword at top level).
    fn recover(&mut self, top_level: bool) {
        let mut depth = 0usize;
        loop {
            let t = self.peek();
            match t.kind {
                TokenKind::Eof => return,
                TokenKind::Punct if t.text == "{" => depth += 1,
                TokenKind::Punct if t.text == "}" => {
                    if depth == 0 {
                        if top_level {
                            self.bump();
                        }
                        return;
                    }
                    depth -= 1;
                    if depth == 0 && top_level {
                        self.bump();
                        return;
                    }
                }
                TokenKind::Punct if t.text == ";" && depth == 0 => {
                    self.bump();
                    return;
                }
                TokenKind::Ident
                    if top_level && depth == 0 && DECL_WORDS.contains(&t.text.as_str()) =>
                {
                    return
                }
                _ => {}
            }
            self.bump();
        }
    }

    fn document(&mut self) -> Document {
        let mut doc = Document {
            package: None,
            imports: Vec::new(),
            decls: Vec::new(),
        };
        if self.eat_word("package") {
            match self.qualified_name("a package name") {
                Ok(name) => {
                    doc.package = Some(name);
                    if self.expect_punct(";").is_err() {
                        self.recover(true);
                    }
                }
                Err(Reported) => self.recover(true),
            }
        }
        while self.peek().is_ident("import") {
            self.bump();
            match self.qualified_name("an import name") {
                Ok(name) => {
                    doc.imports.push(name);
                    if self.expect_punct(";").is_err() {
                        self.recover(true);
                    }
                }
                Err(Reported) => self.recover(true),
            }
        }
        if self.peek().kind == TokenKind::Eof {
            let span = self.peek().span;
            self.diags
                .error(span, "expected a type declaration, found end of file");
        }
        while self.peek().kind != TokenKind::Eof {
            let before = self.pos;
            if self.peek().is_ident("package") || self.peek().is_ident("import") {
                let t = self.peek().clone();
                self.diags.error(
                    t.span,
                    format!("`{}` must come before any type declaration", t.text),
                );
                self.recover(true);
            } else {
                match self.decl() {
                    Ok(d) => doc.decls.push(d),
                    Err(Reported) => self.recover(true),
                }
            }
            if self.pos == before {
                self.bump();
            }
        }
        doc
    }

    fn annotations(&mut self) -> PResult<Vec<Annotation>> {
        let mut list = Vec::new();
        while self.peek().is_punct("@") {
            let at = self.bump().span;
            let name = self.ident("an annotation name")?;
            let mut params = Vec::new();
            if self.eat_punct("(") {
                if !self.peek().is_punct(")") {
                    if self.peek().kind == TokenKind::Ident && self.peek_at(1).is_punct("=") {
                        loop {
                            let key = self.ident("a parameter name")?;
                            self.expect_punct("=")?;
                            params.push((key, self.expr()?));
                            if !self.eat_punct(",") {
                                break;
                            }
                        }
                    } else {
                        let value = self.expr()?;
                        let key = Ident {
                            name: "value".to_string(),
                            span: value.span,
                        };
                        params.push((key, value));
                    }
                }
                self.expect_punct(")")?;
            }
            list.push(Annotation {
                span: join(at, name.span),
                name,
                params,
            });
        }
        Ok(list)
    }

    fn decl(&mut self) -> PResult<Decl> {
        let doc_at = self.peek().doc.clone();
        let annotations = self.annotations()?;
        let doc = doc_at.or_else(|| self.peek().doc.clone());
        self.enter()?;
        let result = self.decl_body(annotations, doc);
        self.leave();
        result
    }

    fn decl_body(&mut self, annotations: Vec<Annotation>, doc: Option<String>) -> PResult<Decl> {
        let oneway = self.eat_word("oneway");
        let kw = self.peek().clone();
        if oneway && !kw.is_ident("interface") {
            return Err(self.error_here("`interface` after `oneway`"));
        }
        let word = if kw.kind == TokenKind::Ident && DECL_WORDS.contains(&kw.text.as_str()) {
            self.bump();
            kw.text.clone()
        } else {
            return Err(self.error_here("`interface`, `parcelable`, `enum` or `union`"));
        };
        let mut name = self.ident("a type name")?;
        // `parcelable Outer.Inner;` names a nested class defined elsewhere; only unstructured
        // parcelables may have a dotted name.
        if word == "parcelable" {
            while self.peek().is_punct(".") && self.peek_at(1).kind == TokenKind::Ident {
                let dot = self.bump().span;
                let part = self.ident("a type name")?;
                name.name = format!("{}.{}", name.name, part.name);
                name.span = join(name.span, part.span);
                if self.peek().is_punct("{") || self.peek().is_punct("<") {
                    self.diags.error(
                        dot,
                        "only an unstructured parcelable may have a dotted name",
                    );
                    return Err(Reported);
                }
            }
        }
        let kind = match word.as_str() {
            "interface" => DeclKind::Interface {
                oneway,
                members: self.body(BodyKind::Interface)?,
            },
            "enum" => DeclKind::Enum {
                enumerators: self.enum_body()?,
            },
            "union" => {
                let type_params = self.type_params()?;
                DeclKind::Union {
                    type_params,
                    members: self.body(BodyKind::Parcelable)?,
                }
            }
            _ => {
                let type_params = self.type_params()?;
                if self.peek().is_punct("{") {
                    DeclKind::Parcelable {
                        type_params,
                        members: self.body(BodyKind::Parcelable)?,
                    }
                } else {
                    let mut headers = Vec::new();
                    while self.peek().kind == TokenKind::Ident {
                        let key = self.ident("a header clause")?;
                        if !matches!(key.name.as_str(), "cpp_header" | "ndk_header" | "rust_type") {
                            self.diags.error(
                                key.span,
                                format!(
                                    "unknown clause `{}`: expected `cpp_header`, `ndk_header` or `rust_type`",
                                    key.name
                                ),
                            );
                            return Err(Reported);
                        }
                        if self.peek().kind != TokenKind::Str {
                            return Err(self.error_here("a string"));
                        }
                        headers.push((key, self.bump().text));
                    }
                    self.expect_punct(";")?;
                    DeclKind::Unstructured {
                        type_params,
                        headers,
                    }
                }
            }
        };
        Ok(Decl {
            name,
            annotations,
            doc,
            kind,
        })
    }

    fn type_params(&mut self) -> PResult<Vec<Ident>> {
        let mut params = Vec::new();
        if self.eat_punct("<") {
            loop {
                params.push(self.ident("a type parameter")?);
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(">")?;
        }
        Ok(params)
    }

    fn enum_body(&mut self) -> PResult<Vec<Enumerator>> {
        self.expect_punct("{")?;
        let mut list = Vec::new();
        while !self.peek().is_punct("}") {
            let doc = self.peek().doc.clone();
            let annotations = self.annotations()?;
            let name = self.ident("an enumerator")?;
            let value = if self.eat_punct("=") {
                Some(self.expr()?)
            } else {
                None
            };
            list.push(Enumerator {
                name,
                value,
                doc,
                annotations,
            });
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct("}")?;
        Ok(list)
    }

    fn body(&mut self, kind: BodyKind) -> PResult<Vec<Member>> {
        self.expect_punct("{")?;
        let mut members = Vec::new();
        while !self.peek().is_punct("}") {
            if self.peek().kind == TokenKind::Eof {
                return Err(self.error_here("`}`"));
            }
            let before = self.pos;
            match self.member(kind) {
                Ok(m) => members.push(m),
                Err(Reported) => {
                    self.recover(false);
                    if self.pos == before {
                        self.bump();
                    }
                }
            }
        }
        self.bump();
        Ok(members)
    }

    /// Whether the tokens after the annotations start a nested declaration.
    fn at_nested_decl(&self) -> bool {
        let mut i = 0;
        // Skip annotations: `@` name and an optional balanced parenthesis group.
        while self.peek_at(i).is_punct("@") {
            i += 2;
            if self.peek_at(i).is_punct("(") {
                let mut depth = 0usize;
                loop {
                    let t = self.peek_at(i);
                    if t.kind == TokenKind::Eof {
                        return false;
                    }
                    if t.is_punct("(") {
                        depth += 1;
                    } else if t.is_punct(")") {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    i += 1;
                }
            }
        }
        let t = self.peek_at(i);
        let next = self.peek_at(i + 1);
        (t.kind == TokenKind::Ident && DECL_WORDS.contains(&t.text.as_str()))
            || (t.is_ident("oneway") && next.is_ident("interface"))
    }

    fn member(&mut self, kind: BodyKind) -> PResult<Member> {
        if self.at_nested_decl() {
            return Ok(Member::Type(self.decl()?));
        }
        let doc = self.peek().doc.clone();
        let mut annotations = self.annotations()?;
        let doc = doc.or_else(|| self.peek().doc.clone());
        if self.peek().is_ident("const") {
            self.bump();
            let mut ty = self.type_ref()?;
            ty.annotations.splice(0..0, annotations);
            let name = self.ident("a constant name")?;
            self.expect_punct("=")?;
            let value = Some(self.expr()?);
            self.expect_punct(";")?;
            return Ok(Member::Const(Field {
                ty,
                name,
                value,
                doc,
                annotations: Vec::new(),
            }));
        }
        let oneway = if kind == BodyKind::Interface && self.peek().is_ident("oneway") {
            Some(self.bump().span)
        } else {
            None
        };
        let mut ty = self.type_ref()?;
        let name = self.ident("a name")?;
        if kind == BodyKind::Interface || self.peek().is_punct("(") {
            if kind != BodyKind::Interface {
                let span = self.peek().span;
                self.diags
                    .error(span, "methods are only allowed in interfaces");
                return Err(Reported);
            }
            let args = self.args()?;
            let id = if self.eat_punct("=") {
                let t = self.peek().clone();
                if t.kind != TokenKind::Int {
                    return Err(self.error_here("a transaction id"));
                }
                self.bump();
                match crate::consts::parse_int_literal(&t.text) {
                    Some((v, _)) => Some((v, t.span)),
                    None => {
                        self.diags
                            .error(t.span, format!("invalid transaction id `{}`", t.text));
                        return Err(Reported);
                    }
                }
            } else {
                None
            };
            self.expect_punct(";")?;
            return Ok(Member::Method(Method {
                oneway,
                ret: ty,
                name,
                args,
                id,
                doc,
                annotations,
            }));
        }
        ty.annotations
            .splice(0..0, std::mem::take(&mut annotations));
        let value = if self.eat_punct("=") {
            Some(self.expr()?)
        } else {
            None
        };
        self.expect_punct(";")?;
        Ok(Member::Field(Field {
            ty,
            name,
            value,
            doc,
            annotations,
        }))
    }

    fn args(&mut self) -> PResult<Vec<Arg>> {
        self.expect_punct("(")?;
        let mut args = Vec::new();
        if self.eat_punct(")") {
            return Ok(args);
        }
        loop {
            let annotations = self.annotations()?;
            let t = self.peek().clone();
            let direction = match t.text.as_str() {
                "in" if t.kind == TokenKind::Ident => Some(Direction::In),
                "out" if t.kind == TokenKind::Ident => Some(Direction::Out),
                "inout" if t.kind == TokenKind::Ident => Some(Direction::InOut),
                _ => None,
            };
            let direction = direction.map(|d| (d, self.bump().span));
            let ty = self.type_ref()?;
            let name = self.ident("an argument name")?;
            args.push(Arg {
                direction,
                ty,
                name,
                annotations,
            });
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(")")?;
        Ok(args)
    }

    fn type_ref(&mut self) -> PResult<TypeRef> {
        self.enter()?;
        let r = self.type_ref_inner();
        self.leave();
        r
    }

    fn type_ref_inner(&mut self) -> PResult<TypeRef> {
        let annotations = self.annotations()?;
        let name = self.qualified_name("a type")?;
        let mut end = name.span;
        let mut args = Vec::new();
        if self.eat_punct("<") {
            loop {
                args.push(self.type_ref()?);
                if !self.eat_punct(",") {
                    break;
                }
            }
            end = self.expect_punct(">")?;
        }
        let mut dims = Vec::new();
        // Each dimension nests the type one level deeper (later passes recurse per level).
        let mut entered = 0;
        let dims_read = (|| {
            while self.eat_punct("[") {
                self.enter()?;
                entered += 1;
                if self.peek().is_punct("]") {
                    dims.push(None);
                } else {
                    dims.push(Some(self.expr()?));
                }
                end = self.expect_punct("]")?;
            }
            Ok(())
        })();
        self.depth -= entered;
        dims_read?;
        Ok(TypeRef {
            span: join(name.span, end),
            name,
            args,
            dims,
            annotations,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Interface,
    Parcelable,
}

/// A span from the start of `a` to the end of `b` (just `a` if they are on different lines).
pub fn join(a: Span, b: Span) -> Span {
    if a.file == b.file && a.line == b.line && b.col >= a.col {
        Span {
            len: (b.col - a.col).saturating_add(b.len),
            ..a
        }
    } else {
        a
    }
}
