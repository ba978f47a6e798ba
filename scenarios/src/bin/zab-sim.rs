//! `zab-sim`: run simulation seeds and scenarios from the command line.
//!
//! ```text
//! zab-sim --seed N [--trace]          one swarm run (print its trace with --trace)
//! zab-sim --seeds A..B [--jobs N]     a sweep of swarm runs on N threads (default: one per
//!                                     core), printed in seed order
//! zab-sim --scenario NAME [--trace]   one named scenario (`--scenario list` lists them)
//! zab-sim --scenarios                 every named scenario
//! zab-sim --check-determinism [--seed N | --seeds A..B]   each seed twice, hashes compared
//! zab-sim --bench [--seeds A..B]      simulated seconds per wall second, seeds per second
//! --servers N                         with --seeds or --bench: only the seeds that draw N
//!                                     servers (e.g. `--bench --servers 3 --jobs 1`)
//! ```
//! Every failure prints the line that replays it. Output goes through a locked stdout; when the
//! reader goes away (`zab-sim --seed 1 --trace | head`) the program exits quietly.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use zab_scenarios::{catalogue, known_node_bugs, replay_line, run_scenario, run_seed, Outcome};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(command) => execute(command),
        Err(message) => {
            eprintln!("zab-sim: {message}");
            eprintln!("usage: zab-sim --seed N [--trace] | --seeds A..B [--jobs N] [--servers N] | --scenario NAME | --scenarios | --check-determinism | --bench");
            ExitCode::from(2)
        }
    }
}

/// Prints one line to stdout, or ends the program quietly if nobody reads it any more.
macro_rules! out {
    ($($arg:tt)*) => { write_line(&format!($($arg)*)) };
}

fn write_line(line: &str) {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}") {
        Ok(()) => {}
        // The reader closed the pipe (`| head`): there is no one left to tell anything.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(error) => panic!("writing to stdout: {error}"),
    }
}

/// Stack of a sweep thread: as much as the main thread's, so a seed behaves the same on both.
const SWEEP_THREAD_STACK_BYTES: usize = 8 << 20;

/// How to run a range of seeds.
struct SeedsCommand {
    seeds: std::ops::Range<u64>,
    trace: bool,
    determinism: bool,
    bench: bool,
    /// Threads; the output is still in seed order.
    jobs: usize,
    /// Only the seeds whose options draw this many servers.
    servers: Option<usize>,
}

enum Command {
    Seeds(SeedsCommand),
    Scenario { name: String, trace: bool },
    Scenarios,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let mut seeds = None;
    let mut scenario = None;
    let (mut trace, mut determinism, mut bench, mut all) = (false, false, false, false);
    let mut jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut servers = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--seed" => {
                let value = iter.next().ok_or("--seed needs a number")?;
                let seed: u64 = value.parse().map_err(|_| format!("bad seed {value}"))?;
                seeds = Some(seed..seed + 1);
            }
            "--seeds" => {
                let value = iter.next().ok_or("--seeds needs A..B")?;
                let (a, b) = value.split_once("..").ok_or(format!("bad range {value}, want A..B"))?;
                let a: u64 = a.parse().map_err(|_| format!("bad range start {a}"))?;
                let b: u64 = b.parse().map_err(|_| format!("bad range end {b}"))?;
                seeds = Some(a..b);
            }
            "--scenario" => scenario = Some(iter.next().ok_or("--scenario needs a name")?.clone()),
            "--jobs" => {
                let value = iter.next().ok_or("--jobs needs a number")?;
                jobs = value.parse().ok().filter(|&n| n > 0).ok_or(format!("bad job count {value}"))?;
            }
            "--servers" => {
                let value = iter.next().ok_or("--servers needs a number")?;
                servers = Some(value.parse().map_err(|_| format!("bad server count {value}"))?);
            }
            "--scenarios" => all = true,
            "--trace" => trace = true,
            "--check-determinism" => determinism = true,
            "--bench" => bench = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if all {
        return Ok(Command::Scenarios);
    }
    if let Some(name) = scenario {
        return Ok(Command::Scenario { name, trace });
    }
    let seeds = match seeds {
        Some(seeds) => seeds,
        None if bench => 0..200,
        None if determinism => 0..20,
        None => return Err("say --seed, --seeds, --scenario, --scenarios or --bench".into()),
    };
    Ok(Command::Seeds(SeedsCommand { seeds, trace, determinism, bench, jobs, servers }))
}

