//! The PTX layer of gpufault: lexer, parser, syntax tree, printer, control-flow graph
//! and rewrite helpers.
//!
//! Everything in gpufault starts from PTX: the injector rewrites it, the virtual GPU
//! executes it, the detector is written in it. This crate reads the PTX that NVRTC/nvcc,
//! clang/LLVM and Triton emit (ISA 6.x–9.x) into one uniform tree ([`Module`] of
//! [`Item`]s; every instruction is an [`Instruction`] with guard, [`Opcode`], modifiers
//! and [`Operand`]s), prints it back as valid PTX, and gives passes what they need.
//!
//! It is not a PTX validator (that is `ptxas`) and it gives no instruction semantics
//! beyond the [opcode table](Opcode) (operand roles and unit [`Class`]).
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
mod opcodes;

pub use ast::*;
pub use opcodes::{is_special_register, Class, Opcode};
