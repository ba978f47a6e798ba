//! `zab-bench`: zab against Apache ZooKeeper 3.8 with the same workloads from a third-party
//! client (the `zookeeper-client` crate), one flavor after the other in one run, on the same
//! loopback ports and zoo.cfg, standalone and three servers; then the large-state rows.
//! Prints a markdown table of zab, Apache and zab/Apache per metric (`just bench`).
//!
//! Options (defaults in brackets):
//!   --zab-bin PATH       the zab binary [the `zab` next to this executable]
//!   --sessions N         concurrent sessions [32]
//!   --payload BYTES      data of each write [1024]
//!   --warmup SECONDS     unmeasured time before each workload [1]
//!   --seconds SECONDS    the measured window of each workload [5]
//!   --pipelines LIST     requests in flight per session [1,8]
//!   --servers LIST       1 (standalone) and/or 3 [1,3]
//!   --workloads LIST     names from the table, e.g. create,get [all]
//!   --znodes N           large-state znodes of 100 B; 0 skips those rows [1000000]
//!   --zab-only           do not start Apache ZooKeeper
//!   --apache-heap SIZE   the JVM's -Xmx [2g]
//!   --snap-count N       snapCount for both [100000]
//!   --prealloc-kb N      preAllocSize, KiB, for both [65536]
//!   --work-dir DIR       data directories [target/tmp/bench]
//!   --markdown FILE      also write the report there

#[cfg(not(madsim))]
mod large;
#[cfg(not(madsim))]
mod report;
#[cfg(not(madsim))]
mod servers;
#[cfg(not(madsim))]
mod workload;

#[cfg(madsim)]
fn main() {}

#[cfg(not(madsim))]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match bench::Options::parse(&args) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("zab-bench: {error}\n(options: see the top of bench/src/main.rs)");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(bench::run(options)) {
        Ok(0) => {}
        Ok(failures) => {
            eprintln!("zab-bench: {failures} section(s) could not be measured (see the table)");
            std::process::exit(1);
        }
        Err(error) => {
            eprintln!("zab-bench: {error}");
            std::process::exit(1);
        }
    }
}

#[cfg(not(madsim))]
mod bench {
    use crate::large;
    use crate::report::{self, Results};
    use crate::servers::{Cluster, Flavor, Launch, Ports};
    use crate::workload::{self, Shape, Workload};
    use std::path::PathBuf;
    use std::time::Duration;

    /// The command line.
    pub struct Options {
        launch: Launch,
        shape: Shape,
        pipelines: Vec<usize>,
        servers: Vec<usize>,
        workloads: Vec<Workload>,
        znodes: u64,
        flavors: Vec<Flavor>,
        markdown: Option<PathBuf>,
        command_line: String,
    }

