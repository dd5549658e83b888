//! The Grafana dashboard in `dashboards/grafana` reads what a tally exports: it imports with
//! a Prometheus datasource variable, every metric and label its queries name is one a real
//! tally exposes, every query is PromQL as promtool reads it, and every query has data
//! against the metrics of a leader and a follower that saw events of every kind.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use lifecycle_core::{AnyEvent, Event, EventType, GovernorEventType, MachineEvent, Transition};
use lifecycle_http::prometheus_text;
use lifecycle_tally::{DEFAULT_PREFIX, Tally, TallyOptions};
use lifecycle_testsupport::docker_check;
use serde_json::Value;

const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../dashboards/grafana/lifecycle-tally.json"
);

/// Labels Prometheus adds to every scraped series.
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

/// The component `$component` stands for; the tallies below count it.
const COMPONENT: &str = "server";

fn dashboard() -> Value {
    let text = std::fs::read_to_string(DASHBOARD)
        .unwrap_or_else(|e| panic!("cannot read the dashboard {DASHBOARD}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD} is not JSON: {e}"))
}

/// Every panel, rows' nested panels included, rows excluded.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            if panel["type"] != "row" {
                out.push(panel);
            }
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// A query of a panel: the panel's title, its PromQL and its legend.
struct Query {
    panel: String,
    expr: String,
    legend: String,
}

fn queries(dashboard: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        let title = panel["title"].as_str().unwrap_or("?").to_owned();
        let targets = panel["targets"].as_array();
        assert!(
            targets.is_some_and(|t| !t.is_empty()),
            "panel {title:?} has no targets"
        );
        for target in targets.into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .filter(|e| !e.trim().is_empty())
                .unwrap_or_else(|| panic!("a target of panel {title:?} has no expr"));
            out.push(Query {
                panel: title.clone(),
                expr: substitute(expr),
                legend: target["legendFormat"].as_str().unwrap_or("").to_owned(),
            });
        }
    }
    out
}

/// `expr` with Grafana's variables (`$name`, `${name}`, `${name:format}`) replaced by
/// concrete values; an unknown variable fails the test.
fn substitute(expr: &str) -> String {
    let value = |name: &str| match name {
        "__rate_interval" => "5m",
        "__interval" => "1m",
        "__range" => "30m",
        "__range_s" => "1800",
        "__interval_ms" => "60000",
        "component" => COMPONENT,
        _ => panic!("unknown Grafana variable ${name} in {expr}"),
    };
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let name = if let Some(braced) = rest.strip_prefix('{') {
            let end = braced
                .find('}')
                .unwrap_or_else(|| panic!("unclosed ${{ in {expr}"));
            let name = braced[..end].split(':').next().unwrap();
            rest = &braced[end + 1..];
            name
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            rest = &rest[end..];
            name
        };
        out.push_str(value(name));
    }
    out.push_str(rest);
    out
}

fn now() -> i64 {
    lifecycle_core::clock::now()
}

fn lifecycle(kind: EventType, identity: &str, version: &str, timestamp: i64) -> AnyEvent {
    Event::builder(kind)
        .identity(identity)
        .component(COMPONENT)
        .version(version)
        .new_version("0.29.4")
        .governor("PUPPET")
        .sequence(1)
        .governor_event(GovernorEventType::Enter)
        .timestamp(timestamp)
        .build()
        .unwrap()
        .into()
}

fn exec(outcome: &str) -> AnyEvent {
    docker_check("n1", "i", 1, outcome, 2_000_000_000)
}

