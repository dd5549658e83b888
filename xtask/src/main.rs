//! The project's development tasks, run as `cargo xtask <task>` (aliased in
//! `.cargo/config.toml`).

mod fuzz;
mod schemas;

use std::process::ExitCode;

fn usage() -> String {
    format!(
        "usage: cargo xtask <task>

tasks:
  schemas  check schemas/ against its examples, the events lifecycle-core builds and parses,
           and Choria's published schemas
  {}",
        fuzz::USAGE
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["schemas"] => schemas::run(),
        ["fuzz", ..] => fuzz::run(&args[1..]),
        ["help" | "--help" | "-h"] => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("unknown task {args:?}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
