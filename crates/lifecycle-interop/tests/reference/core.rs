//! Every event Choria itself produced parses to what Choria's own parser returned
//! (`expected.tsv`), and writes back as the same JSON with the same key order.

use lifecycle_core::{AnyEvent, parse};

use crate::minify;

#[test]
fn every_reference_event_parses_as_choria_does() {
    let dir = lifecycle_testsupport::go_choria_dir();
    let table = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let mut rows = table.lines();
    assert_eq!(
        rows.next(),
        Some("file\tformat\ttype\tidentity\tcomponent\ttimestamp\tsubject\tdisplay")
    );
    let mut checked = 0;
    for row in rows.filter(|r| !r.is_empty()) {
        let cols: Vec<&str> = row.split('\t').collect();
        let [
            file,
            format,
            kind,
            identity,
            component,
            timestamp,
            subject,
            display,
        ] = cols[..]
        else {
            panic!("malformed row {row:?}")
        };
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let parsed = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
        let event = parsed.event();
        assert!(matches!(event, AnyEvent::Lifecycle(_)), "{file}");
        assert_eq!(parsed.format().as_str(), format, "{file}: format");
        assert_eq!(event.type_name(), kind, "{file}: type");
        assert_eq!(event.identity(), identity, "{file}: identity");
        assert_eq!(event.component(), Some(component), "{file}: component");
        assert_eq!(
            event.timestamp().to_string(),
            timestamp,
            "{file}: timestamp"
        );
        assert_eq!(event.subject().unwrap(), subject, "{file}: subject");
        assert_eq!(event.to_string(), display, "{file}: display");

        let written = String::from_utf8(parsed.to_json()).unwrap();
        assert_eq!(written, minify(&text), "{file}: re-serialised");
        if file.starts_with("go_") {
            assert_eq!(written, text.trim_end(), "{file}: bytes");
        }
        checked += 1;
    }
    assert_eq!(checked, 16, "every file of the reference set has a row");
}

/// The Choria-format and CloudEvents files of each event hold the same event.
#[test]
fn both_formats_of_each_reference_event_agree() {
    let dir = lifecycle_testsupport::go_choria_dir();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(stem) = name.strip_prefix("go_choria_") else {
            continue;
        };
        let read = |n: &str| parse(&std::fs::read(dir.join(n)).unwrap()).unwrap();
        let choria = read(&name);
        let cloudevent = read(&format!("go_cloudevent_{stem}"));
        assert_eq!(choria.event(), cloudevent.event(), "{stem}");
        let AnyEvent::Lifecycle(event) = choria.event() else {
            panic!("{stem}")
        };
        assert_eq!(
            event.cloudevent().to_json(),
            std::fs::read_to_string(dir.join(format!("go_cloudevent_{stem}")))
                .unwrap()
                .trim_end()
                .as_bytes(),
            "{stem}: CloudEvents bytes"
        );
    }
}
