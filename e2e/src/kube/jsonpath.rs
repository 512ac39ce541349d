//! The subset of Kubernetes JSONPath that printer columns use: `.a.b`, `[0]`, `[*]`,
//! `[?(@.type=="Ready")]` (with `==`/`!=` against a string, number or boolean) and `..`
//! is not supported (the apiserver rejects it in printer columns too).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    Filter {
        path: Vec<String>,
        eq: bool,
        value: Value,
    },
}

/// A compiled path.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath(Vec<Step>);

impl JsonPath {
    /// Parses a path such as `.status.conditions[?(@.type=="Ready")].status` (an outer
    /// `{...}` is accepted too).
    pub fn parse(src: &str) -> Result<Self, String> {
        let s = src.trim();
        let s = s
            .strip_prefix('{')
            .and_then(|x| x.strip_suffix('}'))
            .unwrap_or(s);
        let s = s.strip_prefix('$').unwrap_or(s);
        let mut steps = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                if r.starts_with('.') {
                    return Err(format!("recursive descent is not supported in {src:?}"));
                }
                let end = r.find(['.', '[']).unwrap_or(r.len());
                if end > 0 {
                    steps.push(Step::Field(r[..end].to_string()));
                }
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = find_close(r).ok_or_else(|| format!("unclosed [ in {src:?}"))?;
                let inner = r[..end].trim();
                rest = &r[end + 1..];
                if inner == "*" {
                    steps.push(Step::All);
                } else if let Some(f) = inner.strip_prefix("?(").and_then(|x| x.strip_suffix(')')) {
                    steps.push(
                        parse_filter(f)
                            .ok_or_else(|| format!("unsupported filter {inner:?} in {src:?}"))?,
                    );
                } else if let Ok(i) = inner.parse::<usize>() {
                    steps.push(Step::Index(i));
                } else if let Some(q) = inner.strip_prefix('\'').and_then(|x| x.strip_suffix('\''))
                {
                    steps.push(Step::Field(q.to_string()));
                } else {
                    return Err(format!("unsupported subscript [{inner}] in {src:?}"));
                }
            } else {
                return Err(format!("unexpected {rest:?} in {src:?}"));
            }
        }
        Ok(JsonPath(steps))
    }

    /// Every value the path selects, in order.
    pub fn find<'a>(&self, v: &'a Value) -> Vec<&'a Value> {
        let mut cur = vec![v];
        for step in &self.0 {
            let mut next = Vec::new();
            for c in cur {
                match step {
                    Step::Field(f) => next.extend(c.get(f)),
                    Step::Index(i) => next.extend(c.get(*i)),
                    Step::All => match c {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(m) => next.extend(m.values()),
                        _ => {}
                    },
                    Step::Filter { path, eq, value } => {
                        if let Value::Array(a) = c {
                            for item in a {
                                let mut x = Some(item);
                                for p in path {
                                    x = x.and_then(|x| x.get(p));
                                }
                                if (x == Some(value)) == *eq {
                                    next.push(item);
                                }
                            }
                        }
                    }
                }
            }
            cur = next;
        }
        cur
    }
}

fn find_close(s: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') if depth == 0 => return Some(i),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    None
}

fn parse_filter(f: &str) -> Option<Step> {
    let (lhs, eq, rhs) = if let Some((l, r)) = f.split_once("!=") {
        (l, false, r)
    } else {
        let (l, r) = f.split_once("==")?;
        (l, true, r)
    };
    let path: Vec<String> = lhs
        .trim()
        .strip_prefix('@')?
        .split('.')
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect();
    let rhs = rhs.trim();
    let value = if let Some(s) = rhs
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| rhs.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
    {
        Value::String(s.to_string())
    } else {
        serde_json::from_str(rhs).ok()?
    };
    Some(Step::Filter { path, eq, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn printer_column_paths() {
        let obj = json!({"status": {"conditions": [
            {"type": "Reconciling", "status": "False"}, {"type": "Ready", "status": "True"}],
            "nodes": [{"name": "a"}, {"name": "b"}]}});
        let p = JsonPath::parse(".status.conditions[?(@.type==\"Ready\")].status").unwrap();
        assert_eq!(p.find(&obj), vec![&json!("True")]);
        assert_eq!(
            JsonPath::parse(".status.nodes[*].name")
                .unwrap()
                .find(&obj)
                .len(),
            2
        );
        assert_eq!(
            JsonPath::parse("{.status.nodes[1].name}")
                .unwrap()
                .find(&obj),
            vec![&json!("b")]
        );
        assert!(
            JsonPath::parse(".status.missing")
                .unwrap()
                .find(&obj)
                .is_empty()
        );
        assert!(JsonPath::parse("..x").is_err());
    }
}
