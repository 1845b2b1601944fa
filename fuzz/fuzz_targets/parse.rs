//! Fuzz target: any input must parse (with recovery) without panicking or hanging;
//! input that parses without error must print to PTX that parses again and prints the
//! same (the fixed point); building the CFG of every function must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (module, errors) = ptx::parse_recovering(&text);
    for e in &errors {
        assert!(e.line >= 1 && e.col >= 1 && !e.message.is_empty(), "{e}");
    }
    for f in module.functions() {
        let _ = ptx::Cfg::build(f);
    }
    if errors.is_empty() {
        let printed = ptx::print(&module);
        let again = ptx::parse(&printed)
            .unwrap_or_else(|e| panic!("printed form does not parse:\n{e}\n---\n{printed}"));
        assert_eq!(ptx::print(&again), printed, "printing is not a fixed point");
    }
});
