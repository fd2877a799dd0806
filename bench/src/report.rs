//! Writes one harness's results into its own section of `docs/BENCHMARKS.md`, between
//! `<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->`, leaving the rest of the file alone.

use std::path::PathBuf;

fn benchmarks_file() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/BENCHMARKS.md"
    ))
}

/// Replaces (or appends) the section `name` with `body`.
pub fn write_section(name: &str, body: &str) -> std::io::Result<()> {
    let path = benchmarks_file();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_owned());
    std::fs::write(&path, replace_section(&text, name, body))
}

fn replace_section(text: &str, name: &str, body: &str) -> String {
    let (begin, end) = (
        format!("<!-- bench:{name}:begin -->"),
        format!("<!-- bench:{name}:end -->"),
    );
    let section = format!("{begin}\n{}\n{end}", body.trim());
    match (text.find(&begin), text.find(&end)) {
        (Some(start), Some(stop)) if start < stop => {
            format!("{}{section}{}", &text[..start], &text[stop + end.len()..])
        }
        _ => format!("{}\n\n{section}\n", text.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::replace_section;

    #[test]
    fn a_section_is_replaced_in_place_or_appended() {
        let appended = replace_section("# Benchmarks\n", "x", "one");
        assert_eq!(
            appended,
            "# Benchmarks\n\n<!-- bench:x:begin -->\none\n<!-- bench:x:end -->\n"
        );
        let text = format!("{appended}\nafter\n");
        let replaced = replace_section(&text, "x", "two");
        assert!(
            replaced.contains("<!-- bench:x:begin -->\ntwo\n<!-- bench:x:end -->\n\nafter"),
            "{replaced}"
        );
        assert!(!replaced.contains("one"));
    }
}
