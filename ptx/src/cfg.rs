//! Control flow of one function: the flattened instruction list, basic blocks,
//! successors/predecessors and immediate post-dominators.
//!
//! # The flattening order
//!
//! [`flatten`] lists a body's instructions depth-first in source order: a nested
//! `{ ... }` block contributes its instructions where the block stands, as if its braces
//! were removed. Declarations, `.loc`, pragmas and raw directives are not instructions.
//! A label stands for the index of the first instruction after it (or the number of
//! instructions, for a label at the very end). Instruction *index* `i` everywhere in
//! gpufault (the CFG, the rewrite helpers, the virtual GPU's decoder, the injector's
//! fault sites) means position `i` in this order.

use crate::ast::{Function, Instruction, Name, Operand, Statement};
use crate::opcodes::Opcode;
use std::collections::HashMap;

/// A function body flattened into one instruction list (see the module docs).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlatBody<'a> {
    /// The instructions in flattening order.
    pub insts: Vec<&'a Instruction>,
    /// Label name → index of the instruction it precedes (`insts.len()` at the end).
    pub labels: HashMap<&'a str, usize>,
    /// `.branchtargets` lists by the label that names them (for `brx.idx`).
    pub branch_targets: HashMap<&'a str, Vec<&'a str>>,
}

/// Flattens a body (see the module docs for the order).
pub fn flatten(body: &[Statement]) -> FlatBody<'_> {
    let mut flat = FlatBody::default();
    flatten_into(body, &mut flat);
    flat
}

fn flatten_into<'a>(body: &'a [Statement], flat: &mut FlatBody<'a>) {
    let mut last_label: Option<&'a str> = None;
    for s in body {
        match s {
            Statement::Inst(i) => flat.insts.push(i),
            Statement::Label(l) => {
                flat.labels.entry(l.as_str()).or_insert(flat.insts.len());
                last_label = Some(l);
                continue;
            }
            Statement::Block(b) => flatten_into(b, flat),
            Statement::Raw(r) if r.tokens.first().is_some_and(|t| t == ".branchtargets") => {
                if let Some(l) = last_label {
                    let targets = r.tokens[1..]
                        .iter()
                        .filter(|t| *t != ",")
                        .map(Name::as_str)
                        .collect();
                    flat.branch_targets.insert(l, targets);
                }
            }
            _ => {}
        }
        last_label = None;
    }
}

/// A node of the control-flow graph: a basic block or the virtual exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// The basic block with this index.
    Block(usize),
    /// The virtual exit node that every `ret`/`exit`/`trap` and the fall-off end reach.
    Exit,
}

/// A maximal straight-line run of instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicBlock {
    /// Index of the first instruction (flattening order).
    pub start: usize,
    /// One past the last instruction.
    pub end: usize,
    /// Successor blocks, without duplicates: branch targets first, then fall-through.
    pub succs: Vec<usize>,
    /// Predecessor blocks, ascending.
    pub preds: Vec<usize>,
    /// Whether a path leaves the function from this block (`ret`, `exit`, `trap`, a
    /// branch to a label at the very end, or falling off the end).
    pub exits: bool,
}

/// Errors building a control-flow graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CfgError {
    /// A branch names a label that the function does not define.
    #[error("undefined label `{label}` in function `{function}` at line {line}")]
    UndefinedLabel {
        /// The function.
        function: String,
        /// The missing label (or the operand text when it is not a label).
        label: String,
        /// Source line of the branch.
        line: u32,
    },
    /// `brx.idx` names a label that is not attached to a `.branchtargets` list.
    #[error("`brx.idx` in function `{function}` at line {line} names `{label}`, which labels no `.branchtargets` list")]
    NotBranchTargets {
        /// The function.
        function: String,
        /// The label.
        label: String,
        /// Source line of the branch.
        line: u32,
    },
}

/// The control-flow graph of one function body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cfg {
    /// Basic blocks in instruction order (block 0 holds instruction 0).
    pub blocks: Vec<BasicBlock>,
    /// Immediate post-dominator of each block; `None` when the block cannot reach the
    /// exit (an endless loop).
    pub ipdom: Vec<Option<Node>>,
    block_of: Vec<usize>,
}

