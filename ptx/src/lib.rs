//! The PTX layer of gpufault: lexer, parser, syntax tree, printer, control-flow graph
//! and rewrite helpers.
//!
//! Everything in gpufault starts from PTX: the injector rewrites it, the virtual GPU
//! executes it, the detector is written in it. This crate reads the PTX that NVRTC/nvcc,
//! clang/LLVM and Triton emit (ISA 6.x–9.x) into one uniform tree ([`Module`] of
//! [`Item`]s; every instruction is an [`Instruction`] with guard, [`Opcode`], modifiers
//! and [`Operand`]s), prints it back as valid PTX, and gives passes what they need.
//!
//! It is not a full PTX validator (that is `ptxas`, wrapped by the [`ptxas`] module):
//! [`validate`] reports only what the syntax tree can tell (unknown opcodes, names
//! defined twice, unknown `.version`/`.target`). Nor is it a CUDA compiler (that is
//! NVRTC, loaded at run time by the [`nvrtc`] module). It gives no instruction semantics
//! beyond the [opcode table](Opcode) (operand roles and unit [`Class`]).
//!
//! The main pieces:
//! - [`parse`] / [`parse_recovering`]: text to [`Module`]; every error is a
//!   [`ParseError`] with line, column and the offending token, and parsing recovers per
//!   statement so one run reports them all. No input makes it panic, hang or overflow
//!   the stack (nesting is limited to [`MAX_DEPTH`]).
//! - [`validate`]: what ptxas would reject that the tree shows, as
//!   [`ValidationError`]s with line and column; [`read_source`] reads a PTX file and
//!   locates the first byte that is not UTF-8.
//! - [`print()`]: [`Module`] to PTX in one canonical layout that ptxas accepts;
//!   `print(parse(print(parse(x)))) == print(parse(x))`.
//! - [`flatten`] and [`Cfg`]: the stable instruction order of a function body that the
//!   virtual GPU and the injector share, basic blocks, successors, predecessors and
//!   immediate post-dominators.
//! - Rewrite helpers for passes: [`declared_registers`], [`fresh_names`],
//!   [`add_registers`], [`declare_global`], [`insert_before`], [`insert_after`],
//!   [`replace_operand`], [`rename_registers`], [`map_instructions`].
//!
//! ```
//! let src = ".version 8.0\n.target sm_80\n.address_size 64\n\
//!            .visible .entry k(.param .u64 p)\n{\n\t.reg .b32 %r<2>;\n\tmov.u32 %r1, %tid.x;\n\tret;\n}\n";
//! let module = ptx::parse(src).unwrap();
//! let k = module.kernels().next().unwrap();
//! assert_eq!(k.name, "k");
//! let printed = ptx::print(&module);
//! assert_eq!(ptx::print(&ptx::parse(&printed).unwrap()), printed);
//! ```
#![deny(missing_docs)]

mod ast;
mod cfg;
mod lexer;
pub mod nvrtc;
mod opcodes;
mod parser;
mod printer;
pub mod ptxas;
mod rewrite;
mod source;
mod validate;

pub use ast::*;
pub use cfg::{flatten, BasicBlock, Cfg, CfgError, FlatBody, Node};
pub use opcodes::{is_special_register, Class, Opcode};
pub use parser::{parse, parse_recovering, ParseError, ParseErrors, MAX_DEPTH};
pub use printer::print;
pub use rewrite::{
    add_registers, declare_global, declare_registers, declared_registers, fresh_names,
    insert_after, insert_before, instruction_mut, map_instructions, register_declaration,
    rename_registers, replace_operand, RegDecl, RewriteError,
};
pub use source::{read_source, SourceError};
pub use validate::{is_known_target, is_known_version, validate, Invalid, ValidationError};
