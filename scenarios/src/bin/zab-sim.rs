//! `zab-sim`: run simulation seeds and scenarios from the command line.
//!
//! ```text
//! zab-sim --seed N [--trace]          one swarm run (print its trace with --trace)
//! zab-sim --seeds A..B                a sweep of swarm runs
//! zab-sim --scenario NAME [--trace]   one named scenario (`--scenario list` lists them)
//! zab-sim --scenarios                 every named scenario
//! zab-sim --check-determinism [--seed N | --seeds A..B]   each seed twice, hashes compared
//! zab-sim --bench [--seeds A..B]      simulated seconds per wall second, seeds per second
//! ```
//! Every failure prints the line that replays it.

use std::process::ExitCode;
use zab_scenarios::{catalogue, known_node_bugs, replay_line, run_scenario, run_seed, Outcome};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(command) => execute(command),
        Err(message) => {
            eprintln!("zab-sim: {message}");
            eprintln!("usage: zab-sim --seed N [--trace] | --seeds A..B | --scenario NAME | --scenarios | --check-determinism | --bench");
            ExitCode::from(2)
        }
    }
}

enum Command {
    Seeds { seeds: std::ops::Range<u64>, trace: bool, determinism: bool, bench: bool },
    Scenario { name: String, trace: bool },
    Scenarios,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let mut seeds = None;
    let mut scenario = None;
    let (mut trace, mut determinism, mut bench, mut all) = (false, false, false, false);
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
    Ok(Command::Seeds { seeds, trace, determinism, bench })
}

fn execute(command: Command) -> ExitCode {
    match command {
        Command::Scenario { name, trace } if name == "list" => {
            let _ = trace;
            for scenario in catalogue() {
                println!("{:<50} {}", scenario.name, scenario.title());
            }
            for (scenario, seeds) in known_node_bugs() {
                println!("{:<50} KNOWN NODE BUG (fails; swarm seeds {seeds:?}): {}", scenario.name, scenario.title());
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
        Command::Seeds { seeds, trace, determinism, bench } => run_seeds(seeds, trace, determinism, bench),
    }
}

fn report_scenario(name: &str, trace: bool) -> ExitCode {
    match run_scenario(name, trace) {
        Ok(()) => {
            println!("scenario {name}: ok");
            ExitCode::SUCCESS
        }
        Err(message) => {
            println!("scenario {name}: FAILED\n{message}");
            println!("replay: cargo run -p zab-scenarios --bin zab-sim -- --scenario {name} --trace");
            ExitCode::FAILURE
        }
    }
}

fn run_seeds(seeds: std::ops::Range<u64>, trace: bool, determinism: bool, bench: bool) -> ExitCode {
    let started = std::time::Instant::now();
    let (mut failed, mut simulated_ms, mut count) = (0u64, 0u64, 0u64);
    for seed in seeds {
        let outcome = run_seed(seed, trace);
        count += 1;
        simulated_ms += outcome.simulated_ms();
        let mut ok = outcome.is_ok();
        if determinism {
            let again = run_seed(seed, false);
            if again.hash() != outcome.hash() {
                println!("seed {seed}: NOT DETERMINISTIC: hash {:016x} then {:016x}", outcome.hash(), again.hash());
                ok = false;
            }
        }
        if !ok {
            failed += 1;
            print_failure(seed, &outcome);
        } else if !bench {
            println!("{}", outcome.summary());
        }
    }
    let wall = started.elapsed().as_secs_f64();
    if bench {
        println!(
            "bench: {count} seeds, {:.0} simulated s in {wall:.2} wall s: {:.0} simulated s per wall s, {:.1} seeds per s",
            simulated_ms as f64 / 1000.0,
            simulated_ms as f64 / 1000.0 / wall,
            count as f64 / wall
        );
    }
    println!("{count} seeds, {failed} failed, {wall:.1} s");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_failure(seed: u64, outcome: &Outcome) {
    println!("seed {seed}: FAILED");
    println!("{}", outcome.details());
    println!("{}", replay_line(seed));
}
