//! The template engine's rules: what it renders, and every way it refuses.

use serde_json::{Value, json};

use super::*;

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("object")
}

fn run(source: &str, data: Value) -> Result<Value, String> {
    let context = object(json!({"business_name": "Acme", "user_email": "ayush@example.com"}));
    let data = object(data);
    let input = TemplateInput {
        topic: "coupon_create",
        event_type: "nector_coupon_create",
        occurred_at: "2023-05-18T06:40:33Z",
        context: &context,
        data: &data,
        delivery_id: "dlv_1",
    };
    render(source, &input).map(|body| serde_json::from_slice(&body).expect("the output was checked as JSON"))
}

#[test]
fn renders_json_over_every_variable() {
    // GIVEN a template reading each variable
    let source = r#"{"t": {{ topic }}, "e": {{ event_type }}, "at": {{ occurred_at }}, "id": {{ delivery_id }},
        "shop": {{ context.business_name }}, "code": {{ data.value }}, "n": {{ data.fiat_value * 10 }},
        "meta": {{ data.meta }}, "greeting": {{ "Hi " ~ context.user_email }},
        "items": [{% for k in data.tags %}{{ k | upper }}{% if not loop.last %},{% endif %}{% endfor %}]}"#;
    // WHEN it renders an event
    let out = run(source, json!({"value": "TWOOFF", "fiat_value": 2, "meta": {"a": [1, null]}, "tags": ["x", "y"]}));
    // THEN every expression is written as JSON in its place
    assert_eq!(
        out.expect("renders"),
        json!({"t": "coupon_create", "e": "nector_coupon_create", "at": "2023-05-18T06:40:33Z", "id": "dlv_1",
               "shop": "Acme", "code": "TWOOFF", "n": 20, "meta": {"a": [1, null]}, "greeting": "Hi ayush@example.com",
               "items": ["X", "Y"]})
    );
}

#[test]
fn an_event_value_cannot_break_out_of_its_place() {
    // GIVEN a value that would close the string and add a field if pasted as text
    let out = run(r#"{"code": {{ data.value }}}"#, json!({"value": "\", \"admin\": true, \"x\": \"</script>"}));
    // THEN it stays one string
    assert_eq!(out.expect("renders"), json!({"code": "\", \"admin\": true, \"x\": \"</script>"}));
}

#[test]
fn a_syntax_error_is_refused_at_save_time_with_its_position() {
    for (source, position) in [
        ("{\"a\": {{ data.value }", "line 1, column"),
        ("{\n  \"a\": {% if %}1{% endif %}\n}", "line 2, column"),
        ("{% for x in data %}", "line 1"),
    ] {
        // WHEN a broken template is saved
        let e = check(source).expect_err(source);
        // THEN it is an `invalid_template` naming where
        assert_eq!(e.code(), "invalid_template", "{source}");
        assert!(e.to_string().contains(position), "{source}: {e}");
    }
    assert!(check(r#"{"a": {{ data.value }}}"#).is_ok());
}

#[test]
fn empty_and_oversized_templates_are_refused() {
    assert_eq!(check("  ").expect_err("empty").code(), "invalid_template");
    let big = format!("[{}1]", "1,".repeat(MAX_TEMPLATE_LEN / 2));
    assert_eq!(check(&big).expect_err("too long").code(), "invalid_template");
}

#[test]
fn output_that_is_not_json_fails_with_a_clear_error() {
    // GIVEN a template that renders text, not JSON
    let e = run("Coupon {{ data.value }} created", json!({"value": "X"})).expect_err("not JSON");
    // THEN the error says so and shows how the output begins
    assert!(e.contains("not valid JSON"), "{e}");
    assert!(e.contains("Coupon \\\"X\\\" created"), "{e}");
}

#[test]
fn an_unknown_variable_is_an_error_not_a_silent_gap() {
    let e = run(r#"{"a": {{ data.missing }}}"#, json!({})).expect_err("undefined");
    assert!(e.contains("line 1"), "{e}");
    let e = run(r#"{"a": {{ nothing }}}"#, json!({})).expect_err("undefined");
    assert!(e.contains("undefined"), "{e}");
    let e = run(r#"{"a": {{ data.value | no_such_filter }}}"#, json!({"value": 1})).expect_err("filter");
    assert!(e.contains("unknown filter") && e.contains("line 1, column"), "{e}");
}

#[test]
fn no_template_can_reach_files() {
    // GIVEN templates asking for other templates (the only way minijinja reads a source)
    for source in [r#"{% include "/etc/passwd" %}"#, r#"{% import "x.j2" as x %}[]"#, r#"{% extends "base" %}"#] {
        // THEN the statement does not even exist in the engine: refused when saved
        let e = check(source).expect_err(source);
        assert!(e.to_string().contains("unknown statement"), "{source}: {e}");
    }
}

#[test]
fn a_render_that_runs_too_long_stops_on_its_fuel() {
    // GIVEN a loop of ten million steps
    let source = "[{% for i in range(10000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}]";
    // WHEN it renders THEN the engine stops it at its budget
    let e = run(source, json!({})).expect_err("out of fuel");
    assert!(e.contains(&format!("budget of {TEMPLATE_FUEL} steps")), "{e}");
}

#[test]
fn a_render_that_writes_too_much_stops_at_the_cap() {
    // GIVEN a loop writing 1 MB (in few steps: a long value many times)
    let big = "x".repeat(1000);
    let source = "[{% for i in range(1000) %}{{ data.big }},{% endfor %}0]";
    // WHEN it renders THEN it stops at the output cap
    let e = run(source, json!({"big": big})).expect_err("too big");
    assert!(e.contains(&format!("cap of {MAX_TEMPLATE_OUTPUT_BYTES} bytes")), "{e}");
    // AND an output under the cap renders whole
    assert!(run("[{% for i in range(100) %}{{ data.big }},{% endfor %}0]", json!({"big": "x".repeat(1000)})).is_ok());
}

#[test]
fn nesting_past_the_recursion_limit_is_an_error_not_a_crash() {
    // GIVEN a recursive loop over data nested deeper than the limit
    let depth = TEMPLATE_RECURSION_LIMIT + 10;
    let mut nested = json!({"id": 0});
    for i in 1..depth {
        nested = json!({"id": i, "children": [nested]});
    }
    let source = "[{% for n in data.tree recursive %}{{ n.id }},{% if n.children %}{{ loop(n.children) }}{% endif %}{% endfor %}0]";
    // THEN rendering it fails cleanly, naming the limit
    let e = run(source, json!({"tree": [nested]})).expect_err("too deep");
    assert!(e.contains("recursion"), "{e}");
    // AND a modest nesting renders
    let ok = format!("{}1{}", "{% if true %}".repeat(5), "{% endif %}".repeat(5));
    assert_eq!(run(&ok, json!({})).expect("renders"), json!(1));
}
