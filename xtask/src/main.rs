//! The project's development tasks, run as `cargo xtask <task>` (aliased in
//! `.cargo/config.toml`).

mod fuzz;
mod interop;
mod readme;
mod reference;
mod schemas;

use std::process::ExitCode;

fn usage() -> String {
    format!(
        "usage: cargo xtask <task>

tasks:
  interop  the interoperability suite: Choria's reference events and schemas (from
           $LIFECYCLE_REFERENCE, default ../shared/reference) against our crates and the
           lifecycle binary; fails when they are missing
  readme   run the README's hand-run commands in order (blocks marked
           <!-- ci: runs in order -->), as a user would; each must succeed
  schemas  check schemas/ against its examples and the events lifecycle-core builds and
           parses (interop adds Choria's published schemas)
  {}",
        fuzz::USAGE
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["interop"] => interop::run(),
        ["readme"] => readme::run(),
        ["schemas"] => schemas::run(schemas::Choria::Skipped),
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
