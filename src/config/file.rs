//! The configuration file's shape: TOML read into values that remember their line.
//!
//! Purpose: `check-config` must report *every* mistake with the line it is on, so the file is
//! not deserialized with serde (which stops at the first error) but walked by hand over
//! `toml_edit`'s parse tree, which keeps the byte span of every key and value. Each value
//! that has the right type is kept as an [`At`] (the value and its line); each key that is
//! unknown or has the wrong type becomes a [`FileError`] and the walk goes on.
//!
//! Vocabulary: the *root* is the top-level table; `[[port]]` and `[[rxq]]` are arrays of
//! tables (inline arrays of inline tables are accepted too). Whether a value makes sense
//! (a port name, a core list, a controller target) is decided by the caller,
//! `config::resolve`, which also sees the flags; this module only checks names and types.
//!
//! Invariants: no input panics; line numbers are 1-based; a key appears in at most one error
//! here (unknown, or wrong type), so the caller can add its own without repeating ours.

use std::ops::Range;

use toml_edit::{ImDocument, Item, TableLike, Value};

/// A value from the file and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At<T> {
    pub value: T,
    pub line: usize,
}

/// A mistake in the file's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub line: usize,
    pub message: String,
}

/// One `[[port]]` table.
#[derive(Debug, Default)]
pub struct FilePort {
    /// The `[[port]]` header's line, for "name is missing".
    pub line: usize,
    pub name: Option<At<String>>,
    pub devargs: Option<At<String>>,
    pub rx_queues: Option<At<i64>>,
}

/// One `[[rxq]]` table: pin rx queue `queue` of `port` to the PMD on core `pmd`.
#[derive(Debug, Default)]
pub struct FileRxq {
    pub line: usize,
    pub port: Option<At<String>>,
    pub queue: Option<At<i64>>,
    pub pmd: Option<At<i64>>,
}

/// Every key the file may hold. Arrays are empty when the key is absent.
#[derive(Debug, Default)]
pub struct FileConfig {
    pub bridge: Option<At<String>>,
    pub datapath_id: Option<At<String>>,
    pub pmd_cores: Option<At<String>>,
    pub control_core: Option<At<i64>>,
    pub mbufs: Option<At<i64>>,
    pub eal: Option<At<String>>,
    pub ctl: Option<At<String>>,
    pub flows: Option<At<String>>,
    pub quiet: Option<At<bool>>,
    pub listen: Vec<At<String>>,
    pub controller: Vec<At<String>>,
    pub fail_mode: Option<At<String>>,
    pub ssl_private_key: Option<At<String>>,
    pub ssl_certificate: Option<At<String>>,
    pub ssl_ca_cert: Option<At<String>>,
    pub flow_limit: Option<At<i64>>,
    pub metrics: Option<At<String>>,
    pub log_level: Option<At<String>>,
    pub log_file: Option<At<String>>,
    pub patch: Vec<At<String>>,
    pub port: Vec<FilePort>,
    pub rxq: Vec<FileRxq>,
}

/// The top-level keys, for "did you mean".
const ROOT_KEYS: &[&str] = &[
    "bridge",
    "datapath_id",
    "pmd_cores",
    "control_core",
    "mbufs",
    "eal",
    "ctl",
    "flows",
    "quiet",
    "listen",
    "controller",
    "fail_mode",
    "ssl_private_key",
    "ssl_certificate",
    "ssl_ca_cert",
    "flow_limit",
    "metrics",
    "log_level",
    "log_file",
    "patch",
    "port",
    "rxq",
];
const PORT_KEYS: &[&str] = &["name", "devargs", "rx_queues"];
const RXQ_KEYS: &[&str] = &["port", "queue", "pmd"];