/// The Prometheus text a tally exports after events of every kind, an expiry and a
/// process error.
fn exported(active: bool) -> String {
    let clock = Arc::new(AtomicI64::new(now()));
    let reading = clock.clone();
    let tally = Tally::new(TallyOptions {
        clock: Arc::new(move || reading.load(Ordering::Relaxed)),
        ..Default::default()
    });
    tally.metrics().set_active(active);
    let start = clock.load(Ordering::Relaxed);
    for (i, kind) in EventType::ALL.into_iter().enumerate() {
        tally.observe(&lifecycle(kind, &format!("n{i}"), "0.28.0", start));
    }
    tally.observe(&AnyEvent::from(MachineEvent::Transition(Transition::new(
        "n1", "i", "1.0.0", 1, "Docker", "deploy", "absent", "running",
    ))));
    tally.observe(&exec("success"));
    tally.observe(&exec("error"));
    tally.metrics().process_error(COMPONENT);
    // Time passes: all but one node expire.
    let later = clock.fetch_add(81 * 60, Ordering::Relaxed) + 81 * 60;
    tally.observe(&lifecycle(EventType::Alive, "n9", "0.29.4", later));
    assert!(tally.expire() > 0);

    let registry = tally.metrics().register(DEFAULT_PREFIX);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    prometheus_text(&text)
}

/// One exposed series: its name, its labels as written, its value.
struct Series<'a> {
    name: &'a str,
    labels: &'a str,
    value: f64,
}

fn series(text: &str) -> impl Iterator<Item = Series<'_>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (selector, value) = l.rsplit_once(' ').unwrap();
            let (name, labels) = match selector.split_once('{') {
                Some((name, labels)) => (name, labels.strip_suffix('}').unwrap()),
                None => (selector, ""),
            };
            Series {
                name,
                labels,
                value: value.parse().unwrap(),
            }
        })
}

