//! The tools' JSON schemas as every client can read them: JSON Schema 2020-12 with only
//! standard keywords and formats. schemars writes Rust-specific formats (`uint64`,
//! `int32`), enums as a `$ref` to a `oneOf` of `const`s and doc comments with their line
//! breaks; strict validators (Ajv and the clients built on it) warn about the first,
//! some clients cannot follow the second, and the third shows as broken text. Every
//! schema in tools/list goes through [`portable`].

use std::sync::Arc;

use rmcp::handler::server::common::{schema_for_input, schema_for_output};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde_json::Value;

/// The formats JSON Schema 2020-12 defines (§7.3); any other is dropped.
pub const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// A tool's input schema, portable.
pub fn input<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    let schema = schema_for_input::<T>().expect("a tool's parameters are an object");
    Arc::new(portable(&schema))
}

/// A tool's output schema, portable.
pub fn output<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    Arc::new(portable(&schema_for_output::<T>()))
}

/// The schema with its `$ref`s inlined (and `$defs` dropped), enums as `enum`,
/// non-standard formats dropped and descriptions on one line.
pub fn portable(schema: &JsonObject) -> JsonObject {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = schema.clone();
    out.remove("$defs");
    let mut value = Value::Object(out);
    rewrite(&mut value, &defs, 0);
    match value {
        Value::Object(o) => o,
        _ => unreachable!("an object stays an object"),
    }
}

/// Deep enough for any parameter type here; a recursive type would stop here loudly.
const MAX_DEPTH: usize = 32;

fn rewrite(value: &mut Value, defs: &JsonObject, depth: usize) {
    assert!(
        depth < MAX_DEPTH,
        "schema nesting too deep (a recursive type?)"
    );
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, defs, depth + 1)),
        Value::Object(obj) => {
            inline_ref(obj, defs);
            const_choices_to_enum(obj);
            if obj
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| !STANDARD_FORMATS.contains(&f))
            {
                obj.remove("format");
            }
            for key in ["description", "title"] {
                if let Some(Value::String(text)) = obj.get_mut(key) {
                    *text = one_line(text);
                }
            }
            for (key, child) in obj.iter_mut() {
                // `properties` maps names to schemas; `default`, `const`, `enum` and
                // `examples` hold values, which are left as they are.
                if !matches!(key.as_str(), "default" | "const" | "enum" | "examples") {
                    rewrite(child, defs, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// `{"$ref": "#/$defs/X", …}` becomes X's schema, the keys beside the `$ref` winning.
fn inline_ref(obj: &mut JsonObject, defs: &JsonObject) {
    let Some(Value::String(target)) = obj.get("$ref") else {
        return;
    };
    let name = target
        .strip_prefix("#/$defs/")
        .unwrap_or_else(|| panic!("a $ref outside $defs: {target}"));
    let def = defs
        .get(name)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("$ref to a missing definition: {target}"));
    obj.remove("$ref");
    for (k, v) in def {
        obj.entry(k.clone()).or_insert_with(|| v.clone());
    }
}

/// `{"oneOf": [{"const": "a", "description": …}, …]}` becomes `{"enum": ["a", …]}`,
/// with the choices' descriptions folded into the schema's own.
fn const_choices_to_enum(obj: &mut JsonObject) {
    let Some(Value::Array(choices)) = obj.get("oneOf") else {
        return;
    };
    if choices.is_empty() || !choices.iter().all(|c| c.get("const").is_some()) {
        return;
    }
    let values: Vec<Value> = choices.iter().map(|c| c["const"].clone()).collect();
    let explained: Vec<String> = choices
        .iter()
        .filter_map(|c| {
            let d = c.get("description")?.as_str()?;
            Some(format!("`{}`: {}", c["const"].as_str()?, one_line(d)))
        })
        .collect();
    let kinds: Vec<Value> = choices
        .iter()
        .filter_map(|c| c.get("type"))
        .cloned()
        .collect();
    let one_kind = (kinds.len() == choices.len() && kinds.iter().all(|k| k == &kinds[0]))
        .then(|| kinds[0].clone());
    obj.remove("oneOf");
    if let Some(kind) = one_kind {
        obj.insert("type".into(), kind);
    }
    obj.insert("enum".into(), Value::Array(values));
    if !obj.contains_key("description") && !explained.is_empty() {
        obj.insert("description".into(), explained.join(" ").into());
    }
}

/// Text with its line breaks (and the indentation after them) folded into spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn refs_are_inlined_and_const_choices_become_an_enum() {
        let schema = obj(json!({
            "$defs": {"Fmt": {"description": "How.", "oneOf": [
                {"const": "text", "type": "string", "description": "Sections."},
                {"const": "json", "type": "string", "description": "One\n  object."}
            ]}},
            "type": "object",
            "properties": {"f": {"$ref": "#/$defs/Fmt", "default": "text", "description": "Pick\none."}}
        }));
        let out = portable(&schema);
        assert_eq!(
            Value::Object(out),
            json!({"type": "object", "properties": {"f": {
                "type": "string", "enum": ["text", "json"], "default": "text", "description": "Pick one."
            }}})
        );
        let bare = obj(json!({"oneOf": [
            {"const": "a", "description": "first"}, {"const": "b", "type": "string", "description": "second"}
        ]}));
        assert_eq!(
            Value::Object(portable(&bare)),
            json!({"enum": ["a", "b"], "description": "`a`: first `b`: second"})
        );
    }

    #[test]
    fn only_standard_formats_stay() {
        let schema = obj(json!({"type": "object", "properties": {
            "n": {"type": "integer", "format": "uint64", "minimum": 0},
            "e": {"type": ["integer", "null"], "format": "int32"},
            "t": {"type": "string", "format": "date-time"},
            "d": {"type": "string", "default": "x", "enum": ["x"]}
        }}));
        let out = Value::Object(portable(&schema));
        assert_eq!(
            out["properties"]["n"],
            json!({"type": "integer", "minimum": 0})
        );
        assert_eq!(out["properties"]["e"], json!({"type": ["integer", "null"]}));
        assert_eq!(out["properties"]["t"]["format"], "date-time");
    }

    #[test]
    #[should_panic(expected = "missing definition")]
    fn a_dangling_ref_is_a_bug_not_a_silent_schema() {
        portable(&obj(json!({"properties": {"x": {"$ref": "#/$defs/Nope"}}})));
    }
}
