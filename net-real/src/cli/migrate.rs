//! `zab import`, `zab export`, and the import `zab server` runs on first start over an Apache
//! data directory, with a progress bar and a summary line.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use zab_core::Millis;

use crate::config::ServerConfig;
use crate::server::{recover_node, Recovered};
use crate::storage::apache::{self, ImportProgress, ImportSummary};
use crate::storage::{Disk, RecoveryError};

/// A progress bar over the bytes an import reads, on stderr (hidden when it is not a
/// terminal, so logs and tests get only the summary line).
fn progress_bar() -> impl FnMut(ImportProgress) {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("importing Apache data {bar:40} {bytes}/{total_bytes} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    move |progress| match progress {
        ImportProgress::Reading { bytes } => bar.set_length(bytes),
        ImportProgress::Read { bytes } => bar.inc(bytes),
        ImportProgress::Writing => bar.finish_with_message("writing zab's files"),
    }
}

/// Imports the Apache files of `config`'s directories, if any. Prints the summary line.
pub fn import<D: Disk>(config: &ServerConfig, disk: &D) -> Result<Option<ImportSummary>, RecoveryError> {
    let summary = apache::import(disk, &config.storage_dirs(), config.log_options(), &mut progress_bar())?;
    if let Some(summary) = &summary {
        println!("{summary}");
        tracing::info!("{summary}");
    }
    Ok(summary)
}

/// Recovery for `zab server`: first finishes an import a crash interrupted; on a data
/// directory Apache wrote, imports it and recovers from the result.
pub fn recover_or_import<D: Disk>(config: &ServerConfig, disk: &D, now: Millis) -> Result<Recovered<D>, RecoveryError> {
    apache::finish_pending_import(disk, &config.storage_dirs())?;
    match recover_node(config, disk, now) {
        Err(RecoveryError::ApacheFormat { path, .. }) => {
            tracing::info!("{}: Apache ZooKeeper's format; importing the data directory", path.display());
            import(config, disk)?;
            recover_node(config, disk, now)
        }
        other => other,
    }
}

/// `zab export`: writes Apache's format into `to`. Prints what it wrote.
pub fn export<D: Disk>(config: &ServerConfig, disk: &D, to: &Path) -> Result<(), RecoveryError> {
    let summary = apache::export(disk, &config.storage_dirs(), to)?;
    println!(
        "exported in Apache ZooKeeper's format: snapshot {:#x} and {} log transactions into {}",
        summary.snapshot_zxid,
        summary.txns,
        to.join("version-2").display()
    );
    Ok(())
}