/// Every exposed metric name with the names of its labels.
fn metric_labels(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in series(text) {
        let names = out.entry(s.name.to_owned()).or_default();
        for token in tokens(&format!("{{{}}}", s.labels)) {
            if let Token::Ident(label) = token {
                names.insert(label);
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str,
    Number,
    Punct(char),
}

/// PromQL as identifiers, strings, numbers (durations included) and punctuation.
fn tokens(expr: &str) -> Vec<Token> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            assert!(i < chars.len(), "unclosed string in {expr}");
            i += 1;
            out.push(Token::Str);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Number);
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// What an expression names: metrics with the labels it matches on, and grouping labels.
#[derive(Debug, Default)]
struct Names {
    metrics: Vec<(String, Vec<String>)>,
    grouping: Vec<Vec<String>>,
}

const KEYWORDS: [&str; 7] = ["and", "or", "unless", "bool", "offset", "inf", "nan"];
const GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

fn names(expr: &str) -> Names {
    let tokens = tokens(expr);
    let mut names = Names::default();
    // The identifiers up to the `close` matching the `open` at `tokens[at]`, and the index
    // after it.
    let inside = |at: usize, open: char, close: char| -> (Vec<String>, usize) {
        assert_eq!(tokens[at], Token::Punct(open), "in {expr}");
        let mut idents = Vec::new();
        let mut i = at + 1;
        while tokens.get(i) != Some(&Token::Punct(close)) {
            match tokens.get(i) {
                Some(Token::Ident(name)) => idents.push(name.clone()),
                Some(_) => {}
                None => panic!("unclosed {open} in {expr}"),
            }
            i += 1;
        }
        (idents, i + 1)
    };
    let mut i = 0;
    while i < tokens.len() {
        let next = tokens.get(i + 1);
        match &tokens[i] {
            Token::Ident(word) if GROUPING.contains(&word.as_str()) => {
                if next == Some(&Token::Punct('(')) {
                    let (labels, after) = inside(i + 1, '(', ')');
                    names.grouping.push(labels);
                    i = after;
                } else {
                    i += 1;
                }
            }
            // A function, or an aggregation (`sum(...)`, `sum by (...) (...)`).
            Token::Ident(_)
                if next == Some(&Token::Punct('('))
                    || matches!(next, Some(Token::Ident(w)) if w == "by" || w == "without") =>
            {
                i += 1
            }
            Token::Ident(word) if KEYWORDS.contains(&word.to_lowercase().as_str()) => i += 1,
            Token::Ident(metric) => {
                if next == Some(&Token::Punct('{')) {
                    let (labels, after) = inside(i + 1, '{', '}');
                    names.metrics.push((metric.clone(), labels));
                    i = after;
                } else {
                    names.metrics.push((metric.clone(), Vec::new()));
                    i += 1;
                }
            }
            Token::Punct('{') => panic!("a selector without a metric name in {expr}"),
            _ => i += 1,
        }
    }
    names
}

/// The `{{label}}`s of a legend.
fn legend_labels(legend: &str) -> Vec<&str> {
    legend
        .split("{{")
        .skip(1)
        .map(|part| {
            part.split_once("}}")
                .expect("unclosed {{ in a legend")
                .0
                .trim()
        })
        .collect()
}

#[test]
fn the_dashboard_imports_with_a_prometheus_datasource_variable() {
    let dashboard = dashboard();
    let schema = dashboard["schemaVersion"].as_u64().expect("schemaVersion");
    assert!((36..=41).contains(&schema), "schemaVersion {schema}");
    assert_eq!(dashboard["uid"], "lifecycle-tally");
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating");
    let variable = |name: &str| {
        variables
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no template variable {name}"))
    };
    let datasource = variable("DS_PROMETHEUS");
    assert_eq!(datasource["type"], "datasource");
    assert_eq!(datasource["query"], "prometheus");
    let component = variable("component");
    assert_eq!(component["type"], "query");
    assert_eq!(component["datasource"]["uid"], "${DS_PROMETHEUS}");
    let definition = component["definition"].as_str().unwrap();
    assert_eq!(component["query"]["query"], definition);
    let versions = format!("{DEFAULT_PREFIX}_versions");
    let selector = definition
        .strip_prefix("label_values(")
        .and_then(|d| d.strip_suffix(", component)"))
        .unwrap_or_else(|| panic!("not label_values(<versions>, component): {definition}"));
    let named = names(selector);
    assert_eq!(named.metrics.len(), 1, "{definition}");
    assert_eq!(named.metrics[0].0, versions, "{definition}");

    let panels = panels(&dashboard);
    assert!(panels.len() >= 12, "only {} panels", panels.len());
    let mut ids = BTreeSet::new();
    for panel in &panels {
        let title = panel["title"].as_str().expect("a panel without a title");
        assert!(
            ids.insert(panel["id"].as_u64()),
            "panel id repeated: {title}"
        );
        assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
        for target in panel["targets"].as_array().into_iter().flatten() {
            assert_eq!(target["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
            assert!(
                target["refId"].is_string(),
                "{title}: a target without refId"
            );
        }
    }
    let queries = queries(&dashboard);
    for metric in [
        "leader",
        "connected",
        "versions",
        "lost_nodes",
        "refused_total",
        "good_events_total",
        "event_types_total",
        "process_errors_total",
        "nodes_expired_total",
        "governor_total",
        "processing_time_bucket",
        "maintenance_time_bucket",
        "machine_transition_total",
        "exec_watcher_success_total",
        "exec_watcher_failures_total",
    ] {
        let name = format!("{DEFAULT_PREFIX}_{metric}");
        assert!(
            queries
                .iter()
                .any(|q| names(&q.expr).metrics.iter().any(|(m, _)| *m == name)),
            "no panel reads {name}"
        );
    }
}

#[test]
fn every_metric_and_label_the_dashboard_names_is_exported() {
    let text = exported(true);
    let exported = metric_labels(&text);
    let known = |metric: &str| {
        exported
            .get(metric)
            .unwrap_or_else(|| panic!("{metric} is not exported; a tally exports\n{text}"))
    };
    let dashboard = dashboard();
    let queries = queries(&dashboard);
    for query in &queries {
        let Query {
            panel,
            expr,
            legend,
            ..
        } = query;
        let named = names(expr);
        assert!(!named.metrics.is_empty(), "{panel}: no metric in {expr}");
        let mut available: BTreeSet<&str> = TARGET_LABELS.into_iter().collect();
        for (metric, matched) in &named.metrics {
            assert!(
                metric.starts_with(&format!("{DEFAULT_PREFIX}_")),
                "{panel}: {metric} lacks the prefix {DEFAULT_PREFIX}"
            );
            let labels = known(metric);
            for label in matched {
                assert!(
                    labels.contains(label) || TARGET_LABELS.contains(&label.as_str()),
                    "{panel}: {metric} has no label {label} ({labels:?})"
                );
            }
            available.extend(labels.iter().map(String::as_str));
        }
        for group in &named.grouping {
            for label in group {
                assert!(
                    available.contains(label.as_str()),
                    "{panel}: grouping by {label}, which {expr} does not have"
                );
            }
        }
        // A legend names labels the result keeps: those of every grouping, when grouped.
        for label in legend_labels(legend) {
            assert!(
                available.contains(label)
                    && named.grouping.iter().all(|g| g.iter().any(|l| l == label)),
                "{panel}: legend {legend:?} names {label}, which {expr} does not keep"
            );
        }
        // Counts come from the leader alone, or a leader and follower would double them;
        // the tallies' own processing and maintenance times are per tally.
        if expr.contains("sum") && !expr.contains("_time_") {
            assert!(
                named
                    .metrics
                    .iter()
                    .all(|(_, labels)| labels.iter().any(|l| l == "active")),
                "{panel}: {expr} sums over leader and follower"
            );
        }
    }
}

fn promtool(args: &[&str]) -> (bool, String) {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool is needed to check the dashboard's queries ({e}): install Debian's `prometheus` package (.ci/run does)")
        });
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

/// A YAML double-quoted scalar (JSON's string syntax is one).
fn yaml(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn every_query_parses_and_has_data_from_a_leader_and_a_follower() {
    let dashboard = dashboard();
    let queries = queries(&dashboard);
    let dir = tempfile::tempdir().unwrap();

    // Each query as a recording rule, and as an alert that fires when it has no data.
    let mut rules = String::from("groups:\n  - name: g\n    rules:\n");
    for (n, query) in queries.iter().enumerate() {
        rules += &format!(
            "      - record: r_{n}\n        expr: {}\n",
            yaml(&query.expr)
        );
    }
    rules += "  - name: empty\n    rules:\n";
    for (n, query) in queries.iter().enumerate() {
        rules += &format!(
            "      - alert: empty_{n}\n        expr: {}\n",
            yaml(&format!("absent({})", query.expr))
        );
    }
    let rules_file = dir.path().join("rules.yml");
    std::fs::write(&rules_file, &rules).unwrap();
    let (ok, report) = promtool(&["check", "rules", rules_file.to_str().unwrap()]);
    assert!(ok, "promtool check rules: {report}\n{rules}");
    let found = format!("SUCCESS: {} rules found", 2 * queries.len());
    assert!(report.contains(&found), "promtool: {report}");

    // A leader and a follower scraped every minute for 40 minutes, their counts growing.
    let mut input = String::new();
    for (instance, active) in [("tally-a:8080", true), ("tally-b:8080", false)] {
        let text = exported(active);
        let gauges: BTreeSet<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" gauge"))
            .collect();
        for s in series(&text) {
            let labels = match s.labels {
                "" => format!("instance=\"{instance}\""),
                labels => format!("{labels},instance=\"{instance}\""),
            };
            let values = if gauges.contains(s.name) {
                format!("{}x40", s.value)
            } else {
                format!("{v}+{v}x40", v = s.value)
            };
            input += &format!(
                "      - series: {}\n        values: {}\n",
                yaml(&format!("{}{{{labels}}}", s.name)),
                yaml(&values)
            );
        }
    }
    let mut tests = format!(
        "rule_files:\n  - {}\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    alert_rule_test:\n",
        yaml(rules_file.to_str().unwrap())
    );
    for n in 0..queries.len() {
        tests += &format!(
            "      - eval_time: 30m\n        alertname: empty_{n}\n        exp_alerts: []\n"
        );
    }
    let tests_file = dir.path().join("tests.yml");
    std::fs::write(&tests_file, &tests).unwrap();
    let (ok, report) = promtool(&["test", "rules", tests_file.to_str().unwrap()]);
    let empty: Vec<String> = queries
        .iter()
        .enumerate()
        .filter(|(n, _)| report.contains(&format!("alertname: empty_{n},")))
        .map(|(_, q)| format!("{}: {}", q.panel, q.expr))
        .collect();
    assert!(
        ok,
        "queries without data: {empty:#?}\npromtool test rules: {report}"
    );
}