/// Reads `text`. A TOML syntax error ends the walk (there is no tree to walk); every other
/// mistake is collected.
pub fn parse(text: &str) -> (FileConfig, Vec<FileError>) {
    let mut w = Walker {
        text,
        errors: Vec::new(),
    };
    let mut cfg = FileConfig::default();
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let line = w.line(e.span());
            // toml_edit's message repeats the offending line with a caret; the first line
            // of it is the sentence.
            let message = e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .to_owned();
            w.errors.push(FileError {
                line,
                message: format!("TOML syntax: {message}"),
            });
            return (cfg, w.errors);
        }
    };
    let root = doc.as_table();
    for (key, item) in root.iter() {
        let key_line = w.key_line(root, key, item);
        match key {
            "bridge" => cfg.bridge = w.string(key, item),
            "datapath_id" => cfg.datapath_id = w.string(key, item),
            "pmd_cores" => cfg.pmd_cores = w.core_list(key, item),
            "control_core" => cfg.control_core = w.integer(key, item),
            "mbufs" => cfg.mbufs = w.integer(key, item),
            "eal" => cfg.eal = w.string(key, item),
            "ctl" => cfg.ctl = w.string(key, item),
            "flows" => cfg.flows = w.string(key, item),
            "quiet" => cfg.quiet = w.boolean(key, item),
            "listen" => cfg.listen = w.strings(key, item),
            "controller" => cfg.controller = w.strings(key, item),
            "fail_mode" => cfg.fail_mode = w.string(key, item),
            "ssl_private_key" => cfg.ssl_private_key = w.string(key, item),
            "ssl_certificate" => cfg.ssl_certificate = w.string(key, item),
            "ssl_ca_cert" => cfg.ssl_ca_cert = w.string(key, item),
            "flow_limit" => cfg.flow_limit = w.integer(key, item),
            "metrics" => cfg.metrics = w.string(key, item),
            "log_level" => cfg.log_level = w.string(key, item),
            "log_file" => cfg.log_file = w.string(key, item),
            "patch" => cfg.patch = w.strings(key, item),
            "port" => {
                cfg.port = w
                    .tables(key, item)
                    .into_iter()
                    .map(|(line, t)| w.port(line, t))
                    .collect()
            }
            "rxq" => {
                cfg.rxq = w
                    .tables(key, item)
                    .into_iter()
                    .map(|(line, t)| w.rxq(line, t))
                    .collect()
            }
            _ => w.unknown(key_line, key, "", ROOT_KEYS),
        }
    }
    (cfg, w.errors)
}

struct Walker<'a> {
    text: &'a str,
    errors: Vec<FileError>,
}

/// What a TOML value is, for "expected a string, found an integer".
fn kind(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => value_kind(v),
    }
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

fn item_span(item: &Item) -> Option<Range<usize>> {
    match item {
        Item::None => None,
        Item::Value(v) => v.span(),
        Item::Table(t) => t.span(),
        Item::ArrayOfTables(a) => a.span(),
    }
}