    impl Options {
        pub fn parse(args: &[String]) -> Result<Options, String> {
            let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
            let mut options = Options {
                launch: Launch {
                    zab_binary: exe.with_file_name("zab"),
                    apache_heap: "2g".to_string(),
                    snap_count: 100_000,
                    prealloc_kb: 65_536,
                    tick_ms: 2000,
                    work_dir: PathBuf::from("target/tmp/bench"),
                },
                shape: Shape {
                    sessions: 32,
                    depth: 1,
                    payload: 1024,
                    warmup: Duration::from_secs(1),
                    window: Duration::from_secs(5),
                },
                pipelines: vec![1, 8],
                servers: vec![1, 3],
                workloads: Workload::ALL.to_vec(),
                znodes: 1_000_000,
                flavors: vec![Flavor::Zab, Flavor::Apache],
                markdown: None,
                command_line: format!("zab-bench {}", args.join(" ")),
            };
            let mut args = args.iter();
            while let Some(flag) = args.next() {
                if flag == "--zab-only" {
                    options.flavors = vec![Flavor::Zab];
                    continue;
                }
                let value = args.next().ok_or(format!("{flag} needs a value"))?;
                let number = || value.parse::<u64>().map_err(|_| format!("{flag}: not a number: {value}"));
                let seconds = || {
                    value
                        .parse::<f64>()
                        .map(Duration::from_secs_f64)
                        .map_err(|_| format!("{flag}: not seconds: {value}"))
                };
                let list = || -> Result<Vec<usize>, String> {
                    value.split(',').map(|v| v.parse().map_err(|_| format!("{flag}: not a number: {v}"))).collect()
                };
                match flag.as_str() {
                    "--zab-bin" => options.launch.zab_binary = PathBuf::from(value),
                    "--sessions" => options.shape.sessions = number()?.max(1) as usize,
                    "--payload" => options.shape.payload = number()? as usize,
                    "--warmup" => options.shape.warmup = seconds()?,
                    "--seconds" => options.shape.window = seconds()?,
                    "--pipelines" => options.pipelines = list()?,
                    "--servers" => options.servers = list()?,
                    "--znodes" => options.znodes = number()?,
                    "--apache-heap" => options.launch.apache_heap = value.clone(),
                    "--snap-count" => options.launch.snap_count = number()? as u32,
                    "--prealloc-kb" => options.launch.prealloc_kb = number()? as u32,
                    "--work-dir" => options.launch.work_dir = PathBuf::from(value),
                    "--markdown" => options.markdown = Some(PathBuf::from(value)),
                    "--workloads" => {
                        options.workloads = value
                            .split(',')
                            .map(|name| {
                                Workload::ALL
                                    .into_iter()
                                    .find(|w| w.name().split(' ').next() == Some(name) || w.name() == name)
                                    .ok_or(format!("unknown workload {name}"))
                            })
                            .collect::<Result<_, _>>()?
                    }
                    _ => return Err(format!("unknown option {flag}")),
                }
            }
            if options.servers.iter().any(|&n| n != 1 && n != 3) {
                return Err("--servers takes 1 and/or 3".to_string());
            }
            if !options.launch.zab_binary.exists() {
                return Err(format!(
                    "no zab binary at {} (cargo build --release -p zab-net, or --zab-bin)",
                    options.launch.zab_binary.display()
                ));
            }
            Ok(options)
        }
    }

    /// Runs everything; returns how many sections failed.
    pub async fn run(options: Options) -> Result<usize, String> {
        std::fs::create_dir_all(&options.launch.work_dir).map_err(|e| format!("work dir: {e}"))?;
        let load_before = load_average();
        let started = command_output("date", &["-u", "+%Y-%m-%d %H:%M"]);
        let mut results = Results::default();
        let mut versions = Vec::new();
        let mut run_id = 0;
        for &servers in &options.servers {
            let ports = Ports::fresh(servers);
            for &flavor in &options.flavors {
                eprintln!("== {} servers: {}", servers, flavor.name());
                let cluster = match Cluster::start(flavor, &options.launch, &ports) {
                    Ok(cluster) => cluster,
                    Err(error) => {
                        results
                            .failures
                            .push(format!("{} with {servers} server(s) did not start: {error}", flavor.name()));
                        continue;
                    }
                };
                if let Some(version) = server_version(&cluster) {
                    if !versions.iter().any(|(f, _)| *f == flavor.name()) {
                        versions.push((flavor.name(), version));
                    }
                }
                for (index, &workload) in Workload::ALL.iter().enumerate() {
                    if !options.workloads.contains(&workload) {
                        continue;
                    }
                    for &depth in &options.pipelines {
                        run_id += 1;
                        let shape = Shape { depth, ..options.shape };
                        match workload::run(&cluster, workload, shape, run_id).await {
                            Ok(measurement) => {
                                eprintln!(
                                    "   {} pipeline {depth}: {:.0} ops/s, p50 {} µs, {} errors",
                                    workload.name(),
                                    measurement.ops_per_second(),
                                    measurement.latency_us.value_at_quantile(0.5),
                                    measurement.error_count()
                                );
                                results
                                    .rows
                                    .entry((servers, index, depth))
                                    .or_default()
                                    .insert(flavor.name(), measurement);
                            }
                            Err(error) => results.failures.push(format!(
                                "{} {} pipeline {depth} on {servers} server(s): {error}",
                                flavor.name(),
                                workload.name()
                            )),
                        }
                    }
                }
            }
        }
        if options.znodes > 0 {
            let ports = Ports::fresh(3);
            for &flavor in &options.flavors {
                eprintln!("== large state, {} znodes: {}", options.znodes, flavor.name());
                let outcome = match Cluster::start(flavor, &options.launch, &ports) {
                    Ok(mut cluster) => large::run(&mut cluster, options.znodes, options.shape).await,
                    Err(error) => Err(format!("did not start: {error}")),
                };
                match outcome {
                    Ok(large) => {
                        results.large.insert(flavor.name(), large);
                    }
                    Err(error) => results.failures.push(format!("{} large state: {error}", flavor.name())),
                }
            }
        }
        let conditions = conditions(&options, &versions, &started, &load_before);
        let text = report::render(&results, &conditions, &options.flavors);
        println!("{text}");
        if let Some(path) = &options.markdown {
            std::fs::write(path, &text).map_err(|e| format!("write {}: {e}", path.display()))?;
        }
        Ok(results.failures.len())
    }

