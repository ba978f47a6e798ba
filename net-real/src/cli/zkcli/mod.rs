//! `zab cli`, a zkCli.sh workalike on the `zookeeper-client` crate (its own codec, pings and
//! asynchronous watch delivery):
//!
//! - `zab cli -server host:port[,host:port][/chroot] [-timeout ms] [--json]` reads commands:
//!   with line editing and history (`~/.zab_cli_history`) on a terminal, one a line from a pipe;
//! - `zab cli -server ... ls /` runs one command and exits with its status (0 done, 1 failed
//!   or malformed, 127 unknown), as zkCli does;
//! - `--json` prints one JSON document a command (and one a watch event) instead of zkCli's text.
//!
//! Output goes to stdout and error messages to stderr, in zkCli's words.

mod commands;
mod format;
mod words;

use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use commands::{Shell, EXIT_FAILED};
use serde_json::json;

/// The server zkCli connects to without `-server`.
const SERVER_DEFAULT: &str = "localhost:2181";
/// The history file of the interactive mode, in `$HOME`.
const HISTORY_FILE: &str = ".zab_cli_history";

/// `zab cli`'s arguments: zkCli's single-dash options, then an optional command.
struct Arguments {
    server: String,
    timeout: Option<Duration>,
    json: bool,
    command: Vec<String>,
}

fn parse_arguments(args: Vec<String>) -> Result<Arguments, String> {
    let mut parsed = Arguments { server: SERVER_DEFAULT.to_string(), timeout: None, json: false, command: Vec::new() };
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-server" | "--server" => parsed.server = iter.next().ok_or("-server needs host:port")?,
            "-timeout" | "--timeout" => {
                let ms = iter.next().ok_or("-timeout needs milliseconds")?;
                let ms: u64 = ms.parse().map_err(|_| format!("-timeout {ms}: not a number of milliseconds"))?;
                parsed.timeout = Some(Duration::from_millis(ms));
            }
            "--json" | "-json" => parsed.json = true,
            // zkCli's read-only flag: zab has no read-only mode, so it changes nothing.
            "-r" => {}
            _ => {
                parsed.command.push(arg);
                parsed.command.extend(iter.by_ref());
            }
        }
    }
    Ok(parsed)
}

/// Runs `zab cli` with the arguments after `cli`; returns the process exit status.
pub fn run(args: Vec<String>) -> i32 {
    let arguments = match parse_arguments(args) {
        Ok(arguments) => arguments,
        Err(message) => {
            eprintln!("zab cli: {message}");
            return EXIT_FAILED;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("zab cli: cannot start the runtime: {error}");
            return EXIT_FAILED;
        }
    };
    let mut shell = Shell::new(arguments.server, arguments.timeout, arguments.json);
    if let Err(message) = runtime.block_on(shell.connect()) {
        eprintln!("{message}");
        if !arguments.command.is_empty() {
            return EXIT_FAILED;
        }
    }
    let code = if !arguments.command.is_empty() {
        let line = arguments.command.iter().map(|word| quote(word)).collect::<Vec<_>>().join(" ");
        execute(&runtime, &mut shell, &line).unwrap_or(0)
    } else if std::io::stdin().is_terminal() {
        interactive(&runtime, &mut shell)
    } else {
        piped(&runtime, &mut shell)
    };
    runtime.block_on(async { shell.close() });
    code
}

/// Quotes a word of a one-shot command so the shell's split gives it back unchanged.
fn quote(word: &str) -> String {
    if !word.is_empty() && !word.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
        return word.to_string();
    }
    if word.contains('"') {
        format!("'{word}'")
    } else {
        format!("\"{word}\"")
    }
}

/// Runs one line and prints its outcome; `None` for a blank line, else its exit status.
fn execute(runtime: &tokio::runtime::Runtime, shell: &mut Shell, line: &str) -> Option<i32> {
    let outcome = runtime.block_on(shell.execute(line))?;
    Some(match outcome {
        Ok(done) if shell.json => {
            println!("{}", json!({ "ok": true, "command": line.trim(), "result": done.json }));
            0
        }
        Ok(done) => {
            if !done.text.is_empty() {
                println!("{}", done.text);
            }
            0
        }
        Err(failed) if shell.json => {
            let message = failed.message.lines().next().unwrap_or_default().to_string();
            println!("{}", json!({ "ok": false, "command": line.trim(), "error": message, "exit": failed.code }));
            failed.code
        }
        Err(failed) => {
            eprintln!("{}", failed.message);
            failed.code
        }
    })
}

fn is_quit(line: &str) -> bool {
    line.split_whitespace().next() == Some("quit")
}

/// Commands from a pipe, without prompts (zkCli with JLine disabled); the status is the
/// last command's.
fn piped(runtime: &tokio::runtime::Runtime, shell: &mut Shell) -> i32 {
    let mut code = 0;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if let Some(status) = execute(runtime, shell, &line) {
            code = status;
        }
        if is_quit(&line) {
            break;
        }
    }
    code
}

/// The terminal: rustyline's line editing, with history kept across runs.
fn interactive(runtime: &tokio::runtime::Runtime, shell: &mut Shell) -> i32 {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(editor) => editor,
        Err(error) => {
            eprintln!("zab cli: no line editing ({error}); reading plain lines");
            return piped(runtime, shell);
        }
    };
    let history = std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(HISTORY_FILE));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let mut code = 0;
    loop {
        let line = match editor.readline(&shell.prompt()) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(_) => break,
        };
        let _ = editor.add_history_entry(line.as_str());
        if let Some(status) = execute(runtime, shell, &line) {
            code = status;
        }
        if is_quit(&line) {
            break;
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    code
}
