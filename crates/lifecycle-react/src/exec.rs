//! The `exec` action: runs a program with arguments rendered from the event, never through
//! a shell.

use std::fmt;
use std::pin::pin;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use lifecycle_core::terminal::TerminalSafe;
use lifecycle_deliver::{Failure, Handler};
use lifecycle_nats::Received;
use minijinja::Environment;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStderr, ChildStdin};

use lifecycle_template::context;

/// The exit status by which a program says the event can never be handled: it is
/// dead-lettered at once instead of retried (`EX_DATAERR` in `sysexits.h`).
pub const PERMANENT_EXIT: i32 = 65;

/// How much of the end of a failed program's standard error goes into the log, in bytes.
pub const STDERR_TAIL: usize = 4096;

/// How long a program's standard error is still read after it exited (a process it left
/// behind may hold it open).
const STDERR_DRAIN: Duration = Duration::from_secs(1);

/// Runs a program for each event: each element of its argument vector is a template
/// rendered on its own into exactly one argument, with the event's Choria JSON on standard
/// input and `LIFECYCLE_*` variables in the environment. Exit status 0 is success,
/// [`PERMANENT_EXIT`] a permanent failure, anything else (another status, a signal, the
/// timeout) a transient one. The program runs in its own process group, all of which is
/// killed when it outlives the timeout (or the attempt is abandoned).
#[derive(Debug, Clone)]
pub struct Exec {
    rule: String,
    templates: Arc<Environment<'static>>,
    /// The templates' names in the environment, in argument order.
    names: Vec<String>,
    timeout: Duration,
}

impl Exec {
    /// `templates` holds the argument templates, named `names` in order.
    pub(crate) fn new(
        rule: &str,
        templates: Arc<Environment<'static>>,
        names: Vec<String>,
        timeout: Duration,
    ) -> Exec {
        Exec {
            rule: rule.to_owned(),
            templates,
            names,
            timeout,
        }
    }
}

/// A program to run for one event.
#[derive(Debug, Clone)]
pub struct Command {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// The `LIFECYCLE_*` variables.
    pub env: Vec<(&'static str, String)>,
    /// What goes to its standard input: the event's Choria JSON.
    pub stdin: Vec<u8>,
}

/// `exec ["program","arg"]`: the arguments as a JSON array, unambiguous whatever they hold.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let argv = serde_json::to_string(&self.argv).map_err(|_| fmt::Error)?;
        write!(f, "exec {}", TerminalSafe(&argv))
    }
}

impl Handler for Exec {
    type Action = Command;

    fn prepare(&self, received: &Received) -> Result<Command, Failure> {
        let context = context(received);
        let mut argv = Vec::with_capacity(self.names.len());
        for (n, name) in self.names.iter().enumerate() {
            let rendered = self
                .templates
                .get_template(name)
                .and_then(|template| template.render(&context))
                .map_err(|e| {
                    Failure::permanent(format!(
                        "cannot render exec argument {n}: {}",
                        lifecycle_core::ErrorChain(&e)
                    ))
                })?;
            argv.push(rendered);
        }
        if argv.first().is_none_or(String::is_empty) {
            return Err(Failure::permanent(
                "the program rendered as an empty string",
            ));
        }
        let event = received.parsed.event();
        let mut env = vec![
            ("LIFECYCLE_RULE", self.rule.clone()),
            ("LIFECYCLE_TYPE", event.type_name().to_owned()),
            ("LIFECYCLE_IDENTITY", event.identity().to_owned()),
            ("LIFECYCLE_ID", event.id().to_owned()),
            ("LIFECYCLE_TIMESTAMP", event.timestamp().to_string()),
            ("LIFECYCLE_SUBJECT", received.subject.to_string()),
        ];
        if let Some(component) = event.component() {
            env.push(("LIFECYCLE_COMPONENT", component.to_owned()));
        }
        if let Some(version) = event.as_lifecycle().and_then(|e| e.version()) {
            env.push(("LIFECYCLE_VERSION", version.to_owned()));
        }
        Ok(Command {
            argv,
            env,
            stdin: event.to_json(),
        })
    }

