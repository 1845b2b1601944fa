//! Builds the fault dictionary of the diagnosis from a coverage store (run on a
//! development seed, never on the seed coverage is reported on) and prints it as JSON:
//! the generator of `detector/src/coverage/dictionary.json`.
//!
//!     gpufault coverage --models all --faults 40 --device sim --seed 7 --jobs 2 --out dict.db
//!     cargo run --release -p gpufault-detector --example fault_dictionary -- dict.db \
//!         > detector/src/coverage/dictionary.json

use detector::FaultDictionary;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: fault_dictionary COVERAGE.db");
    let store = injector::CampaignStore::open_read_only(std::path::Path::new(&path))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let c = &store.meta().config;
    let records = store
        .coverage_records()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let source = format!(
        "gpufault coverage on {}, seed {} (a development seed), {} faults per model",
        c.device,
        c.seed,
        c.injections.per_cell()
    );
    let d = FaultDictionary::build(&source, &records);
    println!("{}", serde_json::to_string_pretty(&d).expect("serializes"));
}
