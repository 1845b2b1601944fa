//! The HTML report as a person sees it: rendered by headless Chromium, its DOM checked for
//! the charts and texts, its screenshot checked for being a real picture.
//!
//! Chromium is required: without it these tests fail and say how to install it
//! (`apt-get install -y chromium`; `scripts/test.sh` does).

use crate::fixture;
use reports::{render_html, summarize, CampaignReport};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "apt-get install -y chromium";

/// The Chromium binary on PATH.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "chromium is not installed (no `chromium` or `chromium-browser` on PATH): the HTML \
         report tests render the page in headless Chromium. Install it with `{INSTALL}` \
         (scripts/test.sh does this)."
    );
}

/// A fresh directory under cargo's per-target temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The seeded sample report and its HTML file in `dir`.
fn sample_page(dir: &Path) -> (CampaignReport, PathBuf) {
    let (meta, rs) = fixture::seeded(7, 60);
    let report = summarize(&meta, &rs);
    let file = dir.join("report.html");
    std::fs::write(&file, render_html(&report)).unwrap();
    (report, file)
}

/// Runs headless Chromium on `page` with `extra` flags; stdout goes to `out`. Kills it
/// after 90 s.
fn run_chromium(dir: &Path, page: &Path, extra: &[String], out: &Path) {
    let profile = dir.join("profile");
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ]
    .map(String::from)
    .to_vec();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(extra.iter().cloned());
    args.push(format!("file://{}", page.display()));
    let stderr_path = dir.join("chromium.stderr");
    let mut child = Command::new(chromium())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(File::create(out).unwrap())
        .stderr(File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromium ({INSTALL}): {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish in 90 s; stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium failed ({status}); stderr:\n{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
}

#[test]
fn html_report_dom_has_the_charts_and_texts() {
    let dir = scratch("html-dom");
    let (report, page) = sample_page(&dir);
    let dom_file = dir.join("dom.html");
    run_chromium(&dir, &page, &["--dump-dom".into()], &dom_file);
    let dom = std::fs::read_to_string(&dom_file).unwrap();
    assert!(
        dom.len() > 10_000,
        "DOM too small ({} bytes):\n{dom}",
        dom.len()
    );

    for id in [
        "outcome-bars",
        "sdc-heatmap",
        "due-heatmap",
        "coverage-bars",
    ] {
        assert!(
            dom.contains(&format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{id}\""
            )),
            "{id}"
        );
    }
    // One bar row per model plus "all models"; segments for every non-zero outcome.
    let models = report.by_model.len();
    assert_eq!(dom.matches("<g class=\"bar-row\"").count(), models + 1);
    // Per bar: its non-zero outcomes, each a segment.
    let per_bar: Vec<usize> = report
        .by_model
        .iter()
        .chain(std::iter::once(&report.total))
        .map(|s| {
            [&s.masked, &s.sdc, &s.due, &s.hang, &s.detected, &s.escaped]
                .iter()
                .filter(|r| r.count > 0)
                .count()
        })
        .collect();
    let segments: usize = per_bar.iter().sum();
    assert_eq!(dom.matches("class=\"seg\"").count(), segments);
    // A 95% interval whisker at every boundary between two segments of a bar.
    let boundaries: usize = per_bar.iter().map(|n| n.saturating_sub(1)).sum();
    assert!(boundaries > 0);
    assert_eq!(dom.matches("<g class=\"ci\"").count(), boundaries);
    // Two heatmaps of (models + 1) × (workloads + 1) cells, one of them empty in each.
    let cells = (models + 1) * (report.by_workload.len() + 1);
    assert_eq!(dom.matches("<g class=\"cell\">").count(), 2 * (cells - 1));
    assert_eq!(dom.matches("<g class=\"cell empty\">").count(), 2);
    // Legends, axis labels, headings, the escaped odd workload name as text.
    for text in [
        ">Masked</text>",
        ">SDC</text>",
        ">DUE (crash)</text>",
        ">Hang</text>",
        ">Not activated (share of all runs, right)</text>",
        "Share of activated runs (masked + SDC + DUE + hang + detected + escaped = 100%)</text>",
        ">SDC share of activated runs</text>",
        ">DUE share of activated runs</text>",
        "<h2>SDC rate by fault model and workload</h2>",
        "<h2>DUE (crash) rate by fault model and workload</h2>",
        "<h2>Outcomes per fault model</h2>",
        ">conv&lt;3x3&gt;&amp;pool</text>",
        "<code>sim:h100</code>",
    ] {
        assert!(dom.contains(text), "missing {text}");
    }
    // The grand total's SDC share is printed in the "all × all" heatmap cell.
    let total = format!(">{:.1}%</text>", report.total.sdc.share * 100.0);
    assert!(dom.contains(&total), "{total}");
    assert!(!dom.contains("<script"));
}

#[test]
fn html_report_screenshot_is_a_real_picture() {
    let dir = scratch("html-screenshot");
    let (_, page) = sample_page(&dir);
    let png_path = dir.join("report.png");
    run_chromium(
        &dir,
        &page,
        &[
            format!("--screenshot={}", png_path.display()),
            "--window-size=1400,2000".into(),
        ],
        &dir.join("stdout.txt"),
    );
    let bytes = std::fs::read(&png_path).expect("chromium wrote no screenshot");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("screenshot is not a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("sane PNG size")];
    let info = reader.next_frame(&mut buf).expect("screenshot PNG decodes");
    assert_eq!((info.width, info.height), (1400, 2000));
    let channels = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        other => panic!("unexpected colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();

    let white = pixels.iter().filter(|p| **p == [255, 255, 255]).count();
    let share_white = white as f64 / pixels.len() as f64;
    assert!(
        (0.3..0.97).contains(&share_white),
        "{:.1}% white: blank or broken page ({})",
        share_white * 100.0,
        png_path.display()
    );
    let distinct: std::collections::HashSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(distinct.len() > 200, "only {} colours", distinct.len());

    // The outcome colours are drawn in sizeable areas (bars, heatmap cells).
    let near = |p: &[u8; 3], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 4);
    for (name, c) in [
        ("masked", [0xb4, 0xc2, 0xcf]),
        ("SDC", [0xb9, 0x4a, 0x00]),
        ("DUE", [0x00, 0x72, 0xb2]),
        ("hang", [0xcc, 0x79, 0xa7]),
        ("not activated", [0x6e, 0x77, 0x81]),
    ] {
        let n = pixels.iter().filter(|p| near(p, c)).count();
        assert!(
            n > 500,
            "{name}: only {n} pixels of its colour ({})",
            png_path.display()
        );
    }
    eprintln!("screenshot: {}", png_path.display());
}
