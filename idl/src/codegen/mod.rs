//! Back ends: turn the [`Ir`](crate::ir::Ir) into source code.

pub mod rust;
