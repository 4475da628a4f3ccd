//! How deep JSON nests. An event is refused at ingest when it nests deeper than the delivery
//! path can read (`limits::MAX_PAYLOAD_DEPTH`), and the delivery path measures a queue message
//! before parsing it, so a too-deep one gets a reason that names the limit.

use serde_json::Value;

/// The deepest nesting serde_json reads: its recursion limit is fixed at 128 and refuses the
/// 128th level (a test below holds this number to the parser).
pub const PARSER_MAX_DEPTH: usize = 127;

/// Depth of a value: a scalar is 0, an object or array one more than its deepest member.
/// Walked with a stack of its own, so no value can overflow the thread's stack.
pub fn value_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0)];
    while let Some((v, above)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Object(m) => Box::new(m.values()),
            Value::Array(a) => Box::new(a.iter()),
            _ => continue,
        };
        deepest = deepest.max(above + 1);
        stack.extend(children.map(|c| (c, above + 1)));
    }
    deepest
}

/// Depth of a JSON text, read without parsing it (brackets outside strings), so a message too
/// deep for the parser can be measured. Malformed text gives some number: the parser that
/// reads it next reports what is wrong.
pub fn text_depth(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// An object nesting `depth` levels (`depth` >= 1): `{"a":{"a":...{"leaf":[1]}}}`, the
    /// innermost level an array, so arrays count as well as objects.
    pub fn nested(depth: usize) -> Value {
        let mut v = Value::Array(vec![Value::from(1)]);
        for _ in 1..depth {
            v = serde_json::json!({ "a": v });
        }
        v
    }

    #[test]
    fn depth_counts_objects_and_arrays_not_scalars() {
        assert_eq!(value_depth(&serde_json::json!(1)), 0);
        assert_eq!(value_depth(&serde_json::json!({})), 1);
        assert_eq!(value_depth(&serde_json::json!({"a": 1, "b": [{"c": []}], "d": {}})), 4);
        for depth in [1, 2, 64, 127] {
            let v = nested(depth);
            assert_eq!(value_depth(&v), depth);
            assert_eq!(text_depth(v.to_string().as_bytes()), depth);
        }
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        assert_eq!(text_depth(br#"{"a": "{[{[", "b": "\"{", "c": ["]]]"]}"#), 2);
        assert_eq!(text_depth(b"not json"), 0);
    }

    #[test]
    fn the_parser_reads_exactly_parser_max_depth() {
        // GIVEN texts nesting as deep as the parser allows, and one more
        let at = "[".repeat(PARSER_MAX_DEPTH) + &"]".repeat(PARSER_MAX_DEPTH);
        let over = "[".repeat(PARSER_MAX_DEPTH + 1) + &"]".repeat(PARSER_MAX_DEPTH + 1);
        // THEN the first parses and the second does not
        assert!(serde_json::from_str::<Value>(&at).is_ok());
        let e = serde_json::from_str::<Value>(&over).expect_err("too deep");
        assert!(e.to_string().contains("recursion limit"), "{e}");
    }
}