    async fn attempt(&self, command: &Command, attempt: u32) -> Result<(), Failure> {
        run(command, attempt, self.timeout).await
    }

    fn describe(&self) -> String {
        format!("rule {} (exec)", self.rule)
    }
}

/// Kills a process group when dropped, unless disarmed: a program abandoned mid-run (the
/// timeout, or the engine stopping) takes what it started with it.
struct Group(Option<rustix::process::Pid>);

impl Group {
    fn kill(&mut self) {
        if let Some(group) = self.0.take() {
            // It may be gone already: nothing to do then.
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn run(command: &Command, attempt: u32, timeout: Duration) -> Result<(), Failure> {
    let Some((program, args)) = command.argv.split_first() else {
        return Err(Failure::permanent("no program to run"));
    };
    let shown = TerminalSafe(program);
    let stdin = prefilled(&command.stdin);
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .env("LIFECYCLE_ATTEMPT", attempt.to_string())
        .stdin(stdin.unwrap_or_else(Stdio::piped))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            let why = format!("cannot run {shown}: {e}");
            // A NUL byte in an argument or variable: this event can never run.
            if e.kind() == std::io::ErrorKind::InvalidInput {
                Failure::permanent(why)
            } else {
                Failure::transient(why)
            }
        })?;
    let mut group = Group(
        child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .and_then(rustix::process::Pid::from_raw),
    );
    // Its input, unless already in its pipe, is written and its standard error read here,
    // alongside the wait, not by tasks of their own: a program is started for every event.
    let mut feed = pin!(feed(child.stdin.take(), &command.stdin));
    let mut drain = pin!(tail(child.stderr.take()));
    let mut fed = false;
    let mut drained = None;
    let status = {
        let mut exit = pin!(child.wait());
        let mut deadline = pin!(tokio::time::sleep(timeout));
        loop {
            tokio::select! {
                status = &mut exit => break Some(status),
                () = &mut deadline => break None,
                () = &mut feed, if !fed => fed = true,
                tail = &mut drain, if drained.is_none() => drained = Some(tail),
            }
        }
    };
    let Some(status) = status else {
        group.kill();
        let _ = child.wait().await;
        return Err(Failure::transient(format!(
            "{shown} did not finish within {}: killed with its process group",
            lifecycle_core::duration::format(timeout)
        )));
    };
    group.disarm();
    let status = status.map_err(|e| Failure::transient(format!("cannot wait for {shown}: {e}")))?;
    if status.success() {
        return Ok(());
    }
    let stderr = match drained {
        Some((tail, cut)) => describe_stderr(&tail, cut),
        None => match tokio::time::timeout(STDERR_DRAIN, drain).await {
            Ok((tail, cut)) => describe_stderr(&tail, cut),
            Err(_) => String::new(),
        },
    };
    let why = match status.code() {
        Some(code) => format!("{shown} exited with status {code}{stderr}"),
        None => format!("{shown} was killed by a signal ({status}){stderr}"),
    };
    if status.code() == Some(PERMANENT_EXIT) {
        Err(Failure::permanent(why))
    } else {
        Err(Failure::transient(why))
    }
}

/// A program's standard input with all of `bytes` already in it, when they fit in an empty
/// pipe (an event's JSON, a few hundred bytes, in a pipe of 64 KiB): the program reads the
/// same bytes, then the end of its input, and nothing is left to write while it runs, so
/// its input is not registered with the runtime nor fed by a task. `None` when they do not
/// fit (then they are fed as the program reads them).
#[cfg(target_os = "linux")]
fn prefilled(bytes: &[u8]) -> Option<Stdio> {
    use std::io::Write;
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ok()?;
    // An empty pipe takes its capacity without blocking.
    if bytes.len() > rustix::pipe::fcntl_getpipe_size(&write).ok()? {
        return None;
    }
    std::fs::File::from(write).write_all(bytes).ok()?;
    Some(Stdio::from(read))
}

#[cfg(not(target_os = "linux"))]
fn prefilled(_: &[u8]) -> Option<Stdio> {
    None
}

/// Writes `bytes` to a program's standard input, then closes it.
async fn feed(stdin: Option<ChildStdin>, bytes: &[u8]) {
    if let Some(mut stdin) = stdin {
        // A program that does not read its input closes the pipe: not a failure.
        let _ = stdin.write_all(bytes).await;
    }
}

/// Reads a program's standard error to its end, keeping the last [`STDERR_TAIL`] bytes;
/// whether some were cut.
async fn tail(stderr: Option<ChildStderr>) -> (Vec<u8>, bool) {
    let mut tail = Vec::new();
    let mut cut = false;
    let Some(mut stderr) = stderr else {
        return (tail, cut);
    };
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut chunk).await {
        let Some(read) = chunk.get(..n).filter(|read| !read.is_empty()) else {
            break;
        };
        tail.extend_from_slice(read);
        if tail.len() > STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
            cut = true;
        }
    }
    (tail, cut)
}