/// How an instruction ends (or does not end) a block.
enum Flow<'a> {
    Normal,
    /// Branch targets; `fall` when guarded.
    Jump(Vec<&'a str>, bool),
    /// Leaves the function; `fall` when guarded.
    Leave(bool),
}

fn flow_of<'a>(
    i: &'a Instruction,
    flat: &FlatBody<'a>,
    function: &str,
) -> Result<Flow<'a>, CfgError> {
    let guarded = i.guard.is_some();
    match i.opcode {
        Opcode::Bra => match i.operands.first() {
            Some(Operand::Name { name, comp: None }) => Ok(Flow::Jump(vec![name], guarded)),
            other => Err(CfgError::UndefinedLabel {
                function: function.to_string(),
                label: other.map_or_else(String::new, ToString::to_string),
                line: i.line,
            }),
        },
        Opcode::Brx => {
            let label = i.operands.get(1).and_then(Operand::as_name).unwrap_or("");
            match flat.branch_targets.get(label) {
                Some(t) => Ok(Flow::Jump(t.clone(), guarded)),
                None => Err(CfgError::NotBranchTargets {
                    function: function.to_string(),
                    label: label.to_string(),
                    line: i.line,
                }),
            }
        }
        Opcode::Ret | Opcode::Exit | Opcode::Trap => Ok(Flow::Leave(guarded)),
        _ => Ok(Flow::Normal),
    }
}

impl Cfg {
    /// The CFG of a function (empty for a declaration or an empty body).
    pub fn build(f: &Function) -> Result<Cfg, CfgError> {
        match &f.body {
            Some(body) => Cfg::from_flat(&flatten(body), &f.name),
            None => Ok(Cfg::from_flat(&FlatBody::default(), &f.name)?),
        }
    }

    /// The CFG of a flattened body; `function` names it in errors.
    pub fn from_flat(flat: &FlatBody<'_>, function: &str) -> Result<Cfg, CfgError> {
        let n = flat.insts.len();
        let flows = flat
            .insts
            .iter()
            .map(|i| flow_of(i, flat, function))
            .collect::<Result<Vec<_>, _>>()?;
        let target = |label: &str, line: u32| -> Result<usize, CfgError> {
            flat.labels
                .get(label)
                .copied()
                .ok_or_else(|| CfgError::UndefinedLabel {
                    function: function.to_string(),
                    label: label.to_string(),
                    line,
                })
        };
        // Leaders: the entry, every branch target, every instruction after a jump/leave.
        let mut leader = vec![false; n + 1];
        if n > 0 {
            leader[0] = true;
        }
        for (i, fl) in flows.iter().enumerate() {
            match fl {
                Flow::Normal => {}
                Flow::Jump(ts, _) => {
                    for t in ts {
                        leader[target(t, flat.insts[i].line)?] = true;
                    }
                    leader[i + 1] = true;
                }
                Flow::Leave(_) => leader[i + 1] = true,
            }
        }
        let starts: Vec<usize> = (0..n).filter(|&i| leader[i]).collect();
        let mut block_of = vec![0usize; n];
        let mut blocks = Vec::with_capacity(starts.len());
        for (b, &s) in starts.iter().enumerate() {
            let e = starts.get(b + 1).copied().unwrap_or(n);
            block_of[s..e].fill(b);
            blocks.push(BasicBlock {
                start: s,
                end: e,
                succs: Vec::new(),
                preds: Vec::new(),
                exits: false,
            });
        }
        for (b, block) in blocks.iter_mut().enumerate() {
            let last = block.end - 1;
            let mut succs = Vec::new();
            let mut exits = false;
            let mut fall = true;
            match &flows[last] {
                Flow::Normal => {}
                Flow::Jump(ts, guarded) => {
                    for t in ts {
                        let idx = target(t, flat.insts[last].line)?;
                        if idx == n {
                            exits = true;
                        } else {
                            succs.push(block_of[idx]);
                        }
                    }
                    fall = *guarded;
                }
                Flow::Leave(guarded) => {
                    exits = true;
                    fall = *guarded;
                }
            }
            if fall {
                if block.end == n {
                    exits = true;
                } else {
                    succs.push(b + 1);
                }
            }
            let mut seen = Vec::with_capacity(succs.len());
            for s in succs {
                if !seen.contains(&s) {
                    seen.push(s);
                }
            }
            block.succs = seen;
            block.exits = exits;
        }
        for b in 0..blocks.len() {
            for s in blocks[b].succs.clone() {
                blocks[s].preds.push(b);
            }
        }
        let ipdom = post_dominators(&blocks);
        Ok(Cfg {
            blocks,
            ipdom,
            block_of,
        })
    }

