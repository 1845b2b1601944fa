//! Prints the instrumented form of a PTX file: `instrument_file MODEL FILE` (on stderr
//! what was raised, for PTX older than the instrumentation needs).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = injector::Model::from_id(&args[1]).expect("model");
    let src = std::fs::read_to_string(&args[2]).expect("file");
    let m = ptx::parse(&src).expect("parse");
    let inst = injector::instrument(&m, model).expect("instrument");
    if let Some(raised) = &inst.raised {
        eprintln!("{}: {raised}", args[2]);
    }
    print!("{}", inst.ptx());
}
