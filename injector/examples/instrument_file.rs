//! Prints the instrumented form of a PTX file: `instrument_file MODEL FILE`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = injector::Model::from_id(&args[1]).expect("model");
    let src = std::fs::read_to_string(&args[2]).expect("file");
    let m = ptx::parse(&src).expect("parse");
    print!(
        "{}",
        injector::instrument(&m, model).expect("instrument").ptx()
    );
}
