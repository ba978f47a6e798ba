//! `zab-soak`: the long soak of the real `zab` binary (`just soak`). Prints the report and
//! exits 0 if nothing went wrong, 1 if the soak found something, 2 if it could not run.
//!
//! ```text
//! zab-soak [--quiet SECS] [--faults all|none|NAME,NAME..] [--tick-ms MS] [--sessions N]
//!          [--depth N] [--rate PER_SESSION_PER_S] [--seed N] [--keep DIR]
//! ```
//! Fault names: kill-leader, kill-follower, stop-leader, partition-leader,
//! partition-follower, slow-disk-leader. It finds the `zab` binary next to itself (or
//! `ZAB_BIN`), needs root, `ip` (iproute2) and `nft` (nftables).

#[cfg(not(madsim))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(madsim)]
fn main() {}

#[cfg(not(madsim))]
mod cli {
    use std::process::ExitCode;
    use std::time::Duration;
    use zab_tests::soak::{self, Fault, SoakOptions};

    pub fn main() -> ExitCode {
        let options = match parse(std::env::args().skip(1).collect()) {
            Ok(options) => options,
            Err(message) => {
                eprintln!("zab-soak: {message}");
                return ExitCode::from(2);
            }
        };
        if let Some(missing) = soak::network::missing_tools() {
            eprintln!("zab-soak: cannot run: {missing}");
            return ExitCode::from(2);
        }
        println!("zab-soak: {options:?}");
        match soak::run(options) {
            Ok(report) => {
                println!("{report}");
                let failures = report.failures();
                for failure in &failures {
                    println!("FAILED: {failure}");
                }
                if failures.is_empty() {
                    println!("zab-soak: passed");
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(message) => {
                eprintln!("zab-soak: could not run: {message}");
                ExitCode::from(2)
            }
        }
    }

    fn parse(args: Vec<String>) -> Result<SoakOptions, String> {
        let mut options = SoakOptions {
            quiet: Duration::from_secs(600),
            faults: Fault::ALL.to_vec(),
            tick_ms: 2000,
            sessions: 16,
            depth: 8,
            rate_per_session: 250,
            seed: 1,
            keep_dir: None,
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            let number = |text: String| text.parse::<u64>().map_err(|_| format!("{flag}: not a number: {text}"));
            match flag.as_str() {
                "--quiet" => options.quiet = Duration::from_secs(number(value()?)?),
                "--faults" => options.faults = faults(&value()?)?,
                "--tick-ms" => options.tick_ms = number(value()?)?,
                "--sessions" => options.sessions = number(value()?)? as usize,
                "--depth" => options.depth = number(value()?)?.max(1) as usize,
                "--rate" => options.rate_per_session = number(value()?)? as u32,
                "--seed" => options.seed = number(value()?)?,
                "--keep" => options.keep_dir = Some(value()?.into()),
                other => return Err(format!("unknown argument {other} (see the top of tests/src/bin/zab-soak.rs)")),
            }
        }
        Ok(options)
    }

    fn faults(list: &str) -> Result<Vec<Fault>, String> {
        match list {
            "all" => Ok(Fault::ALL.to_vec()),
            "none" => Ok(Vec::new()),
            _ => {
                list.split(',').map(|name| Fault::parse(name).ok_or_else(|| format!("unknown fault {name}"))).collect()
            }
        }
    }
}
