//! Keys of the run's `outputs.json`.

/// Output key for outputs.json: lower camelCase of an output variable name (JOUT -> jout, DOLLAR_VAR -> dollarVar, ANSWER -> answer).
///
/// The name is split at underscores (empty parts dropped); the first part is lower-cased, the
/// others get an upper-case first letter and a lower-cased rest: `MyVar` -> `myvar`,
/// `my_var` -> `myVar`, `_LEAD` -> `lead`, `X1_Y2` -> `x1Y2`.
pub fn output_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for (i, part) in name.split('_').filter(|p| !p.is_empty()).enumerate() {
        let mut chars = part.chars();
        if i > 0
            && let Some(first) = chars.next()
        {
            key.extend(first.to_uppercase());
        }
        key.extend(chars.flat_map(char::to_lowercase));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::output_key;

    #[test]
    fn matches_reference_keys() {
        let cases = [
            ("JOUT", "jout"),
            ("DOLLAR_VAR", "dollarVar"),
            ("ANSWER", "answer"),
            ("MyVar", "myvar"),
            ("my_var", "myVar"),
            ("MY__DOUBLE", "myDouble"),
            ("_LEAD", "lead"),
            ("TRAIL_", "trail"),
            ("X1_Y2", "x1Y2"),
            ("ABCDef_GHI", "abcdefGhi"),
            ("snake_Case_x", "snakeCaseX"),
            ("Ü_X", "üX"),
            ("a", "a"),
            ("", ""),
        ];
        for (name, key) in cases {
            assert_eq!(output_key(name), key, "{name}");
        }
    }
}