fn execute(command: Command) -> ExitCode {
    match command {
        Command::Scenario { name, trace } if name == "list" => {
            let _ = trace;
            for scenario in catalogue() {
                out!("{:<50} {}", scenario.name, scenario.title());
            }
            for (scenario, seeds) in known_node_bugs() {
                out!("{:<50} KNOWN NODE BUG (fails; swarm seeds {seeds:?}): {}", scenario.name, scenario.title());
            }
            ExitCode::SUCCESS
        }
        Command::Scenario { name, trace } => report_scenario(&name, trace),
        Command::Scenarios => {
            let mut failed = 0;
            for scenario in catalogue() {
                if report_scenario(scenario.name, false) != ExitCode::SUCCESS {
                    failed += 1;
                }
            }
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Seeds(command) => run_seeds(command),
    }
}

fn report_scenario(name: &str, trace: bool) -> ExitCode {
    match run_scenario(name, trace) {
        Ok(()) => {
            out!("scenario {name}: ok");
            ExitCode::SUCCESS
        }
        Err(message) => {
            out!("scenario {name}: FAILED\n{message}");
            out!("replay: cargo run -p zab-scenarios --bin zab-sim -- --scenario {name} --trace");
            ExitCode::FAILURE
        }
    }
}

/// What one seed printed and counted.
struct SeedResult {
    seed: u64,
    failed: bool,
    simulated_ms: u64,
    /// The summary line, or the failure report; `None` in a bench.
    text: Option<String>,
    /// Not run: it draws another server count than `--servers`.
    skipped: bool,
}

fn run_seeds(command: SeedsCommand) -> ExitCode {
    let started = std::time::Instant::now();
    let (mut failed, mut simulated_ms, mut count) = (0u64, 0u64, 0u64);
    let mut report = |result: SeedResult| {
        if result.skipped {
            return;
        }
        count += 1;
        simulated_ms += result.simulated_ms;
        failed += u64::from(result.failed);
        if let Some(text) = result.text {
            out!("{text}");
        }
    };
    let length = command.seeds.end.saturating_sub(command.seeds.start);
    // A printed trace belongs between its seed's neighbours: run those on this thread.
    if command.trace || command.jobs == 1 || length <= 1 {
        command.seeds.clone().for_each(|seed| report(judge(seed, &command)));
    } else {
        sweep_in_parallel(&command, report);
    }
    let wall = started.elapsed().as_secs_f64();
    if command.bench {
        out!(
            "bench: {count} seeds, {:.0} simulated s in {wall:.2} wall s: {:.0} simulated s per wall s, {:.1} seeds per s",
            simulated_ms as f64 / 1000.0,
            simulated_ms as f64 / 1000.0 / wall,
            count as f64 / wall
        );
    }
    out!("{count} seeds, {failed} failed, {wall:.1} s");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs the seeds on `jobs` threads, each taking the next seed not yet taken, and hands the
/// results to `report` in seed order (a result waits until every earlier seed is reported).
fn sweep_in_parallel(command: &SeedsCommand, mut report: impl FnMut(SeedResult)) {
    let next = AtomicU64::new(command.seeds.start);
    let (sender, receiver) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..command.jobs {
            let (next, sender) = (&next, sender.clone());
            std::thread::Builder::new()
                .stack_size(SWEEP_THREAD_STACK_BYTES)
                .spawn_scoped(scope, move || loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= command.seeds.end || sender.send(judge(seed, command)).is_err() {
                        break;
                    }
                })
                .expect("spawn a sweep thread");
        }
        drop(sender);
        let mut waiting: BTreeMap<u64, SeedResult> = BTreeMap::new();
        let mut due = command.seeds.start;
        for result in receiver {
            waiting.insert(result.seed, result);
            while let Some(result) = waiting.remove(&due) {
                report(result);
                due += 1;
            }
        }
    });
}

/// Runs one seed (twice with the determinism check) and says what to print.
fn judge(seed: u64, command: &SeedsCommand) -> SeedResult {
    if command.servers.is_some_and(|n| zab_sim::options::Options::draw(seed).servers != n) {
        return SeedResult { seed, failed: false, simulated_ms: 0, text: None, skipped: true };
    }
    let outcome = run_seed(seed, command.trace);
    let mut ok = outcome.is_ok();
    let mut text = String::new();
    if command.determinism {
        let again = run_seed(seed, false);
        if again.hash() != outcome.hash() {
            text = format!("seed {seed}: NOT DETERMINISTIC: hash {:016x} then {:016x}\n", outcome.hash(), again.hash());
            ok = false;
        }
    }
    let text = if !ok { Some(text + &failure(seed, &outcome)) } else { (!command.bench).then(|| outcome.summary()) };
    SeedResult { seed, failed: !ok, simulated_ms: outcome.simulated_ms(), text, skipped: false }
}

fn failure(seed: u64, outcome: &Outcome) -> String {
    format!("seed {seed}: FAILED\n{}\n{}", outcome.details(), replay_line(seed))
}
