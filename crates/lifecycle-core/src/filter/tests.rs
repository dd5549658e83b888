//! The language end to end: expressions parsed, then evaluated on events, and the subjects
//! they narrow to.

use super::*;
use crate::interest::Interest;
use crate::{Event, GovernorEventType, MachineEvent, Transition, parse};

fn event(t: EventType, identity: &str, component: &str, version: &str) -> AnyEvent {
    let mut b = Event::builder(t)
        .identity(identity)
        .component(component)
        .timestamp(1_700_000_000);
    match t {
        EventType::Startup | EventType::Alive => b = b.version(version),
        EventType::Upgraded => b = b.version(version).new_version("1.0.0"),
        EventType::Governor => {
            b = b
                .governor("rollout")
                .sequence(3)
                .governor_event(GovernorEventType::Enter)
        }
        _ => {}
    }
    AnyEvent::Lifecycle(b.build().unwrap())
}

fn transition() -> AnyEvent {
    MachineEvent::Transition(Transition::new(
        "node1.example.net",
        "m-1",
        "1.2.3",
        1_700_000_000,
        "nagios",
        "fire",
        "idle",
        "running",
    ))
    .into()
}

#[test]
fn evaluation() {
    let alive = event(EventType::Alive, "web1.example.net", "server", "0.30.1");
    let old = event(EventType::Alive, "db1.example.net", "server", "0.29.0");
    let newest = event(EventType::Startup, "web2.example.net", "agent", "0.100.0");
    let gov = event(EventType::Governor, "web3.example.net", "server", "");
    let shut = event(EventType::Shutdown, "web1.example.net", "server", "");
    let machine = transition();
    let all = [&alive, &old, &newest, &gov, &shut, &machine];
    // (filter, which of `all` pass)
    let table: &[(&str, [bool; 6])] = &[
        ("", [true, true, true, true, true, true]),
        ("alive", [true, true, false, false, false, false]),
        ("alive,startup", [true, true, true, false, false, false]),
        ("transition", [false, false, false, false, false, true]),
        ("state", [false; 6]),
        ("identity=web*", [true, false, true, true, true, false]),
        (
            "identity=web?.example.net",
            [true, false, true, true, true, false],
        ),
        ("identity!=web*", [false, true, false, false, false, true]),
        (
            "alive, identity=web*",
            [true, false, false, false, false, false],
        ),
        ("component=server", [true, true, false, true, true, false]),
        (
            "component!=server",
            [false, false, true, false, false, true],
        ),
        ("type=a*", [true, true, false, false, false, false]),
        ("governor=roll*", [false, false, false, true, false, false]),
        ("machine=nagios", [false, false, false, false, false, true]),
        ("version=0.30.1", [true, false, false, false, false, false]),
        (".version>=0.29.0", [true, true, true, false, false, true]),
        (".version>0.29.0", [true, false, true, false, false, true]),
        (".version<0.100.0", [true, true, false, false, false, false]),
        (".version<=0.30.1", [true, true, false, false, false, false]),
        (
            ".version>=0.30.1,.version<0.100.0",
            [true, false, false, false, false, false],
        ),
        // Quoted: plain string order, where "0.100.0" < "0.29.0".
        (
            r#".version<"0.29.0""#,
            [false, false, true, false, false, false],
        ),
        (".sequence>=3", [false, false, false, true, false, false]),
        (".sequence<3", [false; 6]),
        (".sequence=3.0", [false, false, false, true, false, false]),
        (
            ".event_type=enter",
            [false, false, false, true, false, false],
        ),
        (".to_state=run*", [false, false, false, false, false, true]),
        (".new_version!=1.0.0", [true, true, true, true, true, true]),
        (".timestamp=1700000000", [true; 6]),
        (".nope=1", [false; 6]),
        (".nope!=1", [true; 6]),
        (r#"identity="web*""#, [false; 6]),
    ];
    for (expression, want) in table {
        let filter: Filter = expression.parse().unwrap();
        let got: Vec<bool> = all.iter().map(|e| filter.matches(e)).collect();
        assert_eq!(&got[..], &want[..], "filter {expression:?}");
    }
}

#[test]
fn evaluates_parsed_machine_state() {
    let bytes = br#"{"specversion":"1.0","id":"x","source":"io.choria.machine","type":"io.choria.machine.watcher.exec.v1.state","datacontenttype":"application/json","time":"2023-11-14T22:13:20Z","data":{"protocol":"io.choria.machine.watcher.exec.v1.state","identity":"n1","id":"i","version":"1.0.0","timestamp":1700000000,"type":"exec","machine":"m","name":"check","command":"/bin/true","previous_outcome":"success","previous_run_time":1500000000}}"#;
    let event = parse(bytes).unwrap().into_event();
    for (expression, want) in [
        ("state", true),
        ("state,machine=m", true),
        (".previous_outcome=success", true),
        (".previous_run_time>1000000000", true),
        ("alive", false),
    ] {
        let filter: Filter = expression.parse().unwrap();
        assert_eq!(filter.matches(&event), want, "{expression}");
    }
}

/// An alive event with unknown members serde_json cannot read as values.
fn hostile() -> AnyEvent {
    let AnyEvent::Lifecycle(mut alive) =
        event(EventType::Alive, "web1.example.net", "server", "0.30.1")
    else {
        unreachable!()
    };
    let raw = |json: &str| serde_json::value::RawValue::from_string(json.to_owned()).unwrap();
    alive.extra = vec![
        ("huge".into(), raw("1e400")),
        ("neg".into(), raw("-1e400")),
        ("lone".into(), raw(r#""\ud800""#)),
        ("mixed".into(), raw(r#""caf\u00e9 \udc00""#)),
        (
            "nested".into(),
            raw(r#"{"\ud800":0, "n":1e400, "s":"\ud800", "ok":2, "ok":3, "o":{"p":"q"}}"#),
        ),
        ("arr".into(), raw("[1e400]")),
        (
            "deep".into(),
            raw(&format!("{}1{}", "[".repeat(120), "]".repeat(120))),
        ),
        // Of repeated members the last counts, as in the event's JSON.
        ("version".into(), raw(r#""9.9.9""#)),
    ];
    alive.into()
}

#[test]
fn evaluates_members_serde_json_cannot_read() {
    let event = hostile();
    for (expression, want) in [
        // A number beyond f64 is an infinity against a number...
        (".huge>1", true),
        (".huge<1", false),
        (".huge=1e400", true),
        (".huge>=1e308", true),
        (".neg<-1e308", true),
        (".neg>0", false),
        // ...and its JSON text against anything else.
        (r#".huge="1e400""#, true),
        (".huge=1e4*", true),
        (".huge=1e3*", false),
        (".huge>=1e399.0", true),
        // A string with a lone surrogate is its text between the quotes, as written.
        (r#".lone="\\ud800""#, true),
        (r#".lone!="\\ud800""#, false),
        (".lone!=x", true),
        (".lone=*", true),
        (".lone=?ud800", true),
        (r#".mixed="caf\\u00e9 \\udc00""#, true),
        (".mixed=caf*", true),
        // Nested members are found past keys and values serde_json refuses.
        (".nested.ok=3", true),
        (".nested.ok=2", false),
        (".nested.n>1", true),
        (r#".nested.s="\\ud800""#, true),
        (".nested.o.p=q", true),
        (".nested.o.p.q=q", false),
        (".nested.missing=1", false),
        (".nested.missing!=1", true),
        (".huge.inner!=1", true),
        (".arr.inner=1", false),
        // An object or array serde_json refuses is its JSON text as received.
        (r#".nested=*"ok":3*"#, true),
        (r#".arr="[1e400]""#, true),
        (".deep=[[[*", true),
        // Known fields still read as before; an unknown member of the same name wins.
        (".version=9.9.9", true),
        ("alive,identity=web*,.identity=web1.example.net", true),
        (".timestamp=1700000000", true),
    ] {
        let filter: Filter = expression.parse().unwrap();
        assert_eq!(filter.matches(&event), want, "{expression}");
    }
}

/// The events of issue 11 through the parser: evaluating them panicked.
#[test]
fn parsed_events_with_unreadable_members_do_not_panic() {
    let alive = r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"01","identity":"n1","component":"server","timestamp":1700000000,"version":"0.29.4","#;
    let huge = parse(format!(r#"{alive}"extra":1e400}}"#).as_bytes()).unwrap();
    let lone = parse(format!(r#"{alive}"extra":"\ud800"}}"#).as_bytes()).unwrap();
    for (expression, want) in [
        // A string orders after a number's text.
        ("alive,.extra>1", [true, true]),
        ("alive,.extra<1", [false, false]),
        (".extra=*", [true, true]),
        (".extra!=x", [true, true]),
        (".extra.a=1", [false, false]),
        (".version>=0.29.0,.extra!=0", [true, true]),
    ] {
        let filter: Filter = expression.parse().unwrap();
        let got = [filter.matches(huge.event()), filter.matches(lone.event())];
        assert_eq!(got, want, "{expression}");
    }
}

#[test]
fn parse_errors_point_at_the_position() {
    let table: &[(&str, &str)] = &[
        (
            ".version",
            "expected an operator after '.version' at position 9",
        ),
        (
            "alive,.version 0.29",
            "expected an operator after '.version' at position 16",
        ),
        ("alive,,startup", "expected a filter element at position 7"),
        ("alive,", "expected a filter element at position 7"),
        (",alive", "expected a filter element at position 1"),
        (
            "alive,bogus",
            "unknown event type 'bogus' (expected one of startup, shutdown, provisioned, \
             alive, governor, upgraded, transition, state) at position 7",
        ),
        (
            "host=web1",
            "unknown key 'host' (expected one of identity, component, version, type, \
             governor, machine) at position 1",
        ),
        (
            "identity=",
            "expected a value after the operator at position 10",
        ),
        (
            ".version>=,alive",
            "expected a value after the operator at position 11",
        ),
        ("alive,.=3", "expected a field name after '.' at position 8"),
        (".a..b=3", "expected a field name after '.' at position 4"),
        (
            "version>=1",
            "'version' takes only = and != (use '.version' to compare by order) at position 1",
        ),
        (
            r#"identity="web"#,
            "missing the closing quote at position 10",
        ),
        (
            r#"identity="web" x"#,
            "expected ',' after the quoted value at position 16",
        ),
        (
            "alive x",
            "expected an operator after 'alive' at position 7",
        ),
    ];
    for (expression, want) in table {
        let error = Filter::parse(expression).unwrap_err();
        assert_eq!(error.to_string(), *want, "filter {expression:?}");
    }
    let error = Filter::parse(".version").unwrap_err();
    assert_eq!(error.position(), Some(9));
    assert_eq!(
        error.kind(),
        &crate::ErrorKind::Filter {
            problem: FilterProblem::ExpectedOperator(".version".into()),
            position: 9
        }
    );
}

#[test]
fn parses_blanks_and_quotes() {
    let filter = Filter::parse(r#" alive , identity = "a,b\"c" , .version >= 1 "#).unwrap();
    assert_eq!(filter.types, [TypeName::Lifecycle(EventType::Alive)]);
    assert_eq!(
        filter.conditions,
        [
            Condition::Key {
                key: Key::Identity,
                negate: false,
                pattern: Operand {
                    text: "a,b\"c".into(),
                    quoted: true
                }
            },
            Condition::Field {
                path: vec!["version".into()],
                op: Op::Ge,
                value: Operand {
                    text: "1".into(),
                    quoted: false
                }
            }
        ]
    );
    assert!(Filter::parse("  ").unwrap().is_empty());
}

#[test]
fn interest() {
    let p = |s: &str| Interest::from_filter(&Filter::parse(s).unwrap());
    let all = Interest {
        lifecycle: true,
        types: vec![],
        components: vec![],
        transitions: false,
        watcher_states: false,
    };
    assert_eq!(p(""), all);
    assert_eq!(p(".version>=1,identity=x*"), all);
    assert_eq!(
        p("alive,startup,alive,component=server"),
        Interest {
            types: vec![EventType::Alive, EventType::Startup],
            components: vec!["server".into()],
            ..all.clone()
        }
    );
    assert_eq!(p("component=ser*"), all);
    assert_eq!(p("component!=server"), all);
    assert_eq!(
        p("transition,state"),
        Interest {
            lifecycle: false,
            transitions: true,
            watcher_states: true,
            ..all.clone()
        }
    );
    assert_eq!(
        p("machine=nagios"),
        Interest {
            lifecycle: false,
            transitions: true,
            watcher_states: true,
            ..all.clone()
        }
    );
    assert_eq!(
        p("alive,transition"),
        Interest {
            types: vec![EventType::Alive],
            transitions: true,
            ..all.clone()
        }
    );
}
