//! Turns AIDL source text into tokens, keeping `/** doc */` comments attached to the token
//! that follows them.

use crate::diagnostics::{Diagnostics, FileId, Span};

/// What kind of token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// An identifier or keyword.
    Ident,
    /// An integer literal, text as written (suffix included).
    Int,
    /// A floating-point literal, text as written.
    Float,
    /// A character literal; the text is the character (escapes resolved).
    Char,
    /// A string literal; the text is the contents (escapes resolved).
    Str,
    /// Punctuation; the text is the operator.
    Punct,
    /// End of input.
    Eof,
}

/// One token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Its kind.
    pub kind: TokenKind,
    /// Its text (see [`TokenKind`]).
    pub text: String,
    /// Where it is.
    pub span: Span,
    /// The doc comment right before it, without the comment markers.
    pub doc: Option<String>,
}

impl Token {
    /// True if this is the punctuation `p`.
    pub fn is_punct(&self, p: &str) -> bool {
        self.kind == TokenKind::Punct && self.text == p
    }

    /// True if this is the identifier or keyword `w`.
    pub fn is_ident(&self, w: &str) -> bool {
        self.kind == TokenKind::Ident && self.text == w
    }
}

/// Multi-character operators, longest first. `>>` is deliberately absent: the parser joins two
/// adjacent `>` so that `List<List<int>>` closes two generic lists.
const PUNCTS: &[&str] = &[
    "<<", "<=", ">=", "==", "!=", "&&", "||", "{", "}", "(", ")", "[", "]", "<", ">", ";", ",",
    ".", "=", "@", "?", ":", "+", "-", "*", "/", "%", "&", "|", "^", "~", "!",
];

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    col: u32,
    file: FileId,
    diags: &'a mut Diagnostics,
}

