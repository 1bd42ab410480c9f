//! Durations in configuration are written as humans write them: `"30s"`, `"2m"`, `"30d"`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration parsed from text such as `"90s"` or `"30d"`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(text.trim())
            .map(HumanDuration)
            .map_err(|err| {
                serde::de::Error::custom(format!(
                    "{text:?} is not a duration ({err}); write e.g. \"30s\", \"15m\", \"30d\""
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HumanDuration, serde_json::Error> {
        serde_json::from_value(serde_json::Value::String(text.into()))
    }

    #[test]
    fn units() {
        assert_eq!(parse("30s").expect("30s").0, Duration::from_secs(30));
        assert_eq!(
            parse("30d").expect("30d").0,
            Duration::from_secs(30 * 86400)
        );
        assert_eq!(parse("1h 30m").expect("1h30m").0, Duration::from_secs(5400));
        assert!(parse("soon").is_err());
        assert!(parse("30").is_err());
    }
}