/// `; stderr: ...` with the tail of standard error, or nothing when it was empty.
fn describe_stderr(tail: &[u8], cut: bool) -> String {
    let text = String::from_utf8_lossy(tail);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    format!("; stderr{}: {text}", if cut { " (last 4 KiB)" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;
    use lifecycle_core::{Event, EventType};
    use std::os::unix::fs::PermissionsExt;

    fn received() -> Received {
        received_of("node1.example.net")
    }

    fn received_of(identity: &str) -> Received {
        let event = Event::builder(EventType::Startup)
            .identity(identity)
            .component("server")
            .version("0.29.4")
            .build()
            .unwrap();
        let payload = event.to_json();
        Received {
            subject: "choria.lifecycle.event.startup.server".into(),
            parsed: lifecycle_core::parse(&payload).unwrap(),
            payload: payload.into(),
            stream_sequence: None,
            pending: None,
            stored: None,
        }
    }

    /// The exec action of a one-rule file running `script` (a `/bin/sh` body).
    fn exec(dir: &tempfile::TempDir, script: &str, timeout: &str) -> Exec {
        let path = dir.path().join("program");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let rules = format!(
            "[[rules]]\nname = \"t\"\nfilter = \"\"\nexec = [\"{}\", \"{{{{ identity }}}}\", \"{{{{ type }}}}\"]\ntimeout = \"{timeout}\"\n",
            path.display()
        );
        let rules = Rules::parse(&rules, std::path::Path::new("t.toml")).unwrap();
        match &rules.rules[0].action {
            crate::Action::Exec(exec) => exec.clone(),
            crate::Action::Http(_) => unreachable!(),
        }
    }

    async fn outcome(exec: &Exec) -> Result<(), Failure> {
        let command = exec.prepare(&received()).unwrap();
        exec.attempt(&command, 1).await
    }

    #[test]
    fn arguments_and_environment_come_from_the_event() {
        let dir = tempfile::tempdir().unwrap();
        let exec = exec(&dir, "exit 0", "5s");
        let received = received();
        let command = exec.prepare(&received).unwrap();
        assert_eq!(&command.argv[1..], ["node1.example.net", "startup"]);
        let env: std::collections::HashMap<_, _> = command.env.iter().cloned().collect();
        assert_eq!(env["LIFECYCLE_IDENTITY"], "node1.example.net");
        assert_eq!(env["LIFECYCLE_TYPE"], "startup");
        assert_eq!(env["LIFECYCLE_COMPONENT"], "server");
        assert_eq!(env["LIFECYCLE_VERSION"], "0.29.4");
        assert_eq!(
            env["LIFECYCLE_SUBJECT"],
            "choria.lifecycle.event.startup.server"
        );
        assert_eq!(env["LIFECYCLE_RULE"], "t");
        assert_eq!(command.stdin, received.parsed.event().to_json());
        assert!(command.to_string().starts_with("exec [\""), "{command}");
    }

    #[test]
    fn a_field_the_event_lacks_is_a_permanent_failure_not_an_empty_argument() {
        let rules = "[[rules]]\nname = \"t\"\nfilter = \"\"\nexec = [\"/bin/true\", \"{{ new_version }}\"]\n";
        let rules = Rules::parse(rules, std::path::Path::new("t.toml")).unwrap();
        let failure = rules.rules[0].action.prepare(&received()).unwrap_err();
        assert!(!failure.is_transient());
        assert!(
            failure
                .reason()
                .starts_with("cannot render exec argument 1: "),
            "{failure}"
        );
    }

    #[tokio::test]
    async fn exit_status_zero_succeeds_65_is_permanent_others_are_transient() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(outcome(&exec(&dir, "exit 0", "5s")).await, Ok(()));
        let failure = outcome(&exec(&dir, "echo \"no luck for $1\" >&2; exit 3", "5s"))
            .await
            .unwrap_err();
        assert!(failure.is_transient());
        assert!(
            failure
                .reason()
                .ends_with("program exited with status 3; stderr: no luck for node1.example.net"),
            "{failure}"
        );
        let failure = outcome(&exec(&dir, "exit 65", "5s")).await.unwrap_err();
        assert!(!failure.is_transient());
        assert!(
            failure.reason().ends_with("exited with status 65"),
            "{failure}"
        );
    }

    #[tokio::test]
    async fn the_event_is_on_standard_input() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("stdin");
        let exec = exec(&dir, &format!("cat > '{}'", copy.display()), "5s");
        let received = received();
        let command = exec.prepare(&received).unwrap();
        assert_eq!(exec.attempt(&command, 1).await, Ok(()));
        assert_eq!(
            std::fs::read(&copy).unwrap(),
            received.parsed.event().to_json()
        );
    }

    #[tokio::test]
    async fn a_program_that_does_not_read_a_large_input_still_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let exec = exec(&dir, "exit 0", "20s");
        // More than a pipe holds (but within the limit of one argument, 128 KiB): the
        // write cannot finish; the program's exit ends it.
        let received = received_of(&"n".repeat(100_000));
        let command = exec.prepare(&received).unwrap();
        assert!(command.stdin.len() > 100_000);
        assert_eq!(exec.attempt(&command, 1).await, Ok(()));
    }

    #[tokio::test]
    async fn only_the_last_4_kib_of_stderr_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let script =
            "i=0; while [ $i -lt 500 ]; do echo \"line $i of noise\" >&2; i=$((i+1)); done; exit 1";
        let failure = outcome(&exec(&dir, script, "20s")).await.unwrap_err();
        let (_, tail) = failure
            .reason()
            .split_once("; stderr (last 4 KiB): ")
            .unwrap();
        assert!(tail.len() <= STDERR_TAIL, "{}", tail.len());
        assert!(tail.ends_with("line 499 of noise"), "{tail}");
    }

    #[tokio::test]
    async fn the_timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 60 &\necho $! > '{}'\nsleep 60", pid_file.display());
        let started = std::time::Instant::now();
        let failure = outcome(&exec(&dir, &script, "500ms")).await.unwrap_err();
        assert!(failure.is_transient());
        assert!(
            failure
                .reason()
                .ends_with("did not finish within 500ms: killed with its process group"),
            "{failure}"
        );
        assert!(started.elapsed() < Duration::from_secs(30));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let proc = std::path::PathBuf::from(format!("/proc/{}", pid.trim()));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // Killed, then reaped by init: it leaves /proc.
        while proc.exists() {
            let state = std::fs::read_to_string(proc.join("stat")).unwrap_or_default();
            if state.split(' ').nth(2) == Some("Z") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the background sleep {} survived",
                pid.trim()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