impl Lexer<'_> {
    fn peek(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }

    fn span_from(&self, line: u32, col: u32, start: usize) -> Span {
        let len = if self.line == line {
            u32::try_from(self.pos - start).unwrap_or(u32::MAX)
        } else {
            1
        };
        Span {
            file: self.file,
            line,
            col,
            len,
        }
    }

    /// Skips blanks and comments; returns the last doc comment seen.
    fn skip_trivia(&mut self) -> Option<String> {
        let mut doc = None;
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    while let Some(c) = self.peek(0) {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    let (line, col, start) = (self.line, self.col, self.pos);
                    self.bump();
                    self.bump();
                    let is_doc = self.peek(0) == Some('*') && self.peek(1) != Some('/');
                    let body_start = self.pos;
                    let mut closed = false;
                    while self.peek(0).is_some() {
                        if self.peek(0) == Some('*') && self.peek(1) == Some('/') {
                            closed = true;
                            break;
                        }
                        self.bump();
                    }
                    let body: String = self.chars[body_start..self.pos].iter().collect();
                    if closed {
                        self.bump();
                        self.bump();
                    } else {
                        let span = self.span_from(line, col, start);
                        self.diags.error(
                            Span {
                                len: span.len.min(2),
                                ..span
                            },
                            "unterminated comment",
                        );
                    }
                    doc = if is_doc { Some(clean_doc(&body)) } else { doc };
                }
                _ => return doc,
            }
        }
    }

    fn escape(&mut self) -> Option<char> {
        match self.bump()? {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            '0' => Some('\0'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            c @ ('\\' | '\'' | '"') => Some(c),
            _ => None,
        }
    }

    fn quoted(&mut self, quote: char) -> Result<String, &'static str> {
        self.bump();
        let mut text = String::new();
        let mut error = None;
        loop {
            match self.peek(0) {
                None | Some('\n') => return Err("unterminated literal"),
                Some(c) if c == quote => {
                    self.bump();
                    return match error {
                        Some(e) => Err(e),
                        None => Ok(text),
                    };
                }
                Some('\\') if quote == '"' => {
                    // AIDL strings have no escape sequences; skip the escaped character so
                    // that the literal still ends at its closing quote.
                    self.bump();
                    if self.peek(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                    error = Some("backslashes are not allowed in AIDL string literals");
                }
                Some('\\') => {
                    self.bump();
                    match self.escape() {
                        Some(c) => text.push(c),
                        None => error = Some("invalid escape sequence"),
                    }
                }
                Some(c) => {
                    self.bump();
                    if quote == '\'' && c.is_control() {
                        error =
                            Some("invalid character literal: control characters are not allowed");
                    }
                    text.push(c);
                }
            }
        }
    }

    fn number(&mut self) -> TokenKind {
        let mut float = false;
        let hex = self.peek(0) == Some('0') && matches!(self.peek(1), Some('x' | 'X'));
        if hex {
            self.bump();
            self.bump();
        }
        while let Some(c) = self.peek(0) {
            let exp = !hex && matches!(c, 'e' | 'E');
            if c.is_ascii_alphanumeric() || c == '_' || (c == '.' && !hex) {
                float |= c == '.' || exp;
                self.bump();
                if exp && matches!(self.peek(0), Some('+' | '-')) {
                    self.bump();
                }
            } else {
                break;
            }
        }
        if float {
            TokenKind::Float
        } else {
            TokenKind::Int
        }
    }

    fn next(&mut self) -> Token {
        loop {
            if let Some(t) = self.next_inner() {
                return t;
            }
        }
    }

    /// The next token, or `None` after skipping a character that starts no token.
    fn next_inner(&mut self) -> Option<Token> {
        let doc = self.skip_trivia();
        let (line, col, start) = (self.line, self.col, self.pos);
        let Some(c) = self.peek(0) else {
            return Some(Token {
                kind: TokenKind::Eof,
                text: String::new(),
                span: Span {
                    file: self.file,
                    line,
                    col,
                    len: 1,
                },
                doc,
            });
        };
        let kind;
        let mut text = None;
        if c.is_ascii_alphabetic() || c == '_' {
            while matches!(self.peek(0), Some(c) if c.is_ascii_alphanumeric() || c == '_') {
                self.bump();
            }
            kind = TokenKind::Ident;
        } else if c.is_ascii_digit() || (c == '.' && matches!(self.peek(1), Some('0'..='9'))) {
            kind = self.number();
        } else if c == '"' || c == '\'' {
            match self.quoted(c) {
                Ok(t) => {
                    if c == '\'' && t.chars().count() != 1 {
                        let span = self.span_from(line, col, start);
                        self.diags
                            .error(span, "a character literal holds exactly one character");
                    }
                    text = Some(t);
                }
                Err(msg) => {
                    let span = self.span_from(line, col, start);
                    self.diags.error(span, msg);
                    text = Some(String::new());
                }
            }
            kind = if c == '"' {
                TokenKind::Str
            } else {
                TokenKind::Char
            };
        } else {
            let rest: String = self.chars[self.pos..(self.pos + 2).min(self.chars.len())]
                .iter()
                .collect();
            match PUNCTS.iter().find(|p| rest.starts_with(**p)) {
                Some(p) => {
                    for _ in 0..p.len() {
                        self.bump();
                    }
                    kind = TokenKind::Punct;
                }
                None => {
                    self.bump();
                    let span = self.span_from(line, col, start);
                    self.diags
                        .error(span, format!("unexpected character `{}`", c.escape_debug()));
                    return None;
                }
            }
        }
        let span = self.span_from(line, col, start);
        let text = text.unwrap_or_else(|| self.chars[start..self.pos].iter().collect());
        Some(Token {
            kind,
            text,
            span,
            doc,
        })
    }
}

/// Strips `*` gutters and blank edges from a doc comment's body.
fn clean_doc(body: &str) -> String {
    let body = body.strip_prefix('*').unwrap_or(body);
    let lines: Vec<&str> = body
        .lines()
        .map(|l| {
            let t = l.trim_start();
            let t = t.strip_prefix('*').unwrap_or(t);
            t.strip_prefix(' ').unwrap_or(t).trim_end()
        })
        .collect();
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |e| e + 1);
    lines[start..end].join("\n")
}

/// Splits `text` into tokens, ending with one [`TokenKind::Eof`]. Lexical errors go to
/// `diags`; the bad characters are skipped.
pub fn tokenize(file: FileId, text: &str, diags: &mut Diagnostics) -> Vec<Token> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        col: 1,
        file,
        diags,
    };
    let mut tokens = Vec::new();
    loop {
        let t = lexer.next();
        let eof = t.kind == TokenKind::Eof;
        tokens.push(t);
        if eof {
            return tokens;
        }
    }
}
