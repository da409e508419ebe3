//! Constant expressions, parsed by precedence climbing with C's operator precedence.

use super::{join, PResult, Parser, Reported};
use crate::ast::{Expr, ExprKind};
use crate::lexer::TokenKind;

impl Parser<'_> {
    /// Parses a constant expression.
    pub(super) fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.ternary();
        self.leave();
        r
    }

    fn ternary(&mut self) -> PResult<Expr> {
        let cond = self.binary(0)?;
        if self.eat_punct("?") {
            let a = self.expr()?;
            self.expect_punct(":")?;
            let b = self.expr()?;
            return Ok(Expr {
                span: join(cond.span, b.span),
                kind: ExprKind::Ternary(Box::new(cond), Box::new(a), Box::new(b)),
            });
        }
        Ok(cond)
    }

    /// The binary operator at the cursor and its token count, joining two adjacent `>`.
    fn binary_op(&self) -> Option<(String, usize)> {
        let t = self.peek();
        if t.kind != TokenKind::Punct {
            return None;
        }
        if t.text == ">" {
            let n = self.peek_at(1);
            if n.is_punct(">") && n.span.line == t.span.line && n.span.col == t.span.col + 1 {
                return Some((">>".to_string(), 2));
            }
        }
        precedence(&t.text).map(|_| (t.text.clone(), 1))
    }

    fn binary(&mut self, min_prec: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        // Each operator deepens the tree by one, so each counts against the nesting limit.
        let mut entered = 0;
        let result = loop {
            let Some((op, n)) = self.binary_op() else {
                break Ok(lhs);
            };
            let prec = precedence(&op).unwrap_or(0);
            if prec < min_prec {
                break Ok(lhs);
            }
            for _ in 0..n {
                self.bump();
            }
            if self.enter().is_err() {
                break Err(Reported);
            }
            entered += 1;
            let rhs = match self.binary(prec + 1) {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            lhs = Expr {
                span: join(lhs.span, rhs.span),
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            };
        };
        self.depth -= entered;
        result
    }

    fn unary(&mut self) -> PResult<Expr> {
        let t = self.peek().clone();
        if t.kind == TokenKind::Punct && matches!(t.text.as_str(), "+" | "-" | "!" | "~") {
            self.bump();
            self.enter()?;
            let inner = self.unary();
            self.leave();
            let inner = inner?;
            return Ok(Expr {
                span: join(t.span, inner.span),
                kind: ExprKind::Unary(t.text, Box::new(inner)),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek().clone();
        let kind = match t.kind {
            TokenKind::Int => ExprKind::Int(t.text.clone()),
            TokenKind::Float => ExprKind::Float(t.text.clone()),
            TokenKind::Str => ExprKind::Str(t.text.clone()),
            TokenKind::Char => ExprKind::Char(t.text.chars().next().unwrap_or('\0')),
            TokenKind::Ident if t.text == "true" || t.text == "false" => {
                ExprKind::Bool(t.text == "true")
            }
            TokenKind::Ident => {
                let name = self.qualified_name("a constant")?;
                return Ok(Expr {
                    span: name.span,
                    kind: ExprKind::Ref(name),
                });
            }
            TokenKind::Punct if t.text == "(" => {
                self.bump();
                let e = self.expr()?;
                self.expect_punct(")")?;
                return Ok(e);
            }
            TokenKind::Punct if t.text == "{" => {
                self.bump();
                let mut items = Vec::new();
                while !self.peek().is_punct("}") {
                    items.push(self.expr()?);
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                let end = self.expect_punct("}")?;
                return Ok(Expr {
                    span: join(t.span, end),
                    kind: ExprKind::Array(items),
                });
            }
            _ => return Err(self.error_here("a constant expression")),
        };
        self.bump();
        Ok(Expr { kind, span: t.span })
    }
}

/// C precedence of binary operators, higher binds tighter.
fn precedence(op: &str) -> Option<u8> {
    Some(match op {
        "||" => 1,
        "&&" => 2,
        "|" => 3,
        "^" => 4,
        "&" => 5,
        "==" | "!=" => 6,
        "<" | ">" | "<=" | ">=" => 7,
        "<<" | ">>" => 8,
        "+" | "-" => 9,
        "*" | "/" | "%" => 10,
        _ => return None,
    })
}