/// Levenshtein distance; keys are short, so the quadratic table is fine.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl Walker<'_> {
    /// The 1-based line a byte offset is on (line 1 when the span is unknown).
    fn line(&self, span: Option<Range<usize>>) -> usize {
        let start = span.map_or(0, |s| s.start).min(self.text.len());
        // A span always starts on a char boundary; fall back to counting bytes if not.
        self.text
            .as_bytes()
            .iter()
            .take(start)
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn key_line(&self, table: &dyn TableLike, key: &str, item: &Item) -> usize {
        let span = table
            .get_key_value(key)
            .and_then(|(k, _)| k.span())
            .or_else(|| item_span(item));
        self.line(span)
    }

    fn item_line(&self, item: &Item) -> usize {
        self.line(item_span(item))
    }

    fn error(&mut self, line: usize, message: String) {
        self.errors.push(FileError { line, message });
    }

    fn unknown(&mut self, line: usize, key: &str, within: &str, known: &[&str]) {
        let mut message = format!("unknown key {key:?}{within}");
        let best = known
            .iter()
            .map(|k| (edit_distance(key, k), *k))
            .min()
            .filter(|&(d, _)| d <= 2);
        match best {
            Some((_, k)) => message.push_str(&format!(" (did you mean {k:?}?)")),
            None => message.push_str(&format!("; known keys: {}", known.join(", "))),
        }
        self.error(line, message);
    }

    fn wrong_type(&mut self, key: &str, item: &Item, expected: &str) {
        let line = self.item_line(item);
        self.error(
            line,
            format!("{key}: expected {expected}, found {}", kind(item)),
        );
    }

    fn string(&mut self, key: &str, item: &Item) -> Option<At<String>> {
        match item.as_str() {
            Some(s) => Some(At {
                value: s.to_owned(),
                line: self.item_line(item),
            }),
            None => {
                self.wrong_type(key, item, "a string");
                None
            }
        }
    }

    fn integer(&mut self, key: &str, item: &Item) -> Option<At<i64>> {
        match item.as_integer() {
            Some(n) => Some(At {
                value: n,
                line: self.item_line(item),
            }),
            None => {
                self.wrong_type(key, item, "an integer");
                None
            }
        }
    }

    fn boolean(&mut self, key: &str, item: &Item) -> Option<At<bool>> {
        match item.as_bool() {
            Some(b) => Some(At {
                value: b,
                line: self.item_line(item),
            }),
            None => {
                self.wrong_type(key, item, "true or false");
                None
            }
        }
    }

    /// An array of strings; a single string is taken as an array of one.
    fn strings(&mut self, key: &str, item: &Item) -> Vec<At<String>> {
        if let Some(s) = item.as_str() {
            return vec![At {
                value: s.to_owned(),
                line: self.item_line(item),
            }];
        }
        let Some(array) = item.as_array() else {
            self.wrong_type(key, item, "an array of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for v in array.iter() {
            let line = self.line(v.span());
            match v.as_str() {
                Some(s) => out.push(At {
                    value: s.to_owned(),
                    line,
                }),
                None => self.error(
                    line,
                    format!("{key}: expected a string, found {}", value_kind(v)),
                ),
            }
        }
        out
    }

    /// `"1-3,5"` or `[1, 2, 3]`; the array form is returned as the string form.
    fn core_list(&mut self, key: &str, item: &Item) -> Option<At<String>> {
        let line = self.item_line(item);
        if let Some(s) = item.as_str() {
            return Some(At {
                value: s.to_owned(),
                line,
            });
        }
        let Some(array) = item.as_array() else {
            self.wrong_type(key, item, "a core list like \"1-3\" or [1, 2, 3]");
            return None;
        };
        let mut parts = Vec::new();
        for v in array.iter() {
            match v.as_integer() {
                Some(n) => parts.push(n.to_string()),
                None => {
                    let line = self.line(v.span());
                    self.error(
                        line,
                        format!("{key}: expected a core number, found {}", value_kind(v)),
                    );
                    return None;
                }
            }
        }
        Some(At {
            value: parts.join(","),
            line,
        })
    }

    /// The tables of an array of tables (`[[port]]` or `port = [{…}, …]`), with their lines.
    fn tables<'t>(&mut self, key: &str, item: &'t Item) -> Vec<(usize, &'t dyn TableLike)> {
        match item {
            Item::ArrayOfTables(a) => a
                .iter()
                .map(|t| (self.line(t.span()), t as &dyn TableLike))
                .collect(),
            Item::Value(Value::Array(a)) => {
                let mut out = Vec::new();
                for v in a.iter() {
                    match v.as_inline_table() {
                        Some(t) => out.push((self.line(v.span()), t as &dyn TableLike)),
                        None => {
                            let line = self.line(v.span());
                            self.error(
                                line,
                                format!("{key}: expected a table, found {}", value_kind(v)),
                            );
                        }
                    }
                }
                out
            }
            Item::Table(t) => {
                let line = self.line(t.span());
                self.error(
                    line,
                    format!("{key}: write [[{key}]] (one per {key}), not [{key}]"),
                );
                Vec::new()
            }
            _ => {
                self.wrong_type(key, item, &format!("[[{key}]] tables"));
                Vec::new()
            }
        }
    }

    fn port(&mut self, line: usize, t: &dyn TableLike) -> FilePort {
        let mut p = FilePort {
            line,
            ..FilePort::default()
        };
        for (key, item) in t.iter() {
            let what = format!("port.{key}");
            match key {
                "name" => p.name = self.string(&what, item),
                "devargs" => p.devargs = self.string(&what, item),
                "rx_queues" => p.rx_queues = self.integer(&what, item),
                _ => {
                    let kl = self.key_line(t, key, item);
                    self.unknown(kl, key, " in [[port]]", PORT_KEYS)
                }
            }
        }
        p
    }

    fn rxq(&mut self, line: usize, t: &dyn TableLike) -> FileRxq {
        let mut r = FileRxq {
            line,
            ..FileRxq::default()
        };
        for (key, item) in t.iter() {
            let what = format!("rxq.{key}");
            match key {
                "port" => r.port = self.string(&what, item),
                "queue" => r.queue = self.integer(&what, item),
                "pmd" => r.pmd = self.integer(&what, item),
                _ => {
                    let kl = self.key_line(t, key, item);
                    self.unknown(kl, key, " in [[rxq]]", RXQ_KEYS)
                }
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_lines() {
        let text = "pmd_cores = [1, 2]\ncontroller = [\"tcp:127.0.0.1\",\n  \"tcp:127.0.0.2\"]\n\n[[port]]\nname = \"p0\"\ndevargs = \"net_ring0\"\n";
        let (cfg, errors) = parse(text);
        assert_eq!(errors, []);
        assert_eq!(
            cfg.pmd_cores,
            Some(At {
                value: "1,2".into(),
                line: 1
            })
        );
        let lines: Vec<usize> = cfg.controller.iter().map(|c| c.line).collect();
        assert_eq!(lines, [2, 3]);
        assert_eq!(cfg.port[0].line, 5);
        assert_eq!(cfg.port[0].devargs.as_ref().map(|d| d.line), Some(7));
    }

    #[test]
    fn every_shape_mistake_is_collected() {
        let text = "mbufs = \"many\"\nfial_mode = \"secure\"\n[port]\nname = \"p0\"\n";
        let (_, errors) = parse(text);
        let got: Vec<(usize, &str)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (1, "mbufs: expected an integer, found a string"),
                (2, "unknown key \"fial_mode\" (did you mean \"fail_mode\"?)"),
                (3, "port: write [[port]] (one per port), not [port]"),
            ]
        );
    }

    #[test]
    fn syntax_errors_have_a_line_and_one_sentence() {
        let (_, errors) = parse("a = 1\nb = \n");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.starts_with("TOML syntax: "), "{errors:?}");
        assert!(!errors[0].message.contains('\n'));
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("devargz", "devargs"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("pmd_core", "pmd_cores"), 1);
    }
}
