//! The client protocol codec: round trips, snapshots of the bytes, real ZooKeeper 3.8
//! frames, and refusal of bad input.

mod codec {
    pub use super::snapshot_settings;
    pub mod bad_input;
    pub mod fixtures;
    pub mod round_trip;
    pub mod snapshots;
    pub mod strategies;
}

/// Snapshots live in `core/tests/snapshots/`, named without the module path.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}