    /// The block holding instruction `inst` (flattening order).
    pub fn block_of(&self, inst: usize) -> Option<usize> {
        self.block_of.get(inst).copied()
    }

    /// The immediate post-dominator of block `b`.
    pub fn ipdom(&self, b: usize) -> Option<Node> {
        self.ipdom.get(b).copied().flatten()
    }
}

/// Immediate post-dominators by Cooper, Harvey and Kennedy's iterative algorithm on the
/// reversed graph, rooted at a virtual exit node (index `blocks.len()`).
fn post_dominators(blocks: &[BasicBlock]) -> Vec<Option<Node>> {
    let nb = blocks.len();
    let exit = nb;
    // Reverse-graph successors of a node = forward predecessors (exit: blocks that exit).
    let exiting: Vec<usize> = (0..nb).filter(|&b| blocks[b].exits).collect();
    let rsuccs = |x: usize| -> &[usize] {
        if x == exit {
            &exiting
        } else {
            &blocks[x].preds
        }
    };
    // Iterative DFS postorder from the exit over the reverse graph.
    let mut order = vec![usize::MAX; nb + 1];
    let mut post = Vec::with_capacity(nb + 1);
    let mut visited = vec![false; nb + 1];
    let mut stack: Vec<(usize, usize)> = vec![(exit, 0)];
    visited[exit] = true;
    while let Some(&mut (x, ref mut k)) = stack.last_mut() {
        let s = rsuccs(x);
        if *k < s.len() {
            let y = s[*k];
            *k += 1;
            if !visited[y] {
                visited[y] = true;
                stack.push((y, 0));
            }
        } else {
            order[x] = post.len();
            post.push(x);
            stack.pop();
        }
    }
    let mut idom = vec![usize::MAX; nb + 1];
    idom[exit] = exit;
    let intersect = |idom: &[usize], mut a: usize, mut b: usize| -> usize {
        while a != b {
            while order[a] < order[b] {
                a = idom[a];
            }
            while order[b] < order[a] {
                b = idom[b];
            }
        }
        a
    };
    let mut changed = true;
    while changed {
        changed = false;
        for &x in post.iter().rev() {
            if x == exit {
                continue;
            }
            // Reverse-graph predecessors = forward successors (plus the exit).
            let mut new = usize::MAX;
            let fwd = blocks[x]
                .succs
                .iter()
                .copied()
                .chain(blocks[x].exits.then_some(exit));
            for p in fwd {
                if idom[p] == usize::MAX {
                    continue;
                }
                new = if new == usize::MAX {
                    p
                } else {
                    intersect(&idom, p, new)
                };
            }
            if new != usize::MAX && idom[x] != new {
                idom[x] = new;
                changed = true;
            }
        }
    }
    (0..nb)
        .map(|b| match idom[b] {
            usize::MAX => None,
            d if d == exit => Some(Node::Exit),
            d => Some(Node::Block(d)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn cfg(body: &str) -> Result<Cfg, CfgError> {
        let m = parse(&format!(".entry k()\n{{\n{body}\n}}\n")).unwrap_or_else(|e| panic!("{e}"));
        let f = m.functions().next().unwrap();
        Cfg::build(f)
    }

    fn succs(c: &Cfg) -> Vec<Vec<usize>> {
        c.blocks.iter().map(|b| b.succs.clone()).collect()
    }

    #[test]
    fn flattening_inlines_nested_blocks_in_source_order() {
        let m = parse(".entry k() { a; { .reg .b32 r; b; { c; } L: } d; }").unwrap();
        let f = m.functions().next().unwrap();
        let flat = flatten(f.body.as_ref().unwrap());
        let names: Vec<&str> = flat.insts.iter().map(|i| i.opcode.name()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert_eq!(flat.labels["L"], 3);
    }

    #[test]
    fn if_then_else_diamond() {
        // 0: setp; @p bra ELSE | 1: then; bra END | 2: ELSE: else | 3: END: ret
        let c = cfg(
            "setp.eq.u32 %p, %r, 0;\n@%p bra ELSE;\nadd.u32 %r, %r, 1;\nbra.uni END;\n\
                     ELSE:\nsub.u32 %r, %r, 1;\nEND:\nret;",
        )
        .unwrap();
        assert_eq!(c.blocks.len(), 4);
        assert_eq!(succs(&c), [vec![2, 1], vec![3], vec![3], vec![]]);
        assert_eq!(c.blocks[3].preds, [1, 2]);
        assert!(c.blocks[3].exits);
        assert_eq!(
            c.ipdom,
            [
                Some(Node::Block(3)),
                Some(Node::Block(3)),
                Some(Node::Block(3)),
                Some(Node::Exit)
            ]
        );
        assert_eq!(c.block_of(4), Some(2));
        assert_eq!((c.blocks[1].start, c.blocks[1].end), (2, 4));
    }

    #[test]
    fn loops_guarded_returns_and_endless_loops() {
        // 0: HEAD: add; @p ret | 1: @q bra HEAD | 2: SPIN: bra SPIN
        let c = cfg("HEAD:\nadd.u32 %r, %r, 1;\n@%p ret;\n@%q bra HEAD;\nSPIN:\nbra.uni SPIN;")
            .unwrap();
        assert_eq!(succs(&c), [vec![1], vec![0, 2], vec![2]]);
        assert!(c.blocks[0].exits);
        assert!(!c.blocks[2].exits);
        assert_eq!(c.ipdom[0], Some(Node::Exit));
        assert_eq!(c.ipdom[1], Some(Node::Block(0)));
        assert_eq!(c.ipdom[2], None, "an endless loop reaches no exit");
    }

    #[test]
    fn indexed_branches_use_branchtargets() {
        let c = cfg("ts: .branchtargets A, B;\nbrx.idx %r, ts;\nA:\nret;\nB:\nexit;").unwrap();
        assert_eq!(succs(&c), [vec![1, 2], vec![], vec![]]);
        let e = cfg("brx.idx %r, nowhere;\nret;").unwrap_err();
        assert!(matches!(e, CfgError::NotBranchTargets { .. }), "{e}");
    }

    #[test]
    fn undefined_labels_are_typed_errors() {
        let e = cfg("bra.uni MISSING;").unwrap_err();
        assert_eq!(
            e,
            CfgError::UndefinedLabel {
                function: "k".into(),
                label: "MISSING".into(),
                line: 3
            }
        );
        assert_eq!(
            e.to_string(),
            "undefined label `MISSING` in function `k` at line 3"
        );
    }

    #[test]
    fn falling_off_the_end_and_empty_bodies() {
        let c = cfg("add.u32 %r, %r, 1;\nbra.uni END;\nEND:").unwrap();
        assert_eq!(c.blocks.len(), 1);
        assert!(c.blocks[0].exits);
        assert!(cfg("").unwrap().blocks.is_empty());
    }

    #[test]
    fn long_chains_do_not_overflow_the_stack() {
        let body: String = (0..50_000)
            .map(|i| format!("L{i}:\nbra.uni L{};\n", i + 1))
            .collect();
        let c = cfg(&format!("{body}L50000:\nret;")).unwrap();
        assert_eq!(c.blocks.len(), 50_001);
        assert_eq!(c.ipdom[0], Some(Node::Block(1)));
    }
}
