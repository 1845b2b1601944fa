//! Integration tests of the `reports` crate: renderer snapshots, properties of every
//! format on a seeded campaign, and the HTML report rendered by headless Chromium.

mod browser;
mod fixture;
mod formats;
mod snapshots;