    fn server_version(cluster: &Cluster) -> Option<String> {
        let answer = zab_tests::oracle::four_letter_word(cluster.address(0), "srvr")?;
        let line = answer.lines().find_map(|l| l.strip_prefix("Zookeeper version: "))?;
        Some(line.trim().to_string())
    }

    fn load_average() -> String {
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').take(3).collect::<Vec<_>>().join(" ")
    }

    fn command_output(program: &str, args: &[&str]) -> String {
        std::process::Command::new(program)
            .args(args)
            .output()
            .map(|o| {
                let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
                String::from_utf8_lossy(&text).lines().next().unwrap_or("").trim().to_string()
            })
            .unwrap_or_else(|e| format!("({program}: {e})"))
    }

    fn conditions(
        options: &Options,
        versions: &[(&str, String)],
        started: &str,
        load_before: &str,
    ) -> Vec<(String, String)> {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .unwrap_or(": ?")
            .trim_start_matches([' ', '\t', ':']);
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).unwrap_or("?").trim().to_string();
        let mut conditions = vec![
            ("started (UTC)".to_string(), started.to_string()),
            ("ended (UTC)".to_string(), command_output("date", &["-u", "+%Y-%m-%d %H:%M"])),
            ("machine".to_string(), format!("{model}, {cores} cores, {memory}; {}", command_output("uname", &["-sr"]))),
            ("load average before / after".to_string(), format!("{load_before} / {}", load_average())),
            ("command".to_string(), format!("`{}`", options.command_line)),
            ("zab binary".to_string(), options.launch.zab_binary.display().to_string()),
            ("java".to_string(), command_output("java", &["-version"])),
            (
                "zoo.cfg (both)".to_string(),
                format!(
                    "tickTime={} snapCount={} preAllocSize={} forceSync=yes initLimit=30 syncLimit=10; dataDir under {}",
                    options.launch.tick_ms,
                    options.launch.snap_count,
                    options.launch.prealloc_kb,
                    options.launch.work_dir.display()
                ),
            ),
            ("Apache JVM".to_string(), format!("-Xmx{}, default GC and JIT", options.launch.apache_heap)),
            (
                "load".to_string(),
                format!(
                    "{} sessions of zookeeper-client 0.11 (session i on server i mod n), {} B payloads, {:.1} s warm-up, {:.1} s measured per row",
                    options.shape.sessions,
                    options.shape.payload,
                    options.shape.warmup.as_secs_f64(),
                    options.shape.window.as_secs_f64()
                ),
            ),
        ];
        for (flavor, version) in versions {
            conditions.push((format!("{flavor} version"), version.clone()));
        }
        conditions
    }
}
