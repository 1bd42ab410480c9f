//! The service's TOML configuration, built from a structure.
//!
//! TOML forbids repeating a `[section]`, so appending a test's extra settings to a default file
//! breaks as soon as both touch the same section. Keeping `section → key → TOML literal` in
//! ordered maps lets a test override any single key and still render one valid file. The service
//! rejects unknown keys, so only keys that exist should be set.

use std::collections::BTreeMap;

/// `section → key → value`, where the value is a TOML literal (`"text"`, `42`, `["a", "b"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigToml {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

impl ConfigToml {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` in `section` to the TOML literal `value` (replacing an earlier value).
    pub fn set(&mut self, section: &str, key: &str, value: impl Into<String>) -> &mut Self {
        self.sections
            .entry(section.to_owned())
            .or_default()
            .insert(key.to_owned(), value.into());
        self
    }

    /// The TOML literal of `key` in `section`, if set.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections.get(section)?.get(key).map(String::as_str)
    }

    /// Removes `key` from `section`, e.g. to test the service's default for it.
    pub fn remove(&mut self, section: &str, key: &str) -> &mut Self {
        if let Some(keys) = self.sections.get_mut(section) {
            keys.remove(key);
        }
        self
    }

    /// Sets everything `other` sets, overriding keys set in both.
    pub fn merge(&mut self, other: &ConfigToml) -> &mut Self {
        for (section, keys) in &other.sections {
            for (key, value) in keys {
                self.set(section, key, value.clone());
            }
        }
        self
    }

    /// Reads a small TOML text of `[section]` headers and one-line `key = literal` entries
    /// (comments and blank lines allowed). Panics on anything else, such as multi-line arrays,
    /// since this is test set-up and a silent misparse would test the wrong configuration.
    pub fn parse(text: &str) -> ConfigToml {
        let mut config = ConfigToml::new();
        let mut section: Option<String> = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(name.trim().to_owned());
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("config line {}: expected `key = value`: {raw}", n + 1));
            let section = section.as_deref().unwrap_or_else(|| {
                panic!("config line {}: `{raw}` is outside any [section]", n + 1)
            });
            config.set(section, key.trim(), value.trim());
        }
        config
    }

    /// The TOML text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (section, keys) in &self.sections {
            out.push_str(&format!("[{section}]\n"));
            for (key, value) in keys {
                out.push_str(&format!("{key} = {value}\n"));
            }
            out.push('\n');
        }
        out
    }
}

/// A TOML basic string literal for `s`.
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML array literal of strings.
pub fn toml_string_array<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let items: Vec<String> = items.into_iter().map(|s| toml_string(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_settings_override_and_sections_are_not_repeated() {
        let mut config = ConfigToml::parse(
            "[dns]\nresolvers = []\n# comment\n[server]\nlisten = \"127.0.0.1:1\"\n",
        );
        config.merge(&ConfigToml::parse(
            "[dns]\nresolvers = [\"127.0.0.9:53\"]\n",
        ));
        config.set("server", "admin_listen", toml_string(""));
        assert_eq!(
            config.render(),
            "[dns]\nresolvers = [\"127.0.0.9:53\"]\n\n\
             [server]\nadmin_listen = \"\"\nlisten = \"127.0.0.1:1\"\n\n"
        );
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(toml_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(toml_string_array(["x", "y"]), r#"["x", "y"]"#);
    }
}
